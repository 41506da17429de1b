"""flask-smorest blueprints for /api/v1: every request is authenticated first."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from .auth import authenticate
from .database import db


def api_blueprint(name: str, url: str, description: str) -> Blueprint:
    blueprint = Blueprint(name, __name__, url_prefix=f"/api/v1{url}", description=description)

    @blueprint.before_request
    def _authenticate():
        g.principal = authenticate(db())

    return blueprint
