"""The history of metadata revisions (``loom_revisions``), which processes reload on.

A **revision** is a hash of every metadata document (``CompiledModel.revision``); the
**schema version** only of what shapes tables (``CompiledModel.version``, recorded in
``loom_schema_versions``, gates writes). A row is written here, in the transaction
that applies it, whenever:

- the metadata API stores a document in ``loom_metadata`` (``origin = "api"``): the
  row keeps the author, the time, the names of the changed documents and a copy of
  every stored document after the change, enough for a history page and a rollback;
- ``loom migrate`` applies a model whose revision is not the last one recorded
  (``origin = "files"``: a label or role edited in a file, with or without steps).

Every web and worker process keeps the stamp it saw when it loaded its model
(:func:`engine.storage.versions.stamp`: the newest schema version and revision ids)
and reloads when it moves, so a role or label change made by another process is
picked up at its next check without refusing a single write.

The table is one of Loom's system tables (``system_tables`` registers it, so
``loom migrate`` creates it on an existing database). Reading tolerates a
database without it. No Flask; nothing at import time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.model import CompiledModel
from engine.storage.documents import stored_rows

#: The system table holding the history of metadata revisions.
REVISIONS_TABLE = "loom_revisions"
#: ``origin`` of a revision written by the metadata API (documents stored in the database).
ORIGIN_API = "api"
#: ``origin`` of a revision ``loom migrate`` recorded for the metadata files.
ORIGIN_FILES = "files"

# Same as the other system tables' ids (SQLite only auto-increments INTEGER).
_ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def revisions_table(metadata: sa.MetaData) -> sa.Table:
    """Add ``loom_revisions`` to ``metadata`` (called from ``system_tables``)."""
    return sa.Table(
        REVISIONS_TABLE, metadata,
        sa.Column("id", _ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("revision", sa.String(64), nullable=False),
        # The schema version the revision compiled to (unchanged by a label edit).
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        # Names of the stored documents this revision changed (``["extends/deal"]``).
        sa.Column("changed", sa.JSON(), nullable=False),
        # Every document stored in loom_metadata after the change: {name: body}.
        sa.Column("documents", sa.JSON(), nullable=False),
    )


@lru_cache(maxsize=1)
def _table() -> sa.Table:
    return revisions_table(sa.MetaData())


@dataclass(frozen=True)
class Revision:
    """One row of the history."""

    id: int
    revision: str
    version: str
    origin: str
    author: str
    at: dt.datetime
    changed: tuple[str, ...]
    documents: dict[str, Any]


def has_table(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(REVISIONS_TABLE)


def record_revision(conn: sa.Connection, model: CompiledModel, *, author: str, origin: str,
                    changed: list[str] | tuple[str, ...] = (),
                    clock: Clock = SYSTEM_CLOCK) -> int:
    """Record that ``model``'s revision is now applied (in the caller's transaction).

    The stored documents are copied as they are at this point of the transaction,
    so call it after the change is stored. Returns the new row's id.
    """
    documents = {row["name"]: _body(row["body"]) for row in stored_rows(conn)}
    when = clock.naive_now()
    result = conn.execute(_table().insert().values(
        revision=model.revision, version=model.version, origin=origin, author=author, at=when,
        changed=list(changed), documents=documents))
    return result.inserted_primary_key[0]


def latest_revision(conn: sa.Connection) -> str | None:
    """The newest recorded revision hash; ``None`` before the first (or without the table)."""
    if not has_table(conn):
        return None
    table = _table()
    return conn.execute(sa.select(table.c.revision).order_by(table.c.id.desc()).limit(1)).scalar()


def history(conn: sa.Connection, limit: int = 50) -> list[Revision]:
    """The newest ``limit`` revisions, newest first (``[]`` without the table)."""
    if not has_table(conn):
        return []
    table = _table()
    rows = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(limit)).mappings()
    return [Revision(id=r["id"], revision=r["revision"], version=r["version"], origin=r["origin"],
                     author=r["author"], at=r["at"], changed=tuple(_body(r["changed"])),
                     documents=_body(r["documents"])) for r in rows]


def _body(value: Any) -> Any:
    """A JSON column some drivers hand back as text."""
    return json.loads(value) if isinstance(value, str) else value
