"""Which model the database holds, and the guard that keeps stale processes from writing.

``loom migrate`` records every applied plan in ``loom_schema_versions``. A process
whose compiled model differs from the newest recorded version refuses to write
(:func:`ensure_current`), so web workers and job workers started before a
migration can't store rows shaped for another schema.

On PostgreSQL the guard alone races (a migration could commit between a writer's
check and its INSERT), so every migration, restore and purge starts with
:func:`lock_versions`: it waits for writers that already read the version (their
read holds ACCESS SHARE until they end) and holds new writers at their read
until the migration commits, when they see the new version and are refused.
SQLite needs nothing: writers and migrations both take the database write lock.

Each version row keeps the merged entity specs and the presets they used
(``specs = {entity: spec, ..., "_presets": {name: values}}``; entity names start
with a letter, so the key can't clash), enough to compile the applied model again
(:func:`recorded_documents`). Rows written before presets were recorded have
entity specs only.

:func:`stamp` is what running processes compare to decide whether to reload: the
newest schema version id and the newest metadata revision id
(:mod:`engine.storage.revisions`).
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.model import thaw
from engine.model import CompiledModel
from engine.storage import revisions
from engine.storage.tables import NAMING_CONVENTION, SCHEMA_VERSIONS, system_tables

#: Key of the presets in a version row's ``specs`` (entity names can't start with ``_``).
PRESETS_KEY = "_presets"


class ModelOutdated(RuntimeError):
    """The loaded model is not the one applied to the database."""

    def __init__(self, loaded: str, applied: str | None) -> None:
        self.loaded = loaded
        self.applied = applied
        if applied is None:
            text = ("the database has no Loom schema yet; run `loom plan` then `loom migrate`")
        else:
            text = (f"this process loaded model {loaded} but the database is at {applied}; "
                    "run `loom migrate` (or restart this process after a migration) before writing")
        super().__init__(text)


@lru_cache(maxsize=1)
def _system() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    system_tables(metadata)
    return metadata


def system_table(name: str) -> sa.Table:
    """One of Loom's own tables, independent of any model."""
    return _system().tables[name]


def latest(conn: sa.Connection) -> dict[str, Any] | None:
    """The newest applied schema version row, or ``None`` if Loom never migrated here."""
    if not sa.inspect(conn).has_table(SCHEMA_VERSIONS):
        return None
    table = system_table(SCHEMA_VERSIONS)
    row = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def applied_version(conn: sa.Connection) -> str | None:
    row = latest(conn)
    return row["version"] if row else None


def stamp(conn: sa.Connection) -> tuple[int | None, int | None]:
    """(newest schema version id, newest revision id): what a process reloads on.

    Two indexed max() reads in one statement. A database without
    ``loom_revisions`` yet (not migrated since it was added) gives ``None`` for it.
    """
    q = conn.dialect.identifier_preparer.quote
    try:
        # A savepoint inside a transaction: on PostgreSQL a failed statement would
        # otherwise abort it, and the fallback below could not run.
        with conn.begin_nested() if conn.in_transaction() else nullcontext():
            row = conn.exec_driver_sql(
                f"SELECT (SELECT max(id) FROM {q(SCHEMA_VERSIONS)}), "
                f"(SELECT max(id) FROM {q(revisions.REVISIONS_TABLE)})").one()
        return row[0], row[1]
    except sa.exc.DBAPIError:
        pass
    if not sa.inspect(conn).has_table(SCHEMA_VERSIONS):
        return None, None
    return conn.exec_driver_sql(f"SELECT max(id) FROM {q(SCHEMA_VERSIONS)}").scalar(), None


def ensure_current(conn: sa.Connection, model: CompiledModel) -> None:
    """Raise :class:`ModelOutdated` unless ``model`` is the applied one.

    One indexed single-row read; the record service calls it in every write transaction.
    """
    table = system_table(SCHEMA_VERSIONS)
    try:
        version = conn.execute(sa.select(table.c.version).order_by(table.c.id.desc()).limit(1)).scalar()
    except sa.exc.DBAPIError:
        version = None
    if version != model.version:
        raise ModelOutdated(model.version, version)


def lock_versions(conn: sa.Connection) -> None:
    """On PostgreSQL, lock ``loom_schema_versions`` until the transaction ends.

    Call it first thing in a migration's transaction. ACCESS EXCLUSIVE waits for
    every writer that has read the version in :func:`ensure_current` and blocks
    new ones until commit. No-op on SQLite and before the first migration.
    """
    if conn.dialect.name != "postgresql" or not sa.inspect(conn).has_table(SCHEMA_VERSIONS):
        return
    name = conn.dialect.identifier_preparer.quote(SCHEMA_VERSIONS)
    conn.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")


def recorded_specs(model: CompiledModel) -> dict[str, Any]:
    """What a version row keeps of ``model``: its entity specs and its presets."""
    presets = {name: thaw(p.values) for name, p in sorted(model.presets.items())}
    return {**thaw(dict(model.specs)), PRESETS_KEY: presets}


def recorded_documents(specs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The metadata documents a version row's ``specs`` compile from (entities, then presets)."""
    if not specs:
        return []
    docs = [spec for name, spec in specs.items() if name != PRESETS_KEY]
    presets = specs.get(PRESETS_KEY)
    if presets:
        docs.append({"presets": presets})
    return docs


def record_version(conn: sa.Connection, model: CompiledModel, plan_text: str, actor: str, *,
                   clock: Clock = SYSTEM_CLOCK) -> int:
    """Record that ``model`` is now applied; returns the new row's id."""
    table = system_table(SCHEMA_VERSIONS)
    result = conn.execute(table.insert().values(
        version=model.version, applied_at=clock.naive_now(),
        actor=actor, plan=plan_text, specs=recorded_specs(model)))
    return result.inserted_primary_key[0]
