"""Voicemail messages, and faxes received, are kept ``[media]
message_retention_days`` (seed 000: messages must not outlive their use, nor
a deleted box, for ever).

Every media app sweeps once an hour: it deletes the messages received before
the cutoff (any media app may: the rows are shared), and the recordings under
its own data directory last written before the cutoff. On a cluster a
message's recording lives on the media host that took it, and only that host
can delete it: sweeping files by age, not by row, also removes a recording
whose message was deleted through the API on another host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from .store import Store

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600
VOICEMAIL_DIR = "voicemail"  # under the data directory, as media/nodes/voicemail.py writes them
FAX_DIR = "fax"  # as media/nodes/fax.py writes them


async def sweep(store: Store, data_dir: Path, days: int, now: datetime) -> tuple[int, int]:
    """Delete what is older than ``days`` at ``now``: (messages, recordings) deleted."""
    cutoff = now - timedelta(days=days)
    messages = await store.delete_messages_before(cutoff)
    recordings = await asyncio.to_thread(_delete_files_before, data_dir / VOICEMAIL_DIR, cutoff.timestamp())
    faxes = await asyncio.to_thread(_delete_files_before, data_dir / FAX_DIR, cutoff.timestamp(), "*/*.*")
    if faxes:
        log.info("fax retention (%s days): %s faxes deleted", days, faxes)
    if messages or recordings:
        log.info("voicemail retention (%s days): %s messages, %s recordings deleted", days, messages, recordings)
    return messages, recordings


def _delete_files_before(directory: Path, cutoff: float, pattern: str = "*/*.wav") -> int:
    deleted = 0
    for path in directory.glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            continue  # deleted meanwhile (through the API, or by *97)
    return deleted


async def keep(store: Store, data_dir: Path, days: int, now: Callable[[], datetime]) -> None:
    """Until cancelled: sweep now, then every SWEEP_EVERY_S."""
    while True:
        try:
            await sweep(store, data_dir, days, now())
        except (psycopg.Error, OSError) as exc:
            log.error("voicemail retention sweep failed (next in %s s): %s", SWEEP_EVERY_S, exc)
        await asyncio.sleep(SWEEP_EVERY_S)
