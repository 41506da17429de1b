"""vpbx KEMI entry script for Kamailio's app_python3.

Thin by design: each route function does SIP mechanics only (sanity, auth,
registrar, NAT, media anchoring, relaying). Which phones ring for a call is
decided by the pure ``vpbx.routing`` library through ``vpbx.kamailio_adapter``.
Return -255 from a route helper to stop processing the message.
"""

import json
import os
import re
import site
import time
from dataclasses import replace

# Kamailio embeds Debian's /usr/bin/python3; the project's venv (built with the
# same interpreter) provides vpbx and its dependencies.
site.addsitedir(os.environ["VPBX_SITE_PACKAGES"])

import KSR  # noqa: E402  (only importable inside Kamailio)

# KSR.async: "async" is a Python keyword, so the module is reached by name.
KSR_ASYNC = getattr(KSR, "async")

from vpbx.history import events  # noqa: E402
from vpbx.kamailio_adapter import call_events, reasons  # noqa: E402
from vpbx.kamailio_adapter.documents import CacheUnavailable  # noqa: E402
from vpbx.kamailio_adapter.execute import (  # noqa: E402
    PlanCursor,
    gateway_failed,
    idle_tracked_member,
    idle_tracking_param,
    load_step_branches,
    next_gateway,
    step_timers,
)
from vpbx.kamailio_adapter.worker import Worker  # noqa: E402
from vpbx.routing.targets import COMPANY_HEADER  # noqa: E402
from vpbx.sip_bans import AUTH_FAILURES_COUNTER, BANNED_FOR_AUTH, BANNED_FOR_FLOOD, COUNTERS_GROUP  # noqa: E402

STOP = -255
FLT_NATS = 5  # transaction flag: the caller is behind NAT
FLB_NATB = 6  # branch flag: the callee is behind NAT (kamailio.cfg: FLB_NATB)
FLB_NATSIPPING = 7
FLT_TRUNK = 8  # transaction flag: the INVITE came from a trunk
# Transaction flag: the media app opened this leg (an IVR key) for a caller it
# answered. The caller's media is already anchored in rtpengine, and the media
# app points it at this leg itself: Kamailio never anchors these legs.
FLT_MEDIA = 9
# Transaction flag: a call's first INVITE (routing made a plan for it), not a re-INVITE.
FLT_NEW_CALL = 10
# Record-Route parameter marking such a leg's dialog, so in-dialog requests skip rtpengine too.
MEDIA_LEG_RR_PARAM = "vpbx_leg=media"
RTPENGINE_FLAGS = "replace-origin replace-session-connection ICE=remove"
# A call's offer is made per branch (branch route), each its own rtpengine
# monologue (via-branch: "next" in the branch, the reply's top Via in replies),
# so each leg gets the media it can carry: SRTP with SDES keys where the branch
# leaves over TLS (the keys are in the SDP, so only inside TLS), plain RTP
# everywhere else, trunks and the media app included.
BRANCH_OFFER_FLAGS = RTPENGINE_FLAGS + " via-branch=auto-next transport-protocol="
SRTP_PROTOCOL = "RTP/SAVP"
RTP_PROTOCOL = "RTP/AVP"
# rtpengine forgets every branch of a call at once: the module always names a
# from-tag, and an empty one is how rtpengine is told "the whole call". Named
# tags would leave the monologues of the branches that never answered, each
# keeping the call alive until rtpengine's offer timeout.
DELETE_WHOLE_CALL = "from-tag="
# Who answered a call, in order (kamailio.cfg: the "answers" htable): by
# Call-ID, how many phones answered; by Call-ID:to-tag, which one each was.
ANSWERS = "answers"
ROUTING_COPIES = "routing_copies"
# Replies: the top Via is the branch's (an answer finds its branch's monologue;
# in a re-INVITE's reply the tags find the dialog and the branch is not used).
REPLY_FLAGS = RTPENGINE_FLAGS + " via-branch=auto-next"
MEDIA_REOFFER_FLAGS = " port-latching codec-transcode-PCMA codec-transcode-PCMU"
SUBSCRIBER_TABLE = "kamailio_subscriber"
# The plan and the next step to try, kept with the transaction for failure_route.
PLAN_XAVP = "$xavp(vpbx_plan)"
# Call events wait here (Kamailio's mqueue, shared memory) for the timer process
# that hands them to the history keeper: queueing costs a worker microseconds.
HISTORY_QUEUE = "history"
HISTORY_BATCH = 500  # events per stream entry
# The company whose plan the call follows: named to the media app on its branches.
COMPANY_AVP = "$avp(vpbx_company)"
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
# sanity checks (module docs, "default_checks"): R-URI SIP version (1) and
# scheme (2), required headers (4), CSeq method (32) and value (64),
# Content-Length (128: on UDP also bytes after it, which a TCP or TLS next hop
# would read as a second request), Expires (256), Proxy-Require (512), URIs
# (1024), no duplicate To-tag (16384).
SANITY_CHECKS = 1 | 2 | 4 | 32 | 64 | 128 | 256 | 512 | 1024 | 16384
# ...and which URIs must parse: the R-URI (1) and From (2), whose user and
# domain we read. A proxy has no business with To's scheme (RFC 4475 novelsc).
SANITY_URI_CHECKS = 1 | 2
KNOWN_URI_SCHEMES = ("sip", "sips", "tel")
URI_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")  # RFC 3986 3.1
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


def mod_init():
    return VpbxRoutes()


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


class VpbxRoutes:
    def __init__(self):
        self.worker = Worker.from_environment(RoutingCopies())
        self.media_app_suffix = f"@{self.worker.media_app}"
        # Set by the branch route when rtpengine refused a branch's offer; read by
        # route_relay after t_relay, which runs the branch routes in this process.
        self.offer_refused = False

    def child_init(self, rank):
        self.worker.connect()
        return 0

    # ---- main request route -------------------------------------------------

    def ksr_request_route(self, msg):
        if self.route_reqinit() == STOP:
            return 1
        self.route_natdetect()
        method = KSR.pv.get("$rm")

        if method == "CANCEL":
            if self.cancel_during_lookup():
                return 1
            # The media session stays until the INVITE ends (failure route):
            # a 200 crossing this CANCEL must still find it, to be anchored.
            if KSR.tm.t_check_trans() > 0:
                self.route_relay()
            return 1

        if self.route_withindlg() == STOP:
            return 1

        # Retransmissions are absorbed by the transaction layer.
        if KSR.tmx.t_precheck_trans() > 0:
            KSR.tm.t_check_trans()
            return 1
        if KSR.tm.t_check_trans() == 0:
            return 1

        if self.route_auth() == STOP:
            return 1

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

    # ---- request helpers ------------------------------------------------------

    def route_reqinit(self):
        source = KSR.pv.get("$si")
        if KSR.permissions.allow_source_address(1) > 0:
            KSR.setflag(FLT_TRUNK)
        elif source == self.worker.media_app_host and KSR.pv.get("$sp") == self.worker.media_app_port:
            # The address first: a phone's request pays one comparison, not a $sp read.
            KSR.setflag(FLT_MEDIA)
        # Trusted carriers and the media app are never banned; our own host's
        # other addresses are exempt from flood limits, not from auth bans.
        if not KSR.isflagset(FLT_TRUNK) and not KSR.isflagset(FLT_MEDIA):
            if not KSR.pv.is_null("$sht(ipban=>$si)"):
                return STOP
            if not KSR.is_myself_srcip() and KSR.pike.pike_check_req() < 0:
                KSR.warn(f"vpbx: pike blocking {KSR.pv.get('$rm')} from {source}\n")
                KSR.pv.seti("$sht(ipban=>$si)", BANNED_FOR_FLOOD)
                return STOP
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return STOP
        if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.corex.has_ruri_user() < 0:
            KSR.sl.sl_send_reply(200, "Keepalive")
            return STOP
        if KSR.pv.get("$ru") is None and self.unknown_uri_scheme():
            KSR.hdr.append_to_reply(reasons.UNSUPPORTED_URI_SCHEME.reason_header)
            KSR.sl.sl_send_reply(416, reasons.UNSUPPORTED_URI_SCHEME.phrase)
            return STOP
        # Malformed requests get a 400 from sanity itself (sanity's autodrop),
        # an unsupported Proxy-Require a 420 with Unsupported.
        if KSR.sanity.sanity_check(SANITY_CHECKS, SANITY_URI_CHECKS) < 0:
            KSR.warn(f"vpbx: malformed SIP message from {source}:{KSR.pv.get('$sp')}\n")
            return STOP
        return 1

    @staticmethod
    def unknown_uri_scheme():
        """A Request-URI Kamailio could not parse, because its (well-formed)
        scheme is one it does not know: sanity would call that malformed (400),
        RFC 3261 8.2.2.1 asks for 416. Read from the raw request line: only
        requests whose R-URI failed to parse pay for it."""
        uri = KSR.pv.get("$mb").split(" ", 2)[1]
        scheme = URI_SCHEME.match(uri)
        return scheme is not None and scheme.group(1).lower() not in KNOWN_URI_SCHEMES

    def route_withindlg(self):
        if KSR.siputils.has_totag() < 0:
            return 1
        if KSR.rr.loose_route() > 0:
            # Which answer of its call this ACK's or BYE's dialog is (0: not known
            # that way); only the first is the call, anchored and in the history.
            answer = self.answer_of_request() if KSR.is_ACK() or KSR.is_BYE() else 0
            if KSR.dialog.is_known_dlg() < 0 and not answer:
                # A To-tag and our Route, but no dialog of ours: forged, or long over.
                KSR.warn(f"vpbx: {KSR.pv.get('$rm')} for an unknown dialog from {KSR.pv.get('$si')} refused\n")
                if not KSR.is_ACK():
                    self.reject(reasons.NO_SUCH_DIALOG)
                return STOP
            if answer > 1:
                self.route_dlguri()
                self.route_relay()
                return STOP
            self.route_dlguri()
            anchored = KSR.rr.check_route_param(MEDIA_LEG_RR_PARAM) < 0
            if KSR.is_BYE():
                if anchored:
                    KSR.rtpengine.rtpengine_delete(DELETE_WHOLE_CALL)
                member = idle_tracked_member(KSR.pv.get("$(hdr(Route)[*])"))
                if member:
                    self.worker.member_call(member, "ended")
                self.emit(call_events.ended(KSR.pv.get("$ci"), by_caller=KSR.rr.is_direction("downstream") > 0))
            elif KSR.is_ACK():
                # An ACK may carry the SDP answer of a late offer.
                if anchored:
                    KSR.rtpengine.rtpengine_manage(RTPENGINE_FLAGS)
                self.route_relay()
                return STOP
            elif KSR.is_INVITE():
                KSR.rr.record_route()
                if anchored and KSR.isflagset(FLT_MEDIA):
                    # The media app puts the caller through to a person whose phone
                    # speaks the other law: their SDP is this offer. rtpengine keeps
                    # its ports (the person was offered them) and transcodes.
                    KSR.resetflag(FLT_MEDIA)  # the caller's answer must reach rtpengine too
                    KSR.rtpengine.rtpengine_manage(RTPENGINE_FLAGS + MEDIA_REOFFER_FLAGS)
                elif anchored:
                    KSR.rtpengine.rtpengine_manage(RTPENGINE_FLAGS)
            self.route_relay()
            return STOP
        if KSR.is_ACK():
            if KSR.tm.t_check_trans() > 0:
                self.route_relay()
            return STOP
        KSR.sl.sl_send_reply(404, "Not here")
        return STOP

    @staticmethod
    def answer_of_request():
        """The order (1, 2...) in which the dialog of this in-dialog request was
        answered, from the to-tag its 200 carried through here (answer_order);
        0 when that is not known.

        Each 200 of a forked call reaches the caller (RFC 3261 16.7), who ends
        the extra dialogs with ACK and BYE; the phone whose late answer was not
        taken ends it too. The dialog module knows one dialog per call, not
        always the first answer's, so these are admitted by their tags: a
        forger would need the Call-ID and the tag of a live answer.
        """
        call_id = KSR.pv.get("$ci")
        order = KSR.htable.sht_get(ANSWERS, f"{call_id}:{KSR.pv.get('$tt')}")
        return order or KSR.htable.sht_get(ANSWERS, f"{call_id}:{KSR.pv.get('$ft')}") or 0

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

    def route_natdetect(self):
        # 19: private address in Contact, or source address/port differ from Via.
        if KSR.nathelper.nat_uac_test(19) > 0:
            # Answer where the packet came from, not where its Via claims.
            KSR.force_rport()
            if KSR.is_REGISTER():
                KSR.nathelper.fix_nated_register()
            elif KSR.siputils.is_first_hop() > 0:
                KSR.nathelper.set_contact_alias()
            KSR.setflag(FLT_NATS)

    def route_dlguri(self):
        if KSR.nathelper.handle_ruri_alias() < 0:
            KSR.err("vpbx: bad alias in R-URI\n")

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
        try:
            plan = self.worker.plan_for(
                dialled=KSR.pv.get("$rU"),
                caller=KSR.pv.get("$fU") or "",
                call_id=KSR.pv.get("$ci"),
                source=source,
                caller_domain=KSR.pv.get("$rd" if source == "media" else "$fd"),
                region=region or DEFAULT_REGION,
            )
        except CacheUnavailable as exc:
            KSR.err(f"vpbx: routing cache unavailable: {exc}\n")
            self.reject(reasons.ROUTING_UNAVAILABLE)
            return
        if plan is None:
            self.reject(reasons.UNALLOCATED_NUMBER)
            return
        # From here on the call is a dialog of ours: only its in-dialog requests are relayed.
        KSR.dialog.dlg_manage()
        KSR.setflag(FLT_NEW_CALL)
        # Only routing names the company to the media app (ksr_branch_manage).
        KSR.hdr.remove(COMPANY_HEADER)
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
            ),
        )
        if plan.lookups():
            self.look_up_then_ring(cursor, source, region or DEFAULT_REGION)
            return
        self.ring_plan(cursor)

    def ring_plan(self, cursor):
        if not self.ring_next_step(cursor):
            final = reasons.final(cursor.plan.final)
            self.emit_missed(
                cursor, events.missed_reason(final.code, cancelled=False) if final else events.NOBODY_TO_RING
            )
            self.reject(final or reasons.NOBODY_TO_RING)
            return
        if not self.route_relay():
            self.emit_missed(cursor, events.REJECTED)

    def look_up_then_ring(self, cursor, source, region):
        """Suspend the transaction and let a task worker ask the webhook or CRM;
        the SIP worker is free for the next message at once."""
        lookup = {"arrived": time.time(), "source": source, "region": region}
        KSR.pv.seti("$sht(lookups=>$ci)", 1)
        KSR.pv.sets(PLAN_XAVP, cursor.to_json())
        KSR.pv.sets(LOOKUP_XAVP, json.dumps(lookup))
        if KSR_ASYNC.task_group_route("ksr_route_lookups", LOOKUP_WORKERS) >= 0:
            return
        # No task worker can take it: fail open here, without asking anyone.
        KSR.pv.unset("$sht(lookups=>$ci)")
        KSR.err(f"vpbx: lookups of {KSR.pv.get('$ci')} not queued; following the fallbacks\n")
        plan = self.worker.resolve_lookups(
            cursor.plan, call_id=KSR.pv.get("$ci"), caller=KSR.pv.get("$fU") or "", ask=False, **lookup
        )
        self.ring_plan(replace(cursor, plan=plan))

    def ksr_route_lookups(self, msg):
        """In an async task worker: ask, then ring what the answers say."""
        cursor = self.saved_cursor()
        lookup = json.loads(KSR.pv.get(LOOKUP_XAVP))
        plan = self.worker.resolve_lookups(
            cursor.plan, call_id=KSR.pv.get("$ci"), caller=KSR.pv.get("$fU") or "", **lookup
        )
        claim = KSR.pv.get(LOOKUP_CLAIM)
        KSR.pv.unset("$sht(lookups=>$ci)")
        if claim != CLAIMED_FIRST:  # the caller hung up meanwhile
            self.emit_missed(cursor, events.CALLER_CANCELLED)
            KSR.tm.t_reply(487, "Request Terminated")
            return 1
        self.ring_plan(replace(cursor, plan=plan))
        return 1

    def cancel_during_lookup(self):
        """A CANCEL for a call whose route is being looked up: answered here, the
        INVITE ends when its task worker resumes. False when the call is not
        suspended (any more): relay the CANCEL as usual."""
        if KSR.pv.is_null("$sht(lookups=>$ci)"):
            return False
        if KSR.pv.get(LOOKUP_CLAIM) != CLAIMED_FIRST:
            return False
        KSR.sl.sl_send_reply(200, "Canceling")
        return True

    def ring_next_step(self, cursor):
        """Load the branches of the first remaining step with anyone reachable.

        The rest of the plan is kept with the transaction for failure_route.
        Returns False when no remaining step has anyone to ring.
        """
        for index, step in cursor.remaining():
            contacts = load_step_branches(KSR, step, self.worker.media_app)
            if contacts:
                step_timers(KSR, step)
                KSR.pv.sets(RR_PARAM_XAVP, idle_tracking_param(step) or "")
                KSR.pv.sets(PLAN_XAVP, cursor.ringing(index, contacts, call_events.now()).to_json())
                return True
        return False

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

    def emit_missed(self, cursor, reason):
        self.emit(call_events.missed(KSR.pv.get("$ci"), cursor, reason))

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
        self.offer_refused = False
        if KSR.tm.t_relay() < 0:
            if self.offer_refused:  # by rtpengine, for every branch (ksr_branch_manage, this process)
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

    # ---- transaction callbacks ------------------------------------------------

    def ksr_branch_manage(self, msg):
        if KSR.siputils.has_totag() < 0:
            if KSR.isbflagset(FLB_NATB):
                KSR.rr.add_rr_param(";nat=yes")
            if KSR.isflagset(FLT_MEDIA):
                KSR.rr.add_rr_param(";" + MEDIA_LEG_RR_PARAM)
            param = KSR.pv.get(RR_PARAM_XAVP)
            if param:
                KSR.rr.add_rr_param(param)
            # Node targets' URIs are exactly sip:<node>@<media app host:port> (routing's NODE_HOST replaced).
            if KSR.pv.get("$ru").endswith(self.media_app_suffix):
                KSR.hdr.append(f"{COMPANY_HEADER}: {KSR.pv.get(COMPANY_AVP)}\r\n")
            if KSR.is_INVITE() and not KSR.isflagset(FLT_MEDIA):
                protocol = SRTP_PROTOCOL if self.branch_over_tls() else RTP_PROTOCOL
                if KSR.rtpengine.rtpengine_manage(BRANCH_OFFER_FLAGS + protocol) < 0:
                    # Never a branch with the caller's own SDP: its media would
                    # bypass NAT handling, and SRTP keys could leave over UDP.
                    KSR.err(f"vpbx: rtpengine took no offer for {KSR.pv.get('$ci')}: branch not sent\n")
                    self.offer_refused = True
                    KSR.set_drop()
                    return 0
        return 1

    @staticmethod
    def branch_over_tls():
        """The branch leaves on our TLS socket: a phone registered over TLS
        (lookup set the branch's socket from its connection)."""
        socket = KSR.pv.get("$fs") or ""
        return socket.startswith("tls:")

    def ksr_onreply_manage(self, msg):
        status = int(KSR.pv.get("$rs") or 0)
        later_answer = 200 <= status < 300 and KSR.isflagset(FLT_NEW_CALL) and self.answer_order() > 1
        if status < 300 and not KSR.isflagset(FLT_MEDIA) and not later_answer:
            KSR.rtpengine.rtpengine_manage(REPLY_FLAGS)
        if status == 200 and KSR.pv.get("$rm") == "INVITE" and not later_answer:
            member = idle_tracked_member(KSR.pv.get("$(hdr(Record-Route)[*])"))
            if member:
                self.worker.member_call(member, "answered")
            self.emit(call_events.answered(KSR.pv.get("$ci"), self.saved_cursor(), KSR.pv.get("$T_branch(uri)")))
        if KSR.isbflagset(FLB_NATB):
            KSR.nathelper.set_contact_alias()
        return 1

    @staticmethod
    def answer_order():
        """1 for the first phone to answer this call, 2 for the next... (the same
        for each retransmission of one phone's 200). A later answer is relayed
        to the caller, who ends it, but never anchored: rtpengine would move the
        caller's media to it, away from the call in progress."""
        call_id, tag = KSR.pv.get("$ci"), KSR.pv.get("$tt")
        answer = f"{call_id}:{tag}"
        order = KSR.htable.sht_get(ANSWERS, answer)
        if not order:  # the table's initval (0) for a to-tag not seen yet
            order = KSR.htable.sht_inc(ANSWERS, call_id)
            KSR.htable.sht_seti(ANSWERS, answer, order)
        return order

    def ksr_failure_manage(self, msg):
        cursor = self.saved_cursor()
        # A caller who hung up ends the whole plan.
        if KSR.tm.t_is_canceled() > 0:
            if not KSR.isflagset(FLT_MEDIA):
                KSR.rtpengine.rtpengine_delete(DELETE_WHOLE_CALL)
            self.emit_missed(cursor, events.CALLER_CANCELLED)
            # Our own 487, built from the caller's INVITE, rather than relaying a
            # phone's: some build theirs from the CANCEL's lone Via, and relayed
            # that reaches the caller with no Via at all.
            KSR.tm.t_reply(487, "Request Terminated")
            return 1
        # A gateway that failed its PSTN numbers: the same step through the next gateway.
        contacts = next_gateway(KSR, cursor.current) if cursor and cursor.current and gateway_failed(KSR) else {}
        if contacts:
            KSR.pv.sets(PLAN_XAVP, replace(cursor, contacts=contacts).to_json())
            if self.relay_again():
                return 1
        # Timeout, busy, unavailable, 5xx/6xx: the next step rings.
        if cursor and self.ring_next_step(cursor) and self.relay_again():
            return 1
        # The plan is spent: free the media session now, not at rtpengine's RTP timeout.
        if not KSR.isflagset(FLT_MEDIA):
            KSR.rtpengine.rtpengine_delete(DELETE_WHOLE_CALL)
        self.emit_missed(cursor, events.missed_reason(int(KSR.pv.get("$T_reply_code") or 0), cancelled=False))
        final = reasons.final(cursor.plan.final) if cursor else None
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
                return 1

    # ---- replies ----------------------------------------------------------------

    def ksr_reply_route(self, msg):
        """Every request this proxy relays is stateful, so every reply it should
        pass on belongs to a transaction. Any other reply (a stray, or one forged
        with our Via on top and someone else's, even a broadcast address,
        second) is dropped instead of being relayed statelessly."""
        if KSR.tm.t_check_trans() < 0:
            KSR.set_drop()
            return 0
        return 1

    # ---- callbacks that must exist (app_python3 5.6), unused ------------------

    def ksr_onsend_route(self, msg):
        return 1
