"""Managing users from the admin pages (issue 11, defect 5): edit the details, set a new
password, deactivate after a confirmation page, reactivate; admins only, CSRF on each."""

from __future__ import annotations

import re

import pytest

from engine import accounts
from engine.demo.users import DEMO_PASSWORD
from tests.web.support import csrf_from, form_token, login_client

NEW_PASSWORD = "a brand new password"


def _user(app, username: str) -> dict:
    rt = app.extensions["loom"].current
    return accounts.find_user(rt.db, rt.tables, username)


def _admin(app, lang: str = "en"):
    client = login_client(app, "admin")
    with client.session_transaction() as session:
        session["lang"] = lang
    return client


def _can_log_in(app, username: str, password: str = DEMO_PASSWORD) -> bool:
    client = app.test_client()
    token = form_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code == 302


def _error_of(page: str, name: str) -> str:
    found = re.findall(rf'data-error="{name}">([^<]*)<', page)
    assert found, f"no error under {name}"
    return found[0]


# -- deactivate asks first ------------------------------------------------------
def test_deactivate_shows_a_confirmation_page_before_doing_anything(app):
    client = _admin(app)
    users = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users/sales2/deactivate"' in users  # a link, not a one-click form
    page = client.get("/admin/users/sales2/deactivate")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="confirm-deactivate"' in html and 'name="confirm" value="yes"' in html
    assert _user(app, "sales2")["active"]


def test_a_post_without_the_confirmation_only_asks(app):
    client = _admin(app)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    response = client.post("/admin/users/sales2/deactivate", data={"csrf_token": token})
    assert response.status_code == 200
    assert 'data-testid="confirm-deactivate"' in response.get_data(as_text=True)
    assert _user(app, "sales2")["active"]


def test_the_confirmed_deactivation_stops_the_login_and_reactivate_restores_it(app):
    client = _admin(app)
    page = client.get("/admin/users/sales2/deactivate").get_data(as_text=True)
    done = client.post("/admin/users/sales2/deactivate",
                       data={"csrf_token": csrf_from(page), "confirm": "yes"})
    assert done.status_code == 302
    assert not _user(app, "sales2")["active"] and not _can_log_in(app, "sales2")
    detail = client.get("/admin/users/sales2").get_data(as_text=True)
    assert 'data-testid="reactivate"' in detail
    response = client.post("/admin/users/sales2/reactivate", data={"csrf_token": csrf_from(detail)})
    assert response.status_code == 302
    assert _user(app, "sales2")["active"] and _can_log_in(app, "sales2")


def test_reactivate_needs_the_csrf_token(app):
    rt = app.extensions["loom"].current
    accounts.deactivate_user(rt.db, rt.tables, "sales3")
    response = _admin(app).post("/admin/users/sales3/reactivate", data={})
    assert response.status_code == 400
    assert not _user(app, "sales3")["active"]


def test_the_confirmation_page_speaks_chinese(app):
    html = _admin(app, "zh-CN").get("/admin/users/sales2/deactivate").get_data(as_text=True)
    assert "停用" in html and "will no longer be able" not in html


# -- details -------------------------------------------------------------------
def test_an_admin_edits_name_email_and_language(app):
    client = _admin(app)
    page = client.get("/admin/users/sales2").get_data(as_text=True)
    response = client.post("/admin/users/sales2/details", data={
        "csrf_token": csrf_from(page), "display_name": "Wang Fang", "email": "wf@example.org",
        "lang": "en", "time_zone": "Asia/Shanghai"})
    assert response.status_code == 302
    user = _user(app, "sales2")
    assert (user["display_name"], user["email"], user["lang"], user["time_zone"]) == (
        "Wang Fang", "wf@example.org", "en", "Asia/Shanghai")
    shown = client.get("/admin/users/sales2").get_data(as_text=True)
    assert 'value="Wang Fang"' in shown and 'value="wf@example.org"' in shown


def test_a_bad_email_is_shown_under_the_email_field_in_the_admins_language(app):
    before = _user(app, "sales2")
    for lang, expected in (("en", "e-mail address"), ("zh-CN", "电子邮件")):
        client = _admin(app, lang)
        page = client.get("/admin/users/sales2").get_data(as_text=True)
        response = client.post("/admin/users/sales2/details", data={
            "csrf_token": csrf_from(page), "display_name": "X", "email": "not an address",
            "lang": "en", "time_zone": ""})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert expected in _error_of(html, "email")
        assert 'value="not an address"' in html  # what was typed is kept
    assert _user(app, "sales2") == before


def test_details_need_the_csrf_token(app):
    before = _user(app, "sales2")
    response = _admin(app).post("/admin/users/sales2/details", data={
        "display_name": "Hijacked", "email": "", "lang": "en", "time_zone": ""})
    assert response.status_code == 400
    assert _user(app, "sales2") == before


# -- password ------------------------------------------------------------------
def test_an_admin_sets_a_new_password_that_replaces_the_old_one(app):
    client = _admin(app)
    page = client.get("/admin/users/sales2").get_data(as_text=True)
    response = client.post("/admin/users/sales2/password", data={
        "csrf_token": csrf_from(page), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert NEW_PASSWORD not in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _can_log_in(app, "sales2", NEW_PASSWORD)
    assert not _can_log_in(app, "sales2", DEMO_PASSWORD)


@pytest.mark.parametrize(("password", "confirm", "field"), [
    (NEW_PASSWORD, "something else", "confirm"), ("short", "short", "password")])
def test_a_mistyped_or_short_password_is_an_error_on_its_field(app, password, confirm, field):
    client = _admin(app)
    page = client.get("/admin/users/sales2").get_data(as_text=True)
    response = client.post("/admin/users/sales2/password", data={
        "csrf_token": csrf_from(page), "password": password, "confirm": confirm})
    assert response.status_code == 422
    assert _error_of(response.get_data(as_text=True), field)
    assert _can_log_in(app, "sales2", DEMO_PASSWORD)


# -- admins only ---------------------------------------------------------------
@pytest.mark.parametrize("path", ["details", "password", "reactivate", "deactivate"])
def test_only_admins_manage_users(app, path):
    client = login_client(app, "manager")
    token = form_token(client, "/login")
    response = client.post(f"/admin/users/sales2/{path}", data={
        "csrf_token": token, "confirm": "yes", "password": NEW_PASSWORD,
        "display_name": "x", "lang": "en"})
    assert response.status_code == 403
    assert client.get("/admin/users/sales2/deactivate").status_code == 403
    assert _user(app, "sales2")["active"] and _can_log_in(app, "sales2")


def test_unknown_users_are_404(app):
    client = _admin(app)
    assert client.get("/admin/users/ghost/deactivate").status_code == 404


def test_the_data_model_pages_show_no_server_paths(login):
    import os

    admin = login("admin")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    for url in ("/admin/schema", "/admin/schema/deal"):
        page = admin.get(url).get_data(as_text=True)
        assert root not in page and "schemas/deal.yaml" in page, url
