"""A revoked token or a deactivated user stops working on the very next request.

Checked right after a successful request in the same process (nothing cached lets it
through) and across two app instances on one database (another worker revokes).
"""

from __future__ import annotations

import pytest

from engine import accounts
from tests.web.support import ApiClient, make_app, token_for


def _token_id(token: str) -> int:
    return int(token.split("_")[1])


@pytest.fixture
def second_app(any_app, tmp_path):
    """Another app instance (another worker) on the same database."""
    state = any_app.extensions["loom"]
    other = make_app(state.db.url, tmp_path / "second")
    if state.db.dialect != "sqlite":
        other.extensions["loom"].attach(state.db)  # the test's own schema
    yield other
    if state.db.dialect == "sqlite":
        other.extensions["loom"].db.dispose()


def _create(client: ApiClient, title: str) -> int:
    """The status of creating a deal (on the first account the caller sees, if any)."""
    listed = client.get("/api/v1/account?per_page=1")
    if listed.status_code != 200:
        return listed.status_code
    body = {"title": title, "account": listed.get_json()["data"][0]["id"]}
    return client.post("/api/v1/deal?fields=id", json=body).status_code


def test_a_revoked_token_fails_on_the_next_request_of_the_same_process(any_app):
    token = token_for(any_app, "admin")
    api = ApiClient(any_app.test_client(), token)
    assert _create(api, "one") == 201
    assert _create(api, "two") == 201
    rt = any_app.extensions["loom"].current
    accounts.revoke_token(rt.db, rt.tables, _token_id(token))
    assert _create(api, "three") == 401
    assert api.get("/api/v1/deal").status_code == 401


def test_a_token_revoked_by_another_instance_fails_at_once(any_app, second_app):
    token = token_for(any_app, "admin")
    here = ApiClient(any_app.test_client(), token)
    there = ApiClient(second_app.test_client(), token)
    assert _create(here, "here") == 201 and _create(there, "there") == 201
    rt = second_app.extensions["loom"].current
    accounts.revoke_token(rt.db, rt.tables, _token_id(token))
    assert _create(here, "after") == 401
    assert _create(there, "after") == 401


def test_deactivating_the_user_stops_their_token_at_once_in_every_instance(any_app, second_app):
    token = token_for(any_app, "sales1")
    other = token_for(any_app, "admin")
    here = ApiClient(any_app.test_client(), token)
    there = ApiClient(second_app.test_client(), token)
    assert here.get("/api/v1/deal").status_code == 200
    assert there.get("/api/v1/deal").status_code == 200
    rt = any_app.extensions["loom"].current
    accounts.deactivate_user(rt.db, rt.tables, "sales1")
    assert here.get("/api/v1/deal").status_code == 401
    assert there.get("/api/v1/deal").status_code == 401
    assert ApiClient(any_app.test_client(), other).get("/api/v1/deal").status_code == 200


def test_an_expired_or_mangled_token_is_refused(any_app):
    token = token_for(any_app, "admin")
    api = ApiClient(any_app.test_client(), token)
    assert api.get("/api/v1/deal").status_code == 200
    assert ApiClient(any_app.test_client(), token[:-1] + ("A" if token[-1] != "A" else "B")
                     ).get("/api/v1/deal").status_code == 401
    assert ApiClient(any_app.test_client(), "loom_1_short").get("/api/v1/deal").status_code == 401
