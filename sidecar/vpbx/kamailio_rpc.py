"""JSON-RPC client for Kamailio's jsonrpcs module over its Unix datagram socket.

The same socket serves kamcli (``[jsonrpc] transport=socket``), so operators and
the sidecar use one control channel. (Debian's kamcli 2.0.0 can only use the
Unix socket: its UDP and FIFO transports write str where bytes are needed.)
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import socket
from pathlib import Path

_ids = itertools.count(1)


class RpcError(RuntimeError):
    pass


class KamailioRpc:
    def __init__(self, socket_path: str | os.PathLike, *, timeout: float = 1.0):
        self.socket_path = str(socket_path)
        self.timeout = timeout

    def call(self, method: str, *params):
        request_id = next(_ids)
        payload = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params:
            payload["params"] = list(params)
        # Kamailio answers to the client's own bound socket, which must sit where
        # the (unprivileged) Kamailio user can write to it.
        reply_path = Path(self.socket_path).parent / f"vpbx-rpc-{os.getpid()}-{secrets.token_hex(4)}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(reply_path))
            try:
                # Kamailio runs as its own user and must write its answer here;
                # the socket lives in the run directory's private runtime folder.
                os.chmod(reply_path, 0o666)  # noqa: S103
                sock.settimeout(self.timeout)
                sock.sendto(json.dumps(payload).encode(), self.socket_path)
                reply = self._receive(sock, request_id, method)
            finally:
                reply_path.unlink(missing_ok=True)
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result")

    def _receive(self, sock: socket.socket, request_id: int, method: str) -> dict:
        while True:
            try:
                reply = json.loads(sock.recv(1 << 20))
            except TimeoutError as exc:
                raise TimeoutError(f"Kamailio RPC at {self.socket_path} did not answer {method}") from exc
            if reply.get("id") == request_id:
                return reply
