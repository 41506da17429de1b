"""/api/v1/trunks: the carrier trunks every company's calls share.

Only the operator's token reaches them (``vpbx operator-token``): a company's
administrator manages the company, never the carriers other companies' calls
cross. Digest credentials are written, never read back: a trunk shows whether
it has them (``authenticates``), not what they are. Each change reaches
Kamailio once it commits (config/trunks.py: reload_kamailio).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import asdict

import phonenumbers
from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from ..config.trunks import (
    CALLER_ID_HEADERS,
    DOMAIN,
    FROM_USER,
    Trunk,
    list_trunks,
    registrations,
    reload_kamailio,
    save_trunk,
)
from ..kamailio_rpc import KamailioRpc, RpcError
from .blueprints import api_blueprint
from .database import after_commit, db
from .errors import ApiError, invalid, not_found
from .fields import Name

log = logging.getLogger(__name__)

blueprint = api_blueprint("trunks", "/trunks", "Carrier trunks (the operator's token only)", operator=True)


class TrunkSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    address = fields.String(
        required=True, metadata={"description": "The carrier's IP address, or (inbound) network in CIDR form"}
    )
    port = fields.Integer(
        load_default=0, validate=validate.Range(0, 65535), metadata={"description": "0: any port (inbound), 5060"}
    )
    region = fields.String(
        load_default="RU",
        validate=validate.OneOf(sorted(phonenumbers.SUPPORTED_REGIONS), error="not a region code (ISO 3166, e.g. RU)"),
        metadata={"description": "How national-format numbers the carrier sends read"},
    )
    outbound = fields.Boolean(load_default=False, metadata={"description": "Calls out leave through it"})
    priority = fields.Integer(
        load_default=0, validate=validate.Range(0, 1000), metadata={"description": "Highest is tried first"}
    )
    auth_username = fields.String(
        load_only=True,
        allow_none=True,
        load_default=None,
        validate=validate.Length(1, 128),
        metadata={"description": "Digest credentials the carrier asks for; never returned"},
    )
    auth_password = fields.String(
        load_only=True,
        allow_none=True,
        load_default=None,
        validate=validate.Length(1, 128),
        metadata={"description": "Never returned; omitted in a PATCH that keeps the username: the stored one stays"},
    )
    authenticates = fields.Boolean(dump_only=True, metadata={"description": "It has digest credentials"})
    register = fields.Boolean(
        load_default=False, metadata={"description": "Register to the carrier (needs credentials)"}
    )
    register_domain = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Regexp(DOMAIN.pattern, error="not a domain name"),
        metadata={"description": "The registrar's domain; none: its address"},
    )
    caller_id_header = fields.String(
        load_default="from_and_pai",
        validate=validate.OneOf(CALLER_ID_HEADERS),
        metadata={
            "description": "Where outgoing calls carry the caller's number: From and P-Asserted-Identity, "
            "P-Asserted-Identity only (From: from_user, else the digest username), or From only"
        },
    )
    from_user = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Regexp(FROM_USER.pattern, error="1 to 64 letters, digits, '.', '_', '+' or '-'"),
    )
    registration = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "registered, registering, disabled, not registered, unknown; none: it does not"},
    )

    @validates("address")
    def _address(self, value, **kwargs):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError("not an IP address or network") from None

    @validates_schema
    def _credentials(self, data, partial=False, **kwargs):
        if partial:
            return  # checked whole, once merged with the stored trunk
        if data["auth_username"] is not None and not data["outbound"]:
            raise ValidationError("digest credentials are for outbound trunks", "auth_username")
        if data["register"] and data["auth_username"] is None:
            raise ValidationError("registering to a carrier needs its digest credentials", "register")
        if data["auth_password"] is not None and data["auth_username"] is None:
            raise ValidationError("a password needs a username", "auth_username")


def _shown(trunk: Trunk, states: dict[str, str] | None) -> dict:
    return {
        "id": trunk.id,
        "name": trunk.name,
        "address": trunk.address,
        "port": trunk.port,
        "region": trunk.region,
        "outbound": trunk.outbound,
        "priority": trunk.priority,
        "authenticates": trunk.auth_username is not None,
        "register": trunk.register,
        "register_domain": trunk.register_domain,
        "caller_id_header": trunk.caller_id_header,
        "from_user": trunk.from_user,
        "registration": (states or {}).get(trunk.name, "unknown") if trunk.register else None,
    }


def _rpc() -> KamailioRpc:
    return KamailioRpc(current_app.config["VPBX_SETTINGS"].kamailio_rpc, timeout=1.0)


def _states(conn) -> dict[str, str] | None:
    try:
        return registrations(_rpc(), conn)
    except (RpcError, OSError) as exc:
        log.warning("trunk registrations unknown: %s", exc)
        return None


def _find(conn, trunk_id: int) -> Trunk:
    trunk = next((t for t in list_trunks(conn) if t.id == trunk_id), None)
    if trunk is None:
        raise not_found("Trunk")
    return trunk


def _reload(changed: dict[int, bool]) -> None:
    def now(_conn) -> None:
        try:
            reload_kamailio(_rpc(), changed)
        except (RpcError, OSError) as exc:
            # Saved: Kamailio reads it at its next reload or restart (`vpbx trunk list` shows it).
            log.error("Kamailio did not reload the trunks: %s", exc)

    after_commit(now)


def _save(conn, data: dict, trunk_id: int | None = None) -> Trunk:
    taken = conn.execute(
        "SELECT id FROM trunks WHERE name = %s AND id IS DISTINCT FROM %s", (data["name"], trunk_id)
    ).fetchone()
    if taken:
        raise invalid("name", f"a trunk named {data['name']!r} exists")
    taken = conn.execute(
        "SELECT name FROM trunks WHERE address = %s::inet AND port = %s AND id IS DISTINCT FROM %s",
        (data["address"], data["port"], trunk_id),
    ).fetchone()
    if taken:
        raise invalid("address", f"trunk {taken['name']!r} has this address and port")
    try:
        trunk = save_trunk(
            conn,
            name=data["name"],
            address=data["address"],
            port=data["port"],
            region=data["region"],
            outbound=data["outbound"],
            priority=data["priority"],
            auth_username=data["auth_username"],
            auth_password=data["auth_password"],
            register=data["register"],
            register_domain=data["register_domain"],
            caller_id_header=data["caller_id_header"],
            from_user=data["from_user"],
            trunk_id=trunk_id,
        )
    except ValueError as exc:
        raise invalid("auth_password" if "password" in str(exc) else "trunk", str(exc)) from None
    _reload({trunk.id: trunk.register})
    return trunk


@blueprint.route("")
class Trunks(MethodView):
    @blueprint.response(200, TrunkSchema(many=True))
    def get(self):
        """Every trunk, outbound ones first by priority, with registration state."""
        conn = db()
        states = _states(conn)
        return [_shown(t, states) for t in list_trunks(conn)]

    @blueprint.arguments(TrunkSchema)
    @blueprint.response(201, TrunkSchema)
    def post(self, data):
        return _shown(_save(db(), data), None)


@blueprint.route("/<int:trunk_id>")
class TrunkById(MethodView):
    @blueprint.response(200, TrunkSchema)
    def get(self, trunk_id):
        conn = db()
        return _shown(_find(conn, trunk_id), _states(conn))

    @blueprint.arguments(TrunkSchema(partial=True))
    @blueprint.response(200, TrunkSchema)
    def patch(self, changes, trunk_id):
        """Change what the body names. A new password needs no new username; a
        username with no password keeps the stored password; ``auth_username``
        null removes the credentials."""
        conn = db()
        current = _find(conn, trunk_id)
        stored = {k: v for k, v in asdict(current).items() if k != "id"}
        merged = {**stored, "auth_password": None, **changes}  # the stored password is never read back
        errors = TrunkSchema().validate({k: v for k, v in merged.items() if v is not None or k.startswith("auth")})
        if errors:
            raise ApiError(422, "The request is invalid.", errors)
        return _shown(_save(conn, merged, trunk_id), None)

    @blueprint.response(204)
    def delete(self, trunk_id):
        conn = db()
        trunk = _find(conn, trunk_id)
        conn.execute("DELETE FROM trunks WHERE id = %s", (trunk.id,))
        _reload({trunk.id: False})
