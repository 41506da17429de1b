"""The stack's services, each started, probed and stopped the same way.

Start order matters: PostgreSQL before migrations, Redis and rtpengine before
Kamailio (its workers connect in child_init), Kamailio before the sidecar (whose
/status asks it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import redis

from .. import call_log
from .. import settings as vpbx_settings
from ..documents import GENERATION_KEY
from ..kamailio_adapter.worker import history_spool_path
from ..kamailio_rpc import KamailioRpc
from ..media.load import media_app_load
from ..media.ng import NgClient
from . import process
from .profile import Profile
from .site import (
    DB_NAME,
    DB_USER,
    KAMAILIO_USER,
    ensure_tls_pair,
    kamailio_rpc_socket,
    rtpengine_conf,
    site_packages,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 30.0


def _as_user(user: str) -> list[str]:
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


class Service:
    name: ClassVar[str]
    program: ClassVar[str]  # what /proc/<pid>/cmdline must show for the pid file to be ours

    def __init__(self, profile: Profile):
        self.profile = profile
        self.pidfile = profile.run_dir / "pid" / f"{self.name}.pid"
        self.logfile = profile.log_dir / f"{self.name}.log"

    @property
    def address(self) -> str:
        raise NotImplementedError

    def pid(self) -> int | None:
        return process.running_pid(self.pidfile, self.program)

    def ready(self) -> bool:
        raise NotImplementedError

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def redis_client(self) -> redis.Redis:
        """A client of this stack's Redis (with its password), for readiness probes."""
        url = vpbx_settings.load(self.profile.config_path).redis_url
        return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def vpbx_command(self, *args: str) -> list[str]:
        """A command of our own CLI (the venv's, beside this interpreter) on this stack's settings."""
        return [str(Path(sys.executable).parent / "vpbx"), *args, "--config", str(self.profile.config_path)]

    def prepare(self) -> None:
        """Create whatever the service needs on disk before its first start."""

    def start(self) -> str:
        if self.pid() is not None:
            process.wait_for(self.ready, START_TIMEOUT, f"{self.name} to answer")
            return "already running"
        self.prepare()
        process.spawn(self.argv(), pidfile=self.pidfile, logfile=self.logfile, env=self.env())
        try:
            process.wait_for(self._alive_and_ready, START_TIMEOUT, f"{self.name} to answer")
        except process.StartError as exc:
            raise process.StartError(f"{exc}\n--- {self.logfile} ---\n{process.tail(self.logfile)}") from None
        return "started"

    def _alive_and_ready(self) -> bool:
        if self.pid() is None:
            raise process.StartError(f"{self.name} exited")
        return self.ready()

    def stop(self) -> bool:
        return process.stop(self.pidfile, self.program)


class Postgres(Service):
    name = "postgresql"
    program = "postgres"

    def __init__(self, profile: Profile):
        super().__init__(profile)
        self.pg_dir = profile.run_dir / "postgresql"
        self.data_dir = self.pg_dir / "data"
        self.pidfile = self.data_dir / "postmaster.pid"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.profile.ports.postgres} (socket dir {self.pg_dir})"

    def _pg(self, tool: str, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_as_user("postgres"), str(PG_BIN / tool), *args],
            check=check,
            capture_output=True,
            text=True,
            input=stdin,
        )

    def prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        _chown(self.pg_dir, "postgres")
        probe = subprocess.run([*_as_user("postgres"), "test", "-w", str(self.pg_dir)])
        if probe.returncode != 0:
            raise process.StartError(
                f"user postgres cannot write {self.pg_dir}: a parent directory is closed to it; "
                "set VPBX_RUN_ROOT to a directory it can reach"
            )
        self._pg(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
        )

    def start(self) -> str:
        if self.pid() is not None:
            return "already running"
        self.prepare()
        # pg_ctl writes the server log as user postgres.
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile.touch()
        _chown(self.logfile, "postgres")
        options = (
            f"-p {self.profile.ports.postgres} -k {self.pg_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        result = self._pg(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
            check=False,
        )
        if result.returncode != 0:
            raise process.StartError(
                f"postgresql did not start: {result.stdout}{result.stderr}\n{process.tail(self.logfile)}"
            )
        return "started"

    def stop(self) -> bool:
        if self.pid() is None:
            return False
        self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
        return True

    def ready(self) -> bool:
        result = self._pg("pg_isready", "-h", str(self.pg_dir), "-p", str(self.profile.ports.postgres), check=False)
        return result.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        # SQL goes on stdin: a command line is visible to every user in ps.
        result = self._pg(
            "psql",
            "-h",
            str(self.pg_dir),
            "-p",
            str(self.profile.ports.postgres),
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            stdin=sql,
        )
        return result.stdout.strip()

    def ensure_database(self, password: str) -> None:
        """Create the vpbx role and database if missing; keep the password in step with vpbx.toml."""
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'")
        verb = "ALTER" if exists else "CREATE"
        # The password never contains a quote: it is token_urlsafe output.
        self.psql(f"{verb} ROLE {DB_USER} LOGIN PASSWORD '{password}'")
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"):
            self.psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


class Redis(Service):
    name = "redis"
    program = "redis-server"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.profile.ports.redis}"

    def argv(self) -> list[str]:
        return ["redis-server", str(self.profile.run_dir / "redis" / "redis.conf")]

    def ready(self) -> bool:
        client = self.redis_client()
        try:
            return bool(client.ping())
        except redis.AuthenticationError:
            # Started by an older vpbx, before Redis had a password: give it the
            # one redis.conf now names instead of restarting it.
            self._require_password()
            raise
        finally:
            client.close()

    def _require_password(self) -> None:
        password = redis.connection.parse_url(vpbx_settings.load(self.profile.config_path).redis_url)["password"]
        bare = redis.Redis(port=self.profile.ports.redis, socket_timeout=0.5)
        try:
            bare.config_set("requirepass", password)
        except redis.RedisError:
            pass  # it has a password already (a different one): nothing this can mend
        finally:
            bare.close()


class CacheKeeper(Service):
    """Rebuilds the routing documents whenever Redis has lost them."""

    name = "cache-keeper"
    program = "vpbx"

    @property
    def address(self) -> str:
        return f"watches redis 127.0.0.1:{self.profile.ports.redis}"

    def argv(self) -> list[str]:
        return self.vpbx_command("cache", "keep")

    def ready(self) -> bool:
        client = self.redis_client()
        try:
            return bool(client.exists(GENERATION_KEY))
        finally:
            client.close()


class HistoryKeeper(Service):
    """Writes call history from Kamailio's events (a Redis stream) into PostgreSQL."""

    name = "history-keeper"
    program = "vpbx"

    @property
    def address(self) -> str:
        return f"reads redis 127.0.0.1:{self.profile.ports.redis} stream vpbx:history:events"

    def argv(self) -> list[str]:
        return self.vpbx_command("history", "keep")

    def ready(self) -> bool:
        client = self.redis_client()
        try:
            groups: Any = client.xinfo_groups("vpbx:history:events")  # redis-py: "Awaitable | Any"
            return any(g["name"] in (b"history-keeper", "history-keeper") for g in groups)
        except redis.ResponseError:
            return False  # no stream yet: the keeper creates it with its group
        finally:
            client.close()


class Rtpengine(Service):
    name = "rtpengine"
    program = "rtpengine"

    @property
    def address(self) -> str:
        p = self.profile.ports
        return (
            f"ng udp:127.0.0.1:{p.rtpengine_ng}, RTP {self.profile.address}:{p.rtp_min}-{p.rtp_max}, "
            f"http://127.0.0.1:{p.rtpengine_http}/metrics"
        )

    def argv(self) -> list[str]:
        # Addresses, ports and timeouts are all in the rendered file (the rtpengine role's template).
        return [
            "rtpengine",
            f"--config-file={rtpengine_conf(self.profile)}",
            "--config-section=rtpengine",
            "--foreground",
            "--log-stderr",
        ]

    def ready(self) -> bool:
        return NgClient("127.0.0.1", self.profile.ports.rtpengine_ng, timeout=0.3, attempts=1).ping()


class MediaApp(Service):
    """Answers the calls vpbx handles itself (IVR, voicemail); rtpengine sends it the digits."""

    name = "media-app"
    program = "vpbx"

    @property
    def address(self) -> str:
        media = self.profile.ports
        return f"SIP udp:127.0.0.1:{media.media_sip}, DTMF log udp:127.0.0.1:{media.media_dtmf}"

    def argv(self) -> list[str]:
        return self.vpbx_command("media", "run")

    def ready(self) -> bool:
        """Answers SIP OPTIONS."""
        return media_app_load(self.profile.ports.media_sip) is not None


class Kamailio(Service):
    name = "kamailio"
    program = "kamailio"

    def __init__(self, profile: Profile):
        super().__init__(profile)
        self.runtime_dir = profile.run_dir / "kamailio" / "runtime"

    @property
    def address(self) -> str:
        p = self.profile.ports
        return (
            f"SIP udp+tcp:{self.profile.address}:{p.sip}, tls:{self.profile.address}:{p.sip_tls}, "
            f"JSON-RPC {kamailio_rpc_socket(self.profile)} "
            f"(kamcli -c {self.profile.run_dir / 'kamcli.ini'} rpc core.uptime), "
            f"http://127.0.0.1:{p.kamailio_metrics}/metrics"
        )

    def prepare(self) -> None:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        spool_dir = history_spool_path(vpbx_settings.load(self.profile.config_path)).parent
        spool_dir.mkdir(parents=True, exist_ok=True)
        if self._drop_privileges():
            _chown(self.runtime_dir, KAMAILIO_USER)
            _chown(spool_dir, KAMAILIO_USER)
        tls = vpbx_settings.load(self.profile.config_path).sip_tls
        if tls is not None:
            ensure_tls_pair(self.profile, tls.certificate, tls.private_key)

    @staticmethod
    def _drop_privileges() -> bool:
        if os.geteuid() != 0:
            return False
        try:
            pwd.getpwnam(KAMAILIO_USER)
        except KeyError:
            return False
        return True

    def argv(self) -> list[str]:
        argv = [
            "kamailio",
            "-f",
            str(self.profile.run_dir / "kamailio" / "kamailio.cfg"),
            "-DD",
            "-E",
            "-Y",
            str(self.runtime_dir),
            "-m",
            "128",
            "-M",
            "16",
        ]
        if self._drop_privileges():
            argv += ["-u", KAMAILIO_USER, "-g", KAMAILIO_USER]
        if vpbx_settings.load(self.profile.config_path).log_format == call_log.JSON:
            argv.append(call_log.KAMAILIO_JSON_ENGINE)
        return argv

    def env(self) -> dict[str, str]:
        env = super().env()
        env["VPBX_CONFIG"] = str(self.profile.config_path)
        env["VPBX_SITE_PACKAGES"] = site_packages()
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def ready(self) -> bool:
        rpc = KamailioRpc(kamailio_rpc_socket(self.profile), timeout=1.0)
        return bool(rpc.call("core.version"))


class Sidecar(Service):
    name = "sidecar"
    program = "gunicorn"

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.profile.ports.sidecar} (/status, /metrics)"

    def argv(self) -> list[str]:
        # The CLI runs from the venv, whose bin/ also holds gunicorn.
        gunicorn = Path(sys.executable).parent / "gunicorn"
        return [
            str(gunicorn),
            "--config",
            "python:vpbx.api.gunicorn_config",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.profile.ports.sidecar}",
            "--access-logfile",
            "-",
            "--logger-class",
            "vpbx.api.access_log.RedactingLogger",
            "--graceful-timeout",
            "5",
            "vpbx.api:create_app()",
        ]

    def env(self) -> dict[str, str]:
        env = super().env()
        env["VPBX_CONFIG"] = str(self.profile.config_path)
        return env

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.profile.ports.sidecar}/status"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status in (200, 503)
        except urllib.error.HTTPError as exc:  # 503 still means the sidecar answers
            return exc.code == 503


def database_ready(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)
