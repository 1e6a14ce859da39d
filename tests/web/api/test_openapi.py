"""The OpenAPI document: valid OpenAPI 3.1, every entity described, served per model version."""

from __future__ import annotations

import json

import jsonschema
import pytest
import schemathesis

from engine.config import SHIPPED_METADATA, Config, load_model
from engine.filters import STANDARD_FIELDS
from web.api.openapi import OPENAPI_VERSION, build_document, document_json
from web.api.openapi_schemas import component_name

OPERATIONS = {"/{e}": {"get", "post"}, "/{e}/query": {"post"}, "/{e}/bulk": {"post"},
              "/{e}/aggregate": {"get", "post"}, "/{e}/{{id}}": {"get", "patch", "delete"}}


@pytest.fixture(scope="module")
def model():
    return load_model(Config.from_env(database="sqlite://",
                                      metadata=[str(d) for d in SHIPPED_METADATA]))


@pytest.fixture(scope="module")
def document(model):
    return build_document(model)


def test_the_document_is_valid_openapi(document):
    assert document["openapi"] == OPENAPI_VERSION
    schemathesis.openapi.from_dict(document).validate()  # raises on an invalid document


def test_every_entity_has_its_schemas_and_operations(model, document):
    schemas, paths = document["components"]["schemas"], document["paths"]
    for name, entity in model.entities.items():
        base = component_name(name)
        for suffix in ("", "Create", "Update", "Filter", "Page", "Query", "Bulk"):
            assert base + suffix in schemas, base + suffix
        record = schemas[base]["properties"]
        assert set(entity.field_names) | set(STANDARD_FIELDS) <= set(record)
        for template, methods in OPERATIONS.items():
            assert set(paths[template.format(e=name)]) - {"parameters"} == methods


def test_input_schemas_list_writable_fields_and_required_ones(document):
    schemas = document["components"]["schemas"]
    create, update = schemas["DealCreate"], schemas["DealUpdate"]
    assert "weighted_amount" not in create["properties"]  # a formula: computed, not input
    assert "id" not in create["properties"] and "owner" in create["properties"]
    assert {"title", "account"} <= set(create["required"])
    assert "stage" not in create["required"]  # it has a default
    assert create["additionalProperties"] is False and "version" in update["properties"]
    assert "required" not in update
    assert schemas["Deal"]["properties"]["stage"]["anyOf"][0]["enum"][:2] == ["lead", "qualified"]


def test_create_examples_match_their_schema(document):
    schemas = document["components"]["schemas"]
    assert schemas["DealCreate"]["examples"] and schemas["AccountCreate"]["examples"]
    for name, schema in schemas.items():
        for example in schema.get("examples", []):
            if name.endswith("Create"):
                resolver_doc = {"components": document["components"], **schema}
                jsonschema.validate(example, resolver_doc)


def test_problems_are_problem_json_on_every_operation(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            for code in ("400", "401", "403", "404"):
                content = responses[code]["content"]
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/ProblemDetails"}, (path, method)


def test_the_document_needs_authentication(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_the_served_document_covers_the_metadata_routes_and_is_cached(app, api):
    admin = api("admin")
    response = admin.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert "/deal/aggregate" in document["paths"]
    schemathesis.openapi.from_dict(document).validate()
    meta = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/meta")]
    for rule in meta:
        path = rule[len("/api/v1"):].replace("<", "{").replace(">", "}")
        assert path.split("{")[0] in {p.split("{")[0] for p in document["paths"]}, rule
    etag = response.headers["ETag"]
    again = admin.get("/api/v1/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_the_docs_page_serves_local_swagger_ui_to_a_logged_in_browser(client, login):
    response = client.get("/api/v1/docs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = login("sales1").get("/api/v1/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert 'data-spec-url="/api/v1/openapi.json"' in page
    assert "https://" not in page.split("<main")[1]  # nothing from a CDN
    session = login("sales1")
    assert session.get("/api/v1/openapi.json").status_code == 200
    with session.get("/static/vendor/swagger-ui/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200


def test_the_cached_document_follows_the_model_version(app, model_from):
    shipped = app.extensions["loom"].current.model
    other = model_from({"entity": "gadget", "label": "Gadget",
                        "fields": [{"name": "name", "type": "string", "required": True}]})
    with app.app_context():
        first = document_json(app, shipped)
        assert document_json(app, shipped) is first  # built once per version
        changed = json.loads(document_json(app, other))
    assert list(changed["paths"])[:2] == ["/gadget", "/gadget/query"]
    assert changed["info"]["version"] == other.version != shipped.version
    assert "GadgetCreate" in changed["components"]["schemas"]
