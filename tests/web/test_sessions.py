"""Cookie sessions: token calls get none, browsers keep theirs."""

from __future__ import annotations

from tests.web.support import login_client


def test_a_token_call_without_a_cookie_sets_no_session_cookie(api):
    response = api().get("/api/v1/deal?per_page=1")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_a_logged_in_browser_keeps_its_session_and_a_forged_cookie_is_ignored(app):
    client = login_client(app, "sales1")
    assert client.get("/r/deal").status_code == 200
    stranger = app.test_client()
    stranger.set_cookie("session", client.get_cookie("session").value[:-4] + "AAAA")
    response = stranger.get("/r/deal")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
