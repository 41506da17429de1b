"""Plan latency for a 1,000-employee company: the pure routing library, and a
Kamailio worker's whole lookup (one Redis round trip, then the plan).

Builds the company in the "bench" stack's PostgreSQL (1,000 employees, 100 of
them on vacation and 100 with personal hours), compiles it with the real
compiler into Redis, then times, per case, ``build_plan`` on the compiled
document and ``Worker.plan_for`` as Kamailio calls it:

    two steps     a number by schedule: a 30-agent round robin department, then an employee
    all at once   a number whose one step rings a 1,000-member department
    extension     a colleague dialling an extension (the company document holds all 1,000)

    .venv/bin/python bench/routing_plan.py --iterations 20000
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import redis

# bench/ is on sys.path when a script here runs.
from bench_stack import Api, fresh_stack

from vpbx import db, settings
from vpbx.config.compile import rebuild_all
from vpbx.documents import company_key, decode_document, number_key
from vpbx.kamailio_adapter.worker import Worker
from vpbx.routing import Call, build_direct_plan, build_plan
from vpbx.stack import manager

EMPLOYEES = 1000
SALES = 30  # the round robin department's members (all of a smaller company)
TWO_STEPS, ALL_AT_ONCE = "+74951110001", "+74951110002"
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def build_company(profile, cfg, employees: int) -> None:
    api = Api(profile)
    company_id = api("GET", "/company")["id"]
    always = api(
        "POST",
        "/schedules",
        {
            "name": "Always",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "00:00", "end": "24:00"} for d in WEEK],
        },
    )
    office = api(
        "POST",
        "/schedules",
        {
            "name": "Office",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in WEEK[:5]],
        },
    )
    today = date.today()
    with db.connect(cfg.database_url) as conn:
        ids = [
            conn.execute(
                """INSERT INTO employees (company_id, name, extension, email, role, sip_login, sip_ha1, sip_ha1b,
                                      schedule_id)
               VALUES (%s, %s, %s, %s, 'user', %s, '', '', %s) RETURNING id""",
                (
                    company_id,
                    f"Employee {n}",
                    str(2000 + n),
                    f"e{n}@example.com",
                    f"e{n}",
                    office["id"] if n % 10 == 1 else None,
                ),
            ).fetchone()["id"]
            for n in range(employees)
        ]
        for employee_id in ids[::10]:
            conn.execute(
                "INSERT INTO employee_absences (employee_id, kind, start_date, end_date) "
                "VALUES (%s, 'vacation', %s, %s)",
                (employee_id, today - timedelta(days=3), today + timedelta(days=7)),
            )
    sales = api(
        "POST",
        "/departments",
        {"name": "Sales", "distribution": "round_robin", "ring_time": 15, "members": ids[:SALES]},
    )
    everyone = api("POST", "/departments", {"name": "Everyone", "members": ids})
    two = api(
        "POST",
        "/schemes",
        {
            "name": "Two steps",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "department", "department_id": sales["id"]}],
                },
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "employee", "employee_id": ids[employees // 2]}],
                },
            ],
        },
    )
    flood = api(
        "POST",
        "/schemes",
        {
            "name": "Everyone",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "department", "department_id": everyone["id"]}],
                }
            ],
        },
    )
    api(
        "POST",
        "/numbers",
        {
            "number": TWO_STEPS,
            "mode": "by_schedule",
            "schedule_id": always["id"],
            "scheme_id": two["id"],
            "off_hours_scheme_id": two["id"],
        },
    )
    api("POST", "/numbers", {"number": ALL_AT_ONCE, "scheme_id": flood["id"]})
    with db.connect(cfg.database_url) as conn:  # the employees went in by SQL: compile everything again
        client = redis.Redis.from_url(cfg.redis_url)
        rebuild_all(conn, client)
        client.close()


def percentiles(samples: list[int]) -> tuple[float, float, float]:
    samples.sort()
    return (
        samples[len(samples) // 2] / 1000,
        samples[int(len(samples) * 0.99)] / 1000,
        statistics.fmean(samples) / 1000,
    )


def timed(fn, iterations: int) -> tuple[float, float, float]:
    for _ in range(min(1000, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - started)
    return percentiles(samples)


def measure(employees: int, iterations: int) -> list:
    """The rows of the table for a company of ``employees``."""
    profile = fresh_stack()
    try:
        cfg = settings.load(profile.config_path)
        build_company(profile, cfg, employees)
        client = redis.Redis.from_url(cfg.redis_url)
        documents = {
            key: decode_document(client.get(key))[1]
            for key in (number_key(TWO_STEPS), number_key(ALL_AT_ONCE), company_key("demo.vpbx.test"))
        }
        worker = Worker(cfg)
        worker.connect()
        now = datetime(2026, 11, 23, 10, tzinfo=UTC)
        call = Call("bench", TWO_STEPS, "79161234567", "trunk", now)
        flood_call = Call("bench", ALL_AT_ONCE, "79161234567", "trunk", now)
        extension = str(2000 + employees // 2)  # a colleague's (build_company numbers them from 2000)
        phone_call = Call("bench", extension, "e1", "phone", now, "sip:e1@demo.vpbx.test")
        sizes = {k: len(client.get(k)) for k in documents}
        rows = [
            (
                "two steps",
                sizes[number_key(TWO_STEPS)],
                timed(lambda: build_plan(documents[number_key(TWO_STEPS)], call), iterations),
                timed(
                    lambda: worker.plan_for(dialled=TWO_STEPS, caller="79161234567", call_id="b", source="trunk"),
                    iterations,
                ),
            ),
            (
                f"all at once ({employees:,})",
                sizes[number_key(ALL_AT_ONCE)],
                timed(lambda: build_plan(documents[number_key(ALL_AT_ONCE)], flood_call), iterations // 10),
                timed(
                    lambda: worker.plan_for(dialled=ALL_AT_ONCE, caller="79161234567", call_id="b", source="trunk"),
                    iterations // 10,
                ),
            ),
            (
                "extension",
                sizes[company_key("demo.vpbx.test")],
                timed(
                    lambda: build_direct_plan(documents[company_key("demo.vpbx.test")], extension, phone_call),
                    iterations,
                ),
                timed(
                    lambda: worker.plan_for(
                        dialled=extension, caller="e1", call_id="b", source="phone", caller_domain="demo.vpbx.test"
                    ),
                    iterations,
                ),
            ),
        ]
        plan = build_plan(documents[number_key(TWO_STEPS)], call)
        print(
            f"two steps plan: {len(plan.steps)} steps; all at once: "
            f"{len(build_plan(documents[number_key(ALL_AT_ONCE)], flood_call).steps[0].targets)} targets "
            f"(of {employees}: the others are away)"
        )
    finally:
        manager.down(profile, say=lambda _: None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="instead: one company per size, a row per size (two steps and extension)"
    )
    args = parser.parse_args()
    if args.sizes:
        by_size = [(n, measure(n, args.iterations)) for n in args.sizes]
        print("\nplan cost by company size, µs (p50 / p99): build_plan is the pure library, plan_for the whole lookup")
        print(
            "| employees | number document bytes | two steps build_plan | two steps plan_for "
            "| company document bytes | extension build_plan | extension plan_for |"
        )
        print("|---|---|---|---|---|---|---|")
        for n, rows in by_size:
            two, ext = rows[0], rows[2]
            print(
                f"| {n:,} | {two[1]:,} | {two[2][0]:.1f} / {two[2][1]:.1f} | {two[3][0]:.1f} / {two[3][1]:.1f} "
                f"| {ext[1]:,} | {ext[2][0]:.1f} / {ext[2][1]:.1f} | {ext[3][0]:.1f} / {ext[3][1]:.1f} |"
            )
        return
    rows = measure(EMPLOYEES, args.iterations)
    print(
        f"\n{EMPLOYEES} employees; build_plan is the pure library on a parsed document, plan_for is a Kamailio "
        f"worker's whole lookup (one Redis round trip, then the plan); µs"
    )
    print("| case | document bytes | build_plan p50 | p99 | mean | plan_for p50 | p99 | mean |")
    print("|---|---|---|---|---|---|---|---|")
    for name, size, pure, whole in rows:
        print(
            f"| {name} | {size:,} | {pure[0]:.1f} | {pure[1]:.1f} | {pure[2]:.1f} "
            f"| {whole[0]:.1f} | {whole[1]:.1f} | {whole[2]:.1f} |"
        )


if __name__ == "__main__":
    main()
