"""What customers may make vpbx send to: SIP URIs (never this system) and
webhook/CRM URLs (public addresses, unless the operator allows a network)."""

import ipaddress

import pytest

from vpbx import bounded_json
from vpbx.addresses import internal, literal, own_or_unroutable
from vpbx.routing.destinations import sip_uri
from vpbx.routing.plan import Context


@pytest.mark.parametrize(
    "uri, refused",
    [
        ("sip:desk@example.com", False),
        ("sip:pbx@10.20.0.5:5060", False),  # a customer's PBX over a VPN
        ("sips:desk@203.0.113.7;transport=tls", False),
        ("sip:voicemail-1@127.0.0.1:5970", True),
        ("sip:x@127.8.9.10", True),
        ("sip:x@[::1]:5060", True),
        ("sip:x@[::ffff:127.0.0.1]", True),
        ("sip:x@localhost", True),
        ("sip:x@media.invalid", True),
        ("sip:x@0.0.0.0", True),
        ("sip:x@255.255.255.255", True),
        ("sip:x@224.0.1.75", True),
        ("sip:x@169.254.169.254", True),
        ("sip:x@169.254.10.1", True),
    ],
)
def test_a_sip_uri_naming_this_system_or_no_single_host_is_refused(uri, refused):
    assert (sip_uri.refused(uri) is not None) is refused


def test_routing_skips_a_refused_sip_uri_with_its_reason():
    resolution = sip_uri.resolve(
        {"kind": "sip_uri", "uri": "sip:voicemail-1@127.0.0.1:5970"}, None, Context(1, "demo.vpbx.test")
    )

    assert resolution.targets == ()
    assert resolution.reasons == (
        "skip SIP address sip:voicemail-1@127.0.0.1:5970: 127.0.0.1 is a loopback address (this system itself)",
    )


@pytest.mark.parametrize(
    "address, reason",
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("10.1.2.3", "is a private address"),
        ("192.168.0.1", "is a private address"),
        ("100.64.0.1", "is a private address"),  # carrier-grade NAT: not global
        ("127.0.0.1", "is a loopback address (this system itself)"),
        ("169.254.169.254", "is a cloud metadata address"),
        ("fe80::1", "is a link-local address"),
        ("fd00::5", "is a private address"),
    ],
)
def test_outbound_http_reaches_public_addresses_only(address, reason):
    assert internal(ipaddress.ip_address(address)) == reason


def test_an_operator_may_let_an_internal_network_through():
    allowed = [ipaddress.ip_network("10.20.0.0/16")]

    assert internal(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert internal(ipaddress.ip_address("10.21.3.4"), allowed) == "is a private address"


def test_a_private_address_is_a_fine_sip_destination():
    assert own_or_unroutable(literal("192.168.1.10")) is None


def test_json_nested_deeper_than_the_bound_is_a_value_error():
    assert bounded_json.loads("[" * 32 + "]" * 32) is not None
    with pytest.raises(ValueError, match="nested deeper"):
        bounded_json.loads("[" * 33 + "]" * 33)
    with pytest.raises(ValueError, match="nested deeper"):
        bounded_json.loads("[" * 100000 + "]" * 100000)
