"""A real HTTP server standing in for a customer's webhook or CRM (the internet edge).

Each test says how it answers (status, body, delay, or closing the
connection without a word) and reads back every request it got.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float  # time.monotonic()

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    delay_s: float = 0.0
    hang_up: bool = False  # close the connection without answering

    @classmethod
    def of(cls, answer: dict, **kwargs) -> Reply:
        return cls(body=json.dumps(answer).encode(), **kwargs)


# The test profile lets customers' URLs reach this network only (vpbx.toml,
# http.allowed_networks): 127.0.0.1 itself stays refused, as in production.
CUSTOMER_HOST = "127.0.5.1"


@dataclass
class CustomerServer:
    reply: Reply = field(default_factory=Reply)
    first: list[Reply] = field(default_factory=list)  # the answers to the first requests, before ``reply``
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://{CUSTOMER_HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/route"

    def got(self, count: int = 1, timeout: float = 10) -> list[Received]:
        from vpbx.stack.process import wait_for

        return wait_for(
            lambda: self.requests[:count] if len(self.requests) >= count else None,
            timeout,
            f"{count} request(s) at the customer server",
        )


def serve() -> tuple[CustomerServer, ThreadingHTTPServer]:
    state = CustomerServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(Received(self.command, self.path, dict(self.headers), body, time.monotonic()))
            reply = state.first.pop(0) if state.first else state.reply
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.hang_up:
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _handle

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((CUSTOMER_HOST, 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
