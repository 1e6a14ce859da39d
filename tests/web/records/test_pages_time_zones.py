"""Datetimes on pages, in forms and over the API, in the organisation's and the user's zone.

The app runs with LOOM_TIMEZONE=Asia/Shanghai (UTC+8). 2026-01-31T16:30Z is
2026-02-01 00:30 in Shanghai.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest

from engine import accounts
from engine.permissions import Actor
from tests.web.support import ApiClient, csrf_from, login_client, make_app, token_for

UTC = dt.timezone.utc
INSTANT = dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC)


@pytest.fixture
def shanghai_app(crm_sqlite_file, tmp_path):
    path = tmp_path / "loom.db"
    shutil.copy(crm_sqlite_file, path)
    app = make_app(f"sqlite:///{path}", tmp_path, LOOM_TIMEZONE="Asia/Shanghai")
    yield app
    app.extensions["loom"].db.dispose()


def _rt(app):
    return app.extensions["loom"].current


def _user(app, username):
    rt = _rt(app)
    return accounts.find_user(rt.db, rt.tables, username)


def _client(app, username="admin"):
    client = login_client(app, username)
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def _activity(app, **values) -> dict:
    rt = _rt(app)
    account = rt.service.list(Actor.system(), "account", limit=1).rows[0]["id"]
    return rt.service.create(Actor.system(), "activity", {
        "subject": "Kick-off", "kind": "call", "account": account, **values})


def test_a_record_page_shows_datetimes_in_the_organisations_zone_with_its_name(shanghai_app):
    activity = _activity(shanghai_app, due_at=INSTANT.isoformat())
    page = _client(shanghai_app).get(f"/r/activity/{activity['id']}").get_data(as_text=True)
    assert "2026-02-01 00:30 (Asia/Shanghai)" in page
    assert "2026-01-31 16:30" not in page


def test_a_users_own_time_zone_wins_over_the_organisations(shanghai_app):
    activity = _activity(shanghai_app, due_at=INSTANT.isoformat())
    rt = _rt(shanghai_app)
    accounts.set_time_zone(rt.db, rt.tables, _user(shanghai_app, "admin")["id"], "Europe/Berlin")
    page = _client(shanghai_app).get(f"/r/activity/{activity['id']}").get_data(as_text=True)
    assert "2026-01-31 17:30 (Europe/Berlin)" in page


def test_a_datetime_typed_in_a_form_is_read_in_the_users_zone(shanghai_app):
    client = _client(shanghai_app)
    page = client.get("/r/activity/new").get_data(as_text=True)
    assert re.search(r"data-zone>Asia/Shanghai<", page)  # the input names its zone
    account = _rt(shanghai_app).service.list(Actor.system(), "account", limit=1).rows[0]["id"]
    response = client.post("/r/activity/new", data={
        "csrf_token": csrf_from(page), "subject": "Typed", "kind": "call",
        "account": str(account), "due_at": "2026-02-01T00:30"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    record_id = int(response.headers["Location"].rsplit("/", 1)[1])
    stored = _rt(shanghai_app).service.get(Actor.system(), "activity", record_id)
    assert stored["due_at"] == INSTANT  # 8 hours earlier, in UTC
    edit = client.get(f"/r/activity/{record_id}/edit").get_data(as_text=True)
    assert 'value="2026-02-01T00:30"' in edit  # shown again as the wall time typed


def test_saving_an_unchanged_form_keeps_the_stored_instant(shanghai_app):
    activity = _activity(shanghai_app, due_at=INSTANT.isoformat())
    client = _client(shanghai_app)
    page = client.get(f"/r/activity/{activity['id']}/edit").get_data(as_text=True)
    response = client.post(f"/r/activity/{activity['id']}/edit", data={
        "csrf_token": csrf_from(page), "version": "1", "subject": "Kick-off", "kind": "call",
        "account": str(activity["account"]), "due_at": "2026-02-01T00:30", "done": ""})
    assert response.status_code == 302
    again = _rt(shanghai_app).service.get(Actor.system(), "activity", activity["id"])
    assert again["due_at"] == INSTANT


def test_a_list_date_range_on_a_datetime_is_whole_days_in_the_users_zone(shanghai_app):
    inside = _activity(shanghai_app, due_at=INSTANT.isoformat(), subject="Zone test")
    before = _activity(shanghai_app, due_at="2026-01-31T15:59:00Z", subject="Zone test")  # Jan 31
    last = _activity(shanghai_app, due_at="2026-02-01T15:59:00Z", subject="Zone test")  # Feb 1
    page = _client(shanghai_app).get("/r/activity?f.due_at.from=2026-02-01&f.due_at.to=2026-02-01"
                                     "&q=Zone+test").get_data(as_text=True)
    assert f"/r/activity/{inside['id']}\"" in page and f"/r/activity/{last['id']}\"" in page
    assert f"/r/activity/{before['id']}\"" not in page


def test_the_time_zone_page_saves_and_refuses_unknown_zones(shanghai_app):
    client = _client(shanghai_app)
    page = client.get("/time-zone").get_data(as_text=True)
    assert "The organisation&#39;s (Asia/Shanghai)" in page or "The organisation's (Asia/Shanghai)" in page
    token = csrf_from(page)
    assert client.post("/time-zone", data={"csrf_token": token,
                                           "time_zone": "America/Sao_Paulo"}).status_code == 302
    assert _user(shanghai_app, "admin")["time_zone"] == "America/Sao_Paulo"
    refused = client.post("/time-zone", data={"csrf_token": token, "time_zone": "Mars/Base"},
                          follow_redirects=True)
    assert "unknown time zone" in refused.get_data(as_text=True)
    assert _user(shanghai_app, "admin")["time_zone"] == "America/Sao_Paulo"  # kept


def test_the_api_speaks_iso_8601_with_offsets(shanghai_app):
    api = ApiClient(shanghai_app.test_client(), token_for(shanghai_app, "admin"))
    account = _rt(shanghai_app).service.list(Actor.system(), "account", limit=1).rows[0]["id"]
    body = {"subject": "API", "kind": "call", "account": account}
    local = api.post("/api/v1/activity", json={**body, "due_at": "2026-02-01T00:30:00+08:00"})
    assert local.status_code == 201, local.get_json()
    record = local.get_json()
    assert record["due_at"] == "2026-01-31T16:30:00+00:00"
    assert record["created_at"].endswith("+00:00") and record["updated_at"].endswith("+00:00")
    # Without an offset, a datetime is read as UTC (not in the organisation's zone).
    naive = api.post("/api/v1/activity", json={**body, "due_at": "2026-01-31T16:30:00"})
    assert naive.get_json()["due_at"] == "2026-01-31T16:30:00+00:00"
    listed = api.get("/api/v1/activity?filter=" + '{"field":"id","op":"eq","value":%d}'
                     % record["id"]).get_json()
    assert listed["data"][0]["due_at"] == "2026-01-31T16:30:00+00:00"
