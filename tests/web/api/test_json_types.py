"""The API takes values of the JSON types its OpenAPI document states, and refuses the rest
with 422 on the field (forms keep their own text parsing)."""

from __future__ import annotations

import pytest


@pytest.fixture
def account_id(api):
    return api("admin").post("/api/v1/account", json={"name": "Acme"}).get_json()["id"]


@pytest.mark.parametrize("values, field", [
    ({"name": 0}, "name"),
    ({"name": "Li", "is_primary": "yes"}, "is_primary"),
    ({"name": "Li", "wechat": []}, "wechat"),
    ({"name": "Li", "birthday": ""}, "birthday"),
    ({"name": "Li", "role": ""}, "role"),
])
def test_a_value_of_another_json_type_is_a_422_on_its_field(api, account_id, values, field):
    response = api("admin").post("/api/v1/contact", json={"account": account_id, **values})
    assert response.status_code == 422, response.get_json()
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_the_document_s_types_pass(api, account_id):
    response = api("admin").post("/api/v1/contact", json={
        "account": account_id, "name": "Li Lei", "is_primary": True, "birthday": "1990-05-01", "wechat": None})
    assert response.status_code == 201, response.get_json()


def test_updates_and_bulk_rows_are_checked_too(api, account_id):
    admin = api("admin")
    created = admin.post("/api/v1/contact", json={"name": "Li Lei",
                                                  "account": account_id}).get_json()
    patched = admin.patch(f"/api/v1/contact/{created['id']}",
                          json={"is_primary": 1, "version": created["version"]})
    assert patched.status_code == 422
    bulk = admin.post("/api/v1/contact/bulk", json=[{"name": "A", "account": account_id},
                                                     {"name": 5, "account": account_id}])
    assert bulk.status_code == 422
    assert [(e["field"], e.get("row")) for e in bulk.get_json()["errors"]] == [("name", 1)]
    per_row = admin.post("/api/v1/contact/bulk", json={"mode": "per_row",
                                                       "records": [
                                                           {"name": "B", "account": account_id},
                                                           {"name": 5, "account": account_id}]})
    results = per_row.get_json()["results"]
    assert [r["status"] for r in results] == [201, 422]


def test_a_negative_page_size_says_what_is_wrong(api):
    response = api("admin").get("/api/v1/deal?per_page=-5")
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert "Not a whole number" not in detail and "greater than or equal to 1" in detail


def test_problem_titles_are_in_sentence_case(api):
    response = api("admin").post("/api/v1/deal", data="{", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["title"] == "Bad request"
    unsupported = api("admin").post("/api/v1/deal", data="x", content_type="text/plain")
    assert unsupported.get_json()["title"] == "Unsupported media type"
