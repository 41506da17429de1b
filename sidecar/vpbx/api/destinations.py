"""Destinations: a tagged union on ``kind``, one schema per kind (R8).

Scheme steps and IVR keys both lead to destinations and store them in the
same columns; this module validates, stores and reads them for both.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from ..routing.destinations import KINDS, sip_uri
from ..routing.destinations.kind import Field, Kind, Option
from .fields import PhoneNumber
from .references import missing, owned


def _not_our_own(uri: str) -> None:
    reason = sip_uri.refused(uri)
    if reason:
        raise ValidationError(f"must not name this system or an unroutable address: {reason}")


def _option(field: Field) -> fields.Field:
    if field.option is Option.PHONE_NUMBER:
        return PhoneNumber(required=True)
    if field.option is Option.SIP_URI:
        return fields.String(
            required=True,
            validate=[
                validate.Regexp(r"^sips?:[^@\s]+@[^@\s]+$", error="a SIP URI such as sip:user@example.com"),
                _not_our_own,
            ],
        )
    return fields.Integer(required=True)


def _schema(kind: Kind) -> type[Schema]:
    declared = {kind.field.name: _option(kind.field)} if kind.field else {}
    return Schema.from_dict(
        {"kind": fields.Constant(kind.name, required=True), **declared},
        name=f"{kind.name.title().replace('_', '')}Destination",
    )


SCHEMAS: dict[str, type[Schema]] = {name: _schema(kind) for name, kind in KINDS.items()}

# Kinds that name an object of the company: kind -> (field, what).
REFERENCES = {
    name: (kind.field.name, kind.field.names)
    for name, kind in KINDS.items()
    if kind.field and kind.field.option is Option.ID and kind.field.names
}

# Storage columns, shared by step_destinations and ivr_keys, and the field each holds.
COLUMNS = {kind.field.column: kind.field.name for kind in KINDS.values() if kind.field}


class Destination(fields.Field):
    """Dispatches on ``kind`` to the schema of that destination kind."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("a destination is an object with a 'kind'")
        schema = SCHEMAS.get(str(value.get("kind")))
        if schema is None:
            raise ValidationError({"kind": [f"one of: {', '.join(SCHEMAS)}"]})
        return {"kind": value["kind"], **schema().load(value)}

    def _serialize(self, value, attr, obj, **kwargs):
        return SCHEMAS[value["kind"]]().dump(value)


def document(spec, plugin) -> None:
    """Each kind's schema in the OpenAPI document, and a destination as one of
    them, told apart by ``kind`` (a discriminator, as clients' generators read it)."""
    refs = {name: f"#/components/schemas/{schema.__name__}" for name, schema in SCHEMAS.items()}

    def destination_property(self, field, **kwargs) -> dict:
        if isinstance(field, fields.Constant):
            return {"type": "string", "enum": [field.constant]}
        if isinstance(field, Destination):
            return {
                "oneOf": [{"$ref": ref} for ref in refs.values()],
                "discriminator": {"propertyName": "kind", "mapping": refs},
            }
        return {}

    plugin.converter.add_attribute_function(destination_property)
    for schema in SCHEMAS.values():  # after the function: it documents their "kind"
        spec.components.schema(schema.__name__, schema=schema)


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
