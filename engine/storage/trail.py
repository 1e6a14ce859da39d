"""Audit and outbox rows for the values a migration or ``loom restore`` writes into records.

Users change records only through the record service, but operator commands
change stored values too: ``loom restore`` (archived values back into empty
fields, archived many-to-many links back), a destructive ``tighten`` step (values
the new constraint refuses become null or the default) and a destructive
``retype`` (values that fail to convert become null or the default).
:func:`write_changes` stores such values and leaves the same trace the service
leaves, in the caller's transaction: each record gets ``version + 1`` and a new
``updated_at``, one ``loom_audit`` row (action ``update``, ``changes = {field:
[old, new]}`` in the field type's JSON form) and one ``loom_outbox`` row
(``record.updated``, payload ``{"version", "changes", "cause"}``), where
``cause`` names the command, e.g. ``{"restore": "deal.notes"}``.
:func:`write_traces` leaves the same trace for changes that are not a column
value (link rows the caller wrote itself).

The rows are written by the one event emitter (:mod:`engine.storage.events`) with the
write context of a migration: no user behind these changes (``actor_id`` is null), cause
kind ``migration`` with the model version as its id and the command as its label.

Must not decide which values change: callers read, check and lock the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock

from engine.model import Field
from engine.storage.events import (CAUSE_LABEL_LENGTH, Cause, Event, EventTables, WriteContext,
                                   emit)
from engine.storage.tables import AUDIT, OUTBOX
from engine.storage.values import WRITE_BATCH
from engine.storage.versions import system_table

#: Audit action and outbox event of a changed record (as the record service writes them).
AUDIT_UPDATE = "update"
EVENT_UPDATED = "record.updated"


@dataclass(frozen=True)
class Change:
    """One record's new value of one field. ``old``/``new`` are Python values of the field
    (``old`` as stored in the old column when :func:`write_changes` gets ``old_json``)."""

    record_id: int
    version: int  # the record's version before the change
    old: Any
    new: Any


@dataclass(frozen=True)
class Trace:
    """One record's change the caller already stored (link rows), as its audit document."""

    record_id: int
    version: int  # the record's version before the change
    changes: dict[str, list[Any]]  # JSON-safe, e.g. {"tags": [None, [1, 4]]}


def json_safe(value: Any) -> Any:
    """``value`` as JSON can store it, for values no field type renders (an old column's).

    >>> json_safe(Decimal("1.50")), json_safe(dt.date(2024, 1, 5))   # doctest: +SKIP
    ('1.50', '2024-01-05')
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # Decimal, UUID, bytes' repr: readable and never a JSON error


def _json(field: Field, value: Any) -> Any:
    return None if value is None else json_safe(field.type.to_json(field, value))


def migration_context(model_version: str, cause: dict[str, Any]) -> WriteContext:
    """The write context of an operator command's changes: the system, cause ``migration``
    with the model version as its id and the command as its label ("restore deal.notes")."""
    label = ", ".join(f"{k} {v}" for k, v in cause.items())
    return WriteContext.system(Cause.migration(model_version, label[:CAUSE_LABEL_LENGTH] or None))


def _log(conn: sa.Connection, now: dt.datetime, model_version: str, entity: str,
         traces: Sequence[Trace], cause: dict[str, Any]) -> None:
    """One audit row and one ``record.updated`` event per trace (version already bumped)."""
    emit(conn, EventTables(system_table(AUDIT), system_table(OUTBOX)),
         migration_context(model_version, cause), now, model_version,
         [Event(entity, t.record_id, AUDIT_UPDATE, EVENT_UPDATED, t.changes, t.version + 1,
                {"cause": dict(cause)}) for t in traces])


def write_changes(conn: sa.Connection, model_version: str, table: sa.Table, entity: str,
                  field: Field, changes: Sequence[Change], cause: dict[str, Any], *,
                  old_json: Callable[[Any], Any] | None = None,
                  clock: Clock = SYSTEM_CLOCK) -> int:
    """Store every change of ``table.<field>`` with its version bump, audit row and event.

    ``table`` is the live Core table (the model's); returns the records changed.
    ``old_json`` renders the old values when they are not values of ``field``
    (a retype: they are the old column's); by default ``field``'s ``to_json``.

    >>> write_changes(conn, model.version, tables.entity("deal"), "deal", notes,
    ...               [Change(7, 3, None, "hello")], {"restore": "deal.notes"})  # doctest: +SKIP
    1
    """
    if not changes:
        return 0
    now = clock.naive_now()
    column = table.c[field.name]
    stmt = (sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            .values({column: sa.bindparam("b_value", type_=column.type),
                     table.c.version: sa.bindparam("b_version"), table.c.updated_at: now}))

    def old(value: Any) -> Any:
        if value is None:
            return None
        return json_safe(old_json(value)) if old_json is not None else _json(field, value)

    for start in range(0, len(changes), WRITE_BATCH):
        chunk = changes[start:start + WRITE_BATCH]
        conn.execute(stmt, [{"b_id": c.record_id, "b_version": c.version + 1,
                             "b_value": None if c.new is None else field.type.to_db(field, c.new)}
                            for c in chunk])
        _log(conn, now, model_version, entity,
             [Trace(c.record_id, c.version, {field.name: [old(c.old), _json(field, c.new)]})
              for c in chunk], cause)
    return len(changes)


def write_traces(conn: sa.Connection, model_version: str, table: sa.Table, entity: str,
                 traces: Sequence[Trace], cause: dict[str, Any], *,
                 clock: Clock = SYSTEM_CLOCK) -> int:
    """Bump the version of each traced record of ``table``; write its audit row and event.

    For changes the caller stored itself (link rows); returns the records traced.

    >>> write_traces(conn, model.version, tables.entity("deal"), "deal",
    ...              [Trace(7, 3, {"tags": [None, [1, 4]]})],
    ...              {"restore": "deal.tags"})                  # doctest: +SKIP
    1
    """
    if not traces:
        return 0
    now = clock.naive_now()
    stmt = (sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            .values({table.c.version: sa.bindparam("b_version"), table.c.updated_at: now}))
    for start in range(0, len(traces), WRITE_BATCH):
        chunk = traces[start:start + WRITE_BATCH]
        conn.execute(stmt, [{"b_id": t.record_id, "b_version": t.version + 1} for t in chunk])
        _log(conn, now, model_version, entity, chunk, cause)
    return len(traces)
