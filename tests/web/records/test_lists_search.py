"""Typeahead lookups: readable records by display field, active users."""

from __future__ import annotations

from engine import accounts
from tests.web.records.test_lists import actor
from tests.web.support import login_client


def test_record_search_returns_only_records_the_actor_may_read(any_app):
    rt = any_app.extensions["loom"].current
    client = login_client(any_app, "sales1")
    found = client.get("/r/account/search?q=&limit=100").get_json()
    mine = rt.service.list(actor(any_app, "sales1"), "account", limit=100, sort=["name"]).rows
    assert found == [{"id": r["id"], "label": r["name"]} for r in mine]
    everyone = rt.service.list(actor(any_app, "admin"), "account", limit=1000).rows
    hidden = [r for r in everyone if r["id"] not in {m["id"] for m in mine}]
    assert hidden, "other teams own accounts too"
    name = hidden[0]["name"]
    assert all(item["id"] != hidden[0]["id"]
               for item in client.get(f"/r/account/search?q={name}").get_json())
    admin = login_client(any_app, "admin").get(f"/r/account/search?q={name}").get_json()
    assert {"id": hidden[0]["id"], "label": name} in admin


def test_record_search_matches_the_display_field_and_honours_the_limit(app, login):
    rt = app.extensions["loom"].current
    deal = rt.service.list(actor(app, "admin"), "deal", limit=1).rows[0]
    found = login("admin").get(f"/r/deal/search?q={deal['title']}").get_json()
    assert {"id": deal["id"], "label": deal["title"]} in found
    assert all(deal["title"] in item["label"] for item in found)
    assert len(login("admin").get("/r/deal/search?limit=3").get_json()) == 3


def test_record_search_of_an_unreadable_entity_is_forbidden(login):
    assert login("service1").get("/r/deal/search?q=a").status_code == 403


def test_user_search_lists_active_users_by_name(app, login):
    rt = app.extensions["loom"].current
    accounts.deactivate_user(rt.db, rt.tables, "sales8")
    users = {u["username"]: u for u in accounts.list_users(rt.db, rt.tables)}
    found = login("sales1").get("/r/_users/search?q=sales").get_json()
    ids = {item["id"] for item in found}
    assert users["sales2"]["id"] in ids and users["sales8"]["id"] not in ids
    named = login("sales1").get(f"/r/_users/search?q={users['sales2']['display_name']}").get_json()
    assert named == [{"id": users["sales2"]["id"], "label": users["sales2"]["display_name"]}]
