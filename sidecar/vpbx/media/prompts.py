"""What callers hear (R12): rendered once into 8 kHz WAVs that rtpengine plays.

rtpengine's player needs 16-bit signed PCM: it accepts a 32-bit WAV and plays
nothing. Every file goes through sox to that format. Text is read by espeak-ng
(offline, Russian, Ukrainian and English voices); each rendering is cached
under the hash of what produced it, so a prompt is rendered once per text,
language and engine, however many calls play it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ESPEAK_VOICES = {"ru": "ru", "uk": "uk", "en": "en-us"}
# Bumped when the rendering changes, so stale files are not reused.
RENDERING = "espeak-ng/sox-8k-s16/1"

# The standard prompts, in each language a company may choose.
STANDARD = {
    "voicemail_greeting": {
        "ru": "Здравствуйте. Сейчас никто не может ответить. Оставьте, пожалуйста, сообщение после сигнала.",
        "uk": "Доброго дня. Зараз ніхто не може відповісти. Залиште, будь ласка, повідомлення після сигналу.",
        "en": "Hello. Nobody can take your call right now. Please leave a message after the tone.",
    },
    "ivr_greeting": {
        "ru": "Здравствуйте. Выберите, пожалуйста, нужный пункт меню.",
        "uk": "Доброго дня. Оберіть, будь ласка, потрібний пункт меню.",
        "en": "Hello. Please choose an option.",
    },
    "forward_greeting": {
        "ru": "Здравствуйте. Соединяем вас с сотрудником, оставайтесь, пожалуйста, на линии.",
        "uk": "Доброго дня. З'єднуємо вас зі співробітником, залишайтеся, будь ласка, на лінії.",
        "en": "Hello. We are putting you through, please stay on the line.",
    },
    "whisper": {
        "ru": "Входящий звонок.",
        "uk": "Вхідний дзвінок.",
        "en": "Incoming call.",
    },
    "invalid_key": {
        "ru": "Неверный выбор.",
        "uk": "Невірний вибір.",
        "en": "That is not a valid choice.",
    },
    "goodbye": {
        "ru": "Спасибо, до свидания.",
        "uk": "Дякуємо, до побачення.",
        "en": "Thank you, goodbye.",
    },
    "nobody_answered": {
        "ru": "К сожалению, сейчас никто не может ответить. Пожалуйста, перезвоните позже.",
        "uk": "На жаль, зараз ніхто не може відповісти. Будь ласка, зателефонуйте пізніше.",
        "en": "Sorry, nobody can answer right now. Please call back later.",
    },
    "unavailable": {
        "ru": "Извините, этот пункт сейчас недоступен. Позвоните, пожалуйста, позже.",
        "uk": "Вибачте, цей пункт зараз недоступний. Зателефонуйте, будь ласка, пізніше.",
        "en": "Sorry, this option is not available now. Please call back later.",
    },
}


class PromptError(RuntimeError):
    pass


class PromptLibrary:
    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._rendering: dict[str, asyncio.Task] = {}

    async def standard(self, name: str, language: str = "ru") -> Path:
        texts = STANDARD[name]
        return await self.speech(texts.get(language) or texts["ru"], language if language in texts else "ru")

    async def speech(self, text: str, language: str) -> Path:
        """``text`` read aloud; raises PromptError when it cannot be rendered."""
        voice = ESPEAK_VOICES.get(language)
        if voice is None:
            raise PromptError(f"no voice for language {language!r}")
        key = hashlib.sha256(f"{RENDERING}\0{voice}\0{text}".encode()).hexdigest()
        path = self.cache_dir / f"tts-{key}.wav"
        if path.exists():
            return path
        # Calls asking for the same new prompt at once share one rendering.
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.ensure_future(self._render_speech(text, voice, path))
            self._rendering[key] = task
            task.add_done_callback(lambda _: self._rendering.pop(key, None))
        return await asyncio.shield(task)

    async def beep(self) -> Path:
        path = self.cache_dir / "beep-1000hz-400ms.wav"
        if not path.exists():
            await self._sox(["-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                             str(path) + ".tmp.wav", "synth", "0.4", "sine", "1000", "vol", "0.5"], path)
        return path

    async def ringback(self) -> Path:
        """The ringback tone callers here know (GOST: 425 Hz, 0.8 s on, 3.2 s off), one 4 s period."""
        path = self.cache_dir / "ringback-425hz.wav"
        if not path.exists():
            await self._sox(["-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                             str(path) + ".tmp.wav", "synth", "0.8", "sine", "425", "vol", "0.4", "pad", "0", "3.2"],
                            path)
        return path

    async def _render_speech(self, text: str, voice: str, path: Path) -> Path:
        raw = path.with_suffix(".espeak.wav")
        await _run(["espeak-ng", "-v", voice, "-w", str(raw), text])
        try:
            await self._sox([str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                             str(path) + ".tmp.wav"], path)
        finally:
            raw.unlink(missing_ok=True)
        return path

    async def convert(self, source: Path, path: Path) -> Path:
        """Any audio sox reads, as a playable prompt."""
        await self._sox([str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                         str(path) + ".tmp.wav"], path)
        return path

    @staticmethod
    async def _sox(args: list[str], path: Path) -> None:
        # Written aside and renamed: rtpengine never reads a half-written file.
        await _run(["sox", *args])
        os.replace(str(path) + ".tmp.wav", path)


async def _run(argv: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise PromptError(f"{argv[0]} failed ({process.returncode}): {stderr.decode(errors='replace').strip()}")
