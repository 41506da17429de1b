"""The sidecar's Flask application."""

from __future__ import annotations

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask
from flask_smorest import Api
from marshmallow import Schema

from .. import settings as vpbx_settings
from .errors import ErrorSchema


def _schema_name(schema: type[Schema] | Schema) -> str:
    """OpenAPI component names: "EmployeeSchema" is "Employee", its partial form "EmployeePatch"."""
    resolved = resolve_schema_cls(schema)
    name = (resolved[0] if isinstance(resolved, list) else resolved).__name__.removesuffix("Schema")
    return name + "Patch" if getattr(schema, "partial", False) else name


class DocumentedApi(Api):
    """flask-smorest's Api, documenting the errors as the API sends them
    (errors.body) rather than as flask-smorest's own handler would."""

    ERROR_SCHEMA = ErrorSchema


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    config = (test_config or {}).get("VPBX_SETTINGS") or vpbx_settings.load()
    app.config.update(
        VPBX_SETTINGS=config,
        API_TITLE="vpbx admin API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.config.update(test_config or {})

    from . import (
        calls,
        category_menus,
        company,
        crm,
        database,
        departments,
        destinations,
        employees,
        errors,
        feature_codes,
        ivr_menus,
        limits,
        numbers,
        prompts,
        queues,
        request_metrics,
        schedules,
        schemes,
        sip_accounts,
        tokens,
        trunks,
        voicemail_boxes,
        voicemail_messages,
        webhooks,
    )
    from .metrics import blueprint as metrics
    from .status import blueprint as status
    from .voicemail_links import blueprint as voicemail_links

    marshmallow_plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    api = DocumentedApi(app, spec_kwargs={"marshmallow_plugin": marshmallow_plugin})
    destinations.document(api.spec, marshmallow_plugin)
    errors.register(app)
    request_metrics.init_app(app)
    limits.init_app(app)
    database.init_app(app)
    app.register_blueprint(status)
    app.register_blueprint(metrics)
    app.register_blueprint(voicemail_links)
    for resource in (
        company,
        employees,
        sip_accounts,
        departments,
        voicemail_boxes,
        voicemail_messages,
        prompts,
        ivr_menus,
        category_menus,
        queues,
        webhooks,
        crm,
        schedules,
        schemes,
        numbers,
        calls,
        tokens,
        trunks,
        feature_codes,
    ):
        api.register_blueprint(resource.blueprint)
    return app
