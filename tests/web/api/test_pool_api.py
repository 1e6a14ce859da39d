"""``POST /api/v1/account/<id>/claim`` and ``/release``: the pool's use cases over REST."""

from __future__ import annotations

from engine.permissions import Actor
from tests.web.pool_support import claimable_ids, sales1


def test_claim_and_release_over_the_api(app, api):
    client = api("sales1")
    account_id = claimable_ids(app)[0]
    claimed = client.post(f"/api/v1/account/{account_id}/claim")
    assert claimed.status_code == 200, claimed.get_json()
    _, actor = sales1(app)
    assert claimed.get_json()["owner"] == actor.user_id
    assert claimed.headers["ETag"] == f'"{claimed.get_json()["version"]}"'
    released = client.post(f"/api/v1/account/{account_id}/release",
                           json={"reason": "duplicate"})
    assert released.status_code == 200, released.get_json()
    body = released.get_json()
    assert body["owner"] is None and body["return_reason"] == "duplicate"
    assert body["previous_owner"] == actor.user_id


def test_a_refused_claim_is_a_problem_with_the_rules_code(app, api):
    account_id = claimable_ids(app)[0]
    assert api("sales1").post(f"/api/v1/account/{account_id}/claim").status_code == 200
    response = api("sales2").post(f"/api/v1/account/{account_id}/claim")
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "owned" and body["type"].endswith("pool-refused")
    assert "owner" in body["detail"] or "负责人" in body["detail"]


def test_a_role_without_a_pool_grant_gets_403(app, api):
    account_id = claimable_ids(app)[0]
    response = api("service1").post(f"/api/v1/account/{account_id}/claim")
    assert response.status_code == 403 and response.get_json()["code"] == "not_open"


def test_releasing_someone_elses_customer_is_refused(app, api):
    account_id = claimable_ids(app)[0]
    api("sales1").post(f"/api/v1/account/{account_id}/claim")
    response = api("sales2").post(f"/api/v1/account/{account_id}/release")
    assert response.status_code == 409 and response.get_json()["code"] == "not_owner"
    rt, actor = sales1(app)
    assert rt.service.get(Actor.system(), "account", account_id)["owner"] == actor.user_id


def test_an_unknown_customer_is_404_and_a_bad_body_400(app, api):
    client = api("sales1")
    assert client.post("/api/v1/account/999999999/claim").status_code == 404
    account_id = claimable_ids(app)[0]
    client.post(f"/api/v1/account/{account_id}/claim")
    bad = client.post(f"/api/v1/account/{account_id}/release", json={"owner": 1})
    assert bad.status_code == 400
    too_long = client.post(f"/api/v1/account/{account_id}/release", json={"reason": "x" * 501})
    assert too_long.status_code == 422


def test_a_session_caller_needs_the_csrf_header(app, login):
    account_id = claimable_ids(app)[0]
    response = login("sales1").post(f"/api/v1/account/{account_id}/claim")
    assert response.status_code == 400 and response.get_json()["type"].endswith("csrf")


def test_claims_hold_on_every_backend(any_app, any_api):
    account_id = claimable_ids(any_app)[0]
    assert any_api("sales1").post(f"/api/v1/account/{account_id}/claim").status_code == 200
    assert any_api("sales2").post(f"/api/v1/account/{account_id}/claim").status_code == 409
