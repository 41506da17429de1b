"""The SIP the media app speaks: parse a datagram, build replies and in-dialog requests.

Written here rather than taken from a library: the maintained Python SIP
stacks are bindings to C UAs (pjsua2) that bring their own media engine and
threads, while rtpengine already does our media. The media app only ever talks
to our own Kamailio over UDP on loopback, as a UAS that sometimes hangs up, so
it needs RFC 3261's message syntax, its UAS rules for INVITE (retransmit 200 OK
until ACK) and non-INVITE client retransmission for BYE, and no more.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import overload

# Compact header forms (RFC 3261 section 7.3.3) Kamailio may relay unchanged.
_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
}
# Headers that may appear several times, or hold several comma-separated values.
_MULTI = {"via", "record-route", "route"}
_TAG = re.compile(r";\s*tag=([^;>\s]+)", re.IGNORECASE)
_URI_IN_BRACKETS = re.compile(r"<([^>]+)>")

REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    503: "Service Unavailable",
}


class ParseError(ValueError):
    pass


@dataclass
class Message:
    """A request (``method`` set) or a response (``status`` set)."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    # Lower-case names; multi-valued headers keep every value in order.
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.headers.get(name.lower(), ()))

    @property
    def call_id(self) -> str:
        return self.get("call-id", "")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("cseq") or "0 ?").partition(" ")
        return int(number), method.strip()

    @property
    def from_tag(self) -> str | None:
        return tag_of(self.get("from", ""))

    @property
    def to_tag(self) -> str | None:
        return tag_of(self.get("to", ""))

    @property
    def branch(self) -> str:
        match = re.search(r";\s*branch=([^;\s,]+)", self.get("via", ""), re.IGNORECASE)
        return match.group(1) if match else ""

    def encode(self) -> bytes:
        start = (
            f"{self.method} {self.uri} SIP/2.0"
            if self.method
            else f"SIP/2.0 {self.status} {self.reason or REASON_PHRASES.get(self.status or 0, '')}"
        )
        lines = [start]
        for name, values in self.headers.items():
            if name == "content-length":
                continue
            lines.extend(f"{_canonical(name)}: {value}" for value in values)
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def _canonical(name: str) -> str:
    special = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
    return special.get(name) or "-".join(part.capitalize() for part in name.split("-"))


def tag_of(header_value: str) -> str | None:
    # The tag is a parameter of the header, after any <uri>, never of the URI itself.
    outside = header_value.rsplit(">", 1)[-1]
    match = _TAG.search(outside)
    return match.group(1) if match else None


def uri_of(header_value: str) -> str:
    match = _URI_IN_BRACKETS.search(header_value)
    return match.group(1) if match else header_value.split(";", 1)[0].strip()


def user_of(uri: str) -> str:
    return uri.split(":", 1)[-1].split("@", 1)[0].split(";", 1)[0]


def _split_commas(value: str) -> list[str]:
    """Comma-separated header values, leaving commas inside <...> and quotes alone."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def parse(data: bytes) -> Message:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise ParseError("no end of headers")
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError as exc:
        raise ParseError("headers are not UTF-8") from exc
    start = lines[0].split(" ", 2)
    if len(start) < 3:
        raise ParseError(f"bad start line {lines[0]!r}")
    if start[0] == "SIP/2.0":
        if not start[1].isdigit():
            raise ParseError(f"bad status {start[1]!r}")
        message = Message(status=int(start[1]), reason=start[2])
    elif start[2] == "SIP/2.0":
        message = Message(method=start[0], uri=start[1])
    else:
        raise ParseError(f"bad start line {lines[0]!r}")
    unfolded: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    for line in unfolded:
        name, colon, value = line.partition(":")
        if not colon:
            raise ParseError(f"bad header line {line!r}")
        name = name.strip().lower()
        name = _COMPACT.get(name, name)
        values = _split_commas(value.strip()) if name in _MULTI else [value.strip()]
        message.headers.setdefault(name, []).extend(values)
    length = message.get("content-length")
    message.body = body[: int(length)] if length and length.isdigit() else body
    for required in ("via", "from", "to", "call-id", "cseq"):
        if required not in message.headers:
            raise ParseError(f"no {required} header")
    return message


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def ack_for_failure(invite: Message, reply: Message) -> Message:
    """The ACK of a non-2xx final answer to our INVITE (RFC 3261 section 17.1.1.3):
    part of the INVITE's transaction, so its Via (branch), Request-URI and Route,
    with the answer's To."""
    headers = {"via": invite.all("via"), "max-forwards": ["70"]}
    if invite.all("route"):
        headers["route"] = invite.all("route")
    headers.update(
        {
            "from": [invite.get("from", "")],
            "to": [reply.get("to", "")],
            "call-id": [invite.call_id],
            "cseq": [f"{invite.cseq[0]} ACK"],
        }
    )
    return Message(method="ACK", uri=invite.uri, headers=headers)


def response(
    request: Message,
    status: int,
    *,
    to_tag: str | None = None,
    contact: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    extra: dict[str, str] | None = None,
) -> Message:
    """A reply to ``request`` (RFC 3261 section 8.2.6): Via, From, Call-ID and
    CSeq copied, the To tag added; an INVITE's 2xx/18x also copies Record-Route."""
    headers: dict[str, list[str]] = {"via": request.all("via")}
    to = request.get("to", "")
    if to_tag and tag_of(to) is None and status > 100:
        to = f"{to};tag={to_tag}"
    headers["from"] = [request.get("from", "")]
    headers["to"] = [to]
    headers["call-id"] = [request.call_id]
    headers["cseq"] = [request.get("cseq", "")]
    if request.method == "INVITE" and 100 < status < 300 and request.all("record-route"):
        headers["record-route"] = request.all("record-route")
    if contact:
        headers["contact"] = [f"<{contact}>"]
    for name, value in (extra or {}).items():
        headers[name.lower()] = [value]
    if body:
        headers["content-type"] = [content_type or "application/sdp"]
    return Message(status=status, headers=headers, body=body)
