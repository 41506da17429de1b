"""The post-call category menu's key handling (vpbx.media.category_menu)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from vpbx.history import events
from vpbx.media.category_menu import CategoryMenus, categorized_event

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a fixed moment: nothing here compares it with the clock


def _menus() -> CategoryMenus:
    return CategoryMenus(None, None, None, None, "127.0.0.1", None, lambda: AT, None, None)  # type: ignore[arg-type]


def test_only_the_persons_keys_on_a_leg_in_a_menu_count():
    menus = _menus()
    keys: asyncio.Queue[str] = asyncio.Queue()
    menus.listening["leg@vpbx-media"] = ("their-tag", keys)
    assert menus.digit("leg@vpbx-media", "their-tag", 2)
    assert menus.digit("leg@vpbx-media", "our-tag", 5)  # rtpengine logs what it plays too: not a key
    assert menus.digit("leg@vpbx-media", None, 11)  # a SIP INFO names no tag
    assert menus.digit("leg@vpbx-media", "their-tag", 16) and menus.digit("leg@vpbx-media", "their-tag", -1)
    assert [keys.get_nowait() for _ in range(keys.qsize())] == ["2", "#"]
    assert not menus.digit("another@vpbx-media", "their-tag", 1)


def test_the_history_event_names_the_callers_call_and_the_category():
    assert categorized_event("caller@carrier", AT, "2", "Support", 7) == {
        "type": events.CATEGORIZED,
        "call_id": "caller@carrier",
        "at": "2026-11-23T10:00:00+00:00",
        "key": "2",
        "category": "Support",
        "employee_id": 7,
    }
