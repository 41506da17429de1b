"""A fax terminal (T.30 over G.711 audio) on spandsp, the fax library of
Asterisk and FreeSWITCH (Debian's libspandsp2).

No Python binding of spandsp is packaged in Debian 12 or published on PyPI,
so this is a small ctypes one of the few calls a terminal needs: make a fax
state, give it the line's audio, take the audio it sends, name the TIFF it
receives into or sends from, and learn how it ended (its phase E). spandsp
does all of T.30 and the modems; audio in and out is 8 kHz 16-bit linear.

The media app receives with it (vpbx.media.nodes.fax); the tests send with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # as media/rtp.py says

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
SILENCE = b"\x00\x00" * FRAME_SAMPLES
# T.30's completion code for a fax that went through (spandsp's T30_ERR_OK).
OK = 0

_PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


class _Stats(ctypes.Structure):
    """spandsp 0.0.6's t30_stats_t, whose first fields are what we read."""

    _fields_ = [
        (name, ctypes.c_int)
        for name in (
            "bit_rate",
            "error_correcting_mode",
            "pages_tx",
            "pages_rx",
            "pages_in_file",
            "x_resolution",
            "y_resolution",
            "width",
            "length",
            "image_size",
            "encoding",
            "bad_rows",
            "longest_bad_row_run",
            "error_correcting_mode_retries",
            "current_status",
        )
    ]


class FaxUnavailable(RuntimeError):
    """spandsp is not installed (the Debian package libspandsp2)."""


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise FaxUnavailable(f"spandsp cannot be loaded ({exc}): install libspandsp2") from None
    void_p, int16_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16)
    for function, result, arguments in (
        ("fax_init", void_p, [void_p, ctypes.c_int]),
        ("fax_free", ctypes.c_int, [void_p]),
        ("fax_rx", ctypes.c_int, [void_p, int16_p, ctypes.c_int]),
        ("fax_tx", ctypes.c_int, [void_p, int16_p, ctypes.c_int]),
        ("fax_set_transmit_on_idle", None, [void_p, ctypes.c_int]),
        ("fax_get_t30_state", void_p, [void_p]),
        ("t30_set_tx_ident", ctypes.c_int, [void_p, ctypes.c_char_p]),
        ("t30_get_rx_ident", ctypes.c_char_p, [void_p]),
        ("t30_set_rx_file", None, [void_p, ctypes.c_char_p, ctypes.c_int]),
        ("t30_set_tx_file", None, [void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]),
        ("t30_set_phase_e_handler", None, [void_p, _PHASE_E, void_p]),
        ("t30_get_transfer_statistics", None, [void_p, ctypes.POINTER(_Stats)]),
        ("t30_completion_code_to_str", ctypes.c_char_p, [ctypes.c_int]),
    ):
        getattr(lib, function).restype = result
        getattr(lib, function).argtypes = arguments
    return lib


_lib: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        _lib = _library()
    return _lib


class FaxTerminal:
    """One end of a fax call. ``calling``: the sender (it waits for the
    called side's tones); ``ident``: the number it says it is (T.30's TSI or
    CSI, at most 20 characters). Name a file with ``receive_into`` or
    ``send_from``, then give it every 20 ms of the line's audio (``heard``)
    and send the line what ``next_frame`` makes, until ``done`` (or the
    call ends). Not thread-safe: one event loop drives it."""

    def __init__(self, *, calling: bool, ident: str, payload_type: int):
        self.lib = library()
        self.state = self.lib.fax_init(None, 1 if calling else 0)
        if not self.state:
            raise FaxUnavailable("fax_init failed")
        self.t30 = self.lib.fax_get_t30_state(self.state)
        self.lib.fax_set_transmit_on_idle(self.state, 1)  # an unbroken stream, as a line carries
        self.lib.t30_set_tx_ident(self.t30, ident[:20].encode("ascii", "replace"))
        self.completion: int | None = None  # phase E: OK, or why it failed
        # Kept referenced: spandsp calls it long after this constructor returns.
        self._on_phase_e = _PHASE_E(self._phase_e)
        self.lib.t30_set_phase_e_handler(self.t30, self._on_phase_e, None)
        self.decode = audioop.alaw2lin if payload_type == 8 else audioop.ulaw2lin
        self.encode = audioop.lin2alaw if payload_type == 8 else audioop.lin2ulaw
        self._in = (ctypes.c_int16 * FRAME_SAMPLES)()
        self._out = (ctypes.c_int16 * FRAME_SAMPLES)()

    def receive_into(self, path: Path) -> None:
        self.lib.t30_set_rx_file(self.t30, str(path).encode(), -1)

    def send_from(self, path: Path) -> None:
        self.lib.t30_set_tx_file(self.t30, str(path).encode(), -1, -1)

    def _phase_e(self, _t30, _user_data, completion: int) -> None:
        self.completion = completion

    @property
    def done(self) -> bool:
        return self.completion is not None

    @property
    def outcome(self) -> str:
        """How it ended, in T.30's words ("OK", "Far end disconnected", ...)."""
        if self.completion is None:
            return "not finished"
        text = self.lib.t30_completion_code_to_str(self.completion)
        return text.decode(errors="replace") if text else str(self.completion)

    @property
    def pages(self) -> int:
        """Pages received (a receiver) or sent (a sender) so far."""
        stats = _Stats()
        self.lib.t30_get_transfer_statistics(self.t30, ctypes.byref(stats))
        return max(stats.pages_rx, stats.pages_tx)

    @property
    def remote_ident(self) -> str:
        ident = self.lib.t30_get_rx_ident(self.t30)
        return ident.decode(errors="replace").strip() if ident else ""

    def heard(self, payload: bytes) -> None:
        """A G.711 frame of the line's audio (of this terminal's law)."""
        linear = self.decode(payload, 2)
        count = min(len(linear) // 2, FRAME_SAMPLES)
        ctypes.memmove(self._in, linear, count * 2)
        self.lib.fax_rx(self.state, self._in, count)

    def next_frame(self) -> bytes:
        """The next 20 ms this terminal sends, as G.711."""
        made = self.lib.fax_tx(self.state, self._out, FRAME_SAMPLES)
        linear = bytes(self._out)[: made * 2] + SILENCE[made * 2 :]
        return self.encode(linear, 2)

    def close(self) -> None:
        if self.state:
            self.lib.fax_free(self.state)
            self.state = None
