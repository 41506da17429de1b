"""Send hand-written SIP datagrams, for requests no well-behaved UA would send."""

from __future__ import annotations

import secrets
import socket


def request(
    method: str,
    ruri: str,
    *,
    headers: dict[str, str] | None = None,
    body: str = "",
    cseq: str | None = None,
    content_length: int | None = None,
    source: str = "127.0.0.1",
) -> tuple[str, socket.socket]:
    """A request text and the bound socket it should be sent from."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    port = sock.getsockname()[1]
    lines = [
        f"{method} {ruri} SIP/2.0",
        f"Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{secrets.token_hex(6)};rport",
        f"From: <sip:tester@{source}:{port}>;tag={secrets.token_hex(4)}",
        f"To: <{ruri}>",
        f"Call-ID: {secrets.token_hex(8)}@{source}",
        f"CSeq: {cseq or f'1 {method}'}",
        "Max-Forwards: 70",
        f"Contact: <sip:tester@{source}:{port}>",
    ]
    for name, value in (headers or {}).items():
        lines = [line for line in lines if not line.startswith(f"{name}:")] + (
            [f"{name}: {value}"] if value is not None else []
        )
    lines.append(f"Content-Length: {len(body.encode()) if content_length is None else content_length}")
    return "\r\n".join(lines) + "\r\n\r\n" + body, sock


def exchange(target: tuple[str, int], text: str, sock: socket.socket, timeout: float = 2.0) -> str | None:
    """Send ``text`` and return the first final response's status line (skipping 1xx)."""
    with sock:
        sock.settimeout(timeout)
        sock.sendto(text.encode(), target)
        while True:
            try:
                data = sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                return None
            status = data.split("\r\n", 1)[0]
            if not status.startswith("SIP/2.0 1"):
                return data


def listener(host: str = "127.0.0.1") -> socket.socket:
    """A UDP socket an attack aims at: whatever reaches it got through."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


def received(sock: socket.socket) -> list[bytes]:
    """Everything waiting on a listener (call once the probe had its answer)."""
    got = []
    while True:
        try:
            got.append(sock.recv(65535))
        except BlockingIOError:
            return got


def status_of(response: str | None) -> int | None:
    return int(response.split(" ", 2)[1]) if response else None


def header(message: str, name: str) -> str | None:
    for line in message.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None
