"""Fixtures for the web app: a migrated CRM with demo users, apps, clients, tokens.

``app`` serves a copy of a SQLite database prepared once per session (the shipped
CRM migrated, the demo users with their roles and teams, a small demo data set).
``any_app`` does the same on every configured backend (PostgreSQL when
``LOOM_TEST_DATABASE_URL`` is set), for tests that must hold on both.
CSRF stays on: ``login`` and ``form_token`` fetch real tokens from real pages.
Helpers live in ``tests/web/support.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.demo.users import DEMO_PASSWORD
from tests.conftest import BACKENDS, make_database
from tests.web.support import (ApiClient, login_client, make_app, prepare_crm,
                               prepare_sqlite_file, token_for)


@pytest.fixture(scope="session")
def crm_sqlite_file(tmp_path_factory) -> Path:
    return prepare_sqlite_file(tmp_path_factory.mktemp("crm") / "template.db")


def _sqlite_app(crm_sqlite_file: Path, tmp_path: Path):
    path = tmp_path / "loom.db"
    shutil.copy(crm_sqlite_file, path)
    return make_app(f"sqlite:///{path}", tmp_path)


@pytest.fixture
def app(crm_sqlite_file, tmp_path):
    """The app on a fresh copy of the prepared SQLite CRM."""
    app = _sqlite_app(crm_sqlite_file, tmp_path)
    yield app
    app.extensions["loom"].db.dispose()


@pytest.fixture(params=BACKENDS)
def any_app(request, crm_sqlite_file, tmp_path):
    """The app on every configured backend (PostgreSQL: a schema of its own, prepared here)."""
    if request.param == "sqlite":
        app = _sqlite_app(crm_sqlite_file, tmp_path)
        yield app
        app.extensions["loom"].db.dispose()
        return
    db, finish = make_database("postgresql", tmp_path)
    prepare_crm(db)
    app = make_app(db.url, tmp_path)
    app.extensions["loom"].attach(db)  # the test's own schema
    yield app
    finish()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """``login("sales1")`` -> a test client with that demo user's session."""
    return lambda username, password=DEMO_PASSWORD: login_client(app, username, password)


@pytest.fixture
def api(app):
    """``api("sales1")`` -> an :class:`ApiClient` with a fresh token of that user."""
    return lambda username="admin": ApiClient(app.test_client(), token_for(app, username))


@pytest.fixture
def any_api(any_app):
    """Like ``api`` on every backend."""
    return lambda username="admin": ApiClient(any_app.test_client(), token_for(any_app, username))
