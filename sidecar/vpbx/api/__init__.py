"""The sidecar's Flask application."""

from __future__ import annotations

from flask import Flask

from .. import settings as vpbx_settings


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    config = (test_config or {}).get("VPBX_SETTINGS") or vpbx_settings.load()
    app.config["VPBX_SETTINGS"] = config
    app.config.update(test_config or {})

    from .metrics import blueprint as metrics
    from .status import blueprint as status

    app.register_blueprint(status)
    app.register_blueprint(metrics)
    return app
