"""Reading, converting and writing one column's values during a migration.

A retype or widening converts every stored value with the *new* field type's
``convert(field, value)`` (after the *old* type's ``from_db`` when the old field
is known); a tightened constraint checks every stored value with the field
type's ``check``; a required field gets its default written into empty rows. The same
functions compute the plan's preview and do the work at apply time, so the
count a plan shows is the count apply meets (apply re-plans in its own
transaction).

Only Core statements over names taken from the compiled model or the reflected
schema; no DDL here (that is :mod:`engine.storage.steps`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import InvalidOperation
from typing import Any

import sqlalchemy as sa

from engine.fields import FieldValueError
from engine.model import Field
from engine.rules import UNKNOWN

#: Rows written per executemany batch.
WRITE_BATCH = 1000
#: Marker for "this field has no default".
MISSING = object()
#: Errors a ``convert`` may raise for a value it refuses.
CONVERT_ERRORS = (FieldValueError, ValueError, TypeError, ArithmeticError, InvalidOperation)


def readable(type_: sa.types.TypeEngine, dialect: str) -> sa.types.TypeEngine:
    """``type_`` fit for reading on ``dialect``.

    Trap: a reflected NUMERIC on SQLite returns Decimals through a float and
    SQLAlchemy warns about it (our tests turn warnings into errors); read floats
    there, as the model's own decimal columns do.
    """
    if dialect == "sqlite" and isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        return sa.Numeric(type_.precision, type_.scale, asdecimal=False)
    return type_


def _table(name: str, column: str, type_: sa.types.TypeEngine | None = None) -> sa.TableClause:
    return sa.table(name, sa.column("id", sa.BigInteger()), sa.column(column, type_))


def read_values(conn: sa.Connection, table: str, column: str,
                type_: sa.types.TypeEngine) -> list[tuple[int, Any]]:
    """``(id, value)`` of every row whose ``column`` is not null, ordered by id."""
    t = _table(table, column, readable(type_, conn.dialect.name))
    rows = conn.execute(sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None))
                        .order_by(t.c.id))
    return [(row[0], row[1]) for row in rows]


def count_rows(conn: sa.Connection, table: str, where_null: str | None = None) -> int:
    """Rows of ``table``; only those whose ``where_null`` column is null when given."""
    t = sa.table(table, *([sa.column(where_null)] if where_null else []))
    query = sa.select(sa.func.count()).select_from(t)
    if where_null:
        query = query.where(t.c[where_null].is_(None))
    return conn.execute(query).scalar_one()


def has_rows(conn: sa.Connection, table: str) -> bool:
    """Whether ``table`` has a row (reads one, whatever its size)."""
    t = sa.table(table)
    return conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() is not None


def write_values(conn: sa.Connection, table: str, column: str, type_: sa.types.TypeEngine,
                 pairs: Iterable[tuple[int, Any]]) -> int:
    """``UPDATE table SET column = value WHERE id = ...`` for each pair; rows changed."""
    t = _table(table, column)
    stmt = (sa.update(t).where(t.c.id == sa.bindparam("b_id"))
            .values({column: sa.bindparam("b_value", type_=type_)}))
    changed = 0
    batch: list[dict[str, Any]] = []
    for record_id, value in pairs:
        batch.append({"b_id": record_id, "b_value": value})
        if len(batch) >= WRITE_BATCH:
            changed += conn.execute(stmt, batch).rowcount
            batch = []
    if batch:
        changed += conn.execute(stmt, batch).rowcount
    return changed


def fill_nulls(conn: sa.Connection, table: str, column: str, type_: sa.types.TypeEngine,
               value: Any) -> int:
    """Write ``value`` into every row whose ``column`` is null."""
    t = _table(table, column)
    stmt = (sa.update(t).where(t.c[column].is_(None))
            .values({column: sa.bindparam("b_value", value, type_=type_)}))
    return conn.execute(stmt).rowcount


def copy_column(conn: sa.Connection, table: str, source: str, dest: str) -> None:
    """``UPDATE table SET dest = source`` on the server (same stored representation)."""
    t = sa.table(table, sa.column(source), sa.column(dest))
    conn.execute(sa.update(t).values({dest: t.c[source]}))


def static_default(field: Field) -> Any:
    """The field's default as stored, :data:`MISSING` if it has none or it depends on the row.

    A CEL default without variables (``today()``) is evaluated once.
    """
    if field.default is not None:
        return field.type.to_db(field, field.default)
    expr = field.default_expr
    if expr is not None and not expr.variables:
        result = expr.evaluate({})
        if result is not UNKNOWN and result is not None:
            try:
                return field.type.to_db(field, field.type.from_cel(field, result))
            except CONVERT_ERRORS:
                return MISSING
    return MISSING


def has_default(field: Field | None) -> bool:
    return field is not None and static_default(field) is not MISSING


@dataclass
class Conversion:
    """The outcome of converting one column's values to a new field type."""

    values: int = 0
    converted: list[tuple[int, Any]] = dc_field(default_factory=list)  # (id, value as stored)
    failed: list[tuple[int, Any]] = dc_field(default_factory=list)  # (id, old value)

    @property
    def failures(self) -> int:
        return len(self.failed)

    def examples(self, limit: int) -> list[str]:
        return [short(v) for _, v in self.failed[:limit]]


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for previews and notes."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def convert_values(rows: list[tuple[int, Any]], old: Field | None, new: Field) -> Conversion:
    """Convert ``rows`` (as read) from the ``old`` field type into ``new``'s stored form."""
    result = Conversion(values=len(rows))
    for record_id, raw in rows:
        try:
            value = old.type.from_db(old, raw) if old is not None else raw
            converted = new.type.convert(new, value)
            result.converted.append((record_id, new.type.to_db(new, converted)))
        except CONVERT_ERRORS:
            result.failed.append((record_id, raw))
    return result


def python(field: Field, raw: Any) -> Any:
    """A stored value as the field's Python value (``raw`` itself if the type refuses it)."""
    try:
        return field.type.from_db(field, raw)
    except CONVERT_ERRORS:
        return raw


def json_of(field: Field | None, raw: Any) -> Any:
    """A stored value in ``field``'s JSON form; ``raw`` itself when there is no field
    (no applied model to ask) or its type refuses it. Callers make it JSON-safe."""
    if field is None:
        return raw
    try:
        return field.type.to_json(field, field.type.from_db(field, raw))
    except CONVERT_ERRORS:
        return raw


def check_values(rows: list[tuple[int, Any]], field: Field) -> Conversion:
    """Check ``rows`` (as read) against ``field``'s constraints; ``failed`` holds the refused."""
    result = Conversion(values=len(rows))
    for record_id, raw in rows:
        try:
            value = field.type.from_db(field, raw)
            refused = next(iter(field.type.check(field, value)), None) is not None
        except CONVERT_ERRORS:
            refused = True
        if refused:
            result.failed.append((record_id, raw))
        else:
            result.converted.append((record_id, raw))
    return result


def read_versions(conn: sa.Connection, table: str, ids: list[int]) -> dict[int, int]:
    """``{id: version}`` of the rows of ``table`` with those ids."""
    t = sa.table(table, sa.column("id", sa.BigInteger()), sa.column("version", sa.Integer()))
    found: dict[int, int] = {}
    for start in range(0, len(ids), WRITE_BATCH):
        chunk = ids[start:start + WRITE_BATCH]
        found.update(conn.execute(sa.select(t.c.id, t.c.version).where(t.c.id.in_(chunk))).all())
    return found


def count_values(conn: sa.Connection, table: str, column: str) -> int:
    """Rows of ``table`` whose ``column`` holds a value."""
    t = sa.table(table, sa.column(column))
    return conn.execute(sa.select(sa.func.count()).select_from(t)
                        .where(t.c[column].is_not(None))).scalar_one()


def count_duplicates(conn: sa.Connection, table: str, columns: tuple[str, ...]) -> int:
    """How many distinct non-null value tuples of ``columns`` more than one row shares."""
    t = sa.table(table, *[sa.column(c) for c in columns])
    cols = [t.c[c] for c in columns]
    shared = (sa.select(*cols).where(*[c.is_not(None) for c in cols]).group_by(*cols)
              .having(sa.func.count() > 1).subquery())
    return conn.execute(sa.select(sa.func.count()).select_from(shared)).scalar_one()
