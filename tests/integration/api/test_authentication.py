import pytest

from .conftest import bearer

RESOURCES = ["/api/v1/company", "/api/v1/employees", "/api/v1/schemes", "/api/v1/numbers"]


@pytest.mark.parametrize("url", RESOURCES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWJjOmRlZg=="}, bearer("vpbx_not-a-token")],
    ids=["none", "basic", "unknown-token"],
)
def test_every_resource_needs_a_valid_token(client, url, headers):
    response = client.get(url, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="vpbx"'
    assert response.get_json()["error"]["title"] == "Unauthorized"


def test_openapi_document_is_generated_from_the_schemas(client):
    spec = client.get("/openapi.json").get_json()

    assert spec["info"]["title"] == "vpbx admin API"
    assert "/api/v1/numbers/{number}/route" in spec["paths"]
    assert {"Employee", "EmployeePatch", "Scheme", "Step"} <= set(spec["components"]["schemas"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
