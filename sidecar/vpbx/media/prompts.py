"""What callers hear (R12): rendered once into 8 kHz WAVs that rtpengine plays.

rtpengine's player needs 16-bit signed PCM: it accepts a 32-bit WAV and plays
nothing. Every file goes through sox to that format. Text is read by gTTS
(Google's voices) when the site chooses it, and by espeak-ng (offline, Russian,
Ukrainian and English voices) otherwise, or whenever gTTS fails: Google may be
unreachable, and a caller must never hear silence. Each rendering is cached
under the hash of what produced it, so a prompt is rendered once per text,
language and engine, however many calls play it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Prompt

log = logging.getLogger(__name__)

ESPEAK_VOICES = {"ru": "ru", "uk": "uk", "en": "en-us"}
GTTS_LANGUAGES = {"ru": "ru", "uk": "uk", "en": "en"}
# Bumped when a rendering changes, so stale files are not reused.
RENDERING = {"espeak": "espeak-ng/sox-8k-s16/1", "gtts": "gtts/sox-8k-s16/1"}
GTTS_TIMEOUT_S = 10
# sox's output options for what rtpengine plays: 8 kHz, mono, 16-bit signed PCM.
PLAYABLE = ("-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer")

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
    "forward_notice": {
        "ru": "Ваш звонок будет переведён на другого специалиста.",
        "uk": "Ваш дзвінок буде переведено на іншого фахівця.",
        "en": "Your call will be answered by another specialist.",
    },
    "employee_unavailable": {
        "ru": "Сотрудник сейчас не может ответить. Пожалуйста, перезвоните позже.",
        "uk": "Співробітник зараз не може відповісти. Будь ласка, зателефонуйте пізніше.",
        "en": "The person you called cannot answer right now. Please call back later.",
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
    # Feature codes (media/nodes/feature.py, media/nodes/messages.py). A number
    # is read digit by digit ({number}); counts follow a colon, which spares
    # the plural forms Russian and Ukrainian would otherwise need.
    "dnd_on": {
        "ru": "Режим «не беспокоить» включён.",
        "uk": "Режим «не турбувати» увімкнено.",
        "en": "Do not disturb is on.",
    },
    "dnd_off": {
        "ru": "Режим «не беспокоить» выключен.",
        "uk": "Режим «не турбувати» вимкнено.",
        "en": "Do not disturb is off.",
    },
    "forward_on": {
        "ru": "Все звонки переадресуются на номер {number}.",
        "uk": "Усі дзвінки переадресовуються на номер {number}.",
        "en": "All calls are forwarded to {number}.",
    },
    "forward_off": {
        "ru": "Переадресация всех звонков выключена.",
        "uk": "Переадресацію всіх дзвінків вимкнено.",
        "en": "Call forwarding is off.",
    },
    "not_saved": {
        "ru": "Извините, изменение не сохранено. Попробуйте, пожалуйста, позже.",
        "uk": "Вибачте, зміну не збережено. Спробуйте, будь ласка, пізніше.",
        "en": "Sorry, the change was not saved. Please try again later.",
    },
    "messages_count": {
        "ru": "Новых сообщений: {new}. Сохранённых: {saved}.",
        "uk": "Нових повідомлень: {new}. Збережених: {saved}.",
        "en": "New messages: {new}. Saved messages: {saved}.",
    },
    "messages_keys": {
        "ru": "После сообщения нажмите 5, чтобы прослушать его ещё раз, 7, чтобы удалить, 9, чтобы сохранить.",
        "uk": "Після повідомлення натисніть 5, щоб прослухати його ще раз, 7, щоб видалити, 9, щоб зберегти.",
        "en": "After a message, press 5 to hear it again, 7 to delete it, 9 to save it.",
    },
    "message_deleted": {
        "ru": "Сообщение удалено.",
        "uk": "Повідомлення видалено.",
        "en": "Message deleted.",
    },
    "message_saved": {
        "ru": "Сообщение сохранено.",
        "uk": "Повідомлення збережено.",
        "en": "Message saved.",
    },
    "no_more_messages": {
        "ru": "Больше сообщений нет. До свидания.",
        "uk": "Більше повідомлень немає. До побачення.",
        "en": "No more messages. Goodbye.",
    },
    # Agents of call queues, by feature code (media/nodes/feature.py).
    "agent_login": {
        "ru": "Вы вошли в очереди вызовов.",
        "uk": "Ви увійшли до черг викликів.",
        "en": "You are logged in to your call queues.",
    },
    "agent_logout": {
        "ru": "Вы вышли из очередей вызовов.",
        "uk": "Ви вийшли з черг викликів.",
        "en": "You are logged out of your call queues.",
    },
    "agent_pause": {
        "ru": "Пауза включена.",
        "uk": "Паузу увімкнено.",
        "en": "You are paused.",
    },
    "agent_unpause": {
        "ru": "Пауза выключена.",
        "uk": "Паузу вимкнено.",
        "en": "You are no longer paused.",
    },
    "not_an_agent": {
        "ru": "Вы не оператор ни одной очереди.",
        "uk": "Ви не оператор жодної черги.",
        "en": "You are no agent of any call queue.",
    },
    # Call queues (media/nodes/queue.py).
    "queue_position": {
        "ru": "Ваш номер в очереди: {position}. Оставайтесь, пожалуйста, на линии.",
        "uk": "Ваш номер у черзі: {position}. Залишайтеся, будь ласка, на лінії.",
        "en": "Your place in the queue: {position}. Please stay on the line.",
    },
    "queue_wait": {
        "ru": "Примерное время ожидания, минут: {minutes}.",
        "uk": "Орієнтовний час очікування, хвилин: {minutes}.",
        "en": "Your estimated wait, in minutes: {minutes}.",
    },
    "queue_whisper": {
        "ru": "Звонок из очереди {queue}. Ожидание, минут: {minutes}.",
        "uk": "Дзвінок із черги {queue}. Очікування, хвилин: {minutes}.",
        "en": "A call from queue {queue}. Waited, in minutes: {minutes}.",
    },
    "queue_whisper_short": {
        "ru": "Звонок из очереди {queue}.",
        "uk": "Дзвінок із черги {queue}.",
        "en": "A call from queue {queue}.",
    },
    "queue_press_voicemail": {
        "ru": "Чтобы оставить сообщение, нажмите {key}.",
        "uk": "Щоб залишити повідомлення, натисніть {key}.",
        "en": "To leave a message, press {key}.",
    },
    "queue_press_callback": {
        "ru": "Чтобы мы перезвонили вам, когда освободится оператор, нажмите {key}. Ваша очередь сохранится.",
        "uk": "Щоб ми передзвонили вам, коли звільниться оператор, натисніть {key}. Ваша черга збережеться.",
        "en": "To be called back when an agent is free, press {key}. You keep your place in the queue.",
    },
    "queue_callback_asked": {
        "ru": "Спасибо. Мы перезвоним вам на номер {number}, как только освободится оператор. До свидания.",
        "uk": "Дякуємо. Ми передзвонимо вам на номер {number}, щойно звільниться оператор. До побачення.",
        "en": "Thank you. We will call you back at {number} as soon as an agent is free. Goodbye.",
    },
    "department_callback_asked": {
        "ru": "К сожалению, сейчас никто не может ответить. Мы перезвоним вам на номер {number}, "
        "как только освободится сотрудник. До свидания.",
        "uk": "На жаль, зараз ніхто не може відповісти. Ми передзвонимо вам на номер {number}, "
        "щойно звільниться співробітник. До побачення.",
        "en": "Sorry, nobody can answer right now. We will call you back at {number} as soon as someone is free. "
        "Goodbye.",
    },
    "category_menu": {
        "ru": "Звонок завершён. Нажмите клавишу категории этого звонка.",
        "uk": "Дзвінок завершено. Натисніть клавішу категорії цього дзвінка.",
        "en": "The call has ended. Press the key of this call's category.",
    },
    "category_saved": {
        "ru": "Категория сохранена.",
        "uk": "Категорію збережено.",
        "en": "Category saved.",
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
    def __init__(self, cache_dir: Path, engine: str = "espeak"):
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self._rendering: dict[str, asyncio.Task] = {}
        # Why gTTS could not read a text, newest last (the fallback read it instead).
        self.failures: list[str] = []

    async def standard(self, name: str, language: str = "ru", **values: object) -> Path:
        """A standard prompt; ``values`` fill its placeholders ("{number}")."""
        texts = STANDARD[name]
        text = texts.get(language) or texts["ru"]
        return await self.speech(text.format(**values) if values else text, language if language in texts else "ru")

    async def greeting(self, prompt: Prompt | None, standard: str, language: str = "ru") -> Path:
        """The prompt's recording; the standard one, in ``language`` (the
        company's), when it has none or cannot be rendered (reported in the
        log: a caller never hears silence). A text is read in its own language."""
        if prompt is not None and prompt.kind == "upload" and prompt.file_name:
            path = self.cache_dir / prompt.file_name
            if path.is_file():
                return path
            log.error("the uploaded %s %s is missing, playing the standard one", standard, path)
        if prompt is not None and prompt.kind == "tts" and prompt.text:
            try:
                return await self.speech(prompt.text, prompt.language)
            except PromptError as exc:
                log.error("text-to-speech failed, playing the standard %s: %s", standard, exc)
        return await self.standard(standard, language)

    async def speech(self, text: str, language: str) -> Path:
        """``text`` read aloud; raises PromptError when it cannot be rendered at all."""
        if language not in ESPEAK_VOICES:
            raise PromptError(f"no voice for language {language!r}")
        if self.engine == "gtts":
            try:
                return await self._cached("gtts", language, text, self._render_gtts)
            except PromptError as exc:
                self.failures = (self.failures + [f"{language}: {exc}"])[-100:]
                log.error("gTTS could not read a %s prompt, espeak-ng reads it instead: %s", language, exc)
        return await self._cached("espeak", language, text, self._render_speech)

    async def _cached(self, engine: str, language: str, text: str, render) -> Path:
        key = hashlib.sha256(f"{RENDERING[engine]}\0{language}\0{text}".encode()).hexdigest()
        path = self.cache_dir / f"tts-{key}.wav"
        if path.exists():
            return path
        # Calls asking for the same new prompt at once share one rendering.
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.ensure_future(render(text, language, path))
            self._rendering[key] = task
            task.add_done_callback(lambda _: self._rendering.pop(key, None))
        return await asyncio.shield(task)

    async def beep(self) -> Path:
        path = self.cache_dir / "beep-1000hz-400ms.wav"
        if not path.exists():
            await self._sox(["-n"], path, ["synth", "0.4", "sine", "1000", "vol", "0.5"])
        return path

    async def ringback(self) -> Path:
        """The ringback tone callers here know (GOST: 425 Hz, 0.8 s on, 3.2 s off), one 4 s period."""
        path = self.cache_dir / "ringback-425hz.wav"
        if not path.exists():
            await self._sox(["-n"], path, ["synth", "0.8", "sine", "425", "vol", "0.4", "pad", "0", "3.2"])
        return path

    async def _render_gtts(self, text: str, language: str, path: Path) -> Path:
        mp3 = path.with_suffix(".gtts.mp3")
        try:
            await asyncio.to_thread(_gtts_to_file, text, GTTS_LANGUAGES[language], mp3)
            await self._sox(["-t", "mp3", str(mp3)], path)
        finally:
            mp3.unlink(missing_ok=True)
        return path

    async def _render_speech(self, text: str, language: str, path: Path) -> Path:
        raw = path.with_suffix(".espeak.wav")
        await _run(["espeak-ng", "-v", ESPEAK_VOICES[language], "-w", str(raw), text])
        try:
            await self._sox([str(raw)], path)
        finally:
            raw.unlink(missing_ok=True)
        return path

    @staticmethod
    async def _sox(source: list[str], path: Path, effects: Sequence[str] = ()) -> None:
        """``source`` (sox's input arguments) as a playable WAV at ``path``. Written
        aside and renamed: rtpengine never reads a half-written file."""
        aside = str(path) + ".tmp.wav"
        await _run(["sox", *source, *PLAYABLE, aside, *effects])
        os.replace(aside, path)


def _verifying_gtts() -> None:
    """gTTS 2.5 sends every request with ``verify=False`` (gtts/tts.py), which
    would read a prompt from anyone between us and Google. Its module gets a
    requests whose sessions verify certificates anyway: against
    REQUESTS_CA_BUNDLE when the site sets one (a proxy's own CA), else
    certifi's bundle. Only gTTS's module sees this requests; nobody else's."""
    import types

    import requests
    from gtts import tts

    if getattr(tts.requests, "verifies", False):
        return

    class VerifyingSession(requests.Session):
        def send(self, request, **kwargs):
            kwargs["verify"] = os.environ.get("REQUESTS_CA_BUNDLE") or True
            return super().send(request, **kwargs)

    tts.requests = types.SimpleNamespace(**{**vars(requests), "Session": VerifyingSession, "verifies": True})


def _gtts_to_file(text: str, language: str, path: Path) -> None:
    # gTTS reaches Google through the process's proxy settings (HTTPS_PROXY).
    from gtts import gTTS, gTTSError

    _verifying_gtts()
    try:
        gTTS(text, lang=language, timeout=GTTS_TIMEOUT_S).save(str(path))
    except (gTTSError, ValueError, OSError) as exc:
        raise PromptError(f"gTTS: {exc}") from exc


async def _run(argv: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise PromptError(f"{argv[0]} failed ({process.returncode}): {stderr.decode(errors='replace').strip()}")
