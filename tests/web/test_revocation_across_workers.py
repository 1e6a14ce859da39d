"""Two app instances (two workers) on one database: a role revoked, a team left or a user
deactivated in one acts on the very next request in the other, though both cache actors."""

from __future__ import annotations

import pytest

from engine import accounts
from tests.web.support import ApiClient, form_token, login_client, make_app, token_for

DEALS = "/api/v1/deal?per_page=1&total=true"


@pytest.fixture
def second_app(any_app, tmp_path):
    """Another worker on ``any_app``'s database, checking the model only once an hour: what
    it serves fresh comes from the request's own reads, not from a reload."""
    state = any_app.extensions["loom"]
    other = make_app(state.db.url, tmp_path / "second", LOOM_MODEL_CHECK_INTERVAL=3600)
    if state.db.dialect != "sqlite":
        other.extensions["loom"].attach(state.db)
    yield other
    if state.db.dialect == "sqlite":
        other.extensions["loom"].db.dispose()


def _total(api) -> int:
    response = api.get(DEALS)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["meta"]["total"]


def test_a_role_revoked_on_the_admin_page_is_refused_at_once_by_another_worker(
        any_app, second_app):
    there = ApiClient(second_app.test_client(), token_for(any_app, "sales1"))
    browser = login_client(second_app, "sales1")
    assert there.get(DEALS).status_code == 200  # the actor is now cached over there
    assert browser.get("/r/deal").status_code == 200
    admin = login_client(any_app, "admin")
    response = admin.post("/admin/users/sales1/roles/revoke",
                          data={"role": "sales",
                                "csrf_token": form_token(admin, "/admin/users/sales1")})
    assert response.status_code == 302
    assert there.get(DEALS).status_code == 403
    assert browser.get("/r/deal").status_code == 403
    rt = any_app.extensions["loom"].current
    accounts.grant_role(rt.db, rt.tables, "sales1", "sales")
    assert there.get(DEALS).status_code == 200


def test_leaving_a_team_narrows_what_another_worker_shows_at_once(any_app, second_app):
    there = ApiClient(second_app.test_client(), token_for(any_app, "sales1"))
    before = _total(there)
    rt = any_app.extensions["loom"].current
    accounts.remove_member(rt.db, rt.tables, "East", "sales1")
    after = _total(there)
    assert after < before
    accounts.add_member(rt.db, rt.tables, "East", "sales1")
    assert _total(there) == before


def test_a_deactivated_user_is_refused_at_once_by_another_worker(any_app, second_app):
    there = ApiClient(second_app.test_client(), token_for(any_app, "sales2"))
    browser = login_client(second_app, "sales2")
    assert there.get(DEALS).status_code == 200
    rt = any_app.extensions["loom"].current
    accounts.deactivate_user(rt.db, rt.tables, "sales2", clock=rt.clock)
    assert there.get(DEALS).status_code == 401
    assert browser.get("/r/deal").status_code == 302
