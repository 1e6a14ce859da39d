"""Metadata documents stored in the database (``loom_metadata``), written by the metadata API.

An entity created through the API, or the fields the API added to an entity
declared in a file (an ``extends`` document), is stored here as one JSON row
and joins the files on every load (:class:`DatabaseSource`), so every process
compiles the same model the API applied. Rows are only written by
:mod:`engine.meta`, inside the migration transaction that applies them.

The table is one of Loom's system tables (``system_tables`` registers it, so
``loom migrate`` creates it and never proposes dropping it). Reading tolerates a
database without it (nothing migrated yet). No Flask; nothing at import time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.spec.errors import MetadataError
from engine.spec.kinds import registry
from engine.spec.loader import SpecDocument

#: The system table holding API-made metadata documents.
METADATA_TABLE = "loom_metadata"
#: Prefix of a stored document's ``file`` in errors and sources: ``db:extends/deal``.
FILE_PREFIX = "db:"

# Same as the other system tables' ids (SQLite only auto-increments INTEGER).
_ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def metadata_table(metadata: sa.MetaData) -> sa.Table:
    """Add ``loom_metadata`` to ``metadata`` (called from ``system_tables``)."""
    return sa.Table(
        METADATA_TABLE, metadata,
        sa.Column("id", _ID_TYPE, primary_key=True, autoincrement=True),
        # "<kind>/<name>": one entity document or one extension per entity, one per role.
        sa.Column("name", sa.String(150), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )


@lru_cache(maxsize=1)
def _table() -> sa.Table:
    """``loom_metadata`` for statements, built once."""
    return metadata_table(sa.MetaData())


def document_name(kind: str, entity: str) -> str:
    """The stored name of ``kind``'s document about ``entity``: ``extends/deal``."""
    # Which kinds may be stored is the kind registry's ``stored`` flag.
    if kind not in registry.stored_names():
        raise ValueError(f"unknown stored kind {kind!r}; known: {', '.join(registry.stored_names())}")
    return f"{kind}/{entity}"


def file_of(name: str) -> str:
    """The ``file`` a stored document is reported under: ``db:extends/deal``."""
    return FILE_PREFIX + name


def has_table(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(METADATA_TABLE)


def stored_rows(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every stored document row, by name; ``[]`` when the table does not exist yet."""
    if not has_table(conn):
        return []
    table = _table()
    rows = conn.execute(sa.select(table).order_by(table.c.name)).mappings().all()
    return [dict(r) for r in rows]


def to_document(name: str, body: Any, errors: list[MetadataError]) -> SpecDocument | None:
    """A stored body as a :class:`SpecDocument` (errors appended, never raised)."""
    file = file_of(name)
    if isinstance(body, str):  # a JSON column some drivers hand back as text
        try:
            body = json.loads(body)
        except ValueError:
            errors.append(MetadataError(file, (), "stored document is not JSON", None, "syntax"))
            return None
    if not isinstance(body, dict):
        errors.append(MetadataError(file, (), "a metadata document must be a mapping", None,
                                    "shape"))
        return None
    stored = registry.stored_names()
    kinds = [k for k in stored if k in body]
    if len(kinds) != 1:
        errors.append(MetadataError(file, (), "a stored document must have exactly one of the "
                                    f"keys {', '.join(stored)} (the kinds the database may "
                                    "hold)", None, "kind"))
        return None
    # A deep copy: the compiler and the caller never share the row's objects.
    return SpecDocument(kinds[0], json.loads(json.dumps(body)), file)


def documents_from(conn: sa.Connection, errors: list[MetadataError]) -> list[SpecDocument]:
    docs = []
    for row in stored_rows(conn):
        doc = to_document(row["name"], row["body"], errors)
        if doc is not None:
            docs.append(doc)
    return docs


class DatabaseSource:
    """The documents stored in ``loom_metadata`` (none before the table exists).

    >>> compile_model([FileSource("schemas"), DatabaseSource(db)])   # doctest: +SKIP
    """

    def __init__(self, db: Any) -> None:
        self.db = db

    def documents(self, errors: list[MetadataError]) -> list[SpecDocument]:
        with self.db.read() as conn:
            return documents_from(conn, errors)


def save_document(conn: sa.Connection, kind: str, entity: str, body: dict[str, Any],
                  actor: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Insert or replace the stored ``kind`` document of ``entity`` (in the caller's transaction)."""
    table = _table()
    name = document_name(kind, entity)
    now = clock.naive_now()
    updated = conn.execute(table.update().where(table.c.name == name).values(
        body=body, updated_at=now, updated_by=actor))
    if updated.rowcount == 0:
        conn.execute(table.insert().values(name=name, kind=kind, body=body, created_at=now,
                                           updated_at=now, updated_by=actor))


def stored_body(conn: sa.Connection, kind: str, entity: str) -> dict[str, Any] | None:
    """The stored ``kind`` document of ``entity``, or ``None``."""
    if not has_table(conn):
        return None
    table = _table()
    body = conn.execute(sa.select(table.c.body).where(
        table.c.name == document_name(kind, entity))).scalar()
    if isinstance(body, str):
        body = json.loads(body)
    return body
