"""Checks that need the database: referenced ids exist and unique values are free.

(What points at a deleted record is the business of :mod:`.cascade`.)

They run inside the write transaction, before the statement that would fail, so the
caller gets a :class:`FieldError` naming the field instead of an ``IntegrityError``
(which still guards against the races these reads can't see; the service maps it).
Queries are batched: one per referenced table or unique field per call, chunked.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa

from engine.records.errors import FieldError, text
from engine.records.plan import EntityPlan

#: Most ids one ``IN (...)`` list carries.
CHUNK = 500

Scope = Callable[[str, sa.Table], "sa.ColumnElement[bool] | None"]


def _existing(conn: sa.Connection, column: sa.Column, values: Iterable[Any],
              where: Any = None) -> set[Any]:
    values = list(values)
    found: set[Any] = set()
    for start in range(0, len(values), CHUNK):
        query = sa.select(column).where(column.in_(values[start:start + CHUNK]))
        if where is not None:
            query = query.where(where)
        found.update(conn.execute(query).scalars())
    return found


def check_references(conn: sa.Connection, plan: EntityPlan, records: Sequence[dict[str, Any]],
                     scope: Scope, *, skip_owner: int | None = None, names: set[str] | None = None,
                     rows: Sequence[int | None] | None = None) -> list[FieldError]:
    """Every relation, user and many-to-many id in ``records`` must exist (and be visible).

    ``skip_owner`` is the acting user's id, known to exist; ``names`` limits the check to
    those fields (an update's changes). ``rows`` gives each record's bulk row index.
    """
    errors: list[FieldError] = []
    checks = [(ref.field.name, ref.target, ref.entity, False) for ref in plan.references]
    checks += [(f.name, plan.table.metadata.tables[f.target], f.target, True) for f, _ in plan.links]
    for name, target, entity, many in checks:
        if names is not None and name not in names:
            continue
        wanted: set[int] = set()
        for record in records:
            value = record.get(name)
            if value:
                wanted.update(value) if many else wanted.add(value)
        if name == "owner" and skip_owner is not None:
            wanted.discard(skip_owner)
        if not wanted:
            continue
        where = scope(entity, target) if entity else None
        missing = wanted - _existing(conn, target.c.id, sorted(wanted), where)
        if not missing:
            continue
        what = entity or "user"
        for i, record in enumerate(records):
            value = record.get(name)
            bad = sorted(set(value or ()) & missing) if many else (
                [value] if value in missing else [])
            if bad:
                ids = ", ".join(map(str, bad))
                errors.append(FieldError(name, "reference", text(
                    f"no {what} record with id {ids}", f"不存在 ID 为 {ids} 的 {what} 记录"),
                    row=rows[i] if rows else None))
    return errors


def check_unique(conn: sa.Connection, plan: EntityPlan, records: Sequence[dict[str, Any]], *,
                 names: set[str] | None = None, exclude_id: int | None = None,
                 rows: Sequence[int | None] | None = None) -> list[FieldError]:
    """Unique fields and unique indexes must not repeat a stored value (nor one another).

    ``names`` limits the check to groups touching those fields (an update's changes).
    Composite groups are checked per record; bulk calls rely on the constraint for them.
    """
    errors: list[FieldError] = []
    table = plan.table
    for group in plan.unique:
        if names is not None and not any(f.name in names for f in group):
            continue
        label = ", ".join(f.name for f in group)
        taken = text(f"{label}: this value is already used by another record",
                     f"{label}：该值已被其他记录使用")
        if len(group) > 1:
            if len(records) != 1:
                continue
            values = [records[0].get(f.name) for f in group]
            if any(v is None for v in values):
                continue
            query = sa.select(table.c.id).where(*(table.c[f.name] == plan.to_db_value(f, v)
                                                  for f, v in zip(group, values)))
            if exclude_id is not None:
                query = query.where(table.c.id != exclude_id)
            if conn.execute(query.limit(1)).first() is not None:
                errors.append(FieldError(group[0].name, "unique", taken))
            continue
        f = group[0]
        seen: dict[Any, int] = {}  # Python value -> first record holding it
        for i, record in enumerate(records):
            value = record.get(f.name)
            if value is None:
                continue
            if value in seen:
                errors.append(FieldError(f.name, "unique", taken, row=rows[i] if rows else None))
            seen.setdefault(value, i)
        where = table.c.id != exclude_id if exclude_id is not None else None
        stored = _existing(conn, table.c[f.name], [plan.to_db_value(f, v) for v in seen], where)
        for value in stored:
            i = seen.get(plan.from_db_value(f, value))
            errors.append(FieldError(f.name, "unique", taken,
                                     row=rows[i] if rows and i is not None else None))
    return errors

