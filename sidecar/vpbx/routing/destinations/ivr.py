"""Destination ``ivr``: the media app plays the menu and reads the keys.

Options: ``data["ivr_menu_id"]``. Its place in the plan is a node target, which
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
    node_id = data["ivr_menu_id"]
    return node_resolution(
        "ivr", node_id, f"IVR menu {node_id}", "the media app plays the menu and reads the keys (R10)", runs=True
    )


KIND = Kind("ivr", Handler.MEDIA_APP, resolve, Field("ivr_menu_id", Option.ID, "ivr_menu_id", "IVR menu"))
