"""Helpers shared by the web tests (``conftest.py``'s fixtures are built on them).

Import them as ``from tests.web.support import login_client, make_app, ...``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.config import SHIPPED_METADATA, Config
from engine.demo import seed_demo
from engine.demo.users import DEMO_PASSWORD, create_demo_users
from engine.storage.db import Database
from engine.runtime import Runtime
from engine.storage.migrate import apply_plan

#: Scale of the demo data in web tests (a few hundred records).
TEST_SCALE = 0.02
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def prepare_crm(db: Database) -> None:
    """Migrate the shipped CRM into ``db``, create the demo users and seed a little data."""
    rt = Runtime(Config.from_env(database=db.url), db=db)
    apply_plan(db, rt.model, actor="tests")
    create_demo_users(db, rt.tables)
    seed_demo(rt.service, scale=TEST_SCALE, progress=False)


def prepare_sqlite_file(path: Path) -> Path:
    """A SQLite file at ``path`` holding the prepared CRM, checkpointed so it can be copied."""
    db = Database(f"sqlite:///{path}")
    prepare_crm(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def make_app(url: str, tmp_path: Path, **overrides: Any):
    """A test app on ``url`` (CSRF on, the model checked before every request)."""
    from web import create_app

    config = {"LOOM_DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret",
              "LOOM_INSTANCE_DIR": str(tmp_path / "instance"), "LOOM_MODEL_CHECK_INTERVAL": 0,
              "LOOM_METADATA_DIRS": [str(d) for d in SHIPPED_METADATA]}
    config.update(overrides)
    return create_app(config)


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def form_token(client, url: str) -> str:
    """The CSRF token of the page at ``url`` (GET it like a browser would)."""
    response = client.get(url)
    return csrf_from(response.get_data(as_text=True))


def login_client(app, username: str, password: str = DEMO_PASSWORD):
    """A new test client logged in as ``username`` through the real login form."""
    client = app.test_client()
    token = form_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def token_for(app, username: str) -> str:
    from engine import accounts

    rt = app.extensions["loom"].current
    return accounts.create_token(rt.db, rt.tables, username, name="tests")


class ApiClient:
    """A test client that sends a bearer token and JSON: ``api.get("/api/v1/deal")``."""

    def __init__(self, client, token: str | None) -> None:
        self.client, self.token = client, token

    def _headers(self, headers: dict | None) -> dict:
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        out.update(headers or {})
        return out

    def open(self, method: str, path: str, *, json: Any = None, headers: dict | None = None, **kw):
        return self.client.open(path, method=method, json=json, headers=self._headers(headers), **kw)

    def get(self, path, **kw): return self.open("GET", path, **kw)  # noqa: E704
    def post(self, path, **kw): return self.open("POST", path, **kw)  # noqa: E704
    def patch(self, path, **kw): return self.open("PATCH", path, **kw)  # noqa: E704
    def put(self, path, **kw): return self.open("PUT", path, **kw)  # noqa: E704
    def delete(self, path, **kw): return self.open("DELETE", path, **kw)  # noqa: E704
