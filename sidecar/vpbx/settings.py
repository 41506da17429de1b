"""Site settings shared by every vpbx process (sidecar, Kamailio workers, CLI).

One TOML file, named by the VPBX_CONFIG environment variable, is the single
source; the stack manager renders it for each run directory so that Kamailio's
embedded interpreter and gunicorn see exactly the same values.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .addresses import IPNetwork

CONFIG_ENV = "VPBX_CONFIG"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Media:
    """The media app: where it listens, where it keeps recordings and prompts,
    and how it tells voicemail recipients."""

    sip: Endpoint
    dtmf_port: int  # rtpengine's --dtmf-log-dest points here
    rtp_min: int
    rtp_max: int
    data_dir: Path
    smtp: Smtp
    # Links in voicemail email: the sidecar as recipients reach it, and the key signing them.
    public_url: str
    link_secret: str
    # Who reads text prompts aloud: "espeak" (offline) or "gtts" (Google, espeak-ng when it fails).
    tts_engine: str = "espeak"
    # Voicemail messages and their recordings are deleted this many days after they were left.
    message_retention_days: int = 90


@dataclass(frozen=True)
class RedisSentinel:
    """Sentinels watching the site's Redis primary, by the name they know it by."""

    master: str
    sentinels: tuple[Endpoint, ...]

    def addresses(self) -> list[tuple[str, int]]:
        return [(sentinel.host, sentinel.port) for sentinel in self.sentinels]


@dataclass(frozen=True)
class Cluster:
    """Several nodes on shared state. ``kamailio``: every Kamailio node's SIP
    address (a media app takes calls from each and tells each it is alive).
    ``media_hosts``: the hosts that run an rtpengine and a media app, on the
    site's ports: a call is anchored in one and served by the other of the
    same host (rtpengine plays the media app's prompt files from its own disk)."""

    kamailio: tuple[Endpoint, ...]
    media_hosts: tuple[str, ...]


@dataclass(frozen=True)
class SipTls:
    port: int
    certificate: Path  # PEM, presented to phones on the TLS port
    private_key: Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    kamailio_rpc: Path  # jsonrpcs Unix datagram socket
    rtpengine_ng: Endpoint
    sip: Endpoint
    sidecar: Endpoint
    run_dir: Path
    media: Media
    sip_tls: SipTls | None = None
    # Where Sentinel watches Redis: clients find the primary through it (vpbx.redis_client).
    redis_sentinel: RedisSentinel | None = None
    # "test" (and "test2") let the test suite pin the routing clock; no other profile does.
    profile: str = "production"
    # Internal networks customers' webhook and CRM URLs may reach (by default
    # only public addresses): an operator's own CRM on a private network.
    http_allowed_networks: tuple[IPNetwork, ...] = ()
    # Admin API requests allowed per source address and per token (limits' notation).
    api_rate_per_source: str = "1200/minute"
    api_rate_per_token: str = "600/minute"  # noqa: S105 (a rate, not a token)
    # What a scraper of /metrics must send as its Bearer token (the metrics name
    # every company's numbers). None: /metrics answers loopback clients only.
    metrics_token: str | None = None
    # Log lines: "text" (key=value) or "json" (one object per line); vpbx/call_log.py.
    log_format: str = "text"
    # The demo company's carrier: a local SIPp sending from this port.
    demo_trunk_port: int = 5099
    cluster: Cluster | None = None

    @classmethod
    def from_mapping(cls, data: dict) -> Settings:
        def endpoint(key: str) -> Endpoint:
            value = data[key]
            return Endpoint(value["host"], int(value["port"]))

        return cls(
            database_url=data["database_url"],
            redis_url=data["redis_url"],
            kamailio_rpc=Path(data["kamailio_rpc"]),
            rtpengine_ng=endpoint("rtpengine_ng"),
            sip=endpoint("sip"),
            sidecar=endpoint("sidecar"),
            run_dir=Path(data["run_dir"]),
            media=_media(data["media"], endpoint),
            sip_tls=_sip_tls(data["sip"].get("tls")),
            redis_sentinel=_redis_sentinel(data.get("redis_sentinel")),
            profile=data.get("profile", "production"),
            http_allowed_networks=tuple(
                ipaddress.ip_network(n) for n in data.get("http", {}).get("allowed_networks", ())
            ),
            api_rate_per_source=data.get("api", {}).get("rate_per_source", "1200/minute"),
            api_rate_per_token=data.get("api", {}).get("rate_per_token", "600/minute"),
            demo_trunk_port=int(data.get("demo_trunk_port", 5099)),
            metrics_token=data.get("metrics", {}).get("token") or None,
            log_format=_log_format(data.get("logging", {}).get("format", "text")),
            cluster=_cluster(data.get("cluster")),
        )


def _log_format(value: str) -> str:
    if value not in ("text", "json"):
        raise ValueError(f'[logging] format = {value!r}: "text" or "json"')
    return value


def _endpoint(address: str) -> Endpoint:
    host, _, port = address.rpartition(":")
    return Endpoint(host, int(port))


def _cluster(data: dict | None) -> Cluster | None:
    if not data:
        return None
    return Cluster(tuple(_endpoint(a) for a in data["kamailio"]), tuple(data["media_hosts"]))


def _redis_sentinel(data: dict | None) -> RedisSentinel | None:
    if not data or not data.get("sentinels"):
        return None
    return RedisSentinel(data["master"], tuple(_endpoint(address) for address in data["sentinels"]))


def _sip_tls(data: dict | None) -> SipTls | None:
    if not data:
        return None
    return SipTls(int(data["port"]), Path(data["certificate"]), Path(data["private_key"]))


def _media(data: dict, endpoint) -> Media:
    smtp = data["smtp"]
    return Media(
        sip=Endpoint(data["sip"]["host"], int(data["sip"]["port"])),
        dtmf_port=int(data["dtmf_port"]),
        rtp_min=int(data["rtp_min"]),
        rtp_max=int(data["rtp_max"]),
        data_dir=Path(data["data_dir"]),
        smtp=Smtp(
            smtp["host"],
            int(smtp["port"]),
            smtp["sender"],
            bool(smtp.get("starttls", False)),
            smtp.get("username"),
            smtp.get("password"),
        ),
        public_url=data["public_url"].rstrip("/"),
        link_secret=data["link_secret"],
        tts_engine=data.get("tts_engine", "espeak"),
        message_retention_days=int(data.get("message_retention_days", 90)),
    )


class SettingsError(RuntimeError):
    pass


def load(path: str | os.PathLike | None = None) -> Settings:
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        raise SettingsError(
            f"{CONFIG_ENV} is not set: point it at a run directory's vpbx.toml "
            "(the stack manager writes one, e.g. .run/dev/vpbx.toml)"
        )
    try:
        with open(path, "rb") as fh:
            return Settings.from_mapping(tomllib.load(fh))
    except FileNotFoundError as exc:
        raise SettingsError(f"{CONFIG_ENV}={path}: no such file") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"{path}: invalid settings: {exc!r}") from exc
