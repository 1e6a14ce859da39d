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
                     rows: Sequence[int | None] | None = None,
                     owners: Any = None) -> list[FieldError]:
    """Every relation, user and many-to-many id in ``records`` must exist (and be visible).

    ``skip_owner`` is the acting user's id, known to exist; ``names`` limits the check to
    those fields (an update's changes). ``rows`` gives each record's bulk row index.
    ``owners`` is a condition on the users table naming who may be given a record (see
    :func:`engine.records.rights.owners`; None: anyone): another owner is refused on the
    ``owner`` field, with the user's name.
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
        if name == "owner" and owners is not None:
            errors += _unassignable(conn, target, records, wanted, owners, rows)
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


def _unassignable(conn: sa.Connection, users: sa.Table, records: Sequence[dict[str, Any]],
                  wanted: set[int], owners: Any, rows: Sequence[int | None] | None
                  ) -> list[FieldError]:
    """An ``owner`` error per record giving itself to an existing user outside ``owners``
    (an unknown id is left to the existence check)."""
    label = sa.func.coalesce(sa.func.nullif(users.c.display_name, ""), users.c.username)
    refused: dict[int, str] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), CHUNK):
        query = sa.select(users.c.id, label.label("label")).where(
            users.c.id.in_(ids[start:start + CHUNK]), sa.not_(owners))
        refused.update((int(r.id), r.label) for r in conn.execute(query))
    errors = []
    for i, record in enumerate(records):
        who = refused.get(record.get("owner"))  # type: ignore[arg-type]
        if who is not None:
            errors.append(FieldError("owner", "assignable", text(
                f"{who} can't be given this record: you may only give records to people "
                "whose records you may change",
                f"不能把这条记录交给 {who}：您只能交给您有权修改其记录的人"),
                row=rows[i] if rows else None))
    return errors


def check_unique(conn: sa.Connection, plan: EntityPlan, records: Sequence[dict[str, Any]], *,
                 names: set[str] | None = None, exclude_id: int | None = None,
                 rows: Sequence[int | None] | None = None) -> list[FieldError]:
    """Unique fields and unique indexes must not repeat a stored value (nor one another).

    ``names`` limits the check to groups touching those fields (an update's changes);
    ``exclude_id`` is the record being updated. A repeat inside ``records`` is reported on
    the later row, a stored value on the first row holding it. A null in any field of a
    group never conflicts (as in SQL). One query per group per :data:`CHUNK` records.
    """
    errors: list[FieldError] = []
    where = plan.table.c.id != exclude_id if exclude_id is not None else None
    for group in plan.unique:
        if names is not None and not any(f.name in names for f in group):
            continue
        if len(group) == 1:
            problems = _single(conn, plan, group[0], records, where)
            label = group[0].name
            message = text(f"{label}: this value is already used by another record",
                           f"{label}：该值已被其他记录使用")
        else:
            problems = _combined(conn, plan, group, records, where)
            message = text(f"the combination of {', '.join(f.name for f in group)} must be unique",
                           f"{'、'.join(f.name for f in group)} 的组合必须唯一")
        errors += [FieldError(group[0].name, "unique", message,
                              row=rows[i] if rows and i is not None else None)
                   for i in problems]
    return errors


def _single(conn: sa.Connection, plan: EntityPlan, f: Any, records: Sequence[dict[str, Any]],
            where: Any) -> list[int | None]:
    """Indexes of the records whose value of ``f`` repeats an earlier one or a stored one."""
    problems: list[int | None] = []
    seen: dict[Any, int] = {}  # Python value -> first record holding it
    for i, record in enumerate(records):
        value = record.get(f.name)
        if value is None:
            continue
        if value in seen:
            problems.append(i)
        seen.setdefault(value, i)
    stored = _existing(conn, plan.table.c[f.name], [plan.to_db_value(f, v) for v in seen], where)
    problems += [seen.get(plan.from_db_value(f, value)) for value in stored]
    return problems


def _combined(conn: sa.Connection, plan: EntityPlan, group: tuple[Any, ...],
              records: Sequence[dict[str, Any]], where: Any) -> list[int | None]:
    """Like :func:`_single` for a composite unique index, matching value tuples.

    Stored tuples are found with ``(a, b) IN ((?, ?), ...)``, which both SQLite (3.15+)
    and PostgreSQL run on the unique index itself.
    """
    problems: list[int | None] = []
    seen: dict[tuple[Any, ...], int] = {}  # Python values -> first record holding them
    for i, record in enumerate(records):
        values = tuple(record.get(f.name) for f in group)
        if None in values:
            continue
        if values in seen:
            problems.append(i)
        seen.setdefault(values, i)
    if not seen:
        return problems
    columns = [plan.table.c[f.name] for f in group]
    wanted = [tuple(plan.to_db_value(f, v) for f, v in zip(group, values)) for values in seen]
    for start in range(0, len(wanted), CHUNK):
        query = sa.select(*columns).where(sa.tuple_(*columns).in_(wanted[start:start + CHUNK]))
        if where is not None:
            query = query.where(where)
        for stored in conn.execute(query):
            values = tuple(plan.from_db_value(f, v) for f, v in zip(group, stored))
            problems.append(seen.get(values))
    return problems
