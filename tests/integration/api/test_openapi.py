"""The OpenAPI document is valid OpenAPI 3.0 and types every body it describes,
errors as the API sends them and destinations kind by kind."""

from __future__ import annotations

from openapi_spec_validator import validate

# What makes a schema say something about a value.
TYPED = {"type", "$ref", "oneOf", "allOf", "anyOf", "enum"}


def _untyped(schema, path: str) -> list[str]:
    if not isinstance(schema, dict):
        return []
    found = [] if TYPED & set(schema) else [path]
    for name, prop in (schema.get("properties") or {}).items():
        found += _untyped(prop, f"{path}.{name}")
    if "items" in schema:
        found += _untyped(schema["items"], f"{path}[]")
    return found


def _spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi(client):
    validate(_spec(client))


def test_every_body_is_typed(client):
    spec = _spec(client)
    untyped = [path for name, schema in spec["components"]["schemas"].items() for path in _untyped(schema, name)]
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            bodies = {"request": operation.get("requestBody", {})} | {
                code: response for code, response in operation.get("responses", {}).items() if "$ref" not in response
            }
            for which, body in bodies.items():
                if str(which).startswith("2") and which != "204" and "content" not in body:
                    untyped.append(f"{method.upper()} {route} {which}: no content described")
                for content in body.get("content", {}).values():
                    untyped += _untyped(content.get("schema"), f"{method.upper()} {route} {which}")
    assert untyped == []


def test_errors_are_documented_as_the_api_sends_them(client, admin):
    spec = _spec(client)
    error = spec["components"]["schemas"]["Error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    sent = client.post("/api/v1/schemes", headers=admin, json={"name": "x", "steps": []}).get_json()

    assert set(sent) == set(error["properties"]) == {"error"}
    assert set(sent["error"]) <= set(detail["properties"])
    assert set(detail["required"]) <= set(sent["error"])
    assert spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_a_step_destination_is_one_of_the_kinds_told_apart_by_kind(client):
    spec = _spec(client)
    destination = spec["components"]["schemas"]["Step"]["properties"]["destinations"]["items"]
    mapping = destination["discriminator"]["mapping"]

    assert destination["discriminator"]["propertyName"] == "kind"
    assert {"employee", "department", "voicemail", "ivr", "queue", "webhook", "phone_number", "sip_uri"} <= set(mapping)
    assert [one["$ref"] for one in destination["oneOf"]] == list(mapping.values())
    employee = spec["components"]["schemas"]["EmployeeDestination"]
    assert employee["properties"]["kind"]["enum"] == ["employee"]
    assert set(employee["required"]) == {"kind", "employee_id"}
    interval = spec["components"]["schemas"]["Interval"]
    assert interval["properties"]["start"]["type"] == "string" and "24:00" in interval["properties"]["start"]["pattern"]
