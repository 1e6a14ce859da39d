"""The metadata API: admins read the model, create entities, add and change fields."""

from __future__ import annotations

from engine.storage import versions

TICKET = {"entity": "ticket", "label": {"en": "Ticket", "zh-CN": "工单"},
          "fields": [{"name": "subject", "type": "string", "required": True}]}
BASE = "/api/v1/meta/entities"


def applied_version(app) -> str:
    with app.extensions["loom"].db.read() as conn:
        return versions.applied_version(conn)


def test_admin_lists_entities_and_reads_one_expanded(api):
    admin = api("admin")
    listing = admin.get(BASE)
    assert listing.status_code == 200
    names = {e["name"] for e in listing.json["data"]}
    assert {"account", "deal"} <= names
    deal = admin.get(f"{BASE}/deal")
    assert deal.status_code == 200
    assert {f["name"] for f in deal.json["data"]["fields"]} >= {"stage"}
    assert admin.get(f"{BASE}/nowhere").status_code == 404


def test_unauthenticated_call_is_401_and_non_admin_is_403(app, api):
    assert app.test_client().get(BASE).status_code == 401
    sales = api("sales1")
    assert sales.get(BASE).status_code == 403
    refused = sales.post(BASE, json=TICKET)
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"


def test_admin_creates_an_entity_and_can_use_it_at_once(app, api):
    admin = api("admin")
    created = admin.post(BASE, json=TICKET)
    assert created.status_code == 201, created.json
    assert [s["kind"] for s in created.json["plan"]] == ["add_entity"]
    assert created.json["version"] == applied_version(app)
    assert app.extensions["loom"].current.version == created.json["version"]
    record = admin.post("/api/v1/ticket", json={"subject": "printer on fire"})
    assert record.status_code == 201, record.json


def test_dry_run_returns_the_plan_and_applies_nothing(app, api):
    admin = api("admin")
    before = applied_version(app)
    response = admin.post(f"{BASE}/deal/fields?dry_run=true",
                          json={"name": "priority", "type": "integer", "default": 0})
    assert response.status_code == 200
    assert [(s["kind"], s["field"]) for s in response.json["plan"]] == [("add_field", "priority")]
    assert response.json["version"] != before and not response.json["applied"]
    assert applied_version(app) == before
    assert admin.get(f"{BASE}/deal").json["version"] == before


def test_added_field_appears_in_the_model_and_the_record_api(app, api):
    admin = api("admin")
    added = admin.post(f"{BASE}/deal/fields", json={"name": "priority", "type": "integer"})
    assert added.status_code == 201, added.json
    fields = {f["name"] for f in admin.get(f"{BASE}/deal").json["data"]["fields"]}
    assert "priority" in fields
    changed = admin.patch(f"{BASE}/deal/fields/priority", json={"label": "Priority", "max": 5})
    assert changed.status_code == 200, changed.json
    assert changed.json["version"] == applied_version(app)


def test_metadata_errors_are_422_with_paths(api):
    response = api("admin").post(f"{BASE}/deal/fields", json={"name": "score", "type": "integr"})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    [error] = response.json["errors"]
    assert error["path"] == "$.type" and error["code"] and "integer" in error["message"]


def test_changing_a_file_field_is_409_naming_the_file(api):
    response = api("admin").patch(f"{BASE}/deal/fields/stage", json={"label": "Phase"})
    assert response.status_code == 409
    assert "deal.yaml" in response.json["detail"]


def test_destructive_change_needs_allow_destructive(api):
    admin = api("admin")
    assert admin.post(f"{BASE}/deal/fields", json={"name": "code", "type": "string"}).status_code \
        == 201
    deals = admin.get("/api/v1/deal?per_page=1").json["data"]
    assert admin.patch(f"/api/v1/deal/{deals[0]['id']}",
                       json={"code": "abc", "version": deals[0]["version"]}).status_code == 200
    retype = {"type": "integer", "convert": {"on_failure": "set_null"}}
    refused = admin.patch(f"{BASE}/deal/fields/code", json=retype)
    assert refused.status_code == 409
    assert any(s["destructive"] for s in refused.json["plan"])
    allowed = admin.patch(f"{BASE}/deal/fields/code?allow_destructive=true", json=retype)
    assert allowed.status_code == 200, allowed.json


def test_bad_bodies_and_names(api):
    admin = api("admin")
    assert admin.post(BASE, data="{", headers={"Content-Type": "application/json"}).status_code \
        == 400
    assert admin.post(BASE, data="x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert admin.post(BASE, json=[1]).status_code == 422
    assert admin.post(BASE, json={**TICKET, "entity": "deal"}).status_code == 409
    assert admin.post(f"{BASE}/nowhere/fields", json={"name": "x"}).status_code == 404
    assert admin.post(f"{BASE}/deal/fields?dry_run=maybe", json={"name": "x"}).status_code == 400


def test_entity_created_and_extended_over_the_api_on_every_backend(any_app, any_api):
    admin = any_api("admin")
    assert admin.post(BASE, json=TICKET).status_code == 201
    added = admin.post(f"{BASE}/ticket/fields", json={"name": "priority", "type": "integer",
                                                      "default": 0})
    assert added.status_code == 201, added.json
    assert added.json["version"] == applied_version(any_app)
    created = admin.post("/api/v1/ticket", json={"subject": "s"})
    assert created.status_code == 201, created.json
    assert created.json["priority"] == 0
