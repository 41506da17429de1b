"""kamailio.cfg and vpbx_kemi.py name the same things: the routes each calls
in the other, the flags both set, the Reason headers both send. Read as text:
the KEMI script imports KSR, which exists only inside Kamailio."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vpbx import sip_bans
from vpbx.kamailio_adapter import reasons
from vpbx.kamailio_adapter.execute import LEG_FLAGS_SHIFT
from vpbx.routing.ring_times import MAX_BRANCHES_PER_CALL
from vpbx.routing.targets import COMPANY_HEADER

pytestmark = pytest.mark.unit

KAMAILIO = Path(__file__).resolve().parents[2] / "kamailio"
CFG = (KAMAILIO / "kamailio.cfg").read_text()
KEMI = (KAMAILIO / "vpbx_kemi.py").read_text()


def cfg_define(name: str) -> str:
    match = re.search(rf"^#!define {name} (.+)$", CFG, re.MULTILINE)
    assert match, f"kamailio.cfg defines no {name}"
    return match.group(1).strip().strip('"')


def kemi_constant(name: str) -> str:
    match = re.search(rf"^{name} = (.+?)(\s+#.*)?$", KEMI, re.MULTILINE)
    assert match, f"vpbx_kemi.py has no {name}"
    return match.group(1).strip().strip('"')


def test_every_python_exec_names_an_entry_point_of_the_script():
    called = set(re.findall(r'python_exec\("(\w+)"\)', CFG))
    defined = set(re.findall(r"^    def (\w+)\(self, msg", KEMI, re.MULTILINE))
    assert called and called <= defined, called - defined


def test_every_route_the_script_arms_or_queues_is_a_route_of_the_cfg():
    named = set(re.findall(r'(?:t_on_\w+|task_group_route|ms_route)\("(\w+)"', KEMI))
    blocks = set(re.findall(r"^(?:\w+_)?route\[(\w+)\]", CFG, re.MULTILINE))
    assert named and named <= blocks, named - blocks


@pytest.mark.parametrize("flag", ["FLT_NATS", "FLB_NATB", "FLB_NATSIPPING", "FLT_TRUNK", "FLT_MEDIA", "FLT_NEW_CALL"])
def test_flags_are_the_same_bits_on_both_sides(flag):
    assert cfg_define(flag) == kemi_constant(flag)


def test_the_whole_call_is_deleted_the_same_way_on_both_sides():
    assert cfg_define("DELETE_WHOLE_CALL") == kemi_constant("DELETE_WHOLE_CALL")


def test_a_flood_ban_is_the_value_the_ban_tools_read():
    assert int(cfg_define("BANNED_FOR_FLOOD")) == sip_bans.BANNED_FOR_FLOOD


@pytest.mark.parametrize("rejection", [reasons.NO_SUCH_DIALOG, reasons.UNSUPPORTED_URI_SCHEME])
def test_rejections_sent_by_the_cfg_carry_their_reason(rejection):
    header = rejection.reason_header.replace('"', '\\"').replace("\r\n", "\\r\\n")
    assert f'append_to_reply("{header}");' in CFG
    assert re.search(rf'_reply\("{rejection.code}", "{re.escape(rejection.phrase)}"\)', CFG)


def test_the_media_app_is_told_the_company_in_the_header_routing_names():
    assert f'append_hf("{COMPANY_HEADER}: $avp(vpbx_company)' in CFG
    assert "KSR.hdr.remove(COMPANY_HEADER)" in KEMI


def test_the_reply_route_reads_the_leg_where_the_script_tags_it():
    assert int(cfg_define("LEG_FLAGS_SHIFT")) == LEG_FLAGS_SHIFT
    # Flags below the leg's bits are kamailio.cfg's own.
    assert all(int(cfg_define(flag)) < LEG_FLAGS_SHIFT for flag in ("FLB_NATB", "FLB_NATSIPPING"))
    xavp = kemi_constant("ANSWER_XAVP")
    assert xavp in CFG, f"kamailio.cfg never reads {xavp}"


def test_the_flush_is_called_while_the_spool_holds_events_the_script_says_it_does():
    spooled = kemi_constant("HISTORY_SPOOLED")
    assert spooled in CFG.split("route[ksr_history_flush]")[1]
    assert 'modparam("pv", "shvset", "history_spooled=i:1")' in CFG  # the first tick looks at the spool


def test_kamailio_forks_as_many_branches_per_call_as_routing_plans():
    match = re.search(r"^max_branches=(\d+)$", CFG, re.MULTILINE)
    assert match, "kamailio.cfg leaves max_branches at Kamailio's default (12)"
    assert int(match.group(1)) == MAX_BRANCHES_PER_CALL


def test_the_caller_id_travels_to_the_branch_route_under_the_names_the_cfg_reads():
    for constant in ("CALLER_ID_XAVP", "CALLER_HIDDEN_XAVP"):
        assert kemi_constant(constant) in CFG
