"""What a recording sounds like, measured: loudness and pitch of 16-bit mono PCM."""

from __future__ import annotations

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


def alaw_to_linear(payload: bytes) -> bytes:
    """PCMA as rtpengine sends it, as 16-bit PCM."""
    return audioop.alaw2lin(payload, 2)


def ulaw_to_linear(payload: bytes) -> bytes:
    """PCMU as rtpengine sends it, as 16-bit PCM."""
    return audioop.ulaw2lin(payload, 2)


def linear_to_ulaw(samples: bytes) -> bytes:
    return audioop.lin2ulaw(samples, 2)
