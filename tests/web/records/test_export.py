"""CSV export of a list: the same rows as the service gives the actor, visible fields only."""

from __future__ import annotations

import csv
import io
import re

import pytest

from engine import accounts
from tests.web.support import login_client
from web.records import export


def actor(app, username: str):
    rt = app.extensions["loom"].current
    user = next(u for u in accounts.list_users(rt.db, rt.tables) if u["username"] == username)
    return accounts.actor_for(rt.db, rt.tables, user["id"])


def column(app, header: list[str], entity: str, name: str) -> int:
    """Where field ``name`` is in ``header`` (its label in English or Chinese)."""
    rt = app.extensions["loom"].current
    f = rt.model.entity(entity).field(name) if rt.model.entity(entity).has_field(name) else None
    labels = {f.label.get("en"), f.label.get("zh-CN")} if f else {name}
    found = [i for i, title in enumerate(header) if title in labels]
    assert len(found) == 1, (name, header)
    return found[0]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def all_ids(app, username: str, entity: str, flt=None, sort=()) -> list[int]:
    rt = app.extensions["loom"].current
    out, after = [], None
    while True:
        page = rt.service.list(actor(app, username), entity, filter=flt, sort=sort, limit=1000,
                               after=after)
        out += [r["id"] for r in page.rows]
        after = page.next_after
        if after is None:
            return out


def test_export_gives_exactly_the_actors_filtered_rows(any_app):
    rows = read_csv(login_client(any_app, "sales1").get("/r/deal/export.csv?f.stage=won"))
    header, body = rows[0], rows[1:]
    assert header[0] == "id"
    stage = column(any_app, header, "deal", "stage")
    ids = [int(r[0]) for r in body]
    expected = all_ids(any_app, "sales1", "deal", [{"field": "stage", "op": "eq", "value": "won"}])
    assert ids and sorted(ids) == sorted(expected)
    assert len(set(ids)) == len(ids)
    assert {r[stage] for r in body} in ({"Won"}, {"赢单"})


def test_export_pages_through_more_rows_than_one_chunk(app, login, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_CHUNK", 7)
    rows = read_csv(login("admin").get("/r/account/export.csv?sort=name"))
    ids = [int(r[0]) for r in rows[1:]]
    expected = all_ids(app, "admin", "account", sort=["name"])
    assert len(expected) > 7 and ids == expected  # every row once, in the list's order


def test_hidden_fields_are_not_exported(app, login):
    header = read_csv(login("sales1").get("/r/campaign/export.csv"))[0]
    admin_header = read_csv(login("admin").get("/r/campaign/export.csv"))[0]
    budget = column(app, admin_header, "campaign", "budget")
    assert admin_header[budget] not in header and len(header) < len(admin_header)


def test_numbers_and_dates_are_plain_and_relations_show_names(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"],
                           filter=[{"field": "amount", "op": "gt", "value": 0}]).rows[0]
    account = rt.service.get(admin, "account", deal["account"])
    rows = read_csv(login("admin").get(f"/r/deal/export.csv?f.account={deal['account']}"))
    header = rows[0]
    line = next(r for r in rows[1:] if int(r[0]) == deal["id"])
    as_json = rt.service.to_json("deal", deal)
    assert line[column(app, header, "deal", "amount")] == str(as_json["amount"])
    assert line[column(app, header, "deal", "account")] == account["name"]
    assert line[-2] == as_json["created_at"]  # owner, created_at, updated_at come last


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "+1+2", "-3", "@SUM(A1)"])
def test_text_a_spreadsheet_would_run_is_defused(app, login, value):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    made = rt.service.create(admin, "account", {"name": value})
    rows = read_csv(login("admin").get("/r/account/export.csv", query_string={"q": value}))
    line = next(r for r in rows[1:] if int(r[0]) == made["id"])
    assert line[column(app, rows[0], "account", "name")] == "'" + value


def alert(page: str, kind: str) -> str:
    start = page.index(f'class="alert alert-{kind}"')
    return page[start:page.index("</div>", start)]


def test_too_large_an_export_is_refused_with_a_message(app, login, monkeypatch):
    monkeypatch.setattr(export, "MAX_EXPORT_ROWS", 3)
    client = login("admin")
    response = client.get("/r/deal/export.csv?f.stage=won")
    assert response.status_code == 302
    assert response.headers["Location"] == "/r/deal?f.stage=won"
    total = len(all_ids(app, "admin", "deal", [{"field": "stage", "op": "eq", "value": "won"}]))
    message = alert(client.get(response.headers["Location"]).get_data(as_text=True), "warning")
    assert re.search(rf"\b{total}\b", message) and re.search(r"\b3\b", message)


def test_a_bad_filter_goes_back_to_the_list_with_the_reason(app, login):
    client = login("admin")
    response = client.get("/r/deal/export.csv?f.amount.from=lots")
    assert response.status_code == 302
    message = alert(client.get(response.headers["Location"]).get_data(as_text=True), "danger")
    assert "金额" in message and "lots" in message  # the field's label, in the user's language


def test_export_needs_a_login_and_read_permission(app, login):
    response = app.test_client().get("/r/deal/export.csv")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert login("service1").get("/r/deal/export.csv").status_code == 403


def test_the_list_links_to_the_export_with_its_filters(app, login):
    page = login("admin").get("/r/deal?f.stage=won").get_data(as_text=True)
    assert 'href="/r/deal/export.csv?f.stage=won"' in page


def test_list_parameters_named_like_url_options_are_kept_as_they_are(app, login):
    client = login("admin")
    assert client.get("/r/deal/export.csv?entity=x").status_code == 200
    monkey = client.get("/r/deal/export.csv?f.amount.from=lots&_external=1")
    assert monkey.status_code == 302
    assert monkey.headers["Location"] == "/r/deal?f.amount.from=lots&_external=1"


@pytest.mark.parametrize(("text", "expected"), [
    ("=1+1", "'=1+1"), ("  =cmd", "'  =cmd"), ("Acme", "Acme"), ("a=b", "a=b")])
def test_defusing_formulas(text, expected):
    assert export._defused(text) == expected
