"""Destinations: a tagged union on ``kind``, one schema per kind (R8).

Scheme steps and IVR keys both lead to destinations and store them in the
same columns; this module validates, stores and reads them for both.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from ..routing.destinations import sip_uri
from .fields import PhoneNumber
from .references import missing, owned


def _not_our_own(uri: str) -> None:
    reason = sip_uri.refused(uri)
    if reason:
        raise ValidationError(f"must not name this system or an unroutable address: {reason}")


def _schema(kind: str, **declared) -> type[Schema]:
    return Schema.from_dict(
        {"kind": fields.Constant(kind), **declared}, name=f"{kind.title().replace('_', '')}Destination"
    )


SCHEMAS: dict[str, type[Schema]] = {
    "employee": _schema("employee", employee_id=fields.Integer(required=True)),
    "sip_account": _schema("sip_account", sip_account_id=fields.Integer(required=True)),
    "department": _schema("department", department_id=fields.Integer(required=True)),
    "phone_number": _schema("phone_number", number=PhoneNumber(required=True)),
    "sip_uri": _schema(
        "sip_uri",
        uri=fields.String(
            required=True,
            validate=[
                validate.Regexp(r"^sips?:[^@\s]+@[^@\s]+$", error="a SIP URI such as sip:user@example.com"),
                _not_our_own,
            ],
        ),
    ),
    "voicemail": _schema("voicemail", voicemail_box_id=fields.Integer(required=True)),
    "ivr": _schema("ivr", ivr_menu_id=fields.Integer(required=True)),
    "queue": _schema("queue", queue_id=fields.Integer(required=True)),
    "webhook": _schema("webhook", webhook_id=fields.Integer(required=True)),
    # Seed 004: one employee takes the company's calls and transfers them on.
    "secretary": _schema("secretary", employee_id=fields.Integer(required=True)),
    # R16: the caller's manager, as the CRM says; the next step when it does not know the caller.
    "responsible_manager": _schema("responsible_manager"),
}

# Kinds that name an object of the company: kind -> (field, what).
REFERENCES = {
    "employee": ("employee_id", "employee"),
    "department": ("department_id", "department"),
    "voicemail": ("voicemail_box_id", "voicemail box"),
    "ivr": ("ivr_menu_id", "IVR menu"),
    "secretary": ("employee_id", "employee"),
    "sip_account": ("sip_account_id", "SIP account"),
    "queue": ("queue_id", "queue"),
    "webhook": ("webhook_id", "webhook"),
}

# Storage columns, shared by step_destinations and ivr_keys, and the field each holds.
COLUMNS = {
    "employee_id": "employee_id",
    "department_id": "department_id",
    "voicemail_box_id": "voicemail_box_id",
    "ivr_menu_id": "ivr_menu_id",
    "sip_account_id": "sip_account_id",
    "queue_id": "queue_id",
    "webhook_id": "webhook_id",
    "phone_number": "number",
    "sip_uri": "uri",
}


class Destination(fields.Field):
    """Dispatches on ``kind`` to the schema of that destination kind."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("a destination is an object with a 'kind'")
        schema = SCHEMAS.get(str(value.get("kind")))
        if schema is None:
            raise ValidationError({"kind": [f"one of: {', '.join(SCHEMAS)}"]})
        return {"kind": value["kind"], **schema().load({k: v for k, v in value.items() if k != "kind"})}

    def _serialize(self, value, attr, obj, **kwargs):
        return SCHEMAS[value["kind"]]().dump(value)


def errors(conn, company_id: int, destination: dict) -> dict | None:
    """Field errors if the destination names something outside the company."""
    if destination["kind"] not in REFERENCES:
        return None
    field, what = REFERENCES[destination["kind"]]
    if owned(conn, company_id, what, destination[field]):
        return None
    return {field: [missing(what, destination[field])]}


def column_values(destination: dict) -> tuple:
    return tuple(destination.get(field) for field in COLUMNS.values())


def from_row(row: dict) -> dict:
    return {"kind": row["kind"], **{field: row[column] for column, field in COLUMNS.items()}}


COLUMN_LIST = ", ".join(COLUMNS)
PLACEHOLDERS = ", ".join(["%s"] * len(COLUMNS))
