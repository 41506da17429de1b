"""Client for rtpengine's ng control protocol over UDP.

A datagram is ``<cookie> <bencoded dict>``; the reply echoes the cookie. Each
request gets a fresh cookie and a retransmission reuses it, so rtpengine answers
a retransmitted offer from its cookie cache instead of executing it twice.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Mapping

# bencode.py, not a strict decoder: rtpengine does not sort dictionary keys
# (e.g. in `query` answers), which canonical-only decoders reject.
import bencodepy


class NgError(RuntimeError):
    """rtpengine answered ``result: error``."""


class NgTimeout(TimeoutError):
    pass


def _to_bencodable(value):
    # ng spells booleans as "yes"/"no" strings.
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return {k: _to_bencodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_bencodable(v) for v in value]
    return value


def _from_bencoded(value):
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value
    if isinstance(value, dict):
        return {_from_bencoded(k): _from_bencoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_bencoded(v) for v in value]
    return value


class NgClient:
    def __init__(self, host: str, port: int, *, timeout: float = 1.0, attempts: int = 3):
        self.address = (host, port)
        self.timeout = timeout
        self.attempts = attempts

    def request(self, command: str, **params) -> dict:
        cookie = secrets.token_hex(8).encode()
        body = {"command": command, **{k.replace("_", "-"): v for k, v in params.items()}}
        datagram = cookie + b" " + bencodepy.encode(_to_bencodable(body))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            for _ in range(self.attempts):
                sock.sendto(datagram, self.address)
                try:
                    reply = self._receive(sock, cookie)
                except TimeoutError:
                    continue
                if reply.get("result") == "error":
                    raise NgError(reply.get("error-reason", "unknown error"))
                return reply
        raise NgTimeout(f"rtpengine at {self.address[0]}:{self.address[1]} did not answer {command!r}")

    @staticmethod
    def _receive(sock: socket.socket, cookie: bytes) -> dict:
        while True:
            data = sock.recv(65535)
            got_cookie, _, payload = data.partition(b" ")
            if got_cookie == cookie:  # a late answer to an earlier request is skipped
                return _from_bencoded(bencodepy.decode(payload))

    def ping(self) -> bool:
        return self.request("ping").get("result") == "pong"

    def query(self, call_id: str) -> dict:
        return self.request("query", call_id=call_id)

    def list_calls(self, limit: int = 1000) -> list[str]:
        return self.request("list", limit=limit).get("calls", [])

    def statistics(self) -> dict:
        return self.request("statistics").get("statistics", {})


class AsyncNgClient(asyncio.DatagramProtocol):
    """The same protocol for the media app's event loop: one socket, replies
    matched to requests by cookie, a lost datagram resent with its cookie."""

    def __init__(self, host: str, port: int, *, timeout: float = 1.0, attempts: int = 3):
        self.address = (host, port)
        self.timeout = timeout
        self.attempts = attempts
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[bytes, asyncio.Future] = {}

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, remote_addr=self.address)

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        cookie, _, payload = data.partition(b" ")
        future = self.pending.get(cookie)
        if future is not None and not future.done():
            future.set_result(_from_bencoded(bencodepy.decode(payload)))

    def error_received(self, exc) -> None:
        pass  # ICMP unreachable while rtpengine restarts: the retransmission covers it

    async def request(self, command: str, **params) -> dict:
        cookie = secrets.token_hex(8).encode()
        body = {"command": command, **{k.replace("_", "-"): v for k, v in params.items()}}
        datagram = cookie + b" " + bencodepy.encode(_to_bencodable(body))
        future = asyncio.get_running_loop().create_future()
        self.pending[cookie] = future
        if self.transport is None:
            raise NgError("the ng socket is not open")
        try:
            for _ in range(self.attempts):
                self.transport.sendto(datagram)
                try:
                    reply = await asyncio.wait_for(asyncio.shield(future), self.timeout)
                except TimeoutError:
                    continue
                if reply.get("result") == "error":
                    raise NgError(reply.get("error-reason", "unknown error"))
                return reply
        finally:
            self.pending.pop(cookie, None)
        raise NgTimeout(f"rtpengine at {self.address[0]}:{self.address[1]} did not answer {command!r}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
