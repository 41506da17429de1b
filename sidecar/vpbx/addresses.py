"""Which network addresses a customer may make vpbx send to.

Anything a customer can type that becomes a network target (a destination's
SIP URI, a webhook or CRM URL) is checked here, on the address itself: an IP
literal, or each address a name resolved to. Pure: resolving is the caller's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Names that stand for this machine or for nothing at all (RFC 6761).
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_SPECIAL_SUFFIXES = (".localhost", ".invalid")
# Cloud metadata services answer on these: never a customer's server.
_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)


def special_name(host: str) -> str | None:
    """Why a host name can never be a customer's server, or None."""
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(_SPECIAL_SUFFIXES):
        return "names this system (or nothing)"
    return None


def literal(host: str) -> IPAddress | None:
    """The IP address a URI's host is, if it is one (IPv6 in brackets or not)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def own_or_unroutable(address: IPAddress) -> str | None:
    """Why no SIP call may be relayed to ``address``: this system's own
    addresses (loopback: our Kamailio, media app, rtpengine), or one that is
    no single host. Private ranges are a customer's PBX behind a VPN: allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "is a loopback address (this system itself)"
    if address.is_unspecified:
        return "is the unspecified address"
    if address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
        return "is a broadcast or multicast address"
    if any(address in network for network in _METADATA):
        return "is a cloud metadata address"
    if address.is_link_local:
        return "is a link-local address"
    if address.is_reserved:
        return "is a reserved address"
    return None


def host_refusal(host: str, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why a customer's server named ``host`` (a URL's host) is refused before
    any lookup: an internal IP literal, or a name that stands for this system.
    None for a name, which must still be resolved and its addresses checked."""
    address = literal(host)
    return special_name(host) if address is None else internal(address, allowed)


def internal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why an outbound HTTP request (a webhook, the CRM) may not go to
    ``address``: anything but a public address, unless the operator allowed
    its range (settings: ``http.allowed_networks``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    reason = own_or_unroutable(address)
    if reason:
        return reason
    if address.is_private or not address.is_global:
        return "is a private address"
    return None
