"""The names Kamailio and the media app give each other's legs: every name
built parses back to what built it, and nothing else parses."""

import pytest

from vpbx.routing import leg_names
from vpbx.routing.leg_names import NodeName


@pytest.mark.parametrize(
    "kind, node_id, user",
    [
        ("voicemail", 3, "voicemail-3"),
        ("ivr", 12, "ivr-12"),
        ("announce", 7, "announce-7"),
        ("responsible_manager", 4, "responsible-manager-4"),
    ],
)
def test_a_node_travels_as_kind_and_id(kind, node_id, user):
    assert leg_names.node_user(leg_names.node(kind, node_id)) == user
    assert leg_names.parse_node_user(user) == NodeName(kind, node_id)


@pytest.mark.parametrize(
    "key, user", [("5", "ivr-3-5"), ("*", "ivr-3-star"), ("#", "ivr-3-hash"), ("timeout", "ivr-3-timeout")]
)
def test_an_ivr_key_leg_names_its_menu_and_key(key, user):
    assert leg_names.ivr_key_user(3, key) == user
    assert leg_names.parse_ivr_key_user(user) == (3, key)


def test_a_scheme_step_leg_names_its_scheme_and_step():
    assert leg_names.scheme_step_user(5, 2) == "scheme-5-2"
    assert leg_names.parse_scheme_step_user("scheme-5-2") == (5, 2)


def test_the_forward_leg_of_a_direct_call_names_the_employee_dialled():
    assert leg_names.direct_forward_user(12) == "direct-12-forward"
    assert leg_names.parse_direct_forward_user("direct-12-forward") == 12
    assert leg_names.parse_direct_forward_user("direct-x-forward") is None


@pytest.mark.parametrize(
    "user",
    [
        "ivr-3-5",
        "scheme-5-2",
        "direct-12-forward",
        "voicemail",
        "voicemail-",
        "voicemail-x",
        "Voicemail-3",
        "101",
        "ivr-3-55",
        "ivr--5",
    ],
)
def test_one_kind_of_name_never_parses_as_another(user):
    parsed = [
        leg_names.parse_node_user(user),
        leg_names.parse_ivr_key_user(user),
        leg_names.parse_scheme_step_user(user),
        leg_names.parse_direct_forward_user(user),
    ]
    assert sum(p is not None for p in parsed) <= 1
