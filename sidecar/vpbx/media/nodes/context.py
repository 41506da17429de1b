"""What a node may use of the media app, and nothing else of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from ...settings import Smtp
    from ..call import MediaCall
    from ..dialogs import Dialog
    from ..history_events import HistoryEvents
    from ..prompts import PromptLibrary
    from ..routing_documents import RoutingDocuments
    from ..store import CategoryMenu, Store
    from ..voicemail_notices import VoicemailNotices


class Connect(Protocol):
    """Ring what a leg name says through Kamailio and bridge the caller to
    whoever answers (vpbx.media.connect): False when nobody did.
    ``answered`` is awaited the moment someone answers, with the employee
    who did (None when Kamailio did not say)."""

    async def __call__(
        self,
        call: MediaCall,
        user: str,
        domain: str,
        *,
        music: Path | None = None,
        whisper: Path | None = None,
        answered: Callable[[int | None], Coroutine[Any, Any, None]] | None = None,
        after_call: Callable[[Dialog, int | None], Coroutine[Any, Any, None]] | None = None,
    ) -> bool: ...


@dataclass(frozen=True)
class NodeContext:
    store: Store  # what a node plays and records: boxes, menus, schemes, messages
    documents: RoutingDocuments  # where its caller goes next: routing's answer
    prompts: PromptLibrary
    notices: VoicemailNotices  # a message's history event and email
    history: HistoryEvents  # events of the call's line (its time in a queue)
    connect: Connect
    # The post-call category menu on the leg of whoever answered (vpbx.media.category_menu).
    category_menu: Callable[[MediaCall, CategoryMenu, Dialog, int | None], Coroutine[Any, Any, None]]
    data_dir: Path  # recordings are kept under it
    smtp: Smtp  # where a node's emails go (a fax received)
    now: Callable[[], datetime]
    # Work that outlives the call's flow (an email after the goodbye).
    background: Callable[[Coroutine[Any, Any, Any]], asyncio.Task]
    # Shared call state every media app sees (a queue's waiting line).
    redis: aioredis.Redis
    # Make a change the node committed reach the company's calls (False: the cache did not take it).
    republish: Callable[[int], Coroutine[Any, Any, bool]]
