"""flask-smorest blueprints for /api/v1: every request is authenticated first."""

from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import Blueprint
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request

from .. import bounded_json
from .auth import authenticate, authenticate_operator
from .database import db
from .errors import ApiError, refuse_nul_in_body

# Request bodies: JSON is small; an endpoint that takes more (an upload) says so
# with @body_limit.
JSON_BODY_LIMIT = 1024 * 1024
BODY_LIMIT = "vpbx_body_limit"


def body_limit(size: int, field: str | None = None):
    """Let one endpoint (a view function or MethodView class) take bodies up to
    ``size`` bytes; ``field``: what a 413 names (the body is a file, not JSON)."""

    def mark(view):
        setattr(view, BODY_LIMIT, (size, field))
        return view

    return mark


class BoundedParser(FlaskParser):
    """webargs reads JSON bodies with its own json.loads: bounded here as Flask's is."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        return bounded_json.loads(req.get_data(cache=True))


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = BoundedParser()


def api_blueprint(name: str, url: str, description: str, *, operator: bool = False) -> Blueprint:
    """``operator``: the operator's resources (trunks), which only an operator token reaches."""
    blueprint = ApiBlueprint(name, __name__, url_prefix=f"/api/v1{url}", description=description)

    @blueprint.before_request
    def _authenticate():
        # The token first: without one, nothing of the body is read or parsed.
        if operator:
            authenticate_operator(db())
        else:
            g.principal = authenticate(db())
        view = current_app.view_functions.get(request.endpoint or "")
        limit, field = getattr(getattr(view, "view_class", view), BODY_LIMIT, (JSON_BODY_LIMIT, None))
        request.max_content_length = limit  # enforced while the body streams in, declared or not
        if (request.content_length or 0) > limit:
            raise ApiError(
                413,
                f"The body is larger than the {limit} bytes this endpoint accepts.",
                {field: [f"at most {limit} bytes are accepted"]} if field else None,
            )
        refuse_nul_in_body()

    return blueprint
