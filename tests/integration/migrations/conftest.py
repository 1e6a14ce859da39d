"""Helpers for migration tests: build models from field lists, write and read rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from engine.storage.migrate import (
    apply_plan,
    list_archives,
    plan_migration,
    purge,
    restore,
)
from engine.storage.tables import build_tables
from engine.storage.values import readable

NOW = dt.datetime(2024, 1, 1, 12, 0)


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"entity": name, "label": name.title(), "fields": list(fields), **extra}


class Migrator:
    """One database and the models a test moves it through."""

    def __init__(self, db, model_from) -> None:
        self.db = db
        self.model_from = model_from

    def model(self, *specs: dict[str, Any]):
        return self.model_from(*specs)

    def plan(self, model):
        return plan_migration(self.db, model)

    def apply(self, model, plan=None, **kw):
        kw.setdefault("actor", "tester")
        return apply_plan(self.db, model, plan, **kw)

    def restore(self, model, entity: str, field: str | None) -> int:
        return restore(self.db, model, entity, field, actor="tester")

    def purge(self, entity: str, field: str | None = None) -> int:
        return purge(self.db, entity, field)

    def list_archives(self) -> list[dict[str, Any]]:
        return list_archives(self.db)

    def insert(self, model, name: str, *rows: dict[str, Any]) -> list[int]:
        table = build_tables(model).entity(name)
        ids = []
        with self.db.write() as conn:
            for row in rows:
                result = conn.execute(table.insert().values(
                    created_at=NOW, updated_at=NOW, **row))
                ids.append(result.inserted_primary_key[0])
        return ids

    def column(self, table: str, column: str) -> dict[int, Any]:
        """``{id: value}`` of one column, read with its reflected type."""
        with self.db.read() as conn:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
            col = reflected.c[column]
            value = sa.type_coerce(col, readable(col.type, conn.dialect.name))
            return dict(conn.execute(sa.select(reflected.c.id, value)).all())

    def tables(self) -> set[str]:
        with self.db.read() as conn:
            return set(sa.inspect(conn).get_table_names())

    def columns(self, table: str) -> list[str]:
        with self.db.read() as conn:
            return [c["name"] for c in sa.inspect(conn).get_columns(table)]

    def schema(self) -> dict[str, Any]:
        """Tables, columns (name, type, nullable) and index names: to compare before/after."""
        with self.db.read() as conn:
            inspector = sa.inspect(conn)
            out = {}
            for name in sorted(inspector.get_table_names()):
                out[name] = (
                    [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
                    sorted(i["name"] for i in inspector.get_indexes(name)),
                    sorted(str(u["name"]) for u in inspector.get_unique_constraints(name)),
                )
            return out

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table, for before/after comparisons."""
        with self.db.read() as conn:
            out = {}
            for name in sorted(sa.inspect(conn).get_table_names()):
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                cols = [sa.type_coerce(c, readable(c.type, conn.dialect.name)) for c in table.c]
                out[name] = sorted(map(tuple, conn.execute(sa.select(*cols)).all()), key=repr)
            return out


@pytest.fixture
def mig(database, model_from):
    return Migrator(database, model_from)


@pytest.fixture
def sqlite_mig(sqlite_database, model_from):
    return Migrator(sqlite_database, model_from)
