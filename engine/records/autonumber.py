"""Gap-free autonumbers (``CT-{YYYY}-{seq:5}`` -> ``CT-2026-00042``).

Each filled pattern (the format with its date placeholders replaced, e.g.
``CT-2026-{seq:5}``) is one sequence, kept as a row of ``loom_autonumber``. Numbers
are taken with one upsert inside the record's own transaction::

    INSERT INTO loom_autonumber (...) VALUES (:entity, :field, :scope, :n)
    ON CONFLICT (entity, field, scope) DO UPDATE SET last_value = last_value + :n
    RETURNING last_value

so the first use creates the row even when two PostgreSQL transactions race for it,
the row lock makes concurrent writers wait for each other's commit (distinct numbers),
and a rollback gives the numbers back (no gaps). A bulk call takes a whole block with
one statement per pattern. Dates are UTC dates of the write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from engine.fields.computed import AUTONUMBER_TOKEN
from engine.model import Field
from engine.records.errors import FieldError, ValidationFailed
from engine.records.validation import computed_error
from engine.storage.tables import ModelTables

_UPSERT_DIALECTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def scope_of(fmt: str, now: dt.datetime) -> str:
    """``fmt`` with its date placeholders filled; ``{seq...}`` placeholders stay."""
    parts = {"YYYY": f"{now.year:04d}", "YY": f"{now.year % 100:02d}", "MM": f"{now.month:02d}",
             "DD": f"{now.day:02d}"}
    return AUTONUMBER_TOKEN.sub(lambda m: parts.get(m.group(1), m.group(0)), fmt)


def render(scope: str, number: int) -> str:
    """The number placed into the filled pattern (``{seq:5}`` pads to 5 digits)."""
    return AUTONUMBER_TOKEN.sub(lambda m: f"{number:0{int(m.group(2) or 0)}d}", scope)


def take(conn: sa.Connection, tables: ModelTables, entity: str, field: str, scope: str,
         count: int = 1) -> int:
    """Reserve ``count`` numbers of one sequence; returns the first."""
    table = tables.autonumber
    key = {"entity": entity, "field": field, "scope": scope}
    insert = _UPSERT_DIALECTS.get(conn.dialect.name)
    if insert is not None:
        statement = insert(table).values(**key, last_value=count).on_conflict_do_update(
            index_elements=[table.c.entity, table.c.field, table.c.scope],
            set_={"last_value": table.c.last_value + count},
        ).returning(table.c.last_value)
        return conn.execute(statement).scalar_one() - count + 1
    # Other databases: update, else create (no protection against a first-use race).
    where = sa.and_(*(table.c[k] == v for k, v in key.items()))
    last = conn.execute(sa.update(table).where(where).values(last_value=table.c.last_value + count)
                        .returning(table.c.last_value)).scalar()
    if last is None:
        conn.execute(sa.insert(table).values(**key, last_value=count))
        last = count
    return last - count + 1


def fill(conn: sa.Connection, tables: ModelTables, entity: str, fields: tuple[Field, ...],
         records: list[dict[str, Any]], now: dt.datetime, *, bulk: bool) -> None:
    """Give every record in ``records`` its numbers, in order, one statement per pattern;
    ``now`` in the organisation's zone (its date fills ``{YYYY}``, ``{MM}``, ``{DD}``).

    Each number goes through its field type's ``check`` like any computed value;
    problems raise one :class:`ValidationFailed` (rows numbered when ``bulk``), which
    rolls the numbers back with the transaction.
    """
    errors: list[FieldError] = []
    for f in fields:
        scope = scope_of(f.format or "", now)
        first = take(conn, tables, entity, f.name, scope, len(records))
        check = f.type.check
        for offset, record in enumerate(records):
            record[f.name] = value = render(scope, first + offset)
            for problem in check(f, value):
                errors.append(computed_error(f, problem, offset if bulk else None))
    if errors:
        raise ValidationFailed(errors)
