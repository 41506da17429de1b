"""Bring a whole stack up, down, or report on it. Every step is idempotent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import db, redis_client, settings
from ..config import compile as compiler
from ..config import demo
from . import site
from .process import wait_for
from .profile import Profile
from .services import (
    CacheKeeper,
    HistoryKeeper,
    Kamailio,
    MediaApp,
    Postgres,
    Redis,
    Rtpengine,
    Service,
    Sidecar,
    database_ready,
)


def services(profile: Profile) -> list[Service]:
    """In start order."""
    return [
        Postgres(profile),
        Redis(profile),
        CacheKeeper(profile),
        HistoryKeeper(profile),
        Rtpengine(profile),
        MediaApp(profile),
        Kamailio(profile),
        Sidecar(profile),
    ]


def credentials_file(profile: Profile) -> Path:
    return profile.run_dir / "demo-credentials.json"


@dataclass
class ServiceState:
    name: str
    pid: int | None
    ready: bool
    address: str


def up(profile: Profile, say: Callable[[str], None] = print) -> None:
    started = time.monotonic()
    files = site.render(profile)
    cfg = settings.load(files.config)
    postgres, redis_service, keeper, history_keeper, rtpengine, media_app, kamailio, sidecar = services(profile)
    if not isinstance(postgres, Postgres):
        raise TypeError("services() starts with PostgreSQL")

    say(f"postgresql: {postgres.start()}")
    postgres.ensure_database(files.database_password)
    wait_for(lambda: database_ready(cfg.database_url), 15, "the vpbx database")
    applied = db.migrate(cfg.database_url)
    say(f"migrations: {', '.join(applied) if applied else 'up to date'}")

    say(f"redis: {redis_service.start()}")
    with db.connect(cfg.database_url) as conn:
        accounts = demo.seed(conn, credentials_file(profile), profile.ports.demo_trunk)
        cache = redis_client.connect(cfg)
        try:
            count = compiler.rebuild_all(conn, cache)
        finally:
            cache.close()
    say(f"demo company seeded; {count} number document(s) compiled into Redis")
    say(f"cache-keeper: {keeper.start()}")
    say(f"history-keeper: {history_keeper.start()}")

    # Kamailio's workers connect to Redis and rtpengine in child_init: start them first.
    say(f"rtpengine: {rtpengine.start()}")
    say(f"media-app: {media_app.start()}")
    say(f"kamailio: {kamailio.start()}")
    say(f"sidecar: {sidecar.start()}")

    say(f"\nvpbx stack '{profile.name}' is up in {time.monotonic() - started:.1f}s (run dir {profile.run_dir})")
    for service in services(profile):
        say(f"  {service.name:<14} {service.address}")
    say(f"  {'logs':<14} {profile.log_dir}")
    say(f"\nDemo company: SIP domain {demo.DEMO_DOMAIN}, number {demo.DEMO_NUMBER}")
    for account in accounts:
        say(f"  {account.extension} {account.name}: login {account.login} password {account.password}")
    say(f"  (kept in {credentials_file(profile)})")


def down(profile: Profile, say: Callable[[str], None] = print) -> None:
    for service in reversed(services(profile)):
        say(f"{service.name}: {'stopped' if service.stop() else 'was not running'}")


def status(profile: Profile) -> list[ServiceState]:
    states = []
    for service in services(profile):
        pid = service.pid()
        ready = False
        if pid is not None:
            try:
                ready = bool(service.ready())
            except Exception:
                ready = False
        states.append(ServiceState(service.name, pid, ready, service.address))
    return states
