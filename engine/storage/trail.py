"""Audit and outbox rows for the values a migration or ``loom restore`` writes into records.

Users change records only through the record service, but two operator commands
change stored values too: ``loom restore`` (archived values back into empty
fields) and a destructive ``tighten`` step (values the new constraint refuses
become null or the default). :func:`write_changes` stores such values and leaves
the same trace the service leaves, in the caller's transaction: each record gets
``version + 1`` and a new ``updated_at``, one ``loom_audit`` row (action
``update``, ``changes = {field: [old, new]}`` in the field type's JSON form) and
one ``loom_outbox`` row (``record.updated``, payload ``{"version", "changes",
"cause"}``), where ``cause`` names the command, e.g. ``{"restore": "deal.notes"}``.

The row shapes are those of :mod:`engine.records.audit` and
:mod:`engine.records.outbox`, repeated here because storage must not import the
record service (imports go storage -> records, never back). There is no user
behind these changes: ``actor_id`` is null.

Must not decide which values change: callers read, check and lock the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.model import Field
from engine.storage.tables import AUDIT, OUTBOX
from engine.storage.values import WRITE_BATCH
from engine.storage.versions import system_table

#: Audit action and outbox event of a changed record (as the record service writes them).
AUDIT_UPDATE = "update"
EVENT_UPDATED = "record.updated"


@dataclass(frozen=True)
class Change:
    """One record's new value of one field. ``old``/``new`` are Python values."""

    record_id: int
    version: int  # the record's version before the change
    old: Any
    new: Any


def _json(field: Field, value: Any) -> Any:
    return None if value is None else field.type.to_json(field, value)


def write_changes(conn: sa.Connection, model_version: str, table: sa.Table, entity: str,
                  field: Field, changes: Sequence[Change], cause: dict[str, Any]) -> int:
    """Store every change of ``table.<field>`` with its version bump, audit row and event.

    ``table`` is the live Core table (the model's); returns the records changed.

    >>> write_changes(conn, model.version, tables.entity("deal"), "deal", notes,
    ...               [Change(7, 3, None, "hello")], {"restore": "deal.notes"})  # doctest: +SKIP
    1
    """
    if not changes:
        return 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    column = table.c[field.name]
    stmt = (sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            .values({column: sa.bindparam("b_value", type_=column.type),
                     table.c.version: sa.bindparam("b_version"), table.c.updated_at: now}))
    audit, outbox = system_table(AUDIT), system_table(OUTBOX)
    for start in range(0, len(changes), WRITE_BATCH):
        chunk = changes[start:start + WRITE_BATCH]
        conn.execute(stmt, [{"b_id": c.record_id, "b_version": c.version + 1,
                             "b_value": None if c.new is None else field.type.to_db(field, c.new)}
                            for c in chunk])
        docs = [{field.name: [_json(field, c.old), _json(field, c.new)]} for c in chunk]
        conn.execute(audit.insert(), [
            {"at": now, "actor_id": None, "entity": entity, "record_id": c.record_id,
             "action": AUDIT_UPDATE, "changes": doc} for c, doc in zip(chunk, docs)])
        conn.execute(outbox.insert(), [
            {"created_at": now, "event": EVENT_UPDATED, "entity": entity,
             "record_id": c.record_id, "record_ids": None, "actor_id": None,
             "model_version": model_version,
             "payload": {"version": c.version + 1, "changes": doc, "cause": dict(cause)}}
            for c, doc in zip(chunk, docs)])
    return len(changes)
