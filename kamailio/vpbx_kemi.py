"""vpbx KEMI entry script for Kamailio's app_python3.

Kamailio's own script (kamailio.cfg) does the SIP mechanics every message
needs; it calls in here (python_exec) only for what needs a decision or
Redis: an out-of-dialog request (authentication, registration, a new call's
route), a longest-idle department member's answer and hang-up, the failure
route, the lookups task route and the history timer. Which phones ring is
decided by the pure ``vpbx.routing`` library through ``vpbx.kamailio_adapter``.
Every entry point returns 1: 0 would stop Kamailio's script there.
Return -255 from a route helper to stop processing the message.
"""

import json
import os
import site
import time
from dataclasses import replace

# Kamailio embeds Debian's /usr/bin/python3; the project's venv (built with the
# same interpreter) provides vpbx and its dependencies.
site.addsitedir(os.environ["VPBX_SITE_PACKAGES"])

import KSR  # noqa: E402  (only importable inside Kamailio)
import redis  # noqa: E402

# KSR.async: "async" is a Python keyword, so the module is reached by name.
KSR_ASYNC = getattr(KSR, "async")

from vpbx import call_log  # noqa: E402
from vpbx import settings as vpbx_settings  # noqa: E402
from vpbx.history import events  # noqa: E402
from vpbx.kamailio_adapter import call_events, reasons  # noqa: E402
from vpbx.kamailio_adapter.documents import CacheUnavailable  # noqa: E402
from vpbx.kamailio_adapter.execute import (  # noqa: E402
    CHALLENGES,
    LEG_FLAGS_SHIFT,
    PlanCursor,
    answer_gateway_challenge,
    current_trunk,
    gateway_failed,
    idle_tracked_member,
    idle_tracking_param,
    load_step_branches,
    next_gateway,
    step_timers,
    tag_branches,
)
from vpbx.kamailio_adapter.media_hosts import MediaHosts  # noqa: E402
from vpbx.kamailio_adapter.worker import Worker  # noqa: E402
from vpbx.routing.leg_names import REGISTERED_TRUNK_PREFIX  # noqa: E402
from vpbx.routing.outbound import privacy_requested  # noqa: E402
from vpbx.routing.targets import ANSWERED_BY_HEADER, COMPANY_HEADER, PRIORITY_HEADER  # noqa: E402
from vpbx.sip_bans import AUTH_FAILURES_COUNTER, BANNED_FOR_AUTH, COUNTERS_GROUP  # noqa: E402

STOP = -255
# Flags: kamailio.cfg #!defines them (a unit test compares the two).
FLT_NATS = 5  # transaction: the caller is behind NAT
FLB_NATB = 6  # branch: the callee is behind NAT
FLB_NATSIPPING = 7
FLT_TRUNK = 8  # transaction: the INVITE came from a trunk
FLT_MEDIA = 9  # transaction: a leg the media app opened (kamailio.cfg says more)
FLT_NEW_CALL = 10  # transaction: a call's first INVITE, not a re-INVITE
# rtpengine forgets every branch of a call at once (kamailio.cfg: DELETE_WHOLE_CALL).
DELETE_WHOLE_CALL = "from-tag="
ROUTING_COPIES = "routing_copies"
# Document versions read from Redis in the last second or two (kamailio.cfg;
# config/publish.py empties it when a change is published).
ROUTING_VERSIONS = "routing_versions"
# Set by kamailio.cfg's branch route when rtpengine refused a branch's offer;
# read after t_relay, which runs the branch routes in this process.
OFFER_REFUSED = "$var(vpbx_offer_refused)"
SUBSCRIBER_TABLE = "kamailio_subscriber"
# The plan and the next step to try, kept with the transaction for failure_route.
PLAN_XAVP = "$xavp(vpbx_plan)"
# The current step's "answered" event but its end, which kamailio.cfg's reply
# route completes ("" when the call is no company's).
ANSWER_XAVP = "$xavp(vpbx_answer)"
# Call events wait here (Kamailio's mqueue, shared memory) for the timer process
# that hands them to the history keeper: queueing costs a worker microseconds.
HISTORY_QUEUE = "history"
HISTORY_BATCH = 500  # events per stream entry
# Whether the spool holds events Redis refused: kamailio.cfg calls the flush
# only when it does or events are queued.
HISTORY_SPOOLED = "$shv(history_spooled)"
# A cluster's media apps: when each was last heard (kamailio.cfg
# route[MEDIA_ALIVE]), and whether each host takes media calls (its branch route).
MEDIA_HEARD = "media_heard"
MEDIA_UP = "media_up"
# The company whose plan the call follows: named to the media app on its branches.
COMPANY_AVP = "$avp(vpbx_company)"
# The caller's priority in call queues, for the media app's branches (X-Vpbx-Priority).
PRIORITY_AVP = "$avp(vpbx_priority)"
# The Record-Route parameter the branches of the current step carry ("" for none).
RR_PARAM_XAVP = "$xavp(vpbx_rr)"
# auth_challenge flags: offer qop=auth, so the nonce count protects against replays.
CHALLENGE_WITH_QOP_AUTH = 1
AUTH_REJECTED = (-2, -3, -8)  # wrong password, unknown user, auth user != From user
# Failed authentications (kamailio.cfg: the authfail and authuser htables, 10
# minutes since the last failure): a source is banned after this many (a
# phone with a wrong password retries far less); an account's 403s come this
# much later once it has had this many, from whichever sources.
SOURCE_FAILURES_BEFORE_BAN = 60
ACCOUNT_FAILURES_BEFORE_DELAY = 10
REFUSAL_DELAY_MS = 2000
# How phones' national-format dialling is read (trunks carry their own region).
DEFAULT_REGION = "RU"
# Calls whose route a webhook or the CRM decides wait for it in these async
# task workers (kamailio.cfg: async_workers_group), never in a SIP worker.
LOOKUP_WORKERS = "lookups"
# What the task worker needs besides the plan: when the call arrived (budgets
# count from then), and how to read the caller's number.
LOOKUP_XAVP = "$xavp(vpbx_lookup)"
# A suspended call's entry in the "lookups" htable. tm 5.6 cannot cancel a
# transaction suspended for a task worker (it answers neither the CANCEL nor
# the INVITE), so the CANCEL and the task worker each increment the entry, and
# whoever takes it from 1 to 2 decides: the CANCEL is answered at once and the
# task worker, when it resumes, ends the INVITE with 487 instead of ringing;
# or the task worker rings and the CANCEL is relayed as usual.
LOOKUP_CLAIM = "$shtinc(lookups=>$ci)"
CLAIMED_FIRST = 2
# When the call first rang or was answered (epoch seconds), set by
# kamailio.cfg's reply route: the missed event's setup time for the metrics.
RINGING = "$sht(ringing=>$ci)"


# kamailio.cfg's ndb_redis server, and where its MGET reply is kept.
REDIS_SERVER = "vpbx"
MGET_REPLY = "vpbx_mget"
REDIS_REPLY_ARRAY = 2  # hiredis's reply type


def mod_init():
    return VpbxRoutes()


# RFC 3323's From for a caller who hides: a URI that names no one.
# An outgoing call's caller ID, and whether it is hidden: kamailio.cfg's
# branch route (route PRESENT_CALLER) presents it as the gateway's trunk wants.
CALLER_ID_XAVP = "$xavp(vpbx_cid)"
CALLER_HIDDEN_XAVP = "$xavp(vpbx_cid_hidden)"


def trunk_id(tag: str | None) -> int | None:
    """The trunk's id from permissions' tag of its address, "<region>:<trunk id>"."""
    value = (tag or "").partition(":")[2]
    return int(value) if value.isdigit() else None


class KamailioRedis:
    """A call's one Redis read, the MGET of its document's version, through
    Kamailio's ndb_redis (hiredis, in C, with its own connection per
    process): in a worker it costs a fraction of redis-py's layers of Python
    (bench/README.md). Like redis-py here, ndb_redis reconnects and retries
    once after a failed command."""

    COMMANDS = {1: KSR.ndb_redis.redis_cmd_p1, 2: KSR.ndb_redis.redis_cmd_p2, 3: KSR.ndb_redis.redis_cmd_p3}

    def mget(self, keys):
        command = self.COMMANDS.get(len(keys))
        if command is None:
            raise ValueError(f"MGET of {len(keys)} keys")
        if command(REDIS_SERVER, "MGET" + " %s" * len(keys), *keys, MGET_REPLY) < 0:
            raise redis.ConnectionError("Redis unreachable (ndb_redis)")
        if KSR.pv.get(f"$redis({MGET_REPLY}=>type)") != REDIS_REPLY_ARRAY:
            raise redis.ResponseError(f"MGET answered {KSR.pv.get(f'$redis({MGET_REPLY}=>value)')}")
        values = [KSR.pv.get(f"$redis({MGET_REPLY}=>value[{i}])") for i in range(len(keys))]
        return [None if value is None else str(value).encode() for value in values]


class RoutingCopies:
    """The newest routing documents any worker fetched, in the "routing_copies"
    htable: what every worker routes from while Redis cannot answer."""

    def get(self, key: str) -> bytes | None:
        raw = KSR.htable.sht_get(ROUTING_COPIES, key)
        return raw.encode() if isinstance(raw, str) and raw else None

    def put(self, key: str, raw: bytes) -> None:
        KSR.htable.sht_sets(ROUTING_COPIES, key, raw.decode())

    def forget(self, key: str) -> None:
        KSR.htable.sht_rm(ROUTING_COPIES, key)


class RoutingVersions:
    """Each document's version as a worker last read it from Redis, in the
    "routing_versions" htable: while it is there, the workers route that
    document from their own copies without asking Redis."""

    def get(self, key: str) -> bytes | None:
        version = KSR.htable.sht_get(ROUTING_VERSIONS, key)
        return version.encode() if isinstance(version, str) and version else None

    def put(self, key: str, version: bytes) -> None:
        KSR.htable.sht_sets(ROUTING_VERSIONS, key, version.decode())


class VpbxRoutes:
    def __init__(self):
        settings = vpbx_settings.load()
        call_log.set_format(settings.log_format)
        # ndb_redis 5.6 authenticates a new connection before it sets its command
        # timeout: reconnecting to a primary that hangs (what Sentinel is there
        # for) would hold the SIP worker until that primary answers. With
        # sentinels the MGET goes through redis-py, whose timeouts hold on
        # every command; it is made for one call in ten or fewer (the versions
        # the workers keep), so its extra CPU is small (bench/README.md).
        reader = None if settings.redis_sentinel else KamailioRedis()
        self.worker = Worker(settings, RoutingCopies(), reader, RoutingVersions())
        self.media_hosts = MediaHosts(settings.cluster.media_hosts, time.time()) if settings.cluster else None
        self.rtpengine_port = settings.rtpengine_ng.port

    def child_init(self, rank):
        self.worker.connect()
        return 0

    # ---- main request route -------------------------------------------------

    def ksr_new_request(self, msg):
        """An out-of-dialog request other than CANCEL, past kamailio.cfg's
        sanity, bans and NAT detection, not a retransmission."""
        if self.route_auth() == STOP:
            return 1
        method = KSR.pv.get("$rm")
        KSR.hdr.remove("Route")
        if method in ("INVITE", "SUBSCRIBE"):
            KSR.rr.record_route()
        if method == "REGISTER":
            self.route_registrar()
            return 1
        if KSR.corex.has_ruri_user() < 0:
            KSR.sl.sl_send_reply(484, "Address Incomplete")
            return 1
        if method == "INVITE":
            self.route_call()
            return 1
        KSR.sl.sl_send_reply(405, "Method Not Allowed")
        return 1

    def ksr_call_answered(self, msg):
        """A call's first 200 from a longest-idle department member (its
        "answered" event is kamailio.cfg's): note the member's answer."""
        member = idle_tracked_member(KSR.pv.get("$(hdr(Record-Route)[*])"))
        if member:
            self.worker.member_call(member, "answered")
        return 1

    def ksr_media_leg_answered(self, msg):
        """A 200 to a leg the media app opened (kamailio.cfg's reply route):
        tell it which employee answered (a queue rests that agent, not the
        others it rang), in a header only this proxy writes."""
        KSR.hdr.remove(ANSWERED_BY_HEADER)
        cursor = self.saved_cursor()
        leg = (int(KSR.pv.get("$T_branch(flags)") or 0) >> LEG_FLAGS_SHIFT) - 1
        if cursor is not None and 0 <= leg < len(cursor.legs):
            employee_id = cursor.legs[leg].get("employee_id")
            if employee_id is not None:
                KSR.hdr.append(f"{ANSWERED_BY_HEADER}: {employee_id}\r\n")
        return 1

    def ksr_call_ended(self, msg):
        """A BYE of a call that rang a longest-idle department member (its
        "ended" event is kamailio.cfg's): note the member's hang-up."""
        member = idle_tracked_member(KSR.pv.get("$(hdr(Route)[*])"))
        if member:
            self.worker.member_call(member, "ended")
        return 1

    # ---- request helpers ------------------------------------------------------

    def route_auth(self):
        """Trunks are trusted by source address; everything else is a tenant's phone
        and proves it with digest credentials for its company's domain (realm)."""
        if KSR.isflagset(FLT_TRUNK) or KSR.isflagset(FLT_MEDIA):
            if KSR.is_REGISTER():
                self.reject(reasons.NOT_RELAYING)
                return STOP
            return 1
        rc = KSR.auth_db.auth_check(KSR.pv.get("$fd"), SUBSCRIBER_TABLE, 1)
        if rc in AUTH_REJECTED:
            self.refuse_credentials(rc)
            return STOP
        if rc < 0:
            KSR.auth.auth_challenge(KSR.pv.get("$fd"), CHALLENGE_WITH_QOP_AUTH)
            return STOP
        if not KSR.is_REGISTER():
            KSR.auth.consume_credentials()
        return 1

    def refuse_credentials(self, rc):
        """403 for wrong credentials, counted per source and per account.

        A source with too many failures is banned like a flooder (even our own
        host's addresses, which pike exempts: a guessing script may run there).
        An account guessed at from many sources is slowed instead: its 403s
        come later, while its owner's right password still works at once.
        """
        source, account = KSR.pv.get("$si"), f"{KSR.pv.get('$fU')}@{KSR.pv.get('$fd')}"
        # A new string each call: the counters module writes a NUL into the
        # name it is given (splitting "group.name" in place), which would
        # corrupt a constant for every later call.
        KSR.counters.inc(f"{COUNTERS_GROUP}.{AUTH_FAILURES_COUNTER}")
        if KSR.htable.sht_inc("authfail", source) >= SOURCE_FAILURES_BEFORE_BAN:
            KSR.htable.sht_seti("ipban", source, BANNED_FOR_AUTH)
            KSR.err(f"vpbx: {source} banned after {SOURCE_FAILURES_BEFORE_BAN} failed authentications\n")
        else:
            KSR.warn(f"vpbx: auth failed ({rc}) for {account} from {source}\n")
        if KSR.htable.sht_inc("authuser", account) > ACCOUNT_FAILURES_BEFORE_DELAY:
            KSR.tm.t_newtran()
            if KSR_ASYNC.ms_route("ksr_route_credentials_refused", REFUSAL_DELAY_MS) >= 0:
                return
        self.reply_forbidden()

    def ksr_route_credentials_refused(self, msg):
        """The delayed 403 of an account being guessed at (async timer)."""
        self.reply_forbidden()
        return 1

    @staticmethod
    def reply_forbidden():
        KSR.hdr.append_to_reply(reasons.WRONG_CREDENTIALS.reason_header)
        KSR.sl.send_reply(403, "Forbidden")

    def route_registrar(self):
        if KSR.isflagset(FLT_NATS):
            KSR.setbflag(FLB_NATB)
            KSR.setbflag(FLB_NATSIPPING)
        if KSR.registrar.save("location", 0) < 0:
            KSR.sl.sl_reply_error()

    def route_call(self):
        source = "trunk" if KSR.isflagset(FLT_TRUNK) else "media" if KSR.isflagset(FLT_MEDIA) else "phone"
        # permissions' tag of the trunk: "<region>:<trunk id>" (kamailio_address view).
        region = (KSR.pv.get("$avp(trunk_id)") or "").partition(":")[0] if source == "trunk" else None
        planning = time.perf_counter()
        try:
            plan = self.worker.plan_for(
                dialled=self.dialled(source),
                caller=KSR.pv.get("$fU") or "",
                call_id=KSR.pv.get("$ci"),
                source=source,
                caller_domain=KSR.pv.get("$rd" if source == "media" else "$fd"),
                region=region or DEFAULT_REGION,
                hide_caller=source == "phone" and privacy_requested(KSR.pv.get("$hdr(Privacy)")),
            )
        except CacheUnavailable as exc:
            KSR.err(f"vpbx: routing cache unavailable: {exc}\n")
            self.reject(reasons.ROUTING_UNAVAILABLE)
            return
        if plan is None:
            self.reject(reasons.UNALLOCATED_NUMBER)
            return
        plan_seconds = time.perf_counter() - planning
        KSR.info(
            call_log.line(
                "routed",
                KSR.pv.get("$ci"),
                company_id=plan.company_id,
                source=source,
                called=plan.called,
                steps=len(plan.steps),
                lookups=",".join(plan.lookups()) or None,
                plan_ms=round(plan_seconds * 1000, 2),
            )
            + "\n"
        )
        # From here on the call is a dialog of ours: only its in-dialog requests are relayed.
        KSR.dialog.dlg_manage()
        KSR.setflag(FLT_NEW_CALL)
        # A click-to-call's client leg (from the media app) shows what the employee's own call would.
        if source == "phone" or plan.on_behalf_of:
            self.present_caller(plan.caller_id, plan.caller_hidden)
        # Only routing names the company to the media app (ksr_branch_manage).
        KSR.hdr.remove(COMPANY_HEADER)
        KSR.hdr.remove(PRIORITY_HEADER)
        KSR.pv.seti(COMPANY_AVP, plan.company_id or 0)
        parent = KSR.pv.get("$hdr(X-Vpbx-Parent)") if source == "media" else None
        cursor = PlanCursor(
            plan,
            0,
            call=call_events.call_record(
                plan,
                source=source,
                caller=KSR.pv.get("$fU") or "",
                caller_domain=KSR.pv.get("$fd"),
                parent_call_id=parent,
                call_id=KSR.pv.get("$ci") or "",
                plan_seconds=plan_seconds,
                trunk_id=trunk_id(KSR.pv.get("$avp(trunk_id)")) if source == "trunk" else None,
            ),
        )
        if plan.lookups():
            self.look_up_then_ring(cursor, source, region or DEFAULT_REGION)
            return
        self.ring_plan(cursor)

    @staticmethod
    def dialled(source):
        """What the caller dialled: the Request-URI's user, except for a call a
        carrier sends to a trunk's registered Contact, which names the trunk:
        its number is in To (kamailio_uacreg)."""
        dialled = KSR.pv.get("$rU")
        if source == "trunk" and str(dialled).startswith(REGISTERED_TRUNK_PREFIX):
            return KSR.pv.get("$tU")
        return dialled

    @staticmethod
    def present_caller(caller_id, hidden):
        """Who a company phone's call says is calling. A phone's own identity
        headers never leave: a carrier trusts P-Asserted-Identity from us, so
        a phone could otherwise pass for any number. An outgoing call shows
        the company number routing chose; kamailio.cfg's branch route puts it
        where the gateway's trunk wants it (route PRESENT_CALLER: From and
        P-Asserted-Identity, or one of them), per branch, since failover may
        change carriers. ``hidden`` shows "Anonymous" and asks the carrier
        with Privacy: id not to pass the number on (RFC 3323, 3325). uac puts
        the phone's own From back in every reply and in-dialog request
        (kamailio.cfg: restore_dlg), so the phone sees its own."""
        KSR.hdr.remove("P-Asserted-Identity")
        KSR.hdr.remove("Remote-Party-ID")
        KSR.hdr.remove("Privacy")
        if not caller_id:
            return
        KSR.pv.sets(CALLER_ID_XAVP, f"sip:{caller_id}@{KSR.pv.get('$fd')}")
        KSR.pv.seti(CALLER_HIDDEN_XAVP, 1 if hidden else 0)

    def ring_plan(self, cursor):
        # Known only now: a webhook's answer may have raised it.
        KSR.pv.seti(PRIORITY_AVP, cursor.plan.queue_priority)
        if not self.ring_next_step(cursor):
            final = reasons.final(cursor.plan.final)
            self.emit_missed(
                cursor,
                events.missed_reason(final.code, cancelled=False) if final else events.NOBODY_TO_RING,
                (final or reasons.NOBODY_TO_RING).code,
            )
            self.reject(final or reasons.NOBODY_TO_RING)
            return
        if not self.route_relay():
            self.emit_missed(cursor, events.REJECTED, None)

    def look_up_then_ring(self, cursor, source, region):
        """Suspend the transaction and let a task worker ask the webhook or CRM;
        the SIP worker is free for the next message at once."""
        lookup = {"arrived": time.time(), "source": source, "region": region}
        KSR.pv.seti("$sht(lookups=>$ci)", 1)
        KSR.pv.sets(PLAN_XAVP, cursor.to_json())  # the answer's prefix waits until a step rings
        KSR.pv.sets(LOOKUP_XAVP, json.dumps(lookup))
        if KSR_ASYNC.task_group_route("ksr_route_lookups", LOOKUP_WORKERS) >= 0:
            return
        # No task worker can take it: fail open here, without asking anyone.
        KSR.pv.unset("$sht(lookups=>$ci)")
        KSR.err(f"vpbx: lookups of {KSR.pv.get('$ci')} not queued; following the fallbacks\n")
        plan, _ = self.worker.resolve_lookups(
            cursor.plan, call_id=KSR.pv.get("$ci"), caller=KSR.pv.get("$fU") or "", ask=False, **lookup
        )
        self.ring_plan(replace(cursor, plan=plan))

    def ksr_route_lookups(self, msg):
        """In an async task worker: ask, then ring what the answers say."""
        cursor = self.saved_cursor()
        lookup = json.loads(KSR.pv.get(LOOKUP_XAVP))
        plan, asked = self.worker.resolve_lookups(
            cursor.plan, call_id=KSR.pv.get("$ci"), caller=KSR.pv.get("$fU") or "", **lookup
        )
        for event in asked:
            self.emit(event)
            KSR.info(
                call_log.line(
                    "lookup",
                    event["call_id"],
                    lookup=event["lookup"],
                    outcome=event["outcome"],
                    seconds=event["seconds"],
                )
                + "\n"
            )
        claim = KSR.pv.get(LOOKUP_CLAIM)
        KSR.pv.unset("$sht(lookups=>$ci)")
        if claim != CLAIMED_FIRST:  # the caller hung up meanwhile
            self.emit_missed(cursor, events.CALLER_CANCELLED, 487)
            KSR.tm.t_reply(487, "Request Terminated")
            return 1
        self.ring_plan(replace(cursor, plan=plan))
        return 1

    def ring_next_step(self, cursor):
        """Load the branches of the first remaining step with anyone reachable.

        The rest of the plan is kept with the transaction for failure_route.
        Returns False when no remaining step has anyone to ring.
        """
        for index, step in cursor.remaining():
            branches = load_step_branches(KSR, step, self.worker.media_app)
            if branches:
                step_timers(KSR, step)
                KSR.pv.sets(RR_PARAM_XAVP, idle_tracking_param(step) or "")
                trunk = current_trunk(KSR) if any(t.via_trunk for t in step.targets) else None
                cursor = cursor.ringing(index, branches, call_events.now(), trunk)
                tag_branches(KSR, branches, cursor.step_legs)
                self.save(cursor)
                return True
        return False

    @staticmethod
    def save(cursor):
        KSR.pv.sets(PLAN_XAVP, cursor.to_json())
        KSR.pv.sets(ANSWER_XAVP, call_events.answer_prefix(KSR.pv.get("$ci"), cursor) or "")

    @staticmethod
    def saved_cursor():
        saved = KSR.pv.get(PLAN_XAVP)
        return PlanCursor.from_json(saved) if saved else None

    def emit(self, event):
        if event is None:
            return
        if KSR.mqueue.mq_add(HISTORY_QUEUE, event["type"], json.dumps(event, separators=(",", ":"))) < 0:
            KSR.counters.inc(f"{COUNTERS_GROUP}.{events.DROPPED_COUNTER}")
            KSR.err(f"vpbx: history queue full, {event['type']} event of {event['call_id']} dropped\n")

    def emit_missed(self, cursor, reason, code):
        ringing_at = KSR.pv.get(RINGING)
        if ringing_at is not None:
            KSR.pv.unset(RINGING)
        call_id = KSR.pv.get("$ci")
        KSR.info(call_log.line("missed", call_id, reason=reason, code=code) + "\n")
        self.emit(call_events.missed(call_id, cursor, reason, code, ringing_at))

    def route_relay(self):
        if KSR.is_method_in("IBSU"):  # INVITE, BYE, SUBSCRIBE, UPDATE
            if KSR.tm.t_is_set("branch_route") < 0:
                KSR.tm.t_on_branch("ksr_branch_manage")
        if KSR.is_method_in("ISU"):
            if KSR.tm.t_is_set("onreply_route") < 0:
                KSR.tm.t_on_reply("ksr_onreply_manage")
        if KSR.is_INVITE():
            if KSR.tm.t_is_set("failure_route") < 0:
                KSR.tm.t_on_failure("ksr_failure_manage")
        KSR.pv.seti(OFFER_REFUSED, 0)
        if KSR.tm.t_relay() < 0:
            if KSR.pv.get(OFFER_REFUSED) == 1:  # by rtpengine, every branch (kamailio.cfg's branch route)
                KSR.hdr.append_to_reply(reasons.MEDIA_RELAY_UNAVAILABLE.reason_header)
                KSR.tm.t_reply(reasons.MEDIA_RELAY_UNAVAILABLE.code, reasons.MEDIA_RELAY_UNAVAILABLE.phrase)
            else:
                KSR.sl.sl_reply_error()
            return False
        return True

    def reject(self, rejection):
        # Statefully for INVITE: tm then absorbs its retransmissions and the ACK
        # instead of routing each one again. send_reply uses the transaction.
        if KSR.is_INVITE():
            KSR.tm.t_newtran()
        KSR.hdr.append_to_reply(rejection.reason_header)
        KSR.sl.send_reply(rejection.code, rejection.phrase)
        KSR.info(
            call_log.line(
                "rejected", KSR.pv.get("$ci"), method=KSR.pv.get("$rm"), code=rejection.code, reason=rejection.phrase
            )
            + "\n"
        )

    # ---- transaction callbacks ------------------------------------------------

    def ksr_failure_manage(self, msg):
        cursor = self.saved_cursor()
        # A caller who hung up ends the whole plan.
        if KSR.tm.t_is_canceled() > 0:
            if not KSR.isflagset(FLT_MEDIA):
                KSR.rtpengine.rtpengine_delete(DELETE_WHOLE_CALL)
            self.emit_missed(cursor, events.CALLER_CANCELLED, 487)
            # Our own 487, built from the caller's INVITE, rather than relaying a
            # phone's: some build theirs from the CANCEL's lone Via, and relayed
            # that reaches the caller with no Via at all.
            KSR.tm.t_reply(487, "Request Terminated")
            return 1
        # A gateway that asks for its trunk's credentials: the same branch with them.
        if cursor and cursor.current and answer_gateway_challenge(KSR) and self.relay_again():
            return 1
        # A gateway that failed its PSTN numbers: the same step through the next gateway.
        branches = next_gateway(KSR, cursor.current) if cursor and cursor.current and gateway_failed(KSR) else []
        if branches:
            cursor = cursor.through_trunk(current_trunk(KSR))
            tag_branches(KSR, branches, cursor.step_legs)
            self.save(cursor)
            if self.relay_again():
                return 1
        # Timeout, busy, unavailable, 5xx/6xx: the next step rings.
        if cursor and self.ring_next_step(cursor) and self.relay_again():
            return 1
        # The plan is spent: free the media session now, not at rtpengine's RTP timeout.
        if not KSR.isflagset(FLT_MEDIA):
            KSR.rtpengine.rtpengine_delete(DELETE_WHOLE_CALL)
        code = int(KSR.pv.get("$T_reply_code") or 0)
        final = reasons.final(cursor.plan.final) if cursor else None
        if final is None and code in CHALLENGES:
            final = reasons.CREDENTIALS_REFUSED_DOWNSTREAM
        self.emit_missed(cursor, events.missed_reason(code, cancelled=False), final.code if final else code)
        if final:
            KSR.hdr.append_to_reply(final.reason_header)
            KSR.tm.t_reply(final.code, final.phrase)
        return 1

    @staticmethod
    def relay_again():
        """From failure_route: send the new branches, with the same callbacks armed."""
        KSR.tm.t_on_branch("ksr_branch_manage")
        KSR.tm.t_on_failure("ksr_failure_manage")
        return KSR.tm.t_relay() > 0

    # ---- timer (rtimer, its own process) ---------------------------------------

    def ksr_media_hosts(self, msg, *event_name):
        """Each second: a host whose media app went silent gets no new call in
        its rtpengine, and gets them again once heard (vpbx.kamailio_adapter.media_hosts)."""
        if self.media_hosts is None:
            return 1
        heard = {host: KSR.htable.sht_get(MEDIA_HEARD, host) for host in self.media_hosts.hosts}
        for host, alive in self.media_hosts.changes(heard, time.time()):
            KSR.htable.sht_seti(MEDIA_UP, host, 1 if alive else 0)
            # Enabling pings it first: an rtpengine that is down stays out.
            rtpengine = f"udp:{host}:{self.rtpengine_port}"
            request = {"jsonrpc": "2.0", "method": "rtpengine.enable", "params": [rtpengine, int(alive)], "id": 1}
            KSR.jsonrpcs.exec(json.dumps(request))
            if alive:
                KSR.info(f"vpbx: the media app on {host} is heard: {rtpengine} takes new calls\n")
            else:
                KSR.err(f"vpbx: the media app on {host} is silent: {rtpengine} takes no new calls\n")
        return 1

    def ksr_history_flush(self, msg, *event_name):
        """Drain the queued call events into the history stream."""
        while True:
            batch: list[str] = []
            while len(batch) < HISTORY_BATCH and KSR.mqueue.mq_fetch(HISTORY_QUEUE) > 0:
                batch.append(KSR.mqueue.mqv_get(HISTORY_QUEUE))
            dropped = self.worker.write_events(batch)
            if dropped:
                KSR.counters.add(f"{COUNTERS_GROUP}.{events.DROPPED_COUNTER}", dropped)
            if len(batch) < HISTORY_BATCH:
                KSR.pv.seti(HISTORY_SPOOLED, 1 if self.worker.spool.pending() else 0)
                return 1
