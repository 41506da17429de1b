"""Render the per-run-directory configuration files from a profile.

Secrets (the database password) are generated once and kept in vpbx.toml, so
re-running ``up`` is idempotent and never rotates a password under a running
service.
"""

from __future__ import annotations

import grp
import json
import os
import secrets
import subprocess
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .profile import REPO_ROOT, Profile

DB_NAME = "vpbx"
DB_USER = "vpbx"
KAMAILIO_USER = "kamailio"


def _give_group(path: Path, group: str) -> None:
    """root's file, readable by ``group`` (when that group exists and we are root)."""
    if os.geteuid() == 0:
        try:
            os.chown(path, 0, grp.getgrnam(group).gr_gid)
        except KeyError:
            pass


def _write(path: Path, text: str, *, mode: int = 0o644, group: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    if group:
        _give_group(tmp, group)
    tmp.replace(path)


@dataclass(frozen=True)
class SiteFiles:
    config: Path
    kamailio_cfg: Path
    redis_conf: Path
    kamcli_ini: Path
    database_password: str


def _existing(config_path: Path) -> dict:
    try:
        with open(config_path, "rb") as fh:
            return tomllib.load(fh)
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return {}


def _existing_db_password(config_path: Path) -> str | None:
    url = _existing(config_path).get("database_url")
    if url is None:
        return None
    # postgresql://user:password@host:port/db
    credentials = url.split("://", 1)[1].split("@", 1)[0]
    return credentials.split(":", 1)[1] if ":" in credentials else None


def _existing_redis_password(existing: dict) -> str | None:
    # redis://:password@host:port/db
    credentials = existing.get("redis_url", "").split("://", 1)[-1].partition("@")
    return credentials[0].lstrip(":") or None if credentials[1] else None


def database_url(profile: Profile, password: str) -> str:
    return f"postgresql://{DB_USER}:{password}@127.0.0.1:{profile.ports.postgres}/{DB_NAME}"


def site_packages() -> str:
    """The venv's site-packages, handed to Kamailio's embedded interpreter."""
    return sysconfig.get_path("purelib")


def kamailio_rpc_socket(profile: Profile) -> Path:
    return profile.run_dir / "kamailio" / "runtime" / "kamailio_rpc.sock"


def self_signed_pair(profile: Profile) -> tuple[Path, Path]:
    """Where ``up`` keeps the certificate and key it makes when none is named."""
    tls_dir = profile.run_dir / "kamailio" / "tls"
    return tls_dir / "vpbx.crt", tls_dir / "vpbx.key"


def ensure_tls_pair(profile: Profile, certificate: Path, private_key: Path) -> None:
    """Make the self-signed pair if it is the one configured and is missing.

    An operator's own pair is never generated over: a missing one is an error
    here rather than a Kamailio that will not start.
    """
    if certificate.exists() and private_key.exists():
        return
    if (certificate, private_key) != self_signed_pair(profile):
        raise FileNotFoundError(
            f"[sip.tls] in {profile.config_path} names {certificate} and {private_key}; both must exist"
        )
    certificate.parent.mkdir(parents=True, exist_ok=True)
    # The address phones connect to is in the certificate, so a phone told to
    # trust it can also check that it reached the right host.
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            f"/CN=vpbx {profile.name} {profile.address}",
            "-addext",
            f"subjectAltName=IP:{profile.address}",
            "-keyout",
            str(private_key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(private_key, 0o640)
    _give_group(private_key, KAMAILIO_USER)


def render(profile: Profile) -> SiteFiles:
    ports = profile.ports
    run = profile.run_dir
    rpc_socket = kamailio_rpc_socket(profile)
    password = _existing_db_password(profile.config_path) or secrets.token_urlsafe(24)
    db_url = database_url(profile, password)
    # Rotating it would break every voicemail link already sent.
    existing = _existing(profile.config_path)
    # Redis answers only with this password (requirepass), kept across renders like the database's.
    redis_password = _existing_redis_password(existing) or secrets.token_urlsafe(24)
    link_secret = existing.get("media", {}).get("link_secret") or secrets.token_urlsafe(32)
    # An operator's choice, kept across renders; the test suite's stand-in
    # customer servers listen on 127.0.5.0/24 (tests/e2e/customer_server.py).
    # The test suite's fuzzer sends thousands of requests a minute with one token.
    api_rates = (
        (existing.get("api", {}).get("rate_per_source"), existing.get("api", {}).get("rate_per_token"))
        if "api" in existing
        else ("20000/minute", "20000/minute")
        if profile.name == "test"
        else ("1200/minute", "600/minute")
    )
    tls = existing.get("sip", {}).get("tls", {})
    generated_certificate, generated_key = self_signed_pair(profile)
    certificate = tls.get("certificate") or str(generated_certificate)
    private_key = tls.get("private_key") or str(generated_key)
    allowed_networks = existing.get("http", {}).get(
        "allowed_networks", ["127.0.5.0/24"] if profile.name == "test" else []
    )

    _write(
        profile.config_path,
        f"""# Generated by `vpbx stack up --profile {profile.name}`; edits are kept only for the database
# and Redis passwords, the link secret, the API's rate limits, http.allowed_networks
# and the TLS certificate (sip.tls).
database_url = "{db_url}"
redis_url = "redis://:{redis_password}@127.0.0.1:{ports.redis}/0"
run_dir = "{run}"
profile = "{profile.name}"
demo_trunk_port = {ports.demo_trunk}
kamailio_rpc = "{rpc_socket}"

[api]
# Admin API requests per source address and per token, shared by every worker
# (counted in Redis); over them: 429 with Retry-After.
rate_per_source = "{api_rates[0]}"
rate_per_token = "{api_rates[1]}"

[http]
# Customers' webhook and CRM URLs reach public addresses only; list here the
# internal networks they may reach too (CIDR), e.g. ["10.20.0.0/16"].
allowed_networks = {json.dumps(allowed_networks)}

[rtpengine_ng]
host = "127.0.0.1"
port = {ports.rtpengine_ng}

[sip]
host = "{profile.address}"
port = {ports.sip}

[sip.tls]
port = {ports.sip_tls}
# The PEM certificate (with its chain) and key Kamailio presents on the TLS
# port. By default a self-signed pair `vpbx stack up` made for this address;
# name a real one here (readable by the kamailio group), then `make up`.
certificate = "{certificate}"
private_key = "{private_key}"

[sidecar]
host = "127.0.0.1"
port = {ports.sidecar}

[media]
dtmf_port = {ports.media_dtmf}
rtp_min = {ports.media_rtp_min}
rtp_max = {ports.media_rtp_max}
data_dir = "{run / "media"}"
public_url = "http://127.0.0.1:{ports.sidecar}"
link_secret = "{link_secret}"
# "gtts" reads text prompts with Google's voices (espeak-ng still reads them when
# Google cannot be reached); "espeak" never leaves this host.
tts_engine = "espeak"

[media.sip]
host = "127.0.0.1"
port = {ports.media_sip}

[media.smtp]
host = "127.0.0.1"
port = {ports.smtp}
sender = "vpbx voicemail <voicemail@vpbx.invalid>"
""",
        mode=0o640,
        group=KAMAILIO_USER,
    )

    kamailio_dir = run / "kamailio"
    kamailio_cfg = kamailio_dir / "kamailio.cfg"
    # Kamailio's db_postgres wants the postgres:// scheme.
    kamailio_db_url = db_url.replace("postgresql://", "postgres://", 1)
    _write(
        kamailio_cfg,
        f"""#!KAMAILIO
# Site values for this run directory; everything else is in the repository's kamailio.cfg.
#!define VPBX_SIP_ADDR {profile.address}
#!define VPBX_SIP_PORT {ports.sip}
#!define VPBX_REGISTER_CONTACT "{profile.address}:{ports.sip}"
#!define VPBX_RPC_SOCKET "{rpc_socket}"
#!define VPBX_RTPENGINE_SOCK "udp:127.0.0.1:{ports.rtpengine_ng}"
#!define VPBX_DBURL "{kamailio_db_url}"
#!define VPBX_SIP_TLS_PORT {ports.sip_tls}
#!define VPBX_TLS_CONFIG "{kamailio_dir / "tls.cfg"}"
#!define VPBX_LOOKUP_WORKERS "name=lookups;workers={profile.lookup_workers}"
#!define VPBX_REDIS_SERVER "name=vpbx;addr=127.0.0.1;port={ports.redis};db=0;pass={redis_password}"
#!define VPBX_MEDIA_APP_HOST "127.0.0.1"
#!define VPBX_MEDIA_APP_PORT {ports.media_sip}
#!define VPBX_KEMI_SCRIPT "{REPO_ROOT / "kamailio" / "vpbx_kemi.py"}"
include_file "{REPO_ROOT / "kamailio" / "kamailio.cfg"}"
""",
        mode=0o640,
        group=KAMAILIO_USER,
    )

    # TLS 1.2 and later only. Phones are not asked for certificates: they
    # prove who they are with digest, as over UDP.
    _write(
        kamailio_dir / "tls.cfg",
        f"""# Generated: Kamailio's tls module profiles for this run directory.
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {certificate}
private_key = {private_key}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
""",
        mode=0o640,
        group=KAMAILIO_USER,
    )

    redis_conf = run / "redis" / "redis.conf"
    _write(
        redis_conf,
        f"""# Generated: Redis holds compiled routing documents and shared runtime state,
# all rebuildable from PostgreSQL.
bind 127.0.0.1
port {ports.redis}
protected-mode yes
requirepass {redis_password}
daemonize no
dir {run / "redis"}
dbfilename dump.rdb
save 300 1
appendonly no
maxmemory-policy noeviction
""",
        mode=0o600,
    )

    kamcli_ini = run / "kamcli.ini"
    _write(
        kamcli_ini,
        f"""# kamcli -c {kamcli_ini} <command>
[main]
domain=demo.vpbx.test

[ctl]
type=jsonrpc

[jsonrpc]
kamgroup={KAMAILIO_USER}
transport=socket
srvaddr={rpc_socket}
rcvaddr={rpc_socket.parent / "kamcli_reply.sock"}
outformat=yaml
""",
    )
    return SiteFiles(profile.config_path, kamailio_cfg, redis_conf, kamcli_ini, password)
