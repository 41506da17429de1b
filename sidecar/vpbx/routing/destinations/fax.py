"""Destination ``fax``: the media app receives a fax (T.30 over G.711) and
emails it as a PDF to the recipients of a voicemail box.

Options: ``data["voicemail_box_id"]``: whose recipients get the fax (a
company's "voicemail and fax" box, seed 000). Its place in the plan is a node
target, which Kamailio relays to the media app like any other branch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..targets import Data, Resolution, node_resolution
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    box_id = data["voicemail_box_id"]
    return node_resolution(
        "fax", box_id, f"fax to voicemail box {box_id}", "the media app receives the fax and emails it", runs=True
    )


KIND = Kind(
    "fax", Handler.MEDIA_APP, resolve, Field("voicemail_box_id", Option.ID, "voicemail_box_id", "voicemail box")
)
