"""The deal form of the shipped CRM, as a salesperson uses it: create, edit, conflicts,
rule and required_if messages next to their fields, expired forms, escaping, permissions."""

from __future__ import annotations

import re

import pytest

from engine import accounts
from engine.permissions import Actor
from tests.web.support import csrf_from, login_client

XSS = "<script>alert(1)</script>"


def _rt(app):
    return app.extensions["loom"].current


def _actor(app, username: str) -> Actor:
    rt = _rt(app)
    user_id = next(u["id"] for u in accounts.list_users(rt.db, rt.tables) if u["username"] == username)
    return accounts.actor_for(rt.db, rt.tables, user_id)


def _account(app, username: str = "sales1") -> int:
    """An account ``username`` may see (so may link a deal to)."""
    rt = _rt(app)
    return rt.service.list(_actor(app, username), "account", limit=1).rows[0]["id"]


def _field(page: str, name: str) -> str:
    match = re.search(rf'data-loom-field="{name}".*?(?=<div class="mb-3|</fieldset>)', page, re.DOTALL)
    assert match, f"no field {name} on the page"
    return match.group(0)


@pytest.fixture
def login(login):
    """Logged-in clients speaking English (demo salespeople prefer 中文)."""

    def english(username: str):
        client = login(username)
        with client.session_transaction() as session:
            session["lang"] = "en"
        return client

    return english


def _new_deal_page(client) -> tuple[str, str]:
    response = client.get("/r/deal/new")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return page, csrf_from(page)


def test_the_deal_form_follows_the_metadata_layout_and_widgets(app, login):
    page, _ = _new_deal_page(login("sales1"))
    legends = re.findall(r"<legend[^>]*>([^<]*)</legend>", page)
    assert legends == ["Deal", "Pipeline", "Competition and outcome", "Description"]
    assert 'data-search-url="/r/account/search"' in _field(page, "account")
    assert "loom-required" in _field(page, "account")
    assert 'data-search-url="/r/deal/owners"' in _field(page, "owner")
    assert '<option value="lead" selected>Lead</option>' in _field(page, "stage")
    assert "CNY" in _field(page, "amount")
    assert 'type="date"' in _field(page, "expected_close_date")
    assert 'type="datetime-local"' in _field(page, "closed_at")
    assert "<textarea" in _field(page, "description")
    assert "readonly" in _field(page, "weighted_amount")
    assert "Amount x probability" in _field(page, "weighted_amount")
    assert 'data-visible-if="stage == &#39;lost&#39;"' in _field(page, "loss_reason")


def test_creating_a_deal_through_the_form_redirects_to_its_page(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    account = _account(app)
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": "Forms deal", "account": str(account), "stage": "qualified",
        "amount": "1200.50", "expected_close_date": "2026-12-01", "probability": "99"})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/r/deal/(\d+)", response.headers["Location"])
    assert match
    deal = _rt(app).service.get(Actor.system(), "deal", int(match.group(1)))
    assert deal["title"] == "Forms deal" and str(deal["amount"]) == "1200.50"
    assert deal["owner"] == _actor(app, "sales1").user_id
    # probability is read-only for salespeople: the posted 99 is ignored, the default applies
    assert str(deal["probability"]) == "25.00"
    followed = client.get(response.headers["Location"])
    assert "Created." in followed.get_data(as_text=True)


def test_a_rule_violation_shows_its_message_next_to_the_field_it_is_about(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": "Won for nothing", "account": str(_account(app)),
        "stage": "won", "amount": "0", "closed_at": "2026-01-05T10:00"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "A won deal needs an amount above zero." in _field(page, "amount")
    assert 'value="Won for nothing"' in _field(page, "title")
    assert '<option value="won" selected>Won</option>' in _field(page, "stage")


def test_a_field_error_is_shown_next_to_its_field_in_the_current_language(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": token, "next": "/r/deal/new"})
    _, token = _new_deal_page(client)
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": "Negative", "account": str(_account(app)), "amount": "-5"})
    assert response.status_code == 422
    amount = _field(response.get_data(as_text=True), "amount")
    assert "不能小于 0" in amount and 'value="-5"' in amount and ">商机金额</label>" in amount


def test_loss_reason_is_required_when_the_stage_is_lost(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": "Lost one", "account": str(_account(app)), "stage": "lost",
        "closed_at": "2026-01-05T10:00"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-error-for="loss_reason">is required<' in _field(page, "loss_reason")
    assert "data-error-for" not in _field(page, "closed_at")


def test_editing_a_deal_saves_only_what_changed(app, login):
    rt = _rt(app)
    sales1 = _actor(app, "sales1")
    deal = rt.service.create(sales1, "deal", {"title": "Edit me", "account": _account(app)})
    client = login("sales1")
    page = client.get(f"/r/deal/{deal['id']}/edit").get_data(as_text=True)
    assert 'value="Edit me"' in _field(page, "title")
    response = client.post(f"/r/deal/{deal['id']}/edit", data={
        "csrf_token": csrf_from(page), "version": str(deal["version"]), "title": "Edited",
        "account": str(deal["account"]), "stage": "lead"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/r/deal/{deal['id']}"
    history = rt.service.history(Actor.system(), "deal", deal["id"])
    assert set(history[-1]["changes"]) == {"title"}


def test_a_stale_edit_keeps_the_values_and_shows_the_conflict(app, login):
    rt = _rt(app)
    sales1 = _actor(app, "sales1")
    deal = rt.service.create(sales1, "deal", {"title": "Contested", "account": _account(app)})
    client = login("sales1")
    page = client.get(f"/r/deal/{deal['id']}/edit").get_data(as_text=True)
    rt.service.update(_actor(app, "sales2"), "deal", deal["id"], {"title": "Theirs"},
                      version=deal["version"])
    form = {"csrf_token": csrf_from(page), "version": str(deal["version"]), "title": "Mine",
            "next_step": "Call them"}
    response = client.post(f"/r/deal/{deal['id']}/edit", data=form)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else saved this record" in page
    title = _field(page, "title")
    assert 'value="Mine"' in title and "Saved by someone else: Theirs" in title
    assert 'value="Call them"' in _field(page, "next_step")
    assert 'name="version" value="2"' in page
    # Saving again, knowingly, keeps the user's values.
    again = client.post(f"/r/deal/{deal['id']}/edit", data={**form, "version": "2",
                                                             "csrf_token": csrf_from(page)})
    assert again.status_code == 302
    assert rt.service.get(Actor.system(), "deal", deal["id"])["title"] == "Mine"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_an_expired_form_is_shown_again_with_the_values_kept(app, login, token):
    client = login("sales1")
    data = {"title": "Keep me", "competitor": "Rival & Co", "stage": "proposal"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/r/deal/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The form expired" in page
    assert 'value="Keep me"' in _field(page, "title")
    assert 'value="Rival &amp; Co"' in _field(page, "competitor")
    assert '<option value="proposal" selected>' in _field(page, "stage")
    assert not _rt(app).service.list(Actor.system(), "deal",
                                     filter=[{"field": "title", "op": "eq", "value": "Keep me"}]).rows


def test_a_token_past_its_time_limit_counts_as_expired(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    app.config["WTF_CSRF_TIME_LIMIT"] = -1  # every token is now too old
    response = client.post("/r/deal/new", data={"csrf_token": token, "title": "Late"})
    assert response.status_code == 400
    assert 'value="Late"' in _field(response.get_data(as_text=True), "title")


def test_script_in_text_fields_is_escaped_when_the_form_is_shown_again(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": XSS, "next_step": XSS, "description": XSS, "amount": XSS})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _field(page, "description")
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in _field(page, "title")


def test_script_in_a_stored_value_is_escaped_in_the_edit_form(app, login):
    rt = _rt(app)
    deal = rt.service.create(_actor(app, "sales1"), "deal",
                             {"title": XSS, "description": XSS, "account": _account(app)})
    page = login("sales1").get(f"/r/deal/{deal['id']}/edit").get_data(as_text=True)
    assert XSS not in page


def test_salespeople_may_not_open_forms_of_entities_they_only_read(app, login):
    client = login("sales1")
    assert client.get("/r/product/new").status_code == 403
    product = _rt(app).service.list(Actor.system(), "product", limit=1).rows[0]["id"]
    assert client.get(f"/r/product/{product}/edit").status_code == 403


def test_another_teams_deal_cannot_be_edited(app, login):
    rt = _rt(app)
    theirs = rt.service.create(_actor(app, "sales5"), "deal",
                               {"title": "West deal", "account": _account(app, "sales5")})
    assert login("sales1").get(f"/r/deal/{theirs['id']}/edit").status_code == 404


def test_unknown_entities_have_no_form(app, login):
    assert login("sales1").get("/r/nothing/new").status_code == 404


def test_deleting_a_deal_needs_a_token_and_goes_back_to_the_list(app, login):
    rt = _rt(app)
    deal = rt.service.create(_actor(app, "sales1"), "deal",
                             {"title": "Short-lived", "account": _account(app)})
    client = login("sales1")
    _, token = _new_deal_page(client)
    assert client.post(f"/r/deal/{deal['id']}/delete").status_code == 400
    response = client.post(f"/r/deal/{deal['id']}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/r/deal"
    assert not rt.service.list(Actor.system(), "deal",
                               filter=[{"field": "id", "op": "eq", "value": deal["id"]}]).rows


def test_a_restricted_delete_explains_why_on_the_record_page(app, login):
    rt = _rt(app)
    account = rt.service.create(_actor(app, "sales1"), "account", {"name": "Held"})
    rt.service.create(_actor(app, "sales1"), "deal", {"title": "Holds it", "account": account["id"]})
    client = login("admin")
    _, token = _new_deal_page(client)
    response = client.post(f"/r/account/{account['id']}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == f"/r/account/{account['id']}"


def test_the_form_creates_and_edits_a_deal_on_every_backend(any_app):
    client = login_client(any_app, "sales1")
    _, token = _new_deal_page(client)
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": "Everywhere", "account": str(_account(any_app)),
        "stage": "lost", "loss_reason": "price", "closed_at": "2026-02-03T04:05",
        "amount": "10"})
    assert response.status_code == 302, response.get_data(as_text=True)
    deal_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/r/deal/{deal_id}/edit").get_data(as_text=True)
    assert 'value="2026-02-03T04:05"' in _field(page, "closed_at")
    response = client.post(f"/r/deal/{deal_id}/edit", data={
        "csrf_token": csrf_from(page), "version": "1", "title": "Everywhere", "stage": "lost",
        "loss_reason": "timing", "closed_at": "2026-02-03T04:05", "amount": "10.00"})
    assert response.status_code == 302
    deal = _rt(any_app).service.get(Actor.system(), "deal", deal_id)
    assert deal["loss_reason"] == "timing" and deal["version"] == 2


def test_giving_a_deal_to_someone_outside_the_team_is_refused_in_the_form(app, login):
    client = login("sales1")
    _, token = _new_deal_page(client)
    outsider = _actor(app, "sales5").user_id
    response = client.post("/r/deal/new", data={
        "csrf_token": token, "title": "Gift", "account": str(_account(app)),
        "owner": str(outsider)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "can&#39;t be given this record" in _field(page, "owner")
    assert 'value="Gift"' in _field(page, "title")
