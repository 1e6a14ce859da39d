"""Logging in and out of the pages: passwords, throttling, redirects, cookies, CSRF."""

from __future__ import annotations

from engine.demo.users import DEMO_PASSWORD
from tests.web.support import form_token, token_for

WRONG = "Wrong user name or password."


def _login(client, username: str, password: str, **extra):
    data = {"username": username, "password": password,
            "csrf_token": form_token(client, "/login"), **extra}
    return client.post("/login", data=data)


def test_login_with_the_right_password_opens_the_pages(client):
    response = _login(client, "sales1", DEMO_PASSWORD)
    assert response.status_code == 302
    assert client.get("/r/deal").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(client):
    wrong = _login(client, "sales1", "not-the-password")
    unknown = _login(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert WRONG in wrong.get_data(as_text=True) and WRONG in unknown.get_data(as_text=True)
    assert client.get("/r/deal").status_code == 302  # still logged out


def test_repeated_failures_are_throttled_even_for_the_right_password(app):
    client = app.test_client()
    statuses = [_login(client, "sales2", "wrong-password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    blocked = _login(client, "sales2", DEMO_PASSWORD)
    assert blocked.status_code == 429
    assert "Try again in" in blocked.get_data(as_text=True)
    assert client.get("/r/deal").status_code == 302
    # Another user from the same address is not blocked by sales2's failures.
    assert _login(app.test_client(), "sales3", DEMO_PASSWORD).status_code == 302


def test_logout_ends_the_session(login):
    client = login("sales1")
    token = form_token(client, "/r/deal")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/r/deal").status_code == 302


def test_logout_needs_the_csrf_token(login):
    client = login("sales1")
    assert client.post("/logout").status_code == 400
    assert client.get("/r/deal").status_code == 200


def test_login_goes_back_to_a_local_next_page_only(app):
    for target, expected in (("/r/deal?f.stage=won", "/r/deal?f.stage=won"),
                             ("https://evil.example/x", "/"), ("//evil.example", "/"),
                             ("/\\evil.example", "/"), ("javascript:alert(1)", "/")):
        client = app.test_client()
        response = _login(client, "sales1", DEMO_PASSWORD, next=target)
        assert response.status_code == 302
        assert response.headers["Location"] == expected, target


def test_pages_send_anonymous_users_to_login_with_the_way_back(client):
    response = client.get("/r/deal?f.stage=won")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/r/deal?f.stage%3Dwon"


def test_an_expired_login_form_is_shown_again(client):
    response = client.post("/login", data={"username": "sales1", "password": DEMO_PASSWORD,
                                           "csrf_token": "expired-or-forged"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'data-testid="login-form"' in body
    assert 'value="sales1"' in body
    assert "The form expired" in body
    assert client.get("/r/deal").status_code == 302


def test_session_cookie_is_http_only_and_same_site(client):
    response = _login(client, "sales1", DEMO_PASSWORD)
    cookies = [v for k, v in response.headers.items() if k.lower() == "set-cookie"]
    session = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session


def test_api_tokens_do_not_open_the_pages(app):
    token = token_for(app, "admin")
    response = app.test_client().get("/r/deal", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
