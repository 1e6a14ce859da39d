"""The permission-checked reads of the record service: get, history, aggregate, list.

Each function takes the service's :class:`~engine.records.core.RecordCore` and the
actor; the record scope and field access of the policy apply on every path (hidden
fields removed, out-of-scope records "not found"). :func:`get` also reads inside a
unit of work's transaction when given its connection, so a unit sees its own writes.

Never writes and never opens a write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.fields.reference import MAX_ID
from engine.filters import FilterError, decode_cursor, encode_cursor, keyset_after, order_by
from engine.permissions import Actor
from engine.records import aggregate as grouping
from engine.records import audit, expansion, reading, rights
from engine.records.core import RecordCore
from engine.records.errors import RecordNotFound
from engine.records.plan import EntityPlan
from engine.records.validation import record_id as record_id_of

#: Largest page :func:`list_records` returns; page through more with ``after``.
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    """One page of records; ``next_after`` is the cursor of the next page (None at the end)."""

    rows: list[dict[str, Any]]
    total: int | None
    next_after: str | None


def get(core: RecordCore, actor: Actor, entity: str, record_id: Any, *,
        expand: tuple[str, ...] = (), conn: sa.Connection | None = None) -> dict[str, Any]:
    """One record the actor may see, hidden fields removed; RecordNotFound otherwise."""
    plan = core._require(actor, entity, "read")
    hidden = core._hidden(core._denied(actor, plan))
    targets = expansions(core, actor, plan, expand, hidden)
    record_id = record_id_of(entity, record_id, label=plan.entity.label)
    stored, links = reading.column_names(plan, hidden)
    if conn is not None:
        return _get(core, conn, actor, plan, record_id, stored, links, targets)
    with core.db.reads() as conn:
        return _get(core, conn, actor, plan, record_id, stored, links, targets)


def _get(core: RecordCore, conn: sa.Connection, actor: Actor, plan: EntityPlan, record_id: int,
         stored: Any, links: Any, targets: list[expansion.Expansion]) -> dict[str, Any]:
    record = reading.fetch_one(conn, plan, record_id, core._scope(actor, plan.name), stored, links)
    if record is None:
        raise RecordNotFound(plan.name, record_id, label=plan.entity.label)
    expand_records(core, conn, actor, [record], targets)
    return record


def history(core: RecordCore, actor: Actor, entity: str, record_id: Any) -> list[dict[str, Any]]:
    """The record's audit trail (who, when, action, cause, changes), oldest first.

    Needs ``read``; a scoped actor sees the history of records in scope only (so not
    of deleted ones); hidden fields are left out of ``changes``.
    """
    plan = core._require(actor, entity, "read")
    hidden = core._hidden(core._denied(actor, plan))
    record_id = record_id_of(entity, record_id, label=plan.entity.label)
    scope = core._scope(actor, entity)
    with core.db.reads() as conn:
        query = sa.select(plan.table.c.id).where(plan.table.c.id == record_id)
        exists = conn.execute(query.where(scope) if scope is not None else query).first()
        if exists is None and scope is not None:
            raise RecordNotFound(entity, record_id, label=plan.entity.label)
        entries = audit.history(conn, core.tables.audit, entity, record_id)
    if not entries and exists is None:
        raise RecordNotFound(entity, record_id, label=plan.entity.label)
    for entry in entries:
        entry["changes"] = {k: v for k, v in entry["changes"].items() if k not in hidden}
    return entries


def aggregate(core: RecordCore, actor: Actor, entity: str, *, group_by: Any, metrics: Any,
              filters: Any, sort: Any, limit: int | None) -> grouping.Groups:
    """Grouped figures in one SQL GROUP BY, within the actor's scope (see :mod:`.aggregate`)."""
    plan = core._require(actor, entity, "read")
    compiler = core._filters(actor)
    query = grouping.build(plan, compiler, where=compiler.where(entity, filters),
                           scope=core._scope(actor, entity), group_by=group_by,
                           metrics=metrics, sort=sort, limit=limit, dialect=core.db.dialect)
    with core.db.reads() as conn:
        return grouping.run(conn, plan, query)


def expansions(core: RecordCore, actor: Actor, plan: EntityPlan, names: Any,
               hidden: set[str]) -> list[expansion.Expansion]:
    return expansion.expansions(plan, names, hidden, core.tables.users,
                                lambda entity: core.policy.can(actor, entity, "read"),
                                rights.read_through(core.policy, actor, plan.name))


def expand_records(core: RecordCore, conn: sa.Connection, actor: Actor,
                   records: list[dict[str, Any]], wanted: list[expansion.Expansion]) -> None:
    expansion.expand(conn, records, wanted, plans=core.plans, users=core.tables.users,
                     scope=lambda entity: core._scope(actor, entity),
                     hidden=lambda target: core._hidden(core._denied(actor, target)))


def list_records(core: RecordCore, actor: Actor, entity: str, *, filter: Any, sort: Any,
                 limit: int, offset: int, after: str | None, with_total: bool,
                 expand: tuple[str, ...], fields: Any) -> Page:
    """A page of records matching ``filter`` (see :meth:`RecordService.list`)."""
    plan = core._require(actor, entity, "read")
    hidden = core._hidden(core._denied(actor, plan))
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise FilterError([f"limit must be a whole number from 1 to {MAX_LIMIT}"])
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_ID:
        raise FilterError([f"offset must be a whole number from 0 to {MAX_ID}"])
    compiler = core._filters(actor)
    where = compiler.where(entity, filter)
    keys = compiler.sort(entity, sort)
    wanted = None
    if fields is not None:
        wanted, problems = list(fields), []
        for name in wanted:
            compiler.field(plan.entity, name, problems)
        if problems:
            raise FilterError(problems)
    targets = expansions(core, actor, plan, expand, hidden)
    stored, links = reading.column_names(plan, hidden, wanted)
    table = plan.table
    scope = core._scope(actor, entity)
    conditions = [c for c in (where, scope) if c is not None]
    read = list(dict.fromkeys([*stored, *(k.name for k in keys)]))
    query = sa.select(*(table.c[n] for n in read)).where(*conditions)
    if after is not None:
        query = query.where(keyset_after(keys, decode_cursor(keys, after), core.db.dialect))
    query = query.order_by(*order_by(keys)).limit(limit + 1).offset(offset)
    with core.db.reads() as conn:
        rows = reading.to_records(plan, conn.execute(query).mappings(), read)
        more = len(rows) > limit
        rows = rows[:limit]
        next_after = encode_cursor(keys, rows[-1]) if more else None
        total = None
        if with_total:
            total = conn.execute(sa.select(sa.func.count()).select_from(table)
                                 .where(*conditions)).scalar_one()
        reading.load_links(conn, plan, rows, links)
        expand_records(core, conn, actor, rows, targets)
    extra = set(read) - set(stored)
    if extra:
        for row in rows:
            for name in extra:
                del row[name]
    return Page(rows, total, next_after)
