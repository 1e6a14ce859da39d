"""The pipeline board: columns, SQL totals, the list's filters, scope, and moving cards."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.web.records.test_lists import actor
from tests.web.records.test_pages import english
from tests.web.support import csrf_from, login_client
from web.records import board as board_module

STAGES = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]
JSON = {"Accept": "application/json"}


def _column(body: str, value: str) -> str:
    start = body.index(f'data-column="{value}"')
    return body[start:body.index("</section>", start)]


def _counts(body: str) -> dict[str, int]:
    return {v: int(re.search(r"data-count[^>]*>(\d+)<", _column(body, v)).group(1)) for v in STAGES}


def _cards(body: str, value: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-card data-id="(\d+)"', _column(body, value))]


def _open_deal(rt, who, **values):
    account = rt.service.list(who, "account", limit=1, sort=["id"], filter=[
        {"field": "owner", "op": "eq", "value": who.user_id}]).rows[0]
    return rt.service.create(who, "deal", {"title": "Board test", "stage": "proposal",
                                           "account": account["id"], "amount": "100.00",
                                           **values})


def test_the_board_has_a_column_per_stage_in_declared_order_with_sql_counts_and_totals(
        any_app, monkeypatch):
    rt = any_app.extensions["loom"].current
    admin = actor(any_app, "admin")
    client = english(login_client(any_app, "admin"))
    monkeypatch.setattr(board_module, "CARDS_PER_COLUMN", 2)  # totals are not of the cards shown
    body = client.get("/r/deal/board").get_data(as_text=True)
    assert re.findall(r'data-testid="board-column" data-column="(\w+)"', body) == STAGES
    groups = {r["stage"]: r for r in rt.service.aggregate(
        admin, "deal", group_by=["stage"], metrics=["count", "sum:amount"]).rows}
    assert _counts(body) == {v: groups.get(v, {}).get("count", 0) for v in STAGES}
    busiest = max(STAGES, key=lambda v: groups.get(v, {}).get("count", 0))
    column = _column(body, busiest)
    assert len(_cards(body, busiest)) == 2 and 'data-testid="show-more"' in column
    assert "f.stage=" + busiest in column
    total = Decimal(groups[busiest]["sum_amount"])
    shown = re.search(r'data-total="amount">([^<]*)<', column).group(1)
    assert shown.endswith(f"¥{total:,.2f}") and 'data-total="weighted_amount"' in column


def test_the_board_takes_the_list_filters_and_the_actors_scope(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    body = english(login("sales1")).get("/r/deal/board?f.stage=proposal&f.stage=won") \
        .get_data(as_text=True)
    mine = rt.service.aggregate(sales1, "deal", group_by=["stage"], metrics=["count"]).rows
    expected = {v: 0 for v in STAGES} | {r["stage"]: r["count"] for r in mine
                                         if r["stage"] in ("proposal", "won")}
    assert _counts(body) == expected
    admin_total = sum(r["count"] for r in rt.service.aggregate(
        actor(app, "admin"), "deal", group_by=["stage"], metrics=["count"]).rows)
    assert sum(_counts(login("sales1").get("/r/deal/board").get_data(as_text=True)).values()) \
        < admin_total
    # A broken filter is reported and the board still renders.
    broken = english(login("sales1")).get("/r/deal/board?f.stage=nope&page=x")
    notices = re.findall(r'data-testid="list-notice">([^<]*)<', broken.get_data(as_text=True))
    assert broken.status_code == 200 and len(notices) == 1 and "nope" in notices[0]


def test_the_list_links_to_its_board_and_an_entity_without_one_has_none(app, login):
    client = english(login("admin"))
    assert 'href="/r/deal/board?f.stage=won"' in client.get("/r/deal?f.stage=won").get_data(
        as_text=True)
    assert 'data-testid="board-view"' not in client.get("/r/account").get_data(as_text=True)
    assert client.get("/r/account/board").status_code == 404
    assert client.get("/r/lead/board").status_code == 200
    assert client.get("/r/service_case/board").status_code == 200


def test_moving_a_card_with_the_form_goes_through_the_record_service(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    deal = _open_deal(rt, sales1)
    client = english(login("sales1"))
    page = client.get("/r/deal/board").get_data(as_text=True)
    assert deal["id"] in _cards(page, "proposal")
    back = "/r/deal/board?f.owner=" + str(sales1.user_id)
    response = client.post("/r/deal/board/move", data={
        "csrf_token": csrf_from(page), "id": deal["id"], "version": deal["version"],
        "value": "negotiation", "next": back})
    assert response.status_code == 303 and response.headers["Location"] == back
    moved = rt.service.get(sales1, "deal", deal["id"])
    assert moved["stage"] == "negotiation" and moved["probability"] == Decimal("75.00")
    assert "Moved to Negotiation." in client.get(back).get_data(as_text=True)
    # The same (now stale) version again: refused, nothing changes.
    stale = client.post("/r/deal/board/move", data={
        "csrf_token": csrf_from(page), "id": deal["id"], "version": deal["version"],
        "value": "qualified"}, headers=JSON)
    assert stale.status_code == 409 and stale.json["ok"] is False
    assert rt.service.get(sales1, "deal", deal["id"])["stage"] == "negotiation"


def test_a_move_needs_the_csrf_token(app, login):
    rt = app.extensions["loom"].current
    deal = _open_deal(rt, actor(app, "sales1"))
    response = login("sales1").post("/r/deal/board/move", data={
        "id": deal["id"], "version": deal["version"], "value": "won"})
    assert response.status_code == 400
    assert rt.service.get(actor(app, "sales1"), "deal", deal["id"])["stage"] == "proposal"


def test_a_drag_answers_json_with_the_new_column_figures(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    deal = _open_deal(rt, sales1)
    client = english(login("sales1"))
    token = csrf_from(client.get("/r/deal/board").get_data(as_text=True))
    response = client.post("/r/deal/board/move", data={
        "csrf_token": token, "id": deal["id"], "version": deal["version"],
        "value": "qualified", "next": "/r/deal/board"}, headers=JSON)
    assert response.status_code == 200 and response.json["ok"] is True
    assert response.json["version"] == deal["version"] + 1
    groups = {r["stage"]: r["count"] for r in rt.service.aggregate(
        sales1, "deal", group_by=["stage"], metrics=["count"]).rows}
    assert {v: c["count"] for v, c in response.json["columns"].items()} == \
        {v: groups.get(v, 0) for v in STAGES}


def test_a_move_that_breaks_a_rule_changes_nothing_and_says_why(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    deal = _open_deal(rt, sales1, amount="0.00")
    client = english(login("sales1"))
    token = csrf_from(client.get("/r/deal/board").get_data(as_text=True))
    response = client.post("/r/deal/board/move", data={
        "csrf_token": token, "id": deal["id"], "version": deal["version"], "value": "won"},
        headers=JSON)
    assert response.status_code == 422 and response.json["ok"] is False
    assert "A won deal needs an amount above zero." in response.json["messages"]
    assert response.json["edit_url"] is None  # a rule, not a missing field: the card goes back
    assert rt.service.get(sales1, "deal", deal["id"])["stage"] == "proposal"
    # Without JavaScript: back to the board with the message.
    plain = client.post("/r/deal/board/move", data={
        "csrf_token": token, "id": deal["id"], "version": deal["version"], "value": "won",
        "next": "/r/deal/board"}, follow_redirects=True)
    assert "A won deal needs an amount above zero." in plain.get_data(as_text=True)


def test_a_move_to_lost_opens_the_edit_form_with_the_stage_preset(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    deal = _open_deal(rt, sales1)
    client = english(login("sales1"))
    token = csrf_from(client.get("/r/deal/board").get_data(as_text=True))
    data = {"csrf_token": token, "id": deal["id"], "version": deal["version"], "value": "lost"}
    response = client.post("/r/deal/board/move", data=data, headers=JSON)
    assert response.status_code == 422
    edit_url = f"/r/deal/{deal['id']}/edit?stage=lost"
    assert response.json["edit_url"] == edit_url
    plain = client.post("/r/deal/board/move", data=data)
    assert plain.status_code == 303 and plain.headers["Location"] == edit_url
    form = client.get(edit_url).get_data(as_text=True)
    assert re.search(r'<option[^>]*value="lost"[^>]*selected', form)
    assert rt.service.get(sales1, "deal", deal["id"])["stage"] == "proposal"


def test_a_move_to_a_column_the_field_does_not_have_is_refused(app, login):
    rt = app.extensions["loom"].current
    deal = _open_deal(rt, actor(app, "sales1"))
    client = login("sales1")
    token = csrf_from(client.get("/r/deal/board").get_data(as_text=True))
    response = client.post("/r/deal/board/move", data={
        "csrf_token": token, "id": deal["id"], "version": deal["version"], "value": "mars"},
        headers=JSON)
    assert response.status_code == 422 and response.json["ok"] is False


def test_who_may_not_read_the_entity_gets_no_board_and_moves_nothing(app, login):
    rt = app.extensions["loom"].current
    deal = _open_deal(rt, actor(app, "sales1"))
    client = login("service1")  # the service role reads no deals
    assert client.get("/r/deal/board").status_code == 403
    token = csrf_from(client.get("/r/service_case/board").get_data(as_text=True))
    response = client.post("/r/deal/board/move", data={
        "csrf_token": token, "id": deal["id"], "version": deal["version"], "value": "won"},
        headers=JSON)
    assert response.status_code in (403, 404) and response.json["ok"] is False
    assert rt.service.get(actor(app, "sales1"), "deal", deal["id"])["stage"] == "proposal"
