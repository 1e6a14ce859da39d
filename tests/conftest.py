"""Shared fixtures.

``database`` gives an empty database: SQLite in a temporary folder always, and
PostgreSQL too when ``LOOM_TEST_DATABASE_URL`` is set (each test gets its own
schema there, dropped afterwards). ``model_from`` compiles specs given as dicts.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.compiler import compile_documents
from engine.spec import MemorySource
from engine.storage.db import Database

PG_URL_ENV = "LOOM_TEST_DATABASE_URL"
REDIS_URL_ENV = "LOOM_TEST_REDIS_URL"
REPO_ROOT = Path(__file__).resolve().parent.parent

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_URL_ENV) else [])


def make_database(backend: str, tmp_path: Path):
    """An empty Database on ``backend`` and a finaliser that removes it."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'loom.db'}")
        return db, db.dispose
    url = os.environ[PG_URL_ENV]
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(Database(url).url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db = Database(url, connect_args={"options": f"-csearch_path={schema}"})

    def finish() -> None:
        db.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    return db, finish


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    """An empty database on every configured backend."""
    db, finish = make_database(request.param, tmp_path)
    yield db
    finish()


@pytest.fixture
def sqlite_database(tmp_path):
    db, finish = make_database("sqlite", tmp_path)
    yield db
    finish()


def compile_specs(*specs: dict):
    """Compile entity/preset specs given as dicts (raises MetadataInvalid)."""
    errors: list = []
    docs = MemorySource(*specs).documents(errors)
    return compile_documents(docs, errors)


@pytest.fixture
def model_from():
    return compile_specs
