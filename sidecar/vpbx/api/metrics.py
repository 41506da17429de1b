"""GET /metrics in Prometheus text format, for whoever holds the metrics token.

Values are collected at scrape time from the components themselves, so every
gunicorn worker answers the same without shared state.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

import psycopg
import redis
from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily

from .. import db as vpbx_db
from .. import redis_client, sip_bans
from ..health import probe_all
from ..history import events, totals
from ..kamailio_rpc import KamailioRpc
from ..lookups import crm, webhook
from ..lookups.breaker import breaker_key
from ..media.ng import NgClient
from . import request_metrics
from .errors import ApiError
from .queues import queues_now
from .status import trunk_registrations

blueprint = Blueprint("metrics", __name__)

KAMAILIO_GAUGES = {
    "usrloc.registered_users": "Users with at least one registered contact",
    "tmx.inuse_transactions": "SIP transactions in progress",
    "shmem.used_size": "Kamailio shared memory in use, bytes",
}


class VpbxCollector:
    def __init__(self, settings):
        self.settings = settings

    def collect(self):
        up = GaugeMetricFamily("vpbx_component_up", "1 if the component answered its probe", labels=["component"])
        latency = GaugeMetricFamily(
            "vpbx_component_probe_seconds", "How long the component took to answer", labels=["component"]
        )
        probes = probe_all(self.settings)
        for probe in probes:
            up.add_metric([probe.component], 1.0 if probe.up else 0.0)
            latency.add_metric([probe.component], probe.latency_ms / 1000)
        yield up
        yield latency
        history = next((p for p in probes if p.component == "history_keeper" and p.up), None)
        if history is not None:
            yield GaugeMetricFamily(
                "vpbx_history_lag_events", "Call events not yet in PostgreSQL", value=history.facts["lag_events"]
            )
            yield GaugeMetricFamily(
                "vpbx_history_lag_seconds",
                "Age of the oldest call event not yet in PostgreSQL",
                value=history.facts["lag_seconds"],
            )
        media = next((p for p in probes if p.component == "media_app" and p.up), None)
        if media is not None:
            calls = GaugeMetricFamily(
                "vpbx_media_app_calls", "Calls the media app holds now, by the node holding them", labels=["kind"]
            )
            for kind, count in sorted(media.facts["calls_by_kind"].items()):
                calls.add_metric([kind], float(count))
            yield calls
        yield from self._kamailio()
        yield from self._rtpengine()
        yield from self._trunks(probes)
        if any(p.component == "postgresql" and p.up for p in probes):
            yield from self._from_postgresql()

    def _from_postgresql(self):
        """What PostgreSQL and Redis hold, on one connection to each: the call
        totals the history keeper keeps (vpbx/history/totals.py), the phones
        registered per company, each queue now and its totals, and the lookups'
        breakers."""
        queues = open_until = None
        try:
            with vpbx_db.connect(self.settings.database_url) as conn:
                rows = conn.execute("SELECT family, labels, bucket, value FROM metric_totals").fetchall()
                # usrloc writes every registration through to PostgreSQL (db_mode 1)
                # and deletes the expired ones there too, within its 30 s timer.
                registered = conn.execute(
                    """SELECT c.id, count(DISTINCT l.username) AS phones
                         FROM companies c LEFT JOIN location l ON l.domain = c.sip_domain
                        GROUP BY c.id ORDER BY c.id"""
                ).fetchall()
                breakers = conn.execute(
                    """SELECT company_id, 'webhook' AS lookup, id AS lookup_id FROM webhooks
                       UNION ALL
                       SELECT company_id, 'responsible_manager', NULL FROM crm_integrations
                        WHERE lookup_url IS NOT NULL
                       ORDER BY 1, 2, 3"""
                ).fetchall()
                queue_totals = conn.execute(
                    "SELECT t.queue_id, q.company_id, t.outcome, t.calls, t.wait_s "
                    "FROM queue_totals t JOIN queues q ON q.id = t.queue_id ORDER BY t.queue_id, t.outcome"
                ).fetchall()
                try:
                    with redis_client.connect(self.settings, socket_timeout=1, socket_connect_timeout=1) as client:
                        queues = queues_now(conn, client)
                        open_until = _open_until(client, breakers)
                except redis.RedisError:
                    pass  # the component's own probe already says it is down
        except psycopg.Error:
            return  # the component's own probe already says it is down
        yield from totals.collect(rows)
        phones = GaugeMetricFamily(
            "vpbx_registered_phones", "SIP accounts with at least one registered contact", labels=["company_id"]
        )
        for row in registered:
            phones.add_metric([str(row["id"])], float(row["phones"]))
        yield phones
        if queues is not None:
            yield from _queue_families(queues, queue_totals)
        if open_until is not None:
            yield _breaker_gauge(breakers, open_until)

    def _trunks(self, probes):
        states = trunk_registrations(self.settings, probes)
        if states is None:
            return
        registered = GaugeMetricFamily(
            "vpbx_trunk_registered", "1 while the trunk is registered to its carrier", labels=["trunk"]
        )
        for name, state in sorted(states.items()):
            registered.add_metric([name], 1.0 if state == "registered" else 0.0)
        yield registered

    def _kamailio(self):
        rpc = KamailioRpc(self.settings.kamailio_rpc, timeout=1.0)
        try:
            values = rpc.call("stats.fetch", *KAMAILIO_GAUGES)
        except Exception:
            return
        for name, help_text in KAMAILIO_GAUGES.items():
            if name in values:
                metric = "vpbx_kamailio_" + name.split(".", 1)[1]
                yield GaugeMetricFamily(metric, help_text, value=float(values[name]))
        try:
            banned, failures = sip_bans.bans(rpc), sip_bans.auth_failures(rpc)
        except Exception:
            return
        by_reason = GaugeMetricFamily("vpbx_sip_banned_sources", "Sources Kamailio refuses now", labels=["reason"])
        for reason in sip_bans.REASONS.values():
            by_reason.add_metric([reason], float(sum(1 for ban in banned if ban.reason == reason)))
        yield by_reason
        yield CounterMetricFamily(
            "vpbx_sip_auth_failures", "Failed SIP authentications since Kamailio started", value=float(failures)
        )
        try:
            dropped = int(rpc.call("cnt.get", sip_bans.COUNTERS_GROUP, events.DROPPED_COUNTER) or 0)
        except Exception:
            return
        yield CounterMetricFamily(
            "vpbx_history_events_dropped",
            "Call events Kamailio could not keep (its queue or its spool on disk full) since it started",
            value=float(dropped),
        )

    def _rtpengine(self):
        ng = NgClient(self.settings.rtpengine_ng.host, self.settings.rtpengine_ng.port, timeout=1.0, attempts=1)
        try:
            calls = ng.list_calls()
        except Exception:
            return
        yield GaugeMetricFamily("vpbx_rtpengine_sessions", "Media sessions anchored in rtpengine", value=len(calls))


def _open_until(client, lookups) -> list:
    """When each lookup's breaker closes again (epoch seconds; None: closed)."""
    with client.pipeline(transaction=False) as pipe:
        for row in lookups:
            name = (
                webhook.breaker_name(row["lookup_id"])
                if row["lookup"] == "webhook"
                else crm.breaker_name(row["company_id"])
            )
            pipe.hget(breaker_key(name), "open_until")
        return pipe.execute()


def _breaker_gauge(lookups, open_until) -> GaugeMetricFamily:
    """Each webhook's and CRM lookup's breaker: open (calls take the fallback without asking) or not."""
    now = time.time()
    gauge = GaugeMetricFamily(
        "vpbx_lookup_breaker_open",
        "1 while a lookup's breaker is open: its calls take the fallback without asking",
        labels=["company_id", "lookup", "lookup_id"],
    )
    for row, until in zip(lookups, open_until, strict=True):
        ids = [str(row["company_id"]), row["lookup"], str(row["lookup_id"] or "")]
        gauge.add_metric(ids, 1.0 if until is not None and float(until) > now else 0.0)
    return gauge


def _queue_families(queues, queue_totals):
    """Each call queue now (callers, agents) and its callers since it was made, by outcome."""
    labels = ["company_id", "queue_id"]
    waiting = GaugeMetricFamily("vpbx_queue_callers_waiting", "Callers waiting in the queue now", labels=labels)
    longest = GaugeMetricFamily(
        "vpbx_queue_longest_wait_seconds", "How long the first caller waiting now has waited", labels=labels
    )
    agents = GaugeMetricFamily("vpbx_queue_agents", "The queue's agents by state now", labels=[*labels, "state"])
    calls = CounterMetricFamily("vpbx_queue_calls", "Callers who left the queue, by how", labels=[*labels, "outcome"])
    wait = CounterMetricFamily(
        "vpbx_queue_wait_seconds",
        "Seconds callers waited in the queue, by how they left it",
        labels=[*labels, "outcome"],
    )
    for queue in queues:
        ids = [str(queue["company_id"]), str(queue["queue_id"])]
        waiting.add_metric(ids, queue["callers_waiting"])
        longest.add_metric(ids, queue["longest_wait_seconds"])
        for state, value in (
            ("logged_in", queue["agents_logged_in"]),
            ("paused", queue["agents_paused"]),
            ("busy", queue["agents_busy"]),
            ("wrap_up", queue["agents_in_wrap_up"]),
            ("free", queue["agents_free"]),
        ):
            agents.add_metric([*ids, state], float(value))
    for total in queue_totals:
        ids = [str(total["company_id"]), str(total["queue_id"]), total["outcome"]]
        calls.add_metric(ids, float(total["calls"]))
        wait.add_metric(ids, float(total["wait_s"]))
    yield from (waiting, longest, agents, calls, wait)


def _scraper_allowed(settings) -> None:
    """Whoever scrapes must hold the metrics token (its series name every
    company's numbers and trunks); with none configured, only this host may."""
    if settings.metrics_token is None:
        if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:  # noqa: S104 (a fallback, not a bind)
            raise ApiError(403, "No metrics token is configured: /metrics answers this host only ([metrics] token).")
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode()):
        raise ApiError(
            401,
            "The metrics token is required: send 'Authorization: Bearer <token>' ([metrics] token in vpbx.toml).",
            headers={"WWW-Authenticate": 'Bearer realm="vpbx metrics"'},
        )


@blueprint.get("/metrics")
def metrics():
    _scraper_allowed(current_app.config["VPBX_SETTINGS"])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VpbxCollector(current_app.config["VPBX_SETTINGS"]))
    request_metrics.register_into(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
