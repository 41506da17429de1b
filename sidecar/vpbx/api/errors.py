"""One error format for every failure the API reports:

    {"error": {"status": 422, "title": "Unprocessable Entity",
               "message": "...", "fields": {"timeout": ["..."]}}}

``fields`` appears for validation errors and names each bad field with its reasons.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema
from marshmallow import fields as ma_fields
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .. import bounded_json

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def invalid(field: str, reason: str) -> ApiError:
    """A 422 naming one field and why it was refused."""
    return ApiError(422, "The request is invalid.", {field: [reason]})


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found.")


class ErrorDetailSchema(Schema):
    status = ma_fields.Integer(required=True, metadata={"description": "the HTTP status, again"})
    title = ma_fields.String(required=True, metadata={"description": "the status's name"})
    message = ma_fields.String(required=True, metadata={"description": "what went wrong, for a person"})
    # "fields" on the wire; a Schema's own attribute of that name is its field list.
    refused = ma_fields.Dict(
        data_key="fields",
        metadata={
            "description": "each refused field (nested as the request nests it: steps.0.timeout) and its reasons"
        },
    )


class ErrorSchema(Schema):
    """Every error the API answers (``body``): what the OpenAPI document names "Error"."""

    error = ma_fields.Nested(ErrorDetailSchema, required=True)


def body(status: int, message: str, fields: dict | None = None) -> dict:
    error = {"status": status, "title": HTTP_STATUS_CODES.get(status, "Error"), "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten_webargs(messages: dict) -> dict:
    # webargs nests messages under their location ("json", "query", "path").
    flat: dict = {}
    for location in messages.values():
        flat.update(location if isinstance(location, dict) else {"_": location})
    return flat


def _nul_in(value, path: str) -> str | None:
    """The path of the first string holding a NUL character, in a JSON value."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"{path}.{key}".lstrip(".") or "_"
        found = _nul_in(item, f"{path}.{key}".lstrip("."))
        if found:
            return found
    return None


def refuse_nul_in_query() -> None:
    """PostgreSQL text cannot hold NUL (0x00): a query carrying one is refused
    up front, with its field, instead of failing in the database."""
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise invalid(name.replace("\x00", ""), "must not contain a NUL character")


def refuse_nul_in_body() -> None:
    """The same for a JSON body; called once the caller is authenticated, so
    nobody without a token makes the server parse anything."""
    if request.is_json:
        found = _nul_in(request.get_json(silent=True), "")
        if found:
            raise invalid(found, "must not contain a NUL character")


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested too deep with a 400 (a RecursionError was a 500)."""

    def loads(self, s, **kwargs):
        return bounded_json.loads(s, **kwargs)


def register(app: Flask) -> None:
    app.json = BoundedJSON(app)
    app.before_request(refuse_nul_in_query)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return jsonify(body(error.status, error.message, error.fields)), error.status, error.headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        data = getattr(error, "data", None) or {}
        fields = _flatten_webargs(data["messages"]) if "messages" in data else None
        message = data.get("message") or error.description or ""
        if fields:
            message = "The request is invalid."
        response = jsonify(body(error.code or 500, message, fields))
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response, error.code

    @app.errorhandler(psycopg.errors.UniqueViolation)
    def conflict(error):
        # Checked before writing; this is the rare race two requests ran.
        return jsonify(body(409, "A concurrent change took the same value: retry the request.")), 409

    app.register_error_handler(psycopg.OperationalError, database_unavailable)
    app.register_error_handler(psycopg_pool.PoolTimeout, database_unavailable)


def database_unavailable(error):
    log.error("configuration database unavailable: %s", error)
    message = (
        "The configuration database is unavailable: changes cannot be made now. "
        "Calls keep routing from the routing cache."
    )
    response = jsonify(body(503, message))
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    return response
