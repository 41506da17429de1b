"""Every destination kind the API accepts is carried out by someone on a real
call, as its module declares (vpbx.routing.destinations.kind)."""

from __future__ import annotations

from datetime import UTC, datetime

from vpbx.api.destinations import REFERENCES, SCHEMAS
from vpbx.kamailio_adapter.execute import MEDIA_APP_NODES
from vpbx.lookups.askers import ASKERS
from vpbx.media.nodes import NODES
from vpbx.routing import Call, leg_names
from vpbx.routing.destinations import KINDS, handled_by
from vpbx.routing.destinations.kind import Handler
from vpbx.routing.plan import LOOKUP_KINDS

# Accepted and stored, explained as not run, never rung. Empty since the media
# app runs queues; a kind added before its handler goes here.
NOT_RUN_YET: tuple[str, ...] = ()


def test_every_kind_the_api_accepts_is_declared_by_its_module():
    assert set(SCHEMAS) == set(KINDS)


def test_every_accepted_kind_is_carried_out_on_a_real_call_but_those_named_not_run_yet():
    assert handled_by(Handler.NOT_RUN) == NOT_RUN_YET


def test_the_media_app_answers_exactly_the_nodes_kamailio_relays_to_it():
    assert set(MEDIA_APP_NODES) == set(NODES)
    assert set(handled_by(Handler.MEDIA_APP)) <= set(NODES)


def test_every_lookup_kind_says_what_rings_in_its_place():
    assert LOOKUP_KINDS == handled_by(Handler.LOOKUP)
    assert all(KINDS[kind].expand is not None for kind in LOOKUP_KINDS)


def test_every_lookup_kind_has_someone_to_ask():
    assert set(ASKERS) == set(LOOKUP_KINDS)


def test_an_ivr_key_rings_every_kind_kamailio_rings():
    ringing = {name for name, kind in KINDS.items() if kind.rings_from_ivr}
    assert ringing == set(handled_by(Handler.KAMAILIO))
    assert "secretary" in ringing


def test_the_api_checks_every_id_option_belongs_to_the_company():
    with_ids = {name for name, kind in KINDS.items() if kind.field and kind.field.option.name == "ID"}
    assert set(REFERENCES) == with_ids


def test_a_kind_not_run_yet_is_explained_as_such():
    call = Call("k-1", "+74951112233", "79161234567", "trunk", datetime(2026, 12, 2, 12, tzinfo=UTC))
    for name in NOT_RUN_YET:
        resolution = KINDS[name].resolve({"kind": name, f"{name}_id": 1}, call, None)  # type: ignore[arg-type]
        assert leg_names.node_kind(resolution.targets[0].node) == name
        assert "does not run yet" in resolution.reasons[0]


def test_every_media_app_node_has_a_name_a_finder_and_a_flow():
    for name, module in NODES.items():
        assert isinstance(module.WHAT, str) and callable(module.find) and callable(module.run), name
