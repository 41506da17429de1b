"""What a recording sounds like, measured: loudness and pitch of 16-bit mono PCM."""

from __future__ import annotations

import math
import struct
import warnings
from itertools import pairwise

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def rms(frames: bytes) -> float:
    return audioop.rms(frames, 2)


def dominant_frequency(frames: bytes, rate: int = 8000) -> float:
    """Of a pure tone, from its zero crossings (two per period)."""
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    crossings = sum(1 for a, b in pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def pitch_of_packets(payloads: list[bytes], rate: int = 8000) -> float:
    """The median of each packet's own pitch: a joined stream reads high where
    packets do not join up, and a few stray packets (a prompt's last words)
    would pull a whole-stream count off."""
    pitches = sorted(dominant_frequency(p, rate) * len(p) / (len(p) - 2) for p in payloads if len(p) > 2)
    return pitches[len(pitches) // 2]


def alaw_to_linear(payload: bytes) -> bytes:
    """PCMA as rtpengine sends it, as 16-bit PCM."""
    return audioop.alaw2lin(payload, 2)


def ulaw_to_linear(payload: bytes) -> bytes:
    """PCMU as rtpengine sends it, as 16-bit PCM."""
    return audioop.ulaw2lin(payload, 2)


def linear_to_ulaw(samples: bytes) -> bytes:
    return audioop.lin2ulaw(samples, 2)


def envelope(pcm: bytes) -> list[float]:
    """Loudness per 20 ms (160 samples of 16-bit PCM)."""
    return [rms(pcm[i : i + 320]) for i in range(0, len(pcm) - 319, 320)]


def spoken_envelope(path) -> list[float]:
    """The envelope of a rendered prompt (a WAV), from its first word."""
    import wave

    with wave.open(str(path)) as prompt:
        said = envelope(prompt.readframes(prompt.getnframes()))
    onset = next(i for i, level in enumerate(said) if level > 500)
    return said[onset:]


def correlation(a: list[float], b: list[float]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    spread = math.sqrt(sum((x - mean_a) ** 2 for x in a) * sum((y - mean_b) ** 2 for y in b))
    return cov / spread if spread else 0.0


def best_match(received: list[float], said: list[float], start: int = 0) -> tuple[float, int]:
    """Where in what the caller heard (from 20 ms frame ``start`` on) ``said`` fits best, and how well."""
    return max(
        ((correlation(said, received[i : i + len(said)]), i) for i in range(start, len(received) - len(said) + 1)),
        default=(0.0, 0),
    )
