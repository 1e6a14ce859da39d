"""The same change to many records in one unit of work, with set-based SQL.

:func:`update_many` does for a list of ids what :meth:`~engine.records.unit.Unit.update`
does for one, with the same steps and checks (the ``update`` permission, the stored
record's scope and the grants' conditions, field access, validation, followed defaults,
formulas, rules, select transitions, approval locks (one probe per record of an entity
some workflow approves), references and who may be given a record, the version guard,
the write scope after the write, one audit row and one outbox event per record), but reads the
records with one query per chunk, checks references once, writes them with one
``executemany`` UPDATE and their audit and outbox rows as the bulk create writes its
audit rows (:class:`~engine.records.fastinsert.FastInsert`: ``COPY`` on PostgreSQL).

A record refused by the checks that run in Python (not found or out of scope, no
permission on it, validation or a rule) is reported with its error and left out; the
others are written. What only the database can tell about one record (its version
changed meanwhile, a unique value or a many-to-many field touched by the change, a
written record outside the write scope) raises :class:`BatchRetry`: the caller undoes
the batch (it runs in a savepoint) and takes the records one by one, where each gets
its own answer.

Used by the bulk actions (:mod:`.bulk_actions`); knows the unit only through its public
parts and its core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from engine.records import audit, integrity, outbox, reading, rights
from engine.records.bulk import json_encoder
from engine.records.errors import RecordError, RecordNotFound, ValidationFailed
from engine.records.fastinsert import FastInsert
from engine.records.validation import record_id as record_id_of
from engine.records.validation import validate_update
from engine.storage import events

#: Most ids one read or scope check carries.
CHUNK = 500


class BatchRetry(RecordError):
    """The batch must be undone and its records taken one by one (see the module doc)."""


def update_many(unit: Any, entity: str, ids: Sequence[Any], values: dict[str, Any]
                ) -> tuple[list[Any], list[tuple[Any, RecordError]]]:
    """Apply ``values`` to each record of ``ids`` in ``unit``'s transaction.

    Returns (ids done, in the order given; ``(id, error)`` of each record refused).
    Records the change would leave as they are count as done, with no audit row.
    Raises :class:`BatchRetry` (write nothing more; undo the batch) as the module doc says.
    """
    core, actor = unit.core, unit.actor
    plan = core._require(actor, entity, "update")
    denied = core._denied(actor, plan)
    conn = unit.connection()
    failed: dict[int, RecordError] = {}
    wanted: list[tuple[int, Any]] = []
    for index, given in enumerate(ids):
        try:
            wanted.append((index, record_id_of(entity, given)))
        except RecordError as error:
            failed[index] = error
    olds = _fetch(conn, core, actor, plan, [rid for _, rid in wanted])
    ready: list[tuple[int, dict[str, Any], dict[str, Any], dict[str, tuple[Any, Any]]]] = []
    unchanged: set[int] = set()
    for index, rid in wanted:
        old = olds.get(rid)
        try:
            if old is None:
                raise RecordNotFound(entity, rid)
            rights.check(core.policy, actor, entity, "update", old,
                         rights.within(core.policy, conn, actor, plan.table, rid))
            errors: list[Any] = []
            record, changes = validate_update(plan, old, values, denied=denied, errors=errors,
                                              warnings=[])
            if changes:
                rights.check_transitions(core.model, actor, plan.fields, old, record,
                                         set(changes), errors)
            if changes and entity in core.approval_entities:
                rights.check_approval_lock(conn, core.tables, entity, rid, set(changes),
                                           errors)
            if errors:
                raise ValidationFailed(errors)
        except RecordError as error:
            failed[index] = error
            continue
        if changes:
            ready.append((index, old, record, changes))
        else:
            unchanged.add(index)
    names = {n for *_, changes in ready for n in changes}
    if any(f.name in names for f, _ in plan.links) or any(
            f.name in names for group in plan.unique for f in group):
        raise BatchRetry("the change touches links or unique values: one record at a time")
    if ready:
        problems = integrity.check_references(
            conn, plan, [record for _, _, record, _ in ready], core.policy_scope(actor),
            skip_owner=actor.user_id, names=names, rows=list(range(len(ready))),
            owners=rights.owners(core.policy, actor, plan.name, plan.table, core.tables.users))
        by_row: dict[int, list[Any]] = {}
        for problem in problems:
            by_row.setdefault(problem.row, []).append(problem)
        for row, found in by_row.items():
            failed[ready[row][0]] = ValidationFailed(
                [dataclasses.replace(p, row=None) for p in found])
        ready = [item for row, item in enumerate(ready) if row not in by_row]
    _write(unit, conn, plan, ready)
    done_indexes = unchanged | {index for index, *_ in ready}
    done = [given for index, given in enumerate(ids) if index in done_indexes]
    refused = [(ids[index], failed[index]) for index in sorted(failed)]
    return done, refused


def _fetch(conn: sa.Connection, core: Any, actor: Any, plan: Any, ids: list[Any]
           ) -> dict[Any, dict[str, Any]]:
    """The stored records of ``ids`` the actor may read, by id (with their links)."""
    stored, links = reading.column_names(plan)
    scope = core._scope(actor, plan.name)
    table = plan.table
    found: dict[Any, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        query = sa.select(*(table.c[n] for n in stored)).where(
            table.c.id.in_(ids[start:start + CHUNK]))
        if scope is not None:
            query = query.where(scope)
        records = reading.to_records(plan, conn.execute(query).mappings(), stored)
        reading.load_links(conn, plan, records, links)
        found.update((r["id"], r) for r in records)
    return found


def _write(unit: Any, conn: sa.Connection, plan: Any,
           ready: list[tuple[int, dict[str, Any], dict[str, Any], dict[str, tuple[Any, Any]]]]
           ) -> None:
    """One UPDATE per set of changed columns (executemany, version-guarded), the scope
    check, then the audit and outbox rows."""
    if not ready:
        return
    core, actor = unit.core, unit.actor
    now, at = core.now()
    table = plan.table
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for _, old, record, changes in ready:
        record.update(updated_at=now, updated_by=actor.user_id, version=old["version"] + 1)
        columns = tuple(n for n in changes if n in table.c)
        params = core.db_values(plan, record, [*columns, "updated_at", "updated_by", "version"])
        params.update(b_id=old["id"], b_version=old["version"])
        groups.setdefault(columns, []).append(params)
    guard = sa.update(table).where(table.c.id == sa.bindparam("b_id"),
                                   table.c.version == sa.bindparam("b_version"))
    for rows in groups.values():
        if conn.execute(guard, rows).rowcount != len(rows):
            raise BatchRetry("a record changed meanwhile: one record at a time")
    written = [old["id"] for _, old, _, _ in ready]
    for start in range(0, len(written), CHUNK):
        try:
            core.check_scope(conn, actor, plan, written[start:start + CHUNK], "update")
        except RecordError as error:
            raise BatchRetry(str(error)) from error
    # The rows events.emit would write, shaped by the same emitter, fed to the driver as
    # tuples (COPY on PostgreSQL, executemany elsewhere), as the bulk create does.
    context, tables, encode = unit.context, core.event_tables, json_encoder()
    audit_out = FastInsert(conn, tables.audit,
                           events.audit_constants(context, at, plan.name, audit.UPDATE),
                           ["record_id", "changes"])
    shape = events.outbox_row(context, at, outbox.UPDATED, plan.name, core.model.version, {})
    outbox_out = FastInsert(conn, tables.outbox, {
        k: v for k, v in shape.items() if k not in ("record_id", "payload")},
        ["record_id", "payload"])
    audit_rows, outbox_rows = [], []
    for _, old, record, changes in ready:
        diff = audit.diff(plan, changes)
        audit_rows.append(audit_out.prefix + (old["id"], encode(diff)))
        outbox_rows.append(outbox_out.prefix + (
            old["id"], encode({"version": record["version"], "changes": diff})))
    audit_out.run(conn, audit_rows)
    outbox_out.run(conn, outbox_rows)
