"""GET /status: is each component up, and how fast did it answer."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from .. import db
from ..config.trunks import registrations
from ..health import probe_all
from ..kamailio_rpc import KamailioRpc

log = logging.getLogger(__name__)

blueprint = Blueprint("status", __name__)


@blueprint.get("/status")
def status():
    probes = probe_all(current_app.config["VPBX_SETTINGS"])
    healthy = all(p.up for p in probes)
    body = {
        "status": "ok" if healthy else "degraded",
        "components": {p.component: p.as_dict() for p in probes},
        "trunk_registrations": trunk_registrations(current_app.config["VPBX_SETTINGS"], probes),
    }
    return jsonify(body), 200 if healthy else 503


def trunk_registrations(settings, probes) -> dict[str, str] | None:
    """Each registering trunk's state by name; None when Kamailio or PostgreSQL
    cannot say (their probes say why). A carrier's registrar being down is
    not vpbx being down: it does not change the status code."""
    if not all(p.up for p in probes if p.component in ("kamailio", "postgresql")):
        return None
    try:
        with db.connect(settings.database_url) as conn:
            return registrations(KamailioRpc(settings.kamailio_rpc, timeout=1.0), conn)
    except Exception as exc:  # any failure: no answer, and the probes above explain it
        log.warning("trunk registrations unknown: %s", exc)
        return None
