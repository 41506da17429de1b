"""A minimal RTP endpoint: the test's own socket behind a SIPp call's SDP."""

from __future__ import annotations

import math
import socket
import struct
import time

from .wav import linear_to_ulaw


class RtpEndpoint:
    PAYLOAD = b"\xff" * 160  # 20 ms of PCMU silence

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ssrc = int.from_bytes(self.port.to_bytes(2, "big") * 2, "big")
        self.sequence = 0

    def packet(self) -> bytes:
        self.sequence += 1
        header = struct.pack("!BBHII", 0x80, 0, self.sequence, self.sequence * 160, self.ssrc)
        return header + self.PAYLOAD

    def send_tone(self, address: tuple[str, int], count: int, frequency: float) -> None:
        """``count`` packets of a PCMU tone, paced as a phone sends them."""
        for n in range(count):
            samples = b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * (n * 160 + i) / 8000)))
                for i in range(160)
            )
            self.sequence += 1
            header = struct.pack("!BBHII", 0x80, 0, self.sequence, self.sequence * 160, self.ssrc)
            self.sock.sendto(header + linear_to_ulaw(samples), address)
            time.sleep(0.02)  # media pacing

    def send(self, address: tuple[str, int], count: int) -> None:
        for _ in range(count):
            self.sock.sendto(self.packet(), address)

    def receive(self, count: int, timeout: float) -> list[tuple[bytes, tuple[str, int]]]:
        """Up to ``count`` datagrams, waiting at most ``timeout`` seconds in all
        (0: only what has already arrived)."""
        received = []
        deadline = time.monotonic() + timeout
        while len(received) < count:
            remaining = max(deadline - time.monotonic(), 0.0)
            self.sock.settimeout(remaining)  # 0 makes the socket non-blocking
            try:
                received.append(self.sock.recvfrom(2048))
            except (TimeoutError, BlockingIOError):
                break
        return received

    @staticmethod
    def ssrc_of(packet: bytes) -> int:
        return struct.unpack("!I", packet[8:12])[0]

    def close(self) -> None:
        self.sock.close()
