"""Uploaded greetings (R12): any common audio file, converted once by sox into
the 8 kHz mono 16-bit WAV rtpengine plays, and stored under its content hash.

The sidecar converts at upload time, so a file that is not audio is refused
to the administrator then, never discovered by a caller. The media data
directory must be shared by the sidecar and the media app (one host here).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import wave
from pathlib import Path

from .prompts import PLAYABLE

# What an administrator may upload, by Content-Type, and the sox type of each.
ACCEPTED = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
}
MAX_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 300
CONVERT_TIMEOUT_S = 30


class UploadRefused(ValueError):
    """Why an upload cannot be a greeting; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def store_upload(data: bytes, content_type: str, prompts_dir: Path) -> tuple[str, float]:
    """Convert and store an upload; (file name in ``prompts_dir``, seconds)."""
    kind = ACCEPTED.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        raise UploadRefused(
            415,
            f"send WAV, MP3, OGG or FLAC ({', '.join(sorted(set(ACCEPTED)))}), not {content_type or 'no Content-Type'}",
        )
    if not data:
        raise UploadRefused(422, "the file is empty")
    if len(data) > MAX_BYTES:
        raise UploadRefused(413, f"the file is {len(data)} bytes; at most {MAX_BYTES} are accepted")
    prompts_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=prompts_dir) as work:
        source = Path(work) / f"upload.{kind}"
        converted = Path(work) / "converted.wav"
        source.write_bytes(data)
        try:
            result = subprocess.run(
                ["sox", "-t", kind, str(source), *PLAYABLE, str(converted)],
                capture_output=True,
                text=True,
                timeout=CONVERT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise UploadRefused(422, "the file could not be converted in time") from None
        if result.returncode != 0 or not converted.exists():
            detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "unreadable"
            # sox names the file it read: a path on this server, never shown to a client.
            detail = detail.replace(str(source), "the file").replace(work, "")
            raise UploadRefused(422, f"not {kind.upper()} audio sox can read: {detail}")
        with wave.open(str(converted)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        if seconds <= 0:
            raise UploadRefused(422, "the file holds no audio")
        if seconds > MAX_SECONDS:
            raise UploadRefused(422, f"the recording lasts {seconds:.0f} s; at most {MAX_SECONDS} s are accepted")
        digest = hashlib.sha256(converted.read_bytes()).hexdigest()
        name = f"upload-{digest}.wav"
        os.replace(converted, prompts_dir / name)
    return name, seconds
