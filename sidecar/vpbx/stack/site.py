"""Render the per-run-directory configuration files from a profile.

Secrets (the database password) are generated once and kept in vpbx.toml, so
re-running ``up`` is idempotent and never rotates a password under a running
service.
"""

from __future__ import annotations

import grp
import os
import secrets
import subprocess
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .profile import REPO_ROOT, Profile

# The configuration files Kamailio, rtpengine, Redis and every vpbx process
# read are the Ansible roles' templates: `make up` renders the same files a
# deployment does, from the same variables, so the two cannot drift.
ROLES_DIR = REPO_ROOT / "ansible" / "roles"
# As Ansible's template module renders (trim_blocks, the last newline kept).
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(ROLES_DIR)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 (configuration files, never HTML)
)

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


def site_packages() -> str:
    """The venv's site-packages, handed to Kamailio's embedded interpreter."""
    return sysconfig.get_path("purelib")


def render_template(role: str, name: str, context: dict) -> str:
    """One of a role's templates, rendered with the variables a deployment would give it."""
    return _TEMPLATES.get_template(f"{role}/templates/{name}.j2").render(context)


def rtpengine_conf(profile: Profile) -> Path:
    return profile.run_dir / "rtpengine" / "rtpengine.conf"


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
    # Rotating it would break every voicemail link already sent.
    existing = _existing(profile.config_path)
    # Redis answers only with this password (requirepass), kept across renders like the database's.
    redis_password = _existing_redis_password(existing) or secrets.token_urlsafe(24)
    link_secret = existing.get("media", {}).get("link_secret") or secrets.token_urlsafe(32)
    metrics_token = existing.get("metrics", {}).get("token") or secrets.token_urlsafe(32)
    log_format = existing.get("logging", {}).get("format", "text")
    # An operator's choice, kept across renders; the test suite's stand-in
    # customer servers listen on 127.0.5.0/24 (tests/e2e/customer_server.py).
    # The test suite's fuzzer sends thousands of requests a minute with one token.
    api_rates = (
        (existing.get("api", {}).get("rate_per_source"), existing.get("api", {}).get("rate_per_token"))
        if "api" in existing
        else ("20000/minute", "20000/minute")
        if profile.for_tests
        else ("1200/minute", "600/minute")
    )
    tls = existing.get("sip", {}).get("tls", {})
    generated_certificate, generated_key = self_signed_pair(profile)
    certificate = tls.get("certificate") or str(generated_certificate)
    private_key = tls.get("private_key") or str(generated_key)
    allowed_networks = existing.get("http", {}).get("allowed_networks", ["127.0.5.0/24"] if profile.for_tests else [])

    kamailio_dir = run / "kamailio"
    context = {
        "site_managed_by": (
            f"Generated by `vpbx stack up --profile {profile.name}` (vpbx.toml edits kept: passwords, link_secret, "
            "[api], [http], [sip.tls])"
        ),
        "site_profile": profile.name,
        "site_address": "127.0.0.1",
        "site_sip_address": profile.address,
        "site_sip_port": ports.sip,
        "site_sip_tls_port": ports.sip_tls,
        "site_sip_tls_certificate": certificate,
        "site_sip_tls_private_key": private_key,
        "site_rtp_min": ports.rtp_min,
        "site_rtp_max": ports.rtp_max,
        "site_rtpengine_ng_port": ports.rtpengine_ng,
        "site_rtpengine_http_port": ports.rtpengine_http,
        "site_kamailio_metrics_port": ports.kamailio_metrics,
        "site_postgresql_host": "127.0.0.1",
        "site_postgresql_port": ports.postgres,
        "site_database_name": DB_NAME,
        "site_database_user": DB_USER,
        "site_database_password": password,
        "site_redis_host": "127.0.0.1",
        "site_redis_port": ports.redis,
        "site_redis_password": redis_password,
        "site_redis_sentinels": [],  # one Redis, no sentinels
        "site_redis_master_name": "vpbx",
        "site_link_secret": link_secret,
        "site_metrics_token": metrics_token,
        "site_log_format": log_format,
        "site_sidecar_port": ports.sidecar,
        "site_media_sip_port": ports.media_sip,
        "site_media_dtmf_port": ports.media_dtmf,
        "site_media_rtp_min": ports.media_rtp_min,
        "site_media_rtp_max": ports.media_rtp_max,
        "site_demo_trunk_port": ports.demo_trunk,
        "site_state_dir": str(run),
        "site_code_dir": str(REPO_ROOT),
        "site_kamailio_rpc_socket": str(rpc_socket),
        "site_kamailio_runtime_dir": str(rpc_socket.parent),
        "kamailio_config_dir": str(kamailio_dir),
        "kamailio_lookup_workers": profile.lookup_workers,
        "kamailio_rtpengine_sockets": f"udp:127.0.0.1:{ports.rtpengine_ng}",
        "kamailio_cluster_hosts": [],  # one node: no DMQ
        "site_cluster_kamailio": [],
        "site_cluster_media_hosts": [],
        "redis_data_dir": str(run / "redis"),
        "site_api_rate_per_source": api_rates[0],
        "site_api_rate_per_token": api_rates[1],
        "site_http_allowed_networks": allowed_networks,
        "site_public_url": f"http://127.0.0.1:{ports.sidecar}",
        "site_tts_engine": "espeak",
        "site_voicemail_retention_days": 90,
        "site_smtp_host": "127.0.0.1",
        "site_smtp_port": ports.smtp,
        "site_smtp_sender": "vpbx voicemail <voicemail@vpbx.invalid>",
    }
    # Kamailio (group kamailio) reads vpbx.toml too: its Python workers load it.
    _write(profile.config_path, render_template("site", "vpbx.toml", context), mode=0o640, group=KAMAILIO_USER)
    kamailio_cfg = kamailio_dir / "kamailio.cfg"
    for name in ("kamailio.cfg", "tls.cfg"):
        _write(kamailio_dir / name, render_template("kamailio", name, context), mode=0o640, group=KAMAILIO_USER)
    redis_conf = run / "redis" / "redis.conf"
    _write(redis_conf, render_template("redis", "redis-base.conf", context), mode=0o600)
    _write(rtpengine_conf(profile), render_template("rtpengine", "rtpengine.conf", context))
    kamcli_ini = run / "kamcli.ini"
    _write(kamcli_ini, render_template("kamailio", "kamcli.ini", context))
    return SiteFiles(profile.config_path, kamailio_cfg, redis_conf, kamcli_ini, password)
