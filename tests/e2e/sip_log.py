"""Read SIPp's -trace_msg log: which messages a SIPp process received."""

from __future__ import annotations

import re

_SEPARATOR = re.compile(r"^-{20,}.*$", re.MULTILINE)


def received(log: str) -> list[str]:
    """The SIP messages SIPp received, in order."""
    messages = []
    for block in _SEPARATOR.split(log):
        head, _, body = block.strip().partition("\n")
        if "message received" in head:
            messages.append(body.strip())
    return messages


def first(messages: list[str], start_line_prefix: str) -> str:
    for message in messages:
        if message.startswith(start_line_prefix):
            return message
    raise AssertionError(f"no message starting with {start_line_prefix!r} in {len(messages)} received")


def sdp_media(message: str) -> tuple[str, int]:
    """(connection address, audio port) of a message's SDP."""
    address = re.search(r"^c=IN IP4 (\S+)", message, re.MULTILINE)
    port = re.search(r"^m=audio (\d+) ", message, re.MULTILINE)
    assert address and port, f"no SDP audio in:\n{message}"
    return address.group(1), int(port.group(1))


def header(message: str, name: str) -> str | None:
    match = re.search(rf"^{name}:\s*(.*)$", message, re.MULTILINE | re.IGNORECASE)
    return match.group(1).strip() if match else None


def status(message: str) -> int:
    """The status code of a response."""
    assert message.startswith("SIP/2.0 "), f"not a response:\n{message}"
    return int(message.split(" ", 2)[1])
