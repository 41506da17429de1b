"""Counters and histograms of calls, kept by the history keeper as it writes
the history they count, and served by /metrics.

Kept in PostgreSQL (``metric_totals``), in the transaction that writes the
history lines, rather than in each process's memory: they then move exactly
with the history (an event delivered twice counts once, where the line it
makes is idempotent), survive restarts of every process, and read the same
from every node's /metrics: across nodes, aggregate them with ``max``, not ``sum``.

A batch of events costs one upsert per series it moved, not one per event.
Histogram buckets are stored per bucket, not cumulated: an observation moves
one row; /metrics cumulates them as Prometheus expects.

Labels stay bounded: companies, their numbers, trunks and fixed outcome
names; never a caller.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from ..db import Connection


@dataclass(frozen=True)
class Family:
    name: str  # without "_total": prometheus_client adds it to counters
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()  # a histogram's upper bounds; () for a counter

    @property
    def histogram(self) -> bool:
        return bool(self.buckets)


CALLS = Family(
    "vpbx_calls",
    "Calls to and from companies by how they ended: answered, missed (no answer, busy, caller hung up) "
    "or failed (nobody could ring, or refused), with the SIP class of the final reply to the caller",
    ("company_id", "direction", "number", "trunk", "outcome", "reason", "code_class"),
)
SETUP = Family(
    "vpbx_call_setup_seconds",
    "From the call's INVITE to its first ringing (180/183) or answer",
    ("direction",),
    (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
)
PLAN = Family(
    "vpbx_call_plan_seconds",
    "How long routing took to plan a call inside Kamailio",
    ("direction",),
    (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
LOOKUPS = Family(
    "vpbx_lookups",
    "Webhook and CRM lookups asked for calls, by outcome (ok, timeout, error, invalid, breaker_open, skipped)",
    ("company_id", "lookup", "outcome"),
)
LOOKUP_SECONDS = Family(
    "vpbx_lookup_seconds",
    "How long a webhook or CRM lookup took, by outcome",
    ("lookup", "outcome"),
    (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
)
VOICEMAIL = Family("vpbx_voicemail_messages", "Voicemail messages left", ("company_id",))
FAMILIES = (CALLS, SETUP, PLAN, LOOKUPS, LOOKUP_SECONDS, VOICEMAIL)
_BY_NAME = {family.name: family for family in FAMILIES}

SUM = "sum"  # the "bucket" of a histogram's sum; "" is a counter's value


def _bucket(family: Family, value: float) -> str:
    index = bisect.bisect_left(family.buckets, value)
    return repr(family.buckets[index]) if index < len(family.buckets) else "+Inf"


class Totals:
    """What one batch of events moved, written at once (``write``)."""

    def __init__(self) -> None:
        self.moved: defaultdict[tuple[str, str, str], float] = defaultdict(float)

    def count(self, family: Family, labels: dict[str, str], by: float = 1.0) -> None:
        self.moved[(family.name, _labels(family, labels), "")] += by

    def observe(self, family: Family, labels: dict[str, str], value: float) -> None:
        if not math.isfinite(value):
            return
        value = max(0.0, value)  # clocks of two hosts may disagree by a little
        key = _labels(family, labels)
        self.moved[(family.name, key, _bucket(family, value))] += 1
        self.moved[(family.name, key, SUM)] += value

    def add(self, other: Totals) -> None:
        for key, value in other.moved.items():
            self.moved[key] += value

    def write(self, conn: Connection) -> None:
        if not self.moved:
            return
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO metric_totals (family, labels, bucket, value) VALUES (%s, %s::jsonb, %s, %s)
                   ON CONFLICT (family, labels, bucket) DO UPDATE SET value = metric_totals.value + excluded.value""",
                [(family, labels, bucket, value) for (family, labels, bucket), value in sorted(self.moved.items())],
            )


def _labels(family: Family, labels: dict[str, str]) -> str:
    if set(labels) != set(family.labels):
        raise ValueError(f"{family.name} takes the labels {family.labels}, not {sorted(labels)}")
    return json.dumps({name: str(labels[name]) for name in family.labels}, sort_keys=True)


def collect(rows: Iterable[dict]) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
    """The metric families of ``metric_totals`` rows ({family, labels, bucket, value})."""
    series: dict[str, dict[tuple[str, ...], dict[str, float]]] = {family.name: {} for family in FAMILIES}
    for row in rows:
        family = _BY_NAME.get(row["family"])
        if family is None:
            continue  # written by a newer version: its /metrics serves it
        labels = row["labels"] if isinstance(row["labels"], dict) else json.loads(row["labels"])
        key = tuple(str(labels.get(name, "")) for name in family.labels)
        series[family.name].setdefault(key, {})[row["bucket"]] = float(row["value"])
    for family in FAMILIES:
        if family.histogram:
            histogram = HistogramMetricFamily(family.name, family.help, labels=family.labels)
            for key, values in sorted(series[family.name].items()):
                cumulative, buckets = 0.0, []
                for bound in [*map(repr, family.buckets), "+Inf"]:
                    cumulative += values.get(bound, 0.0)
                    buckets.append((bound, cumulative))
                histogram.add_metric(list(key), buckets, values.get(SUM, 0.0))
            yield histogram
        else:
            counter = CounterMetricFamily(family.name, family.help, labels=family.labels)
            for key, values in sorted(series[family.name].items()):
                counter.add_metric(list(key), values.get("", 0.0))
            yield counter
