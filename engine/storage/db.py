"""Database connections: one :class:`Database` per process and URL.

SQLite is the embedded default (WAL, foreign keys on, transactional DDL: Loom
issues ``BEGIN`` itself instead of letting the driver do it lazily).
PostgreSQL goes through psycopg 3. Nothing connects at import time.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from engine.clock import local_time_text

#: Environment variable naming the database; see :func:`database_url`.
URL_ENV = "LOOM_DATABASE_URL"
#: Where the embedded SQLite database lives when no URL is given.
DEFAULT_SQLITE_PATH = Path("instance") / "loom.db"
#: How long a SQLite writer waits for another one before giving up, in seconds.
SQLITE_BUSY_TIMEOUT = 30


def database_url(url: str | None = None) -> str:
    """The URL to use: ``url``, else ``$LOOM_DATABASE_URL``, else ``./instance/loom.db``.

    ``postgresql://`` URLs are pointed at psycopg 3.
    """
    url = url or os.environ.get(URL_ENV) or f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _sqlite_setup(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DBAPI objects
        # Let SQLAlchemy's "begin" event below start transactions, so DDL is
        # transactional too (the sqlite3 module would otherwise commit before DDL).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()
        # SQLite has no time zone database, so date buckets in the organisation's zone
        # call Python's (tzdata) per row: loom_local(naive_utc_text, 'Asia/Shanghai').
        # A function (rather than one offset for the whole query) keeps every row right
        # across DST transitions; it is deterministic (the zone rules are fixed for the
        # life of the process), which lets SQLite compute it once per row and group by it.
        dbapi_conn.create_function("loom_local", 2, local_time_text, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # Writers take the lock up front (IMMEDIATE) so two writers never deadlock
        # upgrading a read lock; readers start a plain deferred transaction.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:  # None: each statement commits by itself (autocommit())
            conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """An engine plus Loom's transaction helpers.

    >>> db = Database("sqlite:///:memory:")        # doctest: +SKIP
    >>> with db.write() as conn: ...               # doctest: +SKIP
    """

    def __init__(self, url: str | None = None, *, echo: bool = False, **engine_options) -> None:
        self.url = database_url(url)
        options = dict(engine_options)
        if self.url.startswith("sqlite"):
            path = sa.engine.make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            options.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        self.engine = sa.create_engine(self.url, echo=echo, **options)
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A connection in a write transaction, committed on success, rolled back on error."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection in a read transaction (rolled back at the end)."""
        with self.engine.connect() as conn:
            with conn.begin() as txn:
                yield conn
                txn.rollback()

    @contextmanager
    def autocommit(self) -> Iterator[sa.Connection]:
        """A connection on which every statement is a transaction of its own (no BEGIN,
        no COMMIT: two round trips fewer). Only for work that is ONE statement."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                yield conn.execution_options(sqlite_begin=None)
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def reads(self) -> Iterator[sa.Connection]:
        """A connection for the statements of one read.

        On PostgreSQL no transaction is opened around them: each statement sees what was
        committed when it started, which is what READ COMMITTED gives inside a
        transaction too, without the BEGIN and ROLLBACK round trips. On SQLite a read
        transaction, so all the statements see one snapshot.
        """
        if self.dialect == "postgresql":
            with self.autocommit() as conn:
                yield conn
        else:
            with self.read() as conn:
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
