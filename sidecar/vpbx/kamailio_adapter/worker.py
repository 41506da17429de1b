"""State of one Kamailio worker process: its settings and its Redis connection.

app_python3 forks workers after mod_init, so connections are opened in
child_init (``Worker.connect``), never at import: a socket shared across forks
would interleave replies between processes.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .. import redis_client
from .. import settings as vpbx_settings
from ..documents import company_key, directory_key, number_key
from ..history import events
from ..history.spool import Spool
from ..lookups.askers import ASKERS, Lookup
from ..routing import Call, Plan, build_direct_plan, build_plan, click_to_call, leg_names
from ..routing.department_state import state_key
from ..routing.feature_codes import build_feature_plan
from ..routing.numbers import to_e164
from ..routing.outbound import build_outgoing_plan
from ..routing.plan import (
    build_agents_plan,
    build_department_callback_plan,
    build_direct_forward_plan,
    build_ivr_key_plan,
    build_scheme_plan,
    expand_lookups,
)
from ..stack.profile import TEST_PROFILES
from .documents import CacheUnavailable, Documents, Read, Reader, Shared, Versions

log = logging.getLogger(__name__)

SPOOL_RETRY_SECONDS = 1.0

# Extensions are 2-6 digits and company numbers 7 or more, so what was dialled
# alone tells which one document to read: one Redis round trip per call.
EXTENSION = re.compile(r"^[0-9]{2,6}$")
# Plans a worker keeps for the calls that follow at the same minute (oldest
# dropped first). A plan rings at most 30 targets (routing/ring_times.py), so
# each is a few kilobytes.
PLANS_KEPT = 256
# ISO-8601 instant the test suite pins the routing clock to. Read only by a
# worker of the "test" profile, in the same MGET as the document's version
# (alone when the workers keep that version: documents.py).
TEST_CLOCK_KEY = "vpbx:test:clock"


def history_spool_path(config: vpbx_settings.Settings) -> Path:
    """Where Kamailio keeps the call events Redis did not take (the stack
    makes the directory, writable by Kamailio)."""
    return config.run_dir / "kamailio" / "spool" / "history.jsonl"


class Worker:
    def __init__(
        self,
        config: vpbx_settings.Settings,
        shared: Shared | None = None,
        reader: Reader | None = None,
        versions: Versions | None = None,
    ):
        self.settings = config
        self.shared = shared  # the workers' common copies of routing documents
        self.reader = reader  # the hot path's MGET, when not redis-py's
        self.versions = versions  # document versions the workers read in the last second or two
        self.documents: Documents | None = None
        self.pid = 0
        self.clock_key = TEST_CLOCK_KEY if config.profile in TEST_PROFILES else None
        # host:port where voicemail and IVR nodes ring (kamailio.cfg knows it as its requests' source).
        self.media_app = str(config.media.sip)
        # Call events Redis did not take (only the timer process that writes them uses it).
        self.spool = Spool(history_spool_path(config))
        self.spooling = False
        self.next_replay = 0.0
        self.plans: dict[tuple, Plan] = {}

    @property
    def docs(self) -> Documents:
        """This process's documents (connect() opened them in child_init)."""
        if self.documents is None:
            raise CacheUnavailable("this worker has not connected to Redis")
        return self.documents

    def connect(self) -> None:
        # One process, one thread, one request at a time: a single connection
        # spares redis-py's pool bookkeeping, a third of each command's CPU.
        # A connection error is retried once on a fresh connection: after a Redis
        # restart the kept socket is dead, and only the reconnect can tell
        # whether Redis is back (a refused connect fails at once on the retry).
        client = redis_client.connect(
            self.settings,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            single_connection_client=True,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.ConnectionError],
        )
        self.documents = Documents(client, self.shared, self.reader, self.versions)
        self.pid = os.getpid()
        self.docs.preload()

    def ensure_connected(self) -> None:
        """Connect in a process Kamailio forked without child_init (async task
        workers): a connection inherited from the parent is never shared."""
        if self.pid != os.getpid():
            self.connect()

    def _document(self, key: str, with_state: bool = True) -> tuple[Read, datetime]:
        """The document with its departments' state, and the moment to route at:
        now, or the test suite's pinned clock."""
        read = self.docs.get(key, also=self.clock_key, with_state=with_state)
        return read, datetime.fromisoformat(read.extra.decode()) if read.extra else datetime.now(UTC)

    def plan_for(
        self,
        *,
        dialled: str,
        caller: str,
        call_id: str,
        source: str,
        caller_domain: str | None = None,
        region: str = "RU",
        now: datetime | None = None,
        hide_caller: bool = False,
    ) -> Plan | None:
        """The plan for a new call; None when what was dialled is not ours (nor,
        from a company phone, a number outside to call through the trunks).

        ``source`` is "trunk", "phone" or "media"; a phone call carries its
        authenticated domain, which scopes extension dialling to the caller's own
        company and decides how its numbers read and who it may call outside;
        the media app's leg for an IVR key names the company's domain.
        ``hide_caller``: a phone asked to call anonymously (Privacy: id).
        Raises CacheUnavailable when neither Redis nor this worker's copy knows.
        """
        caller_aor = f"sip:{caller}@{caller_domain}" if source == "phone" else None
        if source == "media":
            return self._media_leg_plan(dialled, caller, call_id, caller_domain or "", now)
        company: dict | None = None
        if source == "phone":
            key = company_key(caller_domain or "")
            read, clock = self._document(key)
            company = read.document
            if company is None:
                return None
            if EXTENSION.match(dialled):
                call = Call(call_id, dialled, caller, source, now or clock, caller_aor)
                plan = self._kept(key, read, call, lambda: build_direct_plan(company, dialled, call, read.departments))
                if plan is not None:
                    return plan
            if (feature := build_feature_plan(company, caller, dialled)) is not None:
                return feature
            # National forms read as the caller's company reads them.
            region = company.get("outgoing", {}).get("region", region)
        e164 = to_e164(dialled, region)
        if e164 is not None:
            key = number_key(e164)
            read, clock = self._document(key)
            number = read.document
            if number is not None:
                call = Call(call_id, e164, caller, source, now or clock, caller_aor)
                return self._kept(key, read, call, lambda: build_plan(number, call, read.departments))
        # Not the company's extension, nor any company's number: outside,
        # when a company phone dialled it (an emergency number among them).
        if company is None:
            return None
        return build_outgoing_plan(company, caller, dialled, hide_caller=hide_caller)

    def _kept(self, key: str, read: Read, call: Call, build: Callable[[], Plan | None]) -> Plan | None:
        """The plan ``build`` makes, made once for every call to the same
        document version at the same minute, from the same source and caller,
        when the document says such calls get the same plan.

        Schedules and absences are read to the minute, and a call's plan is the
        largest part of the Python a new call runs in a Kamailio worker
        (bench/README.md). A plain dict, not functools.lru_cache: the document
        is not hashable, its version is.
        """
        if read.version is None or read.per_call:
            return build()
        kept = (key, read.version, call.called, call.source, call.caller_aor, call.at.replace(second=0, microsecond=0))
        plan = self.plans.get(kept)
        if plan is None and (plan := build()) is not None:
            self.plans[kept] = plan
            if len(self.plans) > PLANS_KEPT:
                del self.plans[next(iter(self.plans))]
        return plan

    def _media_leg_plan(
        self, dialled: str, caller: str, call_id: str, domain: str, now: datetime | None
    ) -> Plan | None:
        """A leg the media app opens, at the company's domain: an IVR key's
        destination (sip:ivr-<menu>-<key>), one step of a scheme it answered
        for (sip:scheme-<id>-<step>), the forward of a direct call nobody
        answered (sip:direct-<employee>-forward), a queue's agents
        (sip:agents-<queue>-<seconds>-<employees>), or a leg of a click-to-call
        (sip:c2c-<employee>-<number>[-client]), or the first leg of a
        department's callback (sip:cbd-<department>-<number>). A scheme's step
        and a department are read from the company's directory, the others
        from its company document."""
        agents = leg_names.parse_agents_user(dialled)
        click = leg_names.parse_click_to_call_user(dialled)
        pressed = leg_names.parse_ivr_key_user(dialled)
        scheme_step = leg_names.parse_scheme_step_user(dialled)
        forwarded_for = leg_names.parse_direct_forward_user(dialled)
        calling_back = leg_names.parse_department_callback_user(dialled)
        if not (agents or click or pressed or scheme_step or forwarded_for or calling_back):
            return None
        in_directory = scheme_step or calling_back
        read, clock = self._document(directory_key(domain) if in_directory else company_key(domain))
        if read.document is None:
            return None
        call = Call(call_id, dialled, caller, "media", now or clock, None)
        if agents:
            return build_agents_plan(read.document, agents, call)
        if click and click.client_leg:
            return click_to_call.client_leg_plan(read.document, click.employee_id, click.client)
        if click:
            return click_to_call.employee_leg_plan(read.document, click.employee_id, click.client)
        if pressed:
            return build_ivr_key_plan(read.document, *pressed, call, read.departments)
        if scheme_step:
            return build_scheme_plan(read.document, *scheme_step, call, read.departments)
        if forwarded_for:
            return build_direct_forward_plan(read.document, forwarded_for, call, read.departments)
        if calling_back:
            return build_department_callback_plan(read.document, *calling_back, call, read.departments)
        return None

    def resolve_lookups(
        self, plan: Plan, *, call_id: str, caller: str, source: str, region: str, arrived: float, ask: bool = True
    ) -> tuple[Plan, list[dict]]:
        """The plan once its webhooks and CRM lookups are answered (or have
        failed), and a history "lookup" event for each one asked (the metrics'
        count and latency, vpbx.history.events).

        Runs in an async task worker: it waits on customers' servers, each
        lookup ending by its budget counted from ``arrived`` (epoch seconds the
        INVITE came in), so time spent queued for a task worker counts too.
        With ``ask`` False nothing is asked: every lookup fails open.
        """
        self.ensure_connected()
        arrival = time.monotonic() - max(0.0, time.time() - arrived)
        key = directory_key(plan.domain or "")
        try:
            read, clock = self._document(key, with_state=False)
            directory = read.document
        except CacheUnavailable as exc:
            log.warning("lookups of call %s not asked: %s", call_id, exc)
            directory, clock = None, datetime.now(UTC)
        if directory is None:
            directory = {
                "company": {"id": plan.company_id, "name": "", "domain": plan.domain, "timezone": "UTC"},
                "employees": {},
                "departments": {},
                "schemes": {},
                "webhooks": {},
                "crm": None,
            }
            ask = False
        at = datetime.fromtimestamp(arrived, UTC) if self.clock_key is None else clock
        call = Call(
            call_id, plan.called or "", caller, source, at, f"sip:{caller}@{plan.domain}" if source == "phone" else None
        )
        outcomes: dict[str, object] = {}
        asked: list[dict] = []
        for node in plan.lookups() if ask else ():
            kind, _, node_id = node.partition(":")
            asker = ASKERS.get(kind)
            if asker is None:
                log.error("call %s: no asker for lookup kind %s: %s fails open", call_id, kind, node)
                continue
            started = time.monotonic()
            answer = asker(
                Lookup(
                    redis=self.docs.redis,
                    directory=directory,
                    node_id=node_id,
                    call_id=call_id,
                    caller=caller,
                    caller_e164=to_e164(caller, region) if caller else None,
                    called=plan.called,
                    at=at,
                    arrival=arrival,
                    allowed=self.settings.http_allowed_networks,
                )
            )
            outcomes[node] = answer.outcome
            asked.append(events.lookup(call_id, plan.company_id, kind, answer.result, time.monotonic() - started))
        return expand_lookups(plan, directory, outcomes, call, self.docs.state_on_demand(key)), asked

    def member_call(self, member: tuple[int, int], event: str) -> None:
        """Note that a longest idle department's member answered or ended a call
        (``event`` "answered" or "ended") now. Losing one note only skews the order."""
        department_id, employee_id = member
        try:
            self.docs.redis.hset(state_key(department_id), f"{event}:{employee_id}", repr(time.time()))
        except redis.RedisError as exc:
            log.warning("department %s: %s of member %s not noted: %s", department_id, event, employee_id, exc)

    def write_events(self, batch: list[str]) -> int:
        """Hand call events (JSON) to the history keeper: one stream entry per batch.

        SIP workers never call this: they queue events in shared memory
        (Kamailio's mqueue) and a timer process drains the queue here, so a
        call never waits on this round trip. What Redis does not take waits in
        the spool on disk, in order, and goes to the stream once Redis is back.
        Returns how many events were dropped (the spool full or unwritable).
        """
        if self.spool.pending() and not self._replay_spool():
            return self.spool.add(batch)  # older events wait there: this batch queues behind them
        if not batch:
            return 0
        try:
            self._append_to_stream([batch])
        except redis.RedisError as exc:
            self._redis_refused(exc)
            return self.spool.add(batch)
        return 0

    def _append_to_stream(self, batches: list[list[str]]) -> None:
        pipe = self.docs.redis.pipeline(transaction=False)
        for batch in batches:
            pipe.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        pipe.execute()

    def _redis_refused(self, exc: Exception) -> None:
        if not self.spooling:
            log.error("Redis refuses call events (%s): keeping them in %s until it takes them", exc, self.spool.path)
        self.spooling = True
        self.next_replay = time.monotonic() + SPOOL_RETRY_SECONDS

    def _replay_spool(self) -> bool:
        """Whether the spool is empty now: tried at most once a second."""
        if time.monotonic() < self.next_replay:
            return False
        try:
            sent = self.spool.drain(self._append_to_stream)
        except redis.RedisError as exc:
            self._redis_refused(exc)
            return False
        log.warning("Redis takes call events again: %d kept meanwhile are in the stream now", sent)
        self.spooling = False
        return True
