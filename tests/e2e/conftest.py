from __future__ import annotations

import pytest

from vpbx.kamailio_rpc import KamailioRpc, RpcError
from vpbx.media.ng import NgClient

from . import sip_log
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
    """Register a demo account's contact at ``contact_port``: (final status, SIPp's result)."""

    def _register(login: str, contact_port: int, *, password: str | None = None, domain: str | None = None):
        account = next(a for a in demo["accounts"] if a["login"] == login)
        result = Sipp(
            "register.xml", port=free_udp_port(), remote=sip_target, service=login,
            auth=(login, password if password is not None else account["password"]),
            keys={"domain": domain or account["domain"], "contact_port": contact_port},
        ).run()
        assert result.returncode == 0, result.explain()
        return sip_log.status(sip_log.received(result.messages)[-1]), result

    return _register
