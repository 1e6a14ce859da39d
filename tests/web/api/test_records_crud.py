"""One record over REST: create, get, update with optimistic locking, delete."""

from __future__ import annotations

from decimal import Decimal

from tests.web.api.records_support import first_id, new_deal, url


def test_a_deal_goes_through_create_get_update_delete(any_api):
    api = any_api("sales1")
    account = first_id(api, "account")
    created = api.post(url("deal"), json={"title": "Round trip", "account": account,
                                          "amount": "1200.50", "expected_close_date": "2026-12-01"})
    assert created.status_code == 201, created.get_json()
    deal = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/deal/{deal['id']}")
    assert created.headers["ETag"] == '"1"'
    assert deal["version"] == 1 and deal["stage"] == "lead" and deal["account"] == account
    assert Decimal(deal["amount"]) == Decimal("1200.50")
    assert deal["expected_close_date"] == "2026-12-01"

    got = api.get(created.headers["Location"])
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    assert got.get_json() == deal

    changed = api.patch(url("deal", deal["id"]), json={"stage": "qualified"},
                        headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["stage"] == "qualified" and changed.headers["ETag"] == '"2"'

    by_body = api.patch(url("deal", deal["id"]), json={"next_step": "Call", "version": 2})
    assert by_body.status_code == 200 and by_body.get_json()["version"] == 3

    assert api.delete(url("deal", deal["id"]), headers={"If-Match": '"3"'}).status_code == 204
    gone = api.get(url("deal", deal["id"]))
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"


def test_create_with_fields_id_returns_only_the_id(api):
    api = api("admin")
    response = api.post(url("deal", fields="id"),
                        json={"title": "Fast", "account": first_id(api, "account")})
    assert response.status_code == 201
    assert list(response.get_json()) == ["id"]
    assert response.headers["ETag"] == '"1"'


def test_get_with_fields_and_expand(api):
    admin = api("admin")
    deal = new_deal(admin)
    response = admin.get(url("deal", deal["id"], fields="title,account", expand="account,owner"))
    body = response.get_json()
    assert set(body) == {"id", "version", "title", "account", "_expand"}
    assert body["_expand"]["account"]["id"] == deal["account"]
    assert "_display" in body["_expand"]["account"]
    assert body["_expand"]["owner"]["username"] == "admin"


def test_get_answers_304_when_the_etag_still_matches(api):
    admin = api("admin")
    deal = new_deal(admin)
    response = admin.get(url("deal", deal["id"]), headers={"If-None-Match": '"1"'})
    assert response.status_code == 304 and response.headers["ETag"] == '"1"'
    assert admin.get(url("deal", deal["id"]), headers={"If-None-Match": '"7"'}).status_code == 200


def test_a_stale_if_match_is_412_and_a_stale_body_version_409(any_api):
    api = any_api("admin")
    deal = new_deal(api)
    assert api.patch(url("deal", deal["id"]), json={"title": "v2", "version": 1}).status_code == 200
    stale_header = api.patch(url("deal", deal["id"]), json={"title": "v3"},
                             headers={"If-Match": 'W/"1"'})
    assert stale_header.status_code == 412
    assert stale_header.get_json()["current_version"] == 2
    stale_body = api.patch(url("deal", deal["id"]), json={"title": "v3", "version": 1})
    assert stale_body.status_code == 409
    assert stale_body.get_json()["type"] == "urn:loom:problem:version-conflict"
    assert api.get(url("deal", deal["id"])).get_json()["title"] == "v2"


def test_update_without_a_version_is_428(api):
    admin = api("admin")
    deal = new_deal(admin)
    response = admin.patch(url("deal", deal["id"]), json={"title": "no version"})
    assert response.status_code == 428
    assert "If-Match" in response.get_json()["detail"]


def test_a_stale_version_on_delete_is_refused_and_nothing_is_deleted(api):
    admin = api("admin")
    deal = new_deal(admin)
    assert admin.delete(url("deal", deal["id"]), headers={"If-Match": '"5"'}).status_code == 412
    assert admin.get(url("deal", deal["id"])).status_code == 200
    assert admin.delete(url("deal", deal["id"])).status_code == 204


def test_validation_errors_name_every_field_in_the_callers_language(any_api):
    api = any_api("admin")
    response = api.post(url("deal"), json={"title": "", "stage": "sold", "amount": "lots",
                                           "expected_close_date": "tomorrow"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["type"] == "urn:loom:problem:validation"
    by_field = {e["field"]: e for e in body["errors"]}
    assert {"title", "stage", "amount", "expected_close_date", "account"} <= set(by_field)
    assert by_field["account"]["code"] == "required"
    assert all(isinstance(e["message"], str) for e in body["errors"])
    chinese = api.post(url("deal"), json={"title": "x"}, headers={"Accept-Language": "zh-CN"})
    assert any("必填" in e["message"] for e in chinese.get_json()["errors"])


def test_a_rule_violation_names_the_rule(api):
    admin = api("admin")
    response = admin.post(url("deal"), json={"title": "Won for nothing", "stage": "won",
                                             "amount": "0", "closed_at": "2026-01-05T10:00:00Z",
                                             "account": first_id(admin, "account")})
    assert response.status_code == 422
    assert any(e.get("rule") == "won_needs_amount" for e in response.get_json()["errors"])


def test_unknown_and_computed_fields_are_refused_never_assigned(api):
    admin = api("admin")
    account = first_id(admin, "account")
    response = admin.post(url("deal"), json={"title": "x", "account": account, "margin": 5,
                                             "weighted_amount": "9", "created_by": 1, "id": 99})
    assert response.status_code == 422
    codes = {e["field"]: e["code"] for e in response.get_json()["errors"]}
    assert codes["margin"] == "unknown"
    assert {"weighted_amount", "created_by", "id"} <= set(codes)
    assert not [d for d in admin.get(url("deal", per_page=1000)).get_json()["data"]
                if d["id"] == 99 and d["title"] == "x"]


def test_a_read_only_field_for_the_role_is_refused(api):
    sales = api("sales1")
    response = sales.post(url("deal"), json={"title": "x", "account": first_id(sales, "account"),
                                             "probability": 90})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "probability"


def test_unknown_record_and_unknown_entity_are_404(api):
    admin = api("admin")
    assert admin.get(url("deal", 10**12)).status_code == 404
    missing = admin.get(url("no_such_entity"))
    assert missing.status_code == 404 and "unknown entity" in missing.get_json()["detail"]
    assert admin.post(url("no_such_entity"), json={}).status_code == 404
    assert admin.patch(url("deal", 10**12), json={"title": "x", "version": 1}).status_code == 404


def test_if_match_star_deletes_whatever_the_version_but_does_not_update(api):
    admin = api("admin")
    deal = new_deal(admin)
    star = {"If-Match": "*"}
    assert admin.patch(url("deal", deal["id"]), json={"title": "x"}, headers=star).status_code == 428
    assert admin.delete(url("deal", deal["id"]), headers=star).status_code == 204


def test_deleting_a_record_others_depend_on_is_refused(api):
    admin = api("admin")
    deal = new_deal(admin)
    response = admin.delete(url("account", deal["account"]))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "referenced"
    assert admin.get(url("account", deal["account"])).status_code == 200
