"""Two app instances (two workers) on one database: a role or label change made through the
metadata API in one is served by the other at its next check, and never refuses a write."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine import accounts
from engine.storage.tables import SCHEMA_VERSIONS
from tests.web.support import ApiClient, make_app, token_for

AUDITOR = {"label": {"en": "Auditor", "zh-CN": "审计"},
           "entities": {"account": {"actions": ["read"], "scope": "all"}}}


def _second(any_app, tmp_path, **overrides):
    """Another app instance on ``any_app``'s database."""
    state = any_app.extensions["loom"]
    other = make_app(state.db.url, tmp_path / "second", **overrides)
    if state.db.dialect != "sqlite":
        other.extensions["loom"].attach(state.db)  # the test's own schema
    return other


def _schema_versions(app) -> int:
    with app.extensions["loom"].db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {SCHEMA_VERSIONS}")).scalar_one()


@pytest.fixture
def second_app(any_app, tmp_path):
    other = _second(any_app, tmp_path)  # checks before every request
    yield other
    if any_app.extensions["loom"].db.dialect == "sqlite":
        other.extensions["loom"].db.dispose()


def test_a_role_grant_changed_in_one_worker_is_served_by_another_at_its_next_check(
        any_app, second_app):
    admin = ApiClient(any_app.test_client(), token_for(any_app, "admin"))
    assert admin.put("/api/v1/meta/roles/auditor", json=AUDITOR).status_code == 200
    rt = any_app.extensions["loom"].current
    accounts.create_user(rt.db, rt.tables, "audrey", password="a-long-password",
                         roles=["auditor"])
    there = ApiClient(second_app.test_client(), token_for(second_app, "audrey"))
    assert there.get("/api/v1/account?per_page=1").status_code == 200
    assert there.get("/api/v1/deal?per_page=1").status_code == 403
    versions_before = _schema_versions(any_app)

    granted = {**AUDITOR, "entities": {**AUDITOR["entities"],
                                       "deal": {"actions": ["read"], "scope": "all"}}}
    changed = admin.put("/api/v1/meta/roles/auditor", json=granted)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["document"] == "db:role/auditor"
    assert there.get("/api/v1/deal?per_page=1").status_code == 200
    assert _schema_versions(any_app) == versions_before  # no schema version: nobody refused


def test_a_label_change_refuses_no_writer_and_is_served_at_the_next_check(any_app, tmp_path):
    # A long interval: this worker looks for a new revision only when told to.
    second = _second(any_app, tmp_path, LOOM_MODEL_CHECK_INTERVAL=3600)
    try:
        token = token_for(any_app, "admin")
        one, two = ApiClient(any_app.test_client(), token), ApiClient(second.test_client(), token)
        added = one.post("/api/v1/meta/entities/deal/fields",
                         json={"name": "priority", "type": "integer", "label": "Priority"})
        assert added.status_code == 201, added.get_json()
        account = two.get("/api/v1/account?per_page=1").get_json()["data"][0]["id"]
        relabel = one.patch("/api/v1/meta/entities/deal/fields/priority",
                            json={"label": {"en": "Urgency", "zh-CN": "紧急程度"}})
        assert relabel.status_code == 200, relabel.get_json()
        assert relabel.get_json()["version"] == added.get_json()["version"]
        assert relabel.get_json()["revision"] != added.get_json()["revision"]

        # The second worker still serves the old label, and writes as before.
        created = two.post("/api/v1/deal?fields=id",
                           json={"title": "Kept", "account": account, "priority": 2})
        assert created.status_code == 201, created.get_json()
        state = second.extensions["loom"]
        assert state.current.model.entity("deal").field("priority").label.get("en") == "Priority"

        state.refresh(force=True)  # its next check
        described = two.get("/api/v1/meta/entities/deal").get_json()["data"]
        label = next(f for f in described["fields"] if f["name"] == "priority")["label"]
        assert label in ("Urgency", {"en": "Urgency", "zh-CN": "紧急程度"})
        again = two.post("/api/v1/deal?fields=id",
                         json={"title": "Still", "account": account, "priority": 3})
        assert again.status_code == 201, again.get_json()
    finally:
        if any_app.extensions["loom"].db.dialect == "sqlite":
            second.extensions["loom"].db.dispose()


def test_a_role_declared_in_a_file_is_not_changed_through_the_api(api):
    response = api("admin").put("/api/v1/meta/roles/sales", json={"label": "Sales"})
    assert response.status_code == 409
    assert "schemas/roles" in response.get_json()["detail"]
