"""A web process warms the metadata planner once, in the background, writing nothing."""

from __future__ import annotations

import sqlalchemy as sa

from engine.storage.tables import SCHEMA_VERSIONS
from tests.web.support import make_app


def _versions(rt) -> int:
    with rt.db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {SCHEMA_VERSIONS}")).scalar_one()


def test_warm_up_runs_once_after_the_first_load_and_changes_nothing(any_app, tmp_path):
    url = any_app.extensions["loom"].db.engine.url.render_as_string(hide_password=False)
    warm = make_app(url, tmp_path, LOOM_WARM_UP=True)
    state = warm.extensions["loom"]
    if state.db.dialect == "postgresql":  # the test schema of any_app
        state.attach(any_app.extensions["loom"].db)
    before = _versions(any_app.extensions["loom"].current)
    assert state.warmed is None  # nothing before the model is loaded
    rt = state.current
    assert state.warmed is not None and state.warmed.wait(30)
    first = state.warmed
    state.reload()
    assert state.warmed is first  # once per process
    assert _versions(rt) == before
    assert warm.test_client().get("/login").status_code == 200


def test_tests_and_explicit_off_do_not_warm_up(app):
    state = app.extensions["loom"]
    state.current  # noqa: B018 - load the model
    assert state.warm_up is False and state.warmed is None
