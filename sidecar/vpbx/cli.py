"""The ``vpbx`` command: stack lifecycle and operator tasks."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from . import call_log, db, settings
from .stack import manager
from .stack.process import StartError
from .stack.profile import profile as load_profile

profile_option = click.option(
    "--profile",
    "profile_name",
    default="dev",
    show_default=True,
    envvar="VPBX_PROFILE",
    help="Which stack: 'dev' (make up) or 'test' (the test suite's own ports and run dir).",
)


@click.group()
def main() -> None:
    """vpbx: a virtual PBX on Kamailio and rtpengine."""


@main.group()
def stack() -> None:
    """Run the whole stack as local processes."""


@stack.command()
@profile_option
def up(profile_name: str) -> None:
    """Start PostgreSQL, Redis, rtpengine, Kamailio and the sidecar; seed the demo company."""
    if os.geteuid() != 0:
        click.echo("warning: not root; PostgreSQL and Kamailio run as the current user", err=True)
    try:
        manager.up(load_profile(profile_name), say=click.echo)
    except StartError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@stack.command()
@profile_option
def down(profile_name: str) -> None:
    """Stop exactly the processes `up` started for this profile."""
    manager.down(load_profile(profile_name), say=click.echo)


@stack.command()
@profile_option
def status(profile_name: str) -> None:
    """Show which services are running and answering. Exit 1 unless all are."""
    states = manager.status(load_profile(profile_name))
    for state in states:
        label = "up" if state.ready else ("running, not answering" if state.pid else "down")
        pid = f"pid {state.pid}" if state.pid else ""
        click.echo(f"{state.name:<15} {label:<24} {pid:<11} {state.address}")
    sys.exit(0 if all(s.ready for s in states) else 1)


def _settings(config: str | None) -> settings.Settings:
    if config is None and not os.environ.get(settings.CONFIG_ENV):
        config = str(load_profile("dev").config_path)
    try:
        return settings.load(config)
    except settings.SettingsError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"A run directory's vpbx.toml (default: ${settings.CONFIG_ENV}, else the dev stack's).",
)


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command()
@config_option
def migrate(config: str | None) -> None:
    """Apply pending migrations from sql/."""
    applied = db.migrate(_settings(config).database_url)
    click.echo(f"applied: {', '.join(applied)}" if applied else "up to date")


@main.group()
def cache() -> None:
    """The compiled routing documents in Redis."""


@cache.command()
@config_option
def rebuild(config: str | None) -> None:
    """Recompile every number from PostgreSQL into Redis."""
    from . import redis_client
    from .config.compile import rebuild_all
    from .config.publish import forget_kept_versions
    from .kamailio_rpc import KamailioRpc

    cfg = _settings(config)
    client = redis_client.connect(cfg)
    with db.connect(cfg.database_url) as conn:
        click.echo(f"{rebuild_all(conn, client)} number document(s) compiled")
    forget_kept_versions(KamailioRpc(cfg.kamailio_rpc))


@cache.command()
@config_option
@click.option("--interval", default=0.5, show_default=True, help="Seconds between checks.")
def keep(config: str | None, interval: float) -> None:
    """Watch Redis and rebuild every document from PostgreSQL whenever it has lost them."""
    import logging
    import time

    import psycopg
    import redis

    from . import redis_client
    from .config.compile import rebuild_all
    from .config.publish import forget_kept_versions
    from .documents import GENERATION_KEY
    from .heartbeats import CACHE_KEEPER, Heartbeat
    from .kamailio_rpc import KamailioRpc

    cfg = _settings(config)
    call_log.configure("cache-keeper", cfg.log_format)
    log = logging.getLogger("vpbx.cache")
    client = redis_client.connect(cfg, socket_timeout=2, socket_connect_timeout=2)
    log.info("watching Redis")
    heartbeat = Heartbeat(client, CACHE_KEEPER, cfg.sip.host)
    seen_run = None
    while True:
        try:
            heartbeat.beat()
            # A Redis that restarted may have loaded a snapshot taken minutes
            # ago, documents and all: older than PostgreSQL, so rebuild then too.
            info: Any = client.info("server")  # redis-py types sync replies as "Awaitable | Any"
            run = info["run_id"]
            restarted = seen_run is not None and run != seen_run
            # Several keepers (one per node) may watch one Redis: one rebuilds.
            if (restarted or not client.exists(GENERATION_KEY)) and client.set(
                "vpbx:cache:rebuilding", 1, nx=True, ex=60
            ):
                try:
                    with db.connect(cfg.database_url) as conn:
                        log.warning(
                            "routing documents %s: rebuilt %d numbers",
                            "possibly stale after a Redis restart" if restarted else "missing from Redis",
                            rebuild_all(conn, client),
                        )
                    forget_kept_versions(KamailioRpc(cfg.kamailio_rpc))
                finally:
                    client.delete("vpbx:cache:rebuilding")
            seen_run = run
        except (redis.RedisError, psycopg.Error) as exc:
            log.error("cannot rebuild now: %s", exc)
        time.sleep(interval)


@main.group()
def history() -> None:
    """Call history."""


@history.command("keep")
@config_option
def history_keep(config: str | None) -> None:
    """Write the call events Kamailio emits into PostgreSQL's call history."""
    import logging
    import socket

    from . import redis_client
    from .heartbeats import HISTORY_KEEPER, Heartbeat
    from .history.keeper import keep

    cfg = _settings(config)
    call_log.configure("history-keeper", cfg.log_format)
    client = redis_client.connect(cfg, socket_timeout=5, socket_connect_timeout=2)
    logging.getLogger("vpbx.history").info("writing call history from Redis")
    heartbeat = Heartbeat(client, HISTORY_KEEPER, cfg.sip.host)
    keep(
        client,
        lambda: db.connect(cfg.database_url, autocommit=True),
        consumer=socket.gethostname(),
        heartbeat=heartbeat.beat,
    )


@main.group()
def media() -> None:
    """The media app: IVR menus and voicemail."""


@media.command("run")
@config_option
def media_run(config: str | None) -> None:
    """Answer the calls vpbx handles itself, until stopped."""
    import asyncio
    import signal

    from .media.app import serve

    cfg = _settings(config)
    call_log.configure("media-app", cfg.log_format)

    async def run() -> None:
        task = asyncio.ensure_future(serve(cfg))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(run())


@main.group()
def company() -> None:
    """Tenants."""


@company.command("create")
@config_option
@click.option("--name", required=True)
@click.option("--domain", "sip_domain", required=True, help="The company's SIP domain (its phones' realm).")
@click.option("--timezone", default="Europe/Moscow", show_default=True)
@click.option("--admin-name", required=True)
@click.option("--admin-extension", required=True)
@click.option("--admin-email", default=None)
def company_create(config, name, sip_domain, timezone, admin_name, admin_extension, admin_email) -> None:
    """Create a company with its first administrator; prints the admin's SIP password and API token once."""
    from . import redis_client
    from .config.companies import create_company
    from .config.publish import forget_kept_versions, publish
    from .kamailio_rpc import KamailioRpc

    cfg = _settings(config)
    with db.connect(cfg.database_url) as conn:
        created = create_company(
            conn,
            name=name,
            sip_domain=sip_domain,
            timezone=timezone,
            admin_name=admin_name,
            admin_extension=admin_extension,
            admin_email=admin_email,
        )
        publish(conn, redis_client.connect(cfg), domains=[sip_domain])
    forget_kept_versions(KamailioRpc(cfg.kamailio_rpc))
    click.echo(f"company {created.company_id}: admin {admin_extension} SIP password {created.admin_sip_password}")
    click.echo(f"admin API token: {created.admin_token}")


@main.group()
def trunk() -> None:
    """Carrier trunks: inbound by source address, outbound gateways with failover."""


@trunk.command("save")
@config_option
@click.option("--name", required=True)
@click.option("--address", required=True, help="The carrier's IP address (or network, for inbound).")
@click.option("--port", type=int, default=0, show_default=True, help="0: any source port; 5060 to send to.")
@click.option("--region", default="RU", show_default=True, help="How the carrier's national numbers read.")
@click.option("--outbound/--inbound-only", default=False, show_default=True, help="Carries calls to the PSTN.")
@click.option("--priority", type=int, default=0, show_default=True, help="Outbound: the highest is tried first.")
@click.option("--auth-user", default=None, help="Outbound: the digest username the carrier asks for.")
@click.option(
    "--auth-password",
    default=None,
    envvar="VPBX_TRUNK_PASSWORD",
    help="Outbound: the password (or set VPBX_TRUNK_PASSWORD, which no process list shows).",
)
@click.option("--register/--no-register", default=False, show_default=True, help="Outbound: register to the carrier.")
@click.option("--register-domain", default=None, help="The carrier's registrar domain (default: its address).")
@click.option(
    "--caller-id-in",
    "caller_id_header",
    type=click.Choice(["from_and_pai", "pai", "from"]),
    default="from_and_pai",
    show_default=True,
    help="Outbound: where the carrier wants the caller's number.",
)
@click.option("--from-user", default=None, help="With --caller-id-in pai: the From user (default: --auth-user).")
def trunk_save(
    config,
    name,
    address,
    port,
    region,
    outbound,
    priority,
    auth_user,
    auth_password,
    register,
    register_domain,
    caller_id_header,
    from_user,
) -> None:
    """Add a trunk or change the one of that name; Kamailio picks it up at once."""
    from .config.trunks import reload_kamailio, save_trunk
    from .kamailio_rpc import KamailioRpc

    cfg = _settings(config)
    with db.connect(cfg.database_url) as conn:
        try:
            saved = save_trunk(
                conn,
                name=name,
                address=address,
                port=port,
                region=region,
                outbound=outbound,
                priority=priority,
                auth_username=auth_user,
                auth_password=auth_password,
                register=register,
                register_domain=register_domain,
                caller_id_header=caller_id_header,
                from_user=from_user,
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
    reload_kamailio(KamailioRpc(cfg.kamailio_rpc), {saved.id: saved.register})
    click.echo(
        f"trunk {saved.id} {saved.name}: {saved.address}:{saved.port} {saved.region}"
        + (f", outbound priority {saved.priority}" if saved.outbound else ", inbound only")
        + (f", digest credentials of {saved.auth_username}" if saved.auth_username else "")
        + (", registers to the carrier" if saved.register else "")
    )


@trunk.command("remove")
@config_option
@click.option("--name", required=True)
def trunk_remove(config, name) -> None:
    from .config.trunks import reload_kamailio, remove_trunk
    from .kamailio_rpc import KamailioRpc

    cfg = _settings(config)
    with db.connect(cfg.database_url) as conn:
        removed = remove_trunk(conn, name)
        if removed is None:
            raise click.BadParameter(f"no trunk named {name!r}")
    reload_kamailio(KamailioRpc(cfg.kamailio_rpc), {removed: False})


@trunk.command("list")
@config_option
def trunk_list(config) -> None:
    from .config.trunks import list_trunks

    with db.connect(_settings(config).database_url) as conn:
        for t in list_trunks(conn):
            click.echo(
                f"{t.name}\t{t.address}:{t.port}\t{t.region}\t"
                + (f"outbound priority {t.priority}" if t.outbound else "inbound only")
                + (f"\tdigest credentials of {t.auth_username}" if t.auth_username else "")
                + ("\tregisters" if t.register else "")
            )


@main.group("operator-token")
def operator_token() -> None:
    """API tokens of the operator: they manage the trunks (/api/v1/trunks), nothing of a company's."""


@operator_token.command("issue")
@config_option
@click.option("--label", default="", help="What the token is for.")
@click.option(
    "--days", type=click.IntRange(1, 3650), default=None, help="Expires after this many days (default: never)."
)
def operator_token_issue(config, label, days) -> None:
    """Print a new operator token (shown once: only its digest is stored)."""
    from datetime import UTC, datetime, timedelta

    from .config.tokens import issue_operator_token

    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with db.connect(_settings(config).database_url) as conn:
        click.echo(issue_operator_token(conn, label, expires))


@operator_token.command("ensure")
@config_option
@click.option("--label", default="", help="What the token is for.")
def operator_token_ensure(config, label) -> None:
    """Register the operator token read from stdin unless it is known already.

    A deployment generates its bootstrap token once and keeps it with its other
    secrets; this makes it valid, and says "registered" only when it was not.
    """
    from .config.tokens import TOKEN_PREFIX, token_digest

    token = sys.stdin.readline().strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) < len(TOKEN_PREFIX) + 32:
        raise click.ClickException(f"an operator token starts with {TOKEN_PREFIX} and has 32 characters more at least")
    with db.connect(_settings(config).database_url) as conn, conn.transaction():
        known = conn.execute("SELECT 1 FROM operator_tokens WHERE token_sha256 = %s", (token_digest(token),)).fetchone()
        if not known:
            conn.execute(
                "INSERT INTO operator_tokens (token_sha256, label) VALUES (%s, %s)", (token_digest(token), label)
            )
    click.echo("present" if known else "registered")


@main.group()
def demo() -> None:
    """The demo company `make up` seeds (a deployment can seed it too)."""


@demo.command("seed")
@config_option
@click.option("--credentials", type=click.Path(dir_okay=False), required=True, help="Where to keep its passwords.")
def demo_seed(config, credentials) -> None:
    """Create or refresh the demo company and compile its numbers into Redis."""
    from . import redis_client
    from .config import compile as compiler
    from .config import demo as demo_company

    cfg = _settings(config)
    client = redis_client.connect(cfg)
    try:
        with db.connect(cfg.database_url) as conn:
            accounts = demo_company.seed(conn, Path(credentials), cfg.demo_trunk_port)
            compiler.rebuild_all(conn, client)
    finally:
        client.close()
    click.echo(f"demo company seeded: {len(accounts)} account(s); passwords in {credentials}")


@demo.command("call")
@profile_option
@click.option("--seconds", default=3.0, show_default=True, help="How long the call lasts once answered.")
def demo_call(profile_name: str, seconds: float) -> None:
    """Place a first call with no softphone: SIPp registers 101 and answers as
    her phone, the demo carrier calls the demo number; then its history line."""
    from .stack.demo_call import DemoCallFailed, place

    try:
        place(load_profile(profile_name), talk_seconds=seconds, say=click.echo)
    except (DemoCallFailed, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None


@main.group("sip-ban")
def sip_ban() -> None:
    """Sources Kamailio refuses for 15 minutes: flooders and password guessers."""


@sip_ban.command("list")
@config_option
def sip_ban_list(config) -> None:
    from .kamailio_rpc import KamailioRpc
    from .sip_bans import bans

    for ban in bans(KamailioRpc(_settings(config).kamailio_rpc)):
        click.echo(f"{ban.source}\t{ban.reason}")


@sip_ban.command("lift")
@config_option
@click.argument("source")
def sip_ban_lift(config, source) -> None:
    """Let SOURCE (an IP address) in again, its failed authentications forgotten."""
    from .kamailio_rpc import KamailioRpc
    from .sip_bans import lift

    if not lift(KamailioRpc(_settings(config).kamailio_rpc), source):
        raise click.BadParameter(f"{source} is not banned")
    click.echo(f"{source}: ban lifted")


@main.group("node")
def node() -> None:
    """This host's Kamailio in a cluster: drain it before a stop, take it back."""


@node.command("drain")
@config_option
@click.option("--timeout", "timeout_s", type=float, default=300.0, show_default=True, help="Seconds to wait for calls.")
def node_drain(config, timeout_s) -> None:
    """Start no new calls here and wait for the node's calls to end.
    Exit 1 if some were still up after --timeout (the node stays draining)."""
    from . import node_drain as drain
    from .kamailio_rpc import KamailioRpc, RpcError

    rpc = KamailioRpc(_settings(config).kamailio_rpc)
    drain.start(rpc)
    done = drain.wait(rpc, timeout_s, report=lambda left: click.echo(f"calls on this node: {left}"))
    if done.calls_left:
        click.echo(f"{done.calls_left} call(s) still up after {done.waited_s:.0f} s:", err=True)
        try:
            for line in drain.left(rpc):
                click.echo(f"  {line}", err=True)
        except (RpcError, TimeoutError, OSError) as exc:  # too many to list in one datagram
            click.echo(f"  (not listed: {exc})", err=True)
        sys.exit(1)
    click.echo(f"drained in {done.waited_s:.1f} s")


@node.command("undrain")
@config_option
def node_undrain(config) -> None:
    """Take new calls and registrations again."""
    from . import node_drain as drain
    from .kamailio_rpc import KamailioRpc

    drain.end(KamailioRpc(_settings(config).kamailio_rpc))
    click.echo("taking new calls")


if __name__ == "__main__":
    main()
