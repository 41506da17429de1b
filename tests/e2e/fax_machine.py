"""A fax machine calling vpbx: SIPp does the signalling, and spandsp (through
vpbx.media.fax, the binding the media app receives with) sends a TIFF over
the call's G.711 audio on a socket the test owns, paced every 20 ms as a
line carries it."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from vpbx.media.fax import FaxTerminal

PCMA = 8
PAGE_WIDTH = 1728  # pixels: an A4 fax line


def make_pages(workdir: Path, pages: int = 1, rows: int = 600) -> Path:
    """A fax document of ``pages`` pages (stripes, and the page's number of
    blocks on its first rows), 204 x 196 dpi, as fax software makes one."""
    singles = []
    for page in range(1, pages + 1):
        bitmap = bytearray()
        for y in range(rows):
            row = bytearray(PAGE_WIDTH // 8)
            if y < 100:  # the page's number, as that many black blocks
                for block in range(page):
                    row[4 + block * 8 : 8 + block * 8] = b"\xff" * 4
            elif (y // 25) % 2 == 0:
                row[::4] = b"\xff" * len(row[::4])
            bitmap += row
        pbm = workdir / f"page{page}.pbm"
        pbm.write_bytes(f"P4\n{PAGE_WIDTH} {rows}\n".encode() + bytes(bitmap))
        single = workdir / f"page{page}.tif"
        subprocess.run(["ppm2tiff", "-R", "204", str(pbm), str(single)], check=True)
        subprocess.run(["tiffset", "-s", "283", "196", str(single)], check=True)  # fine: 196 lines per inch
        singles.append(str(single))
    document = workdir / "document.tif"
    subprocess.run(["tiffcp", "-c", "g3", *singles, str(document)], check=True)
    return document


EVENTS = 101  # RFC 4733


class FaxMachine:
    """The calling side's line. rtpengine's address is learnt from its first
    packet (the media app's answer tones come first). ``key``: pressed (RFC
    4733) ``key_after`` s after that first packet, as a caller at a fax
    machine answers an IVR menu's fax key, the machine's tones going on
    around it."""

    def __init__(self, document: Path, ident: str, *, key: str | None = None, key_after: float = 1.5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.terminal = FaxTerminal(calling=True, ident=ident, payload_type=PCMA)
        self.terminal.send_from(document)
        self.peer: tuple[str, int] | None = None
        self.key, self.key_after = key, key_after
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sequence, timestamp, ssrc = 1, 0, 0xFA000000 | self.port
        next_at = time.monotonic()
        heard_at: float | None = None
        key_packets: list[tuple[bytes, bool]] = []
        key_start = 0
        while not self.closing.is_set() and not self.terminal.done:
            while True:
                try:
                    data, address = self.sock.recvfrom(2048)
                except BlockingIOError:
                    break
                self.peer = self.peer or address
                if len(data) > 12 and data[1] & 0x7F == PCMA:
                    self.terminal.heard(data[12:])
            frame = self.terminal.next_frame()
            if self.peer is not None and heard_at is None:
                heard_at = time.monotonic()
            if self.key is not None and heard_at is not None and time.monotonic() - heard_at >= self.key_after:
                event = "0123456789*#".index(self.key)
                key_packets = [(struct.pack("!BBH", event, 10, n * 160), n == 1) for n in range(1, 6)]
                key_packets += [(struct.pack("!BBH", event, 0x80 | 10, 5 * 160), False)] * 3
                key_start, self.key = timestamp, None
            if self.peer is not None:
                if key_packets:  # the key's packets in place of audio, all with the key's start timestamp
                    payload, marker = key_packets.pop(0)
                    kind, stamp = EVENTS | (0x80 if marker else 0), key_start
                else:
                    payload, kind, stamp = frame, PCMA, timestamp
                header = struct.pack("!BBHII", 0x80, kind, sequence & 0xFFFF, stamp & 0xFFFFFFFF, ssrc)
                self.sock.sendto(header + payload, self.peer)
                sequence += 1
            timestamp += 160
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))

    def wait(self, timeout: float) -> bool:
        """Whether the fax ended (either way) within ``timeout`` s."""
        self.thread.join(timeout)
        return self.terminal.done

    def close(self) -> None:
        self.closing.set()
        self.thread.join(2)
        self.terminal.close()
        self.sock.close()
