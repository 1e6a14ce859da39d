"""``GET /api/v1/notifications`` and ``POST /api/v1/notifications/read``: the caller's own
notifications only, paged by ``before_id``; bad input is a 4xx problem, never a 500; the
operations conform to the OpenAPI document (schemathesis)."""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engine import accounts
from engine.automation.notifications import notify
from engine.clock import UTC
from tests.web.support import token_for

AT = dt.datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def _notify(app, username: str, n: int = 1, **kw) -> None:
    rt = app.extensions["loom"].current
    uid = accounts.find_user(rt.db, rt.tables, username)["id"]
    kw.setdefault("title", {"en": "Visit soon", "zh-CN": "即将拜访"})
    with rt.db.write() as conn:
        for i in range(n):
            notify(conn, rt.tables, [uid], kind="reminder", at=AT + dt.timedelta(minutes=i), **kw)


def test_the_list_shows_the_callers_notifications_newest_first_with_pages(any_app, any_api):
    _notify(any_app, "sales1", 3, entity="visit", record_id=9, run_id=4)
    _notify(any_app, "sales2", 2)
    api = any_api("sales1")
    first = api.get("/api/v1/notifications?limit=2")
    assert first.status_code == 200
    body = first.get_json()
    assert body["unread_count"] == 3 and len(body["data"]) == 2
    item = body["data"][0]
    assert item["title"] == {"en": "Visit soon", "zh-CN": "即将拜访"}
    assert (item["entity"], item["record_id"], item["run_id"], item["kind"]) == \
        ("visit", 9, 4, "reminder")
    assert item["created_at"] == "2026-11-23T01:32:00+00:00"
    assert item["read"] is False and item["read_at"] is None
    nxt = body["links"]["next"]
    assert f"before_id={body['next_before_id']}" in nxt
    rest = api.get(nxt).get_json()
    assert len(rest["data"]) == 1 and rest["next_before_id"] is None and rest["links"] == {}
    ids = [i["id"] for i in body["data"] + rest["data"]]
    assert ids == sorted(ids, reverse=True)


def test_marking_ids_and_all_and_the_unread_filter(any_app, any_api):
    _notify(any_app, "sales1", 3)
    api = any_api("sales1")
    ids = [i["id"] for i in api.get("/api/v1/notifications").get_json()["data"]]
    response = api.post("/api/v1/notifications/read", json={"ids": [ids[0], ids[0]]})
    assert response.status_code == 200 and response.get_json() == {"marked": 1, "unread_count": 2}
    unread = api.get("/api/v1/notifications?unread=true").get_json()["data"]
    assert [i["id"] for i in unread] == ids[1:]
    read = api.get("/api/v1/notifications").get_json()["data"][0]
    assert read["read"] is True and read["read_at"].endswith("+00:00")
    assert api.post("/api/v1/notifications/read", json={"all": True}).get_json() == \
        {"marked": 2, "unread_count": 0}


def test_a_caller_can_neither_list_nor_mark_anothers_notifications(app, api):
    _notify(app, "sales2")
    theirs = api("sales2").get("/api/v1/notifications").get_json()["data"][0]["id"]
    mine = api("sales1")
    assert mine.get("/api/v1/notifications").get_json() == {
        "data": [], "unread_count": 0, "next_before_id": None, "links": {}}
    assert mine.post("/api/v1/notifications/read", json={"ids": [theirs]}).get_json() == \
        {"marked": 0, "unread_count": 0}
    assert mine.post("/api/v1/notifications/read", json={"all": True}).get_json()["marked"] == 0
    assert api("sales2").get("/api/v1/notifications?unread=true").get_json()["unread_count"] == 1


@pytest.mark.parametrize("query", ["unread=maybe", "limit=0", "limit=101", "limit=x",
                                   "before_id=-1", "before_id=99999999999999999999"])
def test_bad_parameters_are_400(api, query):
    response = api("sales1").get(f"/api/v1/notifications?{query}")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("body, status", [
    ({}, 422), ({"all": False}, 422), ({"ids": [1], "all": True}, 422), ({"ids": "1"}, 422),
    ({"ids": ["1"]}, 422), ({"ids": [0]}, 422), ({"ids": [2**70]}, 422), ({"other": 1}, 422),
    ([1, 2], 422), ({"ids": list(range(1, 502))}, 422),
])
def test_bad_bodies_are_problems(api, body, status):
    response = api("sales1").post("/api/v1/notifications/read", json=body)
    assert response.status_code == status, response.get_data(as_text=True)


def test_a_body_that_is_not_json_is_415_or_400(api):
    client = api("sales1")
    assert client.post("/api/v1/notifications/read", data="ids=1").status_code == 415
    assert client.post("/api/v1/notifications/read", data="{",
                       headers={"Content-Type": "application/json"}).status_code == 400


def test_the_api_needs_authentication_and_a_csrf_token_for_sessions(client, login):
    assert client.get("/api/v1/notifications").status_code == 401
    browser = login("sales1")
    assert browser.get("/api/v1/notifications").status_code == 200
    assert browser.post("/api/v1/notifications/read", json={"all": True}).status_code == 400


def test_the_notification_operations_conform_to_the_document(app):
    _notify(app, "admin", 3)
    headers = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = [op for op in (r.ok() for r in schema.get_all_operations())
                  if op.path.startswith("/notifications")]
    assert sorted(op.label for op in operations) == [
        "GET /notifications", "POST /notifications/read"]
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def conforms(case):
            case.call_and_validate(headers=headers, checks=[
                not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])

        try:
            conforms()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
