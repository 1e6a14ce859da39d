"""Sessions that end: logout ends the session wherever its cookie is presented, a new
password (command line or admin page) ends all of the user's sessions, and a user sees
their sessions and tokens on their profile page and may end or revoke them."""

from __future__ import annotations

import re

from click.testing import CliRunner

from engine import accounts
from engine.cli import main
from engine.config import SHIPPED_METADATA
from tests.web.support import ApiClient, form_token, login_client, token_for

NEW_PASSWORD = "a brand new long password"


def _copy(app, client):
    """Another browser carrying a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _logged_in(client) -> bool:
    response = client.get("/r/deal")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_copied_cookie_stops_working_once_its_owner_logs_out(app):
    client = login_client(app, "sales1")
    thief = _copy(app, client)
    assert _logged_in(thief)
    response = client.post("/logout", data={"csrf_token": form_token(client, "/r/deal")})
    assert response.status_code == 302
    assert not _logged_in(thief)
    assert not _logged_in(client)


def test_logging_out_ends_only_that_session(app):
    first, second = login_client(app, "sales1"), login_client(app, "sales1")
    first.post("/logout", data={"csrf_token": form_token(first, "/r/deal")})
    assert _logged_in(second)


def test_a_password_set_on_the_command_line_ends_every_session_of_that_user(app):
    browsers = [login_client(app, "sales1") for _ in range(2)]
    stolen = _copy(app, browsers[0])
    other = login_client(app, "sales2")
    url = str(app.extensions["loom"].db.url)
    result = CliRunner().invoke(
        main, ["--database", url, *[a for d in SHIPPED_METADATA for a in ("-m", str(d))],
               "user", "passwd", "sales1", "--password-stdin"], input=f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "sessions ended" in result.output
    assert not any(_logged_in(c) for c in (*browsers, stolen))
    assert _logged_in(other)  # another user's session stays
    assert _logged_in(login_client(app, "sales1", NEW_PASSWORD))


def test_a_password_reset_by_the_admin_ends_the_users_sessions_but_keeps_their_tokens(app):
    victim = login_client(app, "sales1")
    api = ApiClient(app.test_client(), token_for(app, "sales1"))
    admin = login_client(app, "admin")
    token = form_token(admin, "/admin/users/sales1")
    response = admin.post("/admin/users/sales1/password",
                          data={"csrf_token": token, "password": NEW_PASSWORD,
                                "confirm": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert not _logged_in(victim)
    assert _logged_in(admin)
    # The documented choice: API tokens are separate credentials and stay valid.
    assert api.get("/api/v1/deal?per_page=1").status_code == 200


def test_deactivation_ends_the_sessions_for_good(app):
    victim = login_client(app, "sales3")
    rt = app.extensions["loom"].current
    accounts.deactivate_user(rt.db, rt.tables, "sales3", clock=rt.clock)
    accounts.reactivate_user(rt.db, rt.tables, "sales3")
    assert not _logged_in(victim)  # reactivating does not bring the old session back


def test_the_profile_lists_the_sessions_and_ends_the_others(app):
    here = login_client(app, "sales1")
    there = login_client(app, "sales1")
    page = here.get("/profile")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert len(re.findall(r"<tr data-current=\"1\"", body)) == 1
    assert body.count("<tr") >= 3  # header + two sessions
    response = here.post("/profile/sessions/end-others",
                         data={"csrf_token": form_token(here, "/profile")})
    assert response.status_code == 302
    assert _logged_in(here) and not _logged_in(there)


def test_a_user_revokes_their_own_token_from_the_profile_but_not_anothers(app):
    mine = token_for(app, "sales1")
    theirs = token_for(app, "sales2")
    my_id, their_id = (int(t.split("_")[1]) for t in (mine, theirs))
    client = login_client(app, "sales1")
    page = client.get("/profile").get_data(as_text=True)
    assert f'data-token="{my_id}"' in page and f'data-token="{their_id}"' not in page
    csrf = form_token(client, "/profile")
    assert client.post(f"/profile/tokens/{their_id}/revoke",
                       data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/profile/tokens/{my_id}/revoke",
                       data={"csrf_token": csrf}).status_code == 302
    assert client.post(f"/profile/tokens/{my_id}/revoke").status_code == 400  # no CSRF token
    assert ApiClient(app.test_client(), mine).get("/api/v1/deal?per_page=1").status_code == 401
    assert ApiClient(app.test_client(), theirs).get("/api/v1/deal?per_page=1").status_code == 200
    assert f'data-token="{my_id}" data-status="revoked"' in client.get("/profile").get_data(
        as_text=True)


def test_the_profile_speaks_chinese(app):
    client = login_client(app, "sales1")
    client.post("/lang", data={"lang": "zh-CN", "next": "/profile",
                               "csrf_token": form_token(client, "/profile")})
    body = client.get("/profile").get_data(as_text=True)
    assert "个人资料" in body and "API 令牌" in body and "Your profile" not in body
