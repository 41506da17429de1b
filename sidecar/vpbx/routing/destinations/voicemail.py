"""Destination ``voicemail``: the media app records the message.

Options: ``data["voicemail_box_id"]``. Its place in the plan is a node target, which
Kamailio relays to the media app like any other branch (vpbx.media.app).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..targets import Data, Resolution, node_resolution
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    node_id = data["voicemail_box_id"]
    return node_resolution(
        "voicemail", node_id, f"voicemail box {node_id}", "the media app records the message (R11)", runs=True
    )


KIND = Kind(
    "voicemail",
    Handler.MEDIA_APP,
    resolve,
    Field("voicemail_box_id", Option.ID, "voicemail_box_id", "voicemail box"),
    # A step naming people and voicemail leaves the caller there once the people did not answer.
    when_nobody_answers=lambda data: data["voicemail_box_id"],
)
