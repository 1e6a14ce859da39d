"""Which model the database holds, and the guard that keeps stale processes from writing.

``loom migrate`` records every applied plan in ``loom_schema_versions``. A process
whose compiled model differs from the newest recorded version refuses to write
(:func:`ensure_current`), so web workers and job workers started before a
migration can't store rows shaped for another schema.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from engine.model import CompiledModel
from engine.storage.tables import NAMING_CONVENTION, SCHEMA_VERSIONS, system_tables


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


def record_version(conn: sa.Connection, model: CompiledModel, plan_text: str, actor: str) -> int:
    """Record that ``model`` is now applied; returns the new row's id."""
    table = system_table(SCHEMA_VERSIONS)
    result = conn.execute(table.insert().values(
        version=model.version, applied_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        actor=actor, plan=plan_text, specs=dict(model.specs)))
    return result.inserted_primary_key[0]
