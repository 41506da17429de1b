from __future__ import annotations

import pytest

from vpbx.kamailio_rpc import KamailioRpc, RpcError
from vpbx.media.ng import NgClient

from .sipp import Sipp, free_udp_port


@pytest.fixture(scope="session")
def rpc(cfg) -> KamailioRpc:
    return KamailioRpc(cfg.kamailio_rpc, timeout=2.0)


@pytest.fixture(scope="session")
def ng(cfg) -> NgClient:
    return NgClient(cfg.rtpengine_ng.host, cfg.rtpengine_ng.port)


@pytest.fixture(scope="session")
def sip_target(cfg) -> str:
    return f"{cfg.sip.host}:{cfg.sip.port}"


@pytest.fixture
def no_registrations(rpc, demo):
    """Each test starts with no demo phone registered, whatever ran before it."""

    def forget():
        for account in demo["accounts"]:
            try:
                rpc.call("ul.rm", "location", f"{account['login']}@{account['domain']}")
            except RpcError:
                pass  # nothing registered for this AoR

    forget()
    yield
    forget()


@pytest.fixture
def register(sip_target, demo):
    """Register a demo account's contact at ``contact_port`` and return SIPp's result."""

    def _register(login: str, contact_port: int, *, password: str | None = None, final: int = 200):
        account = next(a for a in demo["accounts"] if a["login"] == login)
        return Sipp(
            "register.xml", port=free_udp_port(), remote=sip_target, service=login,
            auth=(login, password if password is not None else account["password"]),
            keys={"domain": account["domain"], "contact_port": contact_port},
            values={"final": final},
        ).run()

    return _register
