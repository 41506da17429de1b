"""A small SIP user agent over TLS or UDP, with SRTP (SDES) media.

For calls whose every byte a test must see: the keys in each SDP, and media
that is only readable with them. SIPp cannot be this here: Debian's build has
no TLS, and its RTP cannot encrypt.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field

from pylibsrtp import Policy, Session

SRTP_SUITE = "AES_CM_128_HMAC_SHA1_80"
SRTP_KEY_BYTES = 30  # 16 of key, 14 of salt (RFC 4568)


# ---- messages ------------------------------------------------------------------


@dataclass
class Message:
    start: str
    headers: list[tuple[str, str]]
    body: str = ""

    @property
    def is_response(self) -> bool:
        return self.start.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start.split(" ", 2)[1]) if self.is_response else 0

    @property
    def method(self) -> str:
        return self.cseq_method if self.is_response else self.start.split(" ", 1)[0]

    @property
    def cseq_method(self) -> str:
        return self.header("CSeq").split()[-1]

    def header(self, name: str) -> str:
        values = self.all(name)
        assert values, f"no {name} in:\n{self}"
        return values[0]

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def __str__(self) -> str:
        lines = [self.start, *(f"{k}: {v}" for k, v in self.headers), f"Content-Length: {len(self.body.encode())}"]
        return "\r\n".join(lines) + "\r\n\r\n" + self.body


def parse(data: bytes) -> Message:
    head, _, body = data.decode().partition("\r\n\r\n")
    start, *lines = head.split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() != "content-length":
            headers.append((name.strip(), value.strip()))
    return Message(start, headers, body)


def tag_of(value: str) -> str | None:
    match = re.search(r";tag=([^;>\s]+)", value)
    return match.group(1) if match else None


def uri_of(value: str) -> str:
    match = re.search(r"<([^>]+)>", value)
    return match.group(1) if match else value.split(";", 1)[0]


# ---- transports --------------------------------------------------------------------


class Transport:
    name: str  # as in Via: "TLS" or "UDP"
    local: tuple[str, int]

    def send(self, text: str) -> None:
        raise NotImplementedError

    def receive(self, timeout: float) -> Message | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class TlsTransport(Transport):
    """One TLS connection to the proxy, which sends its requests back on it."""

    name = "TLS"

    def __init__(self, target: tuple[str, int], cafile: str):
        context = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection(target, timeout=5)
        self.sock = context.wrap_socket(raw, server_hostname=target[0])
        self.local = self.sock.getsockname()
        self.buffer = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def receive(self, timeout: float) -> Message | None:
        deadline = time.monotonic() + timeout
        while True:
            message = self._framed()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                return None
            if not data:
                raise ConnectionError("the proxy closed the TLS connection")
            self.buffer += data

    def _framed(self) -> Message | None:
        """The first whole message in the stream (RFC 3261 18.3: Content-Length frames it)."""
        self.buffer = self.buffer.lstrip(b"\r\n")  # keep-alive CRLFs
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        length = re.search(rb"^(?:Content-Length|l)\s*:\s*(\d+)", self.buffer[:end], re.MULTILINE | re.IGNORECASE)
        total = end + 4 + (int(length.group(1)) if length else 0)
        if len(self.buffer) < total:
            return None
        data, self.buffer = self.buffer[:total], self.buffer[total:]
        return parse(data)

    def close(self) -> None:
        self.sock.close()


class UdpTransport(Transport):
    name = "UDP"

    def __init__(self, target: tuple[str, int], bind: tuple[str, int] = ("127.0.0.1", 0)):
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # No SO_REUSEADDR: a port some other socket still holds (a SIPp left
        # over from an earlier test on the trunk's port) must fail here, not
        # share the replies at random.
        self.sock.bind(bind)
        self.local = self.sock.getsockname()

    def send(self, text: str) -> None:
        self.sock.sendto(text.encode(), self.target)

    def receive(self, timeout: float) -> Message | None:
        self.sock.settimeout(timeout)
        try:
            return parse(self.sock.recv(65535))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.sock.close()


# ---- digest ------------------------------------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SIP digest is MD5)


def digest_authorization(challenge: str, method: str, uri: str, login: str, password: str, nc: int = 1) -> str:
    """The Authorization value answering a WWW-/Proxy-Authenticate ``challenge`` (RFC 2617)."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[1]))
    realm, nonce = params["realm"], params["nonce"]
    ha1, ha2 = _md5(f"{login}:{realm}:{password}"), _md5(f"{method}:{uri}")
    fields = f'username="{login}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if "auth" in params.get("qop", "").split(","):
        cnonce, count = secrets.token_hex(4), f"{nc:08x}"
        response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        fields += f', qop=auth, nc={count}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
    return f'Digest {fields}, response="{response}", algorithm=MD5'


# ---- SDP and media -------------------------------------------------------------------


def offer(port: int, key: bytes | None, tag: int = 1) -> str:
    """An audio SDP (PCMU): SRTP with this SDES key, or plain RTP without one.
    An answer names the tag its offer gave the suite it takes (RFC 4568 5.1.2)."""
    lines = [
        "v=0",
        f"o=- {secrets.randbelow(10**9)} 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} {'RTP/SAVP' if key else 'RTP/AVP'} 0",
        "a=rtpmap:0 PCMU/8000",
    ]
    if key:
        lines.append(f"a=crypto:{tag} {SRTP_SUITE} inline:{base64.b64encode(key).decode()}")
    return "\r\n".join(lines + ["a=sendrecv", ""])


@dataclass(frozen=True)
class Media:
    address: str
    port: int
    protocol: str
    keys: dict[str, bytes]  # crypto suite -> SDES key and salt
    tags: dict[str, int]  # crypto suite -> its tag in the offer


def media_of(sdp: str) -> Media:
    address = re.search(r"^c=IN IP4 (\S+)", sdp, re.MULTILINE)
    line = re.search(r"^m=audio (\d+) (\S+) ", sdp, re.MULTILINE)
    assert address and line, f"no audio in SDP:\n{sdp}"
    # RFC 4568 keys may come without base64 padding (rtpengine omits it).
    crypto = re.findall(r"^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)", sdp, re.MULTILINE)
    keys = {suite: base64.b64decode(key + "=" * (-len(key) % 4)) for _, suite, key in crypto}
    return Media(address.group(1), int(line.group(1)), line.group(2), keys, {suite: int(t) for t, suite, _ in crypto})


class RtpSocket:
    """One end's RTP: plain, or SRTP with its own sending key and the peer's."""

    def __init__(self, send_key: bytes | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.send_key = send_key
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbelow(1000)
        self._outbound = (
            Session(Policy(key=send_key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)) if send_key is not None else None
        )
        self._inbound: Session | None = None

    def receive_with(self, key: bytes) -> None:
        self._inbound = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))

    def send(self, to: tuple[str, int], payloads: list[bytes]) -> None:
        for payload in payloads:
            self.sequence += 1
            packet = struct.pack("!BBHII", 0x80, 0, self.sequence, self.sequence * 160, self.ssrc) + payload
            self.sock.sendto(self._outbound.protect(packet) if self._outbound else packet, to)
            time.sleep(0.02)  # paced as a phone sends, so rtpengine forwards each

    def receive(self, count: int, timeout: float) -> list[bytes]:
        """Up to ``count`` packets as they arrived on the wire (still encrypted if SRTP)."""
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                got.append(self.sock.recv(2048))
            except TimeoutError:
                break
        return got

    def decrypt(self, packet: bytes) -> bytes:
        assert self._inbound is not None, "no key to read SRTP with"
        return self._inbound.unprotect(packet)

    def close(self) -> None:
        self.sock.close()


def payload_of(packet: bytes) -> bytes:
    return packet[12:]


# ---- the user agent ----------------------------------------------------------------------


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route: list[str]
    cseq: int
    remote_sdp: str = ""
    invite: Message | None = None  # the INVITE that made it (its ACK of a refusal copies it)


@dataclass
class UserAgent:
    transport: Transport
    login: str
    domain: str
    password: str | None = None
    received: list[Message] = field(default_factory=list)  # messages waiting for a wait_* call
    # INVITEs received and not yet given a final answer, by Call-ID: a CANCEL ends them with 487.
    ringing: dict[str, Message] = field(default_factory=dict)
    invites_seen: set[tuple[str, str]] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)  # this agent's To-tag, by Call-ID
    cancelled: set[str] = field(default_factory=set)  # Call-IDs whose CANCEL came here
    # Plays a phone that builds its 487 from the CANCEL's Via, not the INVITE's.
    terminates_with_cancel_vias: bool = False

    @property
    def contact(self) -> str:
        host, port = self.transport.local
        return f"<sip:{self.login}@{host}:{port};transport={self.transport.name.lower()}>"

    @property
    def aor(self) -> str:
        return f"sip:{self.login}@{self.domain}"

    def via(self) -> str:
        host, port = self.transport.local
        return f"SIP/2.0/{self.transport.name} {host}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport"

    # -- receiving

    def wait(self, match, timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.received:
                if match(message):
                    self.received.remove(message)
                    return message
            remaining = deadline - time.monotonic()
            message = self.transport.receive(remaining) if remaining > 0 else None
            if message is None:
                raise AssertionError(f"{self.login}: nothing matching within {timeout}s; had {self.received}")
            if message.method == "CANCEL" and not message.is_response:
                # Too late or not, a CANCEL is answered (RFC 3261 9.2), and ends
                # an INVITE still ringing here with 487.
                self.reply(message, 200, "OK")
                self.cancelled.add(message.header("Call-ID"))
                invite = self.ringing.get(message.header("Call-ID"))
                if invite is not None:
                    vias = message.all("Via") if self.terminates_with_cancel_vias else None
                    self.reply(invite, 487, "Request Terminated", vias=vias)
                continue
            if message.method == "INVITE" and not message.is_response:
                transaction = (message.header("Call-ID"), message.header("CSeq"))
                if transaction in self.invites_seen:
                    continue  # a retransmission (this agent sends no 100 Trying)
                self.invites_seen.add(transaction)
                if not tag_of(message.header("To")):
                    # Rings at once, as phones do: a proxy sends no CANCEL to a
                    # branch that has not answered provisionally (RFC 3261 9.1).
                    self.ringing[message.header("Call-ID")] = message
                    self.tags[message.header("Call-ID")] = secrets.token_hex(4)
                    self.reply(message, 180, "Ringing")
            self.received.append(message)

    def serve(self, seconds: float) -> None:
        """Take in what arrives for a while (answering CANCELs) without waiting for anything."""
        try:
            self.wait(lambda _: False, seconds)
        except AssertionError:
            pass

    def wait_request(self, method: str, timeout: float = 10.0) -> Message:
        return self.wait(lambda m: not m.is_response and m.method == method, timeout)

    def wait_final(self, call_id: str, method: str, timeout: float = 10.0) -> Message:
        return self.wait(
            lambda m: m.is_response and m.status >= 200 and m.header("Call-ID") == call_id and m.cseq_method == method,
            timeout,
        )

    # -- requests

    def request(self, method: str, uri: str, headers: list[tuple[str, str]], body: str = "") -> Message:
        all_headers = [("Via", self.via()), ("Max-Forwards", "70"), *headers]
        if body:
            all_headers.append(("Content-Type", "application/sdp"))
        message = Message(f"{method} {uri} SIP/2.0", all_headers, body)
        self.transport.send(str(message))
        return message

    def register(self) -> int:
        call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
        uri = f"sip:{self.domain}"

        def send(cseq: int, extra: list[tuple[str, str]]) -> Message:
            self.request(
                "REGISTER",
                uri,
                [
                    ("From", f"<{self.aor}>;tag={tag}"),
                    ("To", f"<{self.aor}>"),
                    ("Call-ID", call_id),
                    ("CSeq", f"{cseq} REGISTER"),
                    ("Contact", self.contact),
                    ("Expires", "300"),
                    *extra,
                ],
            )
            return self.wait_final(call_id, "REGISTER")

        reply = send(1, [])
        if reply.status == 401 and self.password:
            challenge = reply.header("WWW-Authenticate")
            auth = digest_authorization(challenge, "REGISTER", uri, self.login, self.password)
            reply = send(2, [("Authorization", auth)])
        return reply.status

    def invite(self, callee: str, sdp: str, from_user: str | None = None) -> Dialog:
        """Send an INVITE (answering a proxy challenge); returns once it is under way (a 1xx)."""
        uri = f"sip:{callee}@{self.domain}"
        caller = f"sip:{from_user or self.login}@{self.domain}"
        dialog = Dialog(secrets.token_hex(8), secrets.token_hex(4), "", caller, uri, uri, [], 1)
        authorization: list[tuple[str, str]] = []
        while True:
            sent = self.request(
                "INVITE",
                uri,
                [
                    ("From", f"<{caller}>;tag={dialog.local_tag}"),
                    ("To", f"<{uri}>"),
                    ("Call-ID", dialog.call_id),
                    ("CSeq", f"{dialog.cseq} INVITE"),
                    ("Contact", self.contact),
                    *authorization,
                ],
                sdp,
            )
            reply = self.wait(lambda m: m.is_response and m.header("Call-ID") == dialog.call_id)
            if reply.status == 407 and self.password and not authorization:
                self._ack_failure(sent, reply)
                challenge = reply.header("Proxy-Authenticate")
                authorization = [
                    ("Proxy-Authorization", digest_authorization(challenge, "INVITE", uri, self.login, self.password))
                ]
                dialog.cseq += 1
                continue
            dialog.invite = sent
            if reply.status >= 200:
                self.received.insert(0, reply)
            return dialog

    def refused(self, dialog: Dialog, timeout: float = 10.0) -> Message:
        """Wait for the INVITE's final refusal, and ACK it."""
        reply = self.wait_final(dialog.call_id, "INVITE", timeout)
        assert reply.status >= 300, f"not refused:\n{reply}"
        self.ack_failure(dialog, reply)
        return reply

    def ack_failure(self, dialog: Dialog, reply: Message) -> None:
        assert dialog.invite is not None
        self._ack_failure(dialog.invite, reply)

    def _ack_failure(self, invite: Message, reply: Message) -> None:
        """The ACK of a non-2xx final answer: To with the reply's tag (RFC 3261 17.1.1.3)."""
        self._in_invite_transaction(invite, "ACK", reply.header("To"))

    def cancel(self, dialog: Dialog) -> None:
        """CANCEL the INVITE under way (RFC 3261 9.1)."""
        assert dialog.invite is not None
        self._in_invite_transaction(dialog.invite, "CANCEL", dialog.invite.header("To"))

    def _in_invite_transaction(self, invite: Message, method: str, to: str) -> None:
        """A request that shares the INVITE's branch: its request line, Via, From,
        Call-ID and CSeq number."""
        headers = [
            ("Via", invite.header("Via")),
            ("Max-Forwards", "70"),
            ("From", invite.header("From")),
            ("To", to),
            ("Call-ID", invite.header("Call-ID")),
            ("CSeq", f"{invite.header('CSeq').split()[0]} {method}"),
        ]
        self.transport.send(str(Message(f"{method} {invite.start.split()[1]} SIP/2.0", headers)))

    def answered(self, dialog: Dialog, timeout: float = 10.0, reply: Message | None = None) -> Message:
        """Wait for the INVITE's 200 (or take ``reply``, one of several from a
        forked INVITE), note the dialog it makes, and ACK it."""
        reply = reply or self.wait_final(dialog.call_id, "INVITE", timeout)
        assert reply.status == 200, f"call not answered:\n{reply}"
        dialog.remote_tag = tag_of(reply.header("To")) or ""
        dialog.remote_target = uri_of(reply.header("Contact"))
        dialog.route = list(reversed([r.strip() for value in reply.all("Record-Route") for r in value.split(",")]))
        dialog.remote_sdp = reply.body
        self.in_dialog("ACK", dialog, cseq=dialog.cseq)
        return reply

    def in_dialog(self, method: str, dialog: Dialog, cseq: int | None = None) -> Message:
        if cseq is None:
            dialog.cseq += 1
        return self.request(
            method,
            dialog.remote_target,
            [
                *(("Route", route) for route in dialog.route),
                ("From", f"<{dialog.local_uri}>;tag={dialog.local_tag}"),
                ("To", f"<{dialog.remote_uri}>;tag={dialog.remote_tag}"),
                ("Call-ID", dialog.call_id),
                ("CSeq", f"{cseq or dialog.cseq} {method}"),
            ],
        )

    def hang_up_on(self, dialog: Dialog, peer: UserAgent) -> Message:
        """BYE to ``peer``, who answers it 200, and that 200 back here; the BYE ``peer`` got."""
        self.in_dialog("BYE", dialog)
        bye = peer.wait_request("BYE")
        peer.reply(bye, 200, "OK")
        assert self.wait_final(dialog.call_id, "BYE").status == 200
        return bye

    def hang_up(self, dialog: Dialog) -> int:
        self.in_dialog("BYE", dialog)
        return self.wait_final(dialog.call_id, "BYE").status

    # -- answering

    def reply(
        self, request: Message, status: int, phrase: str, *, body: str = "", vias: list[str] | None = None
    ) -> None:
        tag = self.tags.get(request.header("Call-ID"), "")
        to = request.header("To") + (f";tag={tag}" if tag and not tag_of(request.header("To")) else "")
        headers = [
            *(("Via", via) for via in (vias if vias is not None else request.all("Via"))),
            *(("Record-Route", route) for route in request.all("Record-Route")),
            ("From", request.header("From")),
            ("To", to),
            ("Call-ID", request.header("Call-ID")),
            ("CSeq", request.header("CSeq")),
        ]
        if request.method == "INVITE" and status < 300:
            headers.append(("Contact", self.contact))
        if request.method == "INVITE" and status >= 200:
            self.ringing.pop(request.header("Call-ID"), None)
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self.transport.send(str(Message(f"SIP/2.0 {status} {phrase}", headers, body)))

    def answer(self, invite: Message, sdp: str) -> Dialog:
        """200 to an INVITE, and the dialog it makes (the caller's ACK: ``acked``)."""
        tag = self.tags[invite.header("Call-ID")]
        self.reply(invite, 200, "OK", body=sdp)
        return Dialog(
            invite.header("Call-ID"),
            tag,
            tag_of(invite.header("From")) or "",
            uri_of(invite.header("To")),
            uri_of(invite.header("From")),
            uri_of(invite.header("Contact")),
            [r.strip() for value in invite.all("Record-Route") for r in value.split(",")],
            int(invite.header("CSeq").split()[0]),
            invite.body,
        )

    def acked(self, dialog: Dialog, timeout: float = 10.0) -> Message:
        return self.wait(lambda m: m.method == "ACK" and m.header("Call-ID") == dialog.call_id, timeout)

    def close(self) -> None:
        self.transport.close()
