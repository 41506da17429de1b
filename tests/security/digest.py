"""A SIP digest client (RFC 2617 with qop=auth), to send credentials the way
an attacker would: many guesses at once, or a captured answer replayed."""

from __future__ import annotations

import re
import secrets
import socket
from dataclasses import dataclass

from tests.e2e.sip_ua import digest_authorization


@dataclass
class Challenge:
    realm: str
    nonce: str
    qop: str | None
    call_id: str
    cseq: int


class Registrar:
    """REGISTERs for one account from one UDP socket bound to ``source``."""

    def __init__(self, target: tuple[str, int], login: str, domain: str, source: str = "127.0.0.1"):
        self.target, self.login, self.domain = target, login, domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.source, self.port = self.sock.getsockname()

    def close(self) -> None:
        self.sock.close()

    def request(self, call_id: str, cseq: int, authorization: str | None = None) -> str:
        lines = [
            f"REGISTER sip:{self.domain} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.source}:{self.port};branch=z9hG4bK{secrets.token_hex(6)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.login}@{self.domain}>;tag={secrets.token_hex(4)}",
            f"To: <sip:{self.login}@{self.domain}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{self.login}@{self.source}:{self.port}>",
            "Expires: 60",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        return "\r\n".join(lines + ["Content-Length: 0", "", ""])

    def send(self, text: str) -> None:
        self.sock.sendto(text.encode(), self.target)

    def replies(self, count: int, timeout: float) -> list[str]:
        """The next ``count`` final replies (1xx skipped), fewer if ``timeout`` passes first."""
        got: list[str] = []
        self.sock.settimeout(timeout)
        try:
            while len(got) < count:
                data = self.sock.recv(65535).decode(errors="replace")
                if not data.startswith("SIP/2.0 1"):
                    got.append(data)
        except TimeoutError:
            pass
        return got

    def challenge(self) -> Challenge:
        call_id = f"{secrets.token_hex(8)}@{self.source}"
        self.send(self.request(call_id, 1))
        (reply,) = self.replies(1, 2.0)
        return parse_challenge(reply, call_id)

    def answer(self, challenge: Challenge, password: str, nc: int = 1) -> str:
        """The REGISTER that answers ``challenge`` with ``password``."""
        header = f'Digest realm="{challenge.realm}", nonce="{challenge.nonce}"'
        if challenge.qop:
            header += f', qop="{challenge.qop}"'
        authorization = digest_authorization(header, "REGISTER", f"sip:{self.domain}", self.login, password, nc)
        return self.request(challenge.call_id, challenge.cseq + 1, authorization)


def parse_challenge(reply: str, call_id: str) -> Challenge:
    header = next(
        line for line in reply.split("\r\n") if line.lower().startswith(("www-authenticate:", "proxy-authenticate:"))
    )
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', header.split(":", 1)[1]))
    return Challenge(params["realm"], params["nonce"], params.get("qop"), call_id, 1)
