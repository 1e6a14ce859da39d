"""What the bench scripts share about their databases: the PostgreSQL server to create
scratch databases on, a statement run there, and the server's version for the report."""

from __future__ import annotations

import os

import sqlalchemy as sa

from engine.storage.db import Database

#: The PostgreSQL server (and a database to connect to) where scratch databases are made.
PG_ADMIN_URL = os.environ.get("LOOM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def admin_sql(sql: str) -> None:
    """Run ``sql`` outside a transaction (CREATE / DROP DATABASE) on the bench's server."""
    admin = sa.create_engine(Database(PG_ADMIN_URL).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(sql)
    admin.dispose()


def server_version(backend: str) -> str:
    """``SQLite 3.40.1`` / ``PostgreSQL 15.20 (...)``: what the figures were measured on."""
    if backend == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = sa.create_engine(Database(PG_ADMIN_URL).url)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    engine.dispose()
    return f"PostgreSQL {version}"


def pg_url(database: str) -> str:
    """The URL of ``database`` on the bench's server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def recreate(database: str) -> str:
    """Drop ``database`` if it exists, create it empty; its URL."""
    admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {database}")
    return pg_url(database)
