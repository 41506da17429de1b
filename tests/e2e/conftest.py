from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default

import pytest
import redis

from vpbx import db
from vpbx.config.trunks import reload_kamailio, remove_trunk, save_trunk
from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY
from vpbx.kamailio_rpc import KamailioRpc, RpcError
from vpbx.media.ng import NgClient
from vpbx.stack.process import wait_for
from vpbx.stack.services import MediaApp, Postgres, Redis, Rtpengine, Service

from . import sip_log
from .customer_server import serve
from .sip_ua import UdpTransport, UserAgent
from .sipp import Sipp, free_udp_port


@pytest.fixture
def customer():
    """A customer's server (webhook, CRM) on 127.0.5.x: set its ``reply``, read what it ``got``."""
    state, server = serve()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def postgres(stack, api):
    """The stack's PostgreSQL, for a test to stop: running again, and reached by every API worker, afterwards."""
    service = Postgres(stack)
    yield service
    service.start()
    # Each gunicorn worker's pool reconnects on its own backoff: hand the stack
    # on only once a run of requests, across workers, all succeed.
    answers: list[bool] = []

    def five_in_a_row() -> bool:
        answers.append(api("GET", "/company")[0] == 200)
        return answers[-5:] == [True] * 5

    wait_for(five_in_a_row, 60, "every API worker to reach PostgreSQL again")


def _stoppable(service_class: type[Service], what: str):
    def fixture(stack):
        service = service_class(stack)
        yield service
        service.start()

    fixture.__doc__ = f"The stack's {what}, for a test to stop: running again afterwards."
    return pytest.fixture(fixture)


redis_service = _stoppable(Redis, "Redis")
rtpengine = _stoppable(Rtpengine, "rtpengine")
media_app = _stoppable(MediaApp, "media app")


@pytest.fixture
def carrier(stack, cfg) -> Iterator[UserAgent]:
    """The demo trunk's carrier as a SIP user agent (tests/e2e/sip_ua.py), from its source port."""
    ua = UserAgent(
        UdpTransport((cfg.sip.host, cfg.sip.port), bind=("127.0.0.1", stack.ports.demo_trunk)),
        "carrier",
        f"{cfg.sip.host}:{cfg.sip.port}",
    )
    yield ua
    ua.close()


@pytest.fixture
def sip_phone(cfg, demo, no_registrations) -> Iterator[Callable[[str], UserAgent]]:
    """Register a demo account as a SIP user agent over UDP: ``sip_phone("101")``."""
    made: list[UserAgent] = []

    def _register(login: str) -> UserAgent:
        account = next(a for a in demo["accounts"] if a["login"] == login)
        ua = UserAgent(UdpTransport((cfg.sip.host, cfg.sip.port)), login, account["domain"], account["password"])
        made.append(ua)
        assert ua.register() == 200
        return ua

    yield _register
    for ua in made:
        ua.close()


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
    """Register an account's contact at ``contact_port``: (final status, SIPp's result).
    A demo account's password and domain are known; another account of the
    demo company (created by a test) gives its password."""

    def _register(login: str, contact_port: int, *, password: str | None = None, domain: str | None = None):
        account = next((a for a in demo["accounts"] if a["login"] == login), {"domain": demo["accounts"][0]["domain"]})
        result = Sipp(
            "register.xml",
            port=free_udp_port(),
            remote=sip_target,
            service=login,
            auth=(login, password if password is not None else account["password"]),
            keys={"domain": domain or account["domain"], "contact_port": contact_port},
        ).run()
        assert result.returncode == 0, result.explain()
        return sip_log.status(sip_log.received(result.messages)[-1]), result

    return _register


def _api_as(stack, token: str):
    def _call(method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{stack.ports.sidecar}/api/v1{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    return _call


@pytest.fixture(scope="session")
def api(stack, demo):
    """Call the running sidecar's API as the demo company's admin: (status, body)."""
    return _api_as(stack, demo["admin_api_token"])


@pytest.fixture(scope="session")
def operator_api(stack, demo):
    """Call the running sidecar's API with the site operator's token (trunks): (status, body)."""
    return _api_as(stack, demo["operator_api_token"])


@pytest.fixture
def new_number(api):
    """A number of the demo company created for the test, on its first scheme;
    deleted afterwards. Random, so no earlier test used it: it is in Redis
    but in no worker's copy until called."""
    scheme_id = api("GET", "/schemes")[1][0]["id"]
    status, body = api(
        "POST", "/numbers", {"number": f"+7495777{secrets.randbelow(10_000):04d}", "scheme_id": scheme_id}
    )
    assert status == 201, body
    yield body["number"]
    api("DELETE", f"/numbers/{body['number']}")


@pytest.fixture
def demo_steps(api):
    """Give the demo number's scheme ("Ring everyone") these steps for a test; restored afterwards."""
    scheme = next(s for s in api("GET", "/schemes")[1] if s["name"] == "Ring everyone")

    def _set(*steps: dict) -> None:
        status, body = api("PUT", f"/schemes/{scheme['id']}", {"name": scheme["name"], "steps": list(steps)})
        assert status == 200, body

    yield _set
    api("PUT", f"/schemes/{scheme['id']}", {k: v for k, v in scheme.items() if k != "id"})


@pytest.fixture
def trunks(cfg, rpc):
    """Save trunks for a test: Kamailio reloads them; removed again afterwards."""
    names = []

    def _save(name: str, **fields):
        with db.connect(cfg.database_url) as conn:
            saved = save_trunk(conn, name=name, **fields)
        names.append(name)
        reload_kamailio(rpc, {saved.id: saved.register})

    yield _save
    removed = {}
    with db.connect(cfg.database_url) as conn:
        for name in names:
            if (trunk_id := remove_trunk(conn, name)) is not None:
                removed[trunk_id] = False
    reload_kamailio(rpc, removed)


@pytest.fixture
def outbound_carrier(trunks) -> int:
    """The outbound carrier: a trunk the company's calls out leave through; its SIP port,
    where the test's SIPp answers (or a silent socket listens)."""
    port = free_udp_port()
    trunks("outbound carrier", address="127.0.0.1", port=port, outbound=True, priority=10)
    return port


class Mailbox:
    """A real SMTP server on the stack's SMTP port, as a company's mail server would be."""

    def __init__(self, port: int):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mailbox.messages.append(
                    Mail(list(envelope.rcpt_tos), BytesParser(policy=default).parsebytes(envelope.content))
                )
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def wait_for(self, match, timeout: float = 10.0):
        return wait_for(
            lambda: next((m for m in self.messages if match(m.message)), None), timeout, "the voicemail email"
        )


@dataclass
class Mail:
    recipients: list[str]
    message: object


@pytest.fixture(scope="session")
def mailbox(stack):
    box = Mailbox(stack.ports.smtp)
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
def voicemail_box(api, demo, mailbox):
    """Create voicemail boxes for a test (recipients: Anna and office@example.com); deleted afterwards.
    The SMTP server runs whenever a box exists, as a company's mail server would."""
    made = []
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")

    def _create(**fields):
        body = {"recipients": [{"employee_id": anna["id"]}], "extra_email": "office@example.com", **fields}
        status, box = api("POST", "/voicemail-boxes", body)
        assert status == 201, box
        made.append(box["id"])
        return box

    yield _create
    for box_id in reversed(made):
        api("DELETE", f"/voicemail-boxes/{box_id}")


@pytest.fixture
def made_prompt(api):
    """Create prompts for a test (kind default: a test uploads their recordings); deleted afterwards."""
    made = []

    def _make(name):
        status, prompt = api("POST", "/prompts", {"name": name, "kind": "default"})
        assert status == 201, prompt
        made.append(prompt["id"])
        return prompt

    yield _make
    for prompt_id in made:
        api("DELETE", f"/prompts/{prompt_id}")


@pytest.fixture
def clock(cfg):
    """The routing clock, pinned by setting TEST_CLOCK_KEY; the real one again afterwards."""
    client = redis.Redis.from_url(cfg.redis_url)
    yield client
    client.delete(TEST_CLOCK_KEY)
    client.close()


@pytest.fixture
def made(api):
    """POST through the API; what was made is deleted afterwards, newest first."""
    paths = []

    def post(path, body):
        status, item = api("POST", path, body)
        assert status == 201, item
        paths.append(f"{path}/{item.get('id', item.get('number'))}")
        return item

    yield post
    for path in reversed(paths):
        status, body = api("DELETE", path)
        assert status in (204, 404), (path, body)
