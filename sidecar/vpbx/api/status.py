"""GET /status: is each component up, and how fast did it answer."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..health import probe_all

blueprint = Blueprint("status", __name__)


@blueprint.get("/status")
def status():
    probes = probe_all(current_app.config["VPBX_SETTINGS"])
    healthy = all(p.up for p in probes)
    body = {
        "status": "ok" if healthy else "degraded",
        "components": {p.component: p.as_dict() for p in probes},
    }
    return jsonify(body), 200 if healthy else 503
