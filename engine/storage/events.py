"""The one event emitter: every ``loom_audit`` and ``loom_outbox`` row is shaped here.

A change to a record leaves two traces in the transaction that makes it: an audit row
(who, when, what changed) and an outbox row (the event automation reads after commit).
Both carry the :class:`WriteContext` of the write: the actor, the :class:`Cause` (a
user's request, a workflow run, an import, a merge, a transfer job, a migration), the
causal depth (how many automated steps led here) and, on outbox rows only, the quiet
flag (no notifications; the audit is never quiet).

:func:`emit` writes the rows of a list of :class:`Event` values. The two fast paths
that fold these rows into their own statements (the guarded single create, one
statement on PostgreSQL, and the bulk create's ``COPY``) take them from
:func:`audit_row` / :func:`outbox_row` and :func:`audit_constants`, so every row has
the same shape whoever writes it: the record service, its cascades and bulk path,
migrations and ``loom restore``.

Runs in the caller's transaction: never begins, commits or rolls back. Must not decide
what changed; callers read, check and lock the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import sqlalchemy as sa

#: Kinds of cause a write may have.
REQUEST, WORKFLOW, IMPORT, MERGE, TRANSFER, MIGRATION = (
    "request", "workflow", "import", "merge", "transfer", "migration")
CAUSE_KINDS = (REQUEST, WORKFLOW, IMPORT, MERGE, TRANSFER, MIGRATION)
#: Columns of an audit row and of an outbox row, ``record_id`` apart (the guarded create
#: binds them in its statement).
AUDIT_COLUMNS = ("at", "actor_id", "entity", "action", "changes", "cause_kind", "cause_id",
                 "cause_label", "depth")
OUTBOX_COLUMNS = ("created_at", "event", "entity", "actor_id", "model_version", "payload",
                  "record_ids", "cause_kind", "cause_id", "cause_label", "depth", "quiet")
#: Longest cause id and label the tables keep (longer ones are refused, not cut).
CAUSE_ID_LENGTH = 64
CAUSE_LABEL_LENGTH = 255


@dataclass(frozen=True)
class Cause:
    """Why a write happens: a kind from :data:`CAUSE_KINDS`, an id and a display label.

    >>> Cause.workflow(12, "Follow up won deals").kind
    'workflow'
    >>> Cause("imprt")
    Traceback (most recent call last):
    ValueError: unknown cause kind 'imprt'; known: request, workflow, import, merge, transfer, migration
    """

    kind: str = REQUEST
    id: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CAUSE_KINDS:
            raise ValueError(f"unknown cause kind {self.kind!r}; known: {', '.join(CAUSE_KINDS)}")
        if self.id is not None:
            object.__setattr__(self, "id", str(self.id))
            if len(self.id) > CAUSE_ID_LENGTH:
                raise ValueError(f"a cause id has at most {CAUSE_ID_LENGTH} characters")
        if self.label is not None and len(self.label) > CAUSE_LABEL_LENGTH:
            raise ValueError(f"a cause label has at most {CAUSE_LABEL_LENGTH} characters")

    @classmethod
    def request(cls, id: Any = None, label: str | None = None) -> "Cause":
        """A user's request (a form, an API call): the default cause."""
        return cls(REQUEST, id, label)

    @classmethod
    def workflow(cls, id: Any, label: str | None = None) -> "Cause":
        return cls(WORKFLOW, id, label)

    @classmethod
    def import_(cls, id: Any, label: str | None = None) -> "Cause":
        return cls(IMPORT, id, label)

    @classmethod
    def merge(cls, id: Any, label: str | None = None) -> "Cause":
        return cls(MERGE, id, label)

    @classmethod
    def transfer(cls, id: Any, label: str | None = None) -> "Cause":
        return cls(TRANSFER, id, label)

    @classmethod
    def migration(cls, id: Any = None, label: str | None = None) -> "Cause":
        return cls(MIGRATION, id, label)


#: The cause of a write nobody named: a user's request.
DEFAULT_CAUSE = Cause()


class Writer(Protocol):
    """Who writes: an :class:`engine.permissions.Actor` (storage sits below permissions, so
    the emitter asks for its ``user_id`` only; ``None`` is the system)."""

    @property
    def user_id(self) -> int | None: ...


@dataclass(frozen=True)
class _System:
    """The writer of operator commands (migrations, ``loom restore``): no user."""

    user_id: None = None


@dataclass(frozen=True)
class WriteContext:
    """Who writes, why, after how many automated steps, and whether to notify.

    ``depth`` counts the automated steps that led to the write (a user's request is 0,
    a workflow reacting to it 1, ...); a unit opened with depth ``d`` writes depth ``d``.
    ``quiet`` writes outbox rows that ask for no notifications.
    """

    actor: Writer
    cause: Cause = field(default=DEFAULT_CAUSE)
    depth: int = 0
    quiet: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.cause, Cause):
            raise TypeError("cause must be a Cause, e.g. Cause.workflow(run_id, label)")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 0:
            raise ValueError("depth must be a whole number from 0")
        if not isinstance(self.quiet, bool):
            raise TypeError("quiet must be True or False")

    @classmethod
    def system(cls, cause: Cause) -> "WriteContext":
        """The system's write (no user), e.g. a migration's."""
        return cls(_System(), cause)


@dataclass(frozen=True)
class Event:
    """One record change to trace: its audit row and its outbox event.

    ``action`` is the audit action (``create``/``update``/``delete``), ``event`` the
    outbox event name, ``changes`` the JSON-safe ``{field: [old, new]}``; ``extra`` is
    merged into the event's payload (``{"version", "changes"}``), e.g. a cascade's
    ``cause``.
    """

    entity: str
    record_id: int
    action: str
    event: str
    changes: dict[str, list[Any]]
    version: int
    extra: dict[str, Any] | None = None


def audit_constants(context: WriteContext, at: dt.datetime, entity: str,
                    action: str) -> dict[str, Any]:
    """The columns of an audit row that don't depend on the record (``at`` naive UTC)."""
    cause = context.cause
    return {"at": at, "actor_id": context.actor.user_id, "entity": entity, "action": action,
            "cause_kind": cause.kind, "cause_id": cause.id, "cause_label": cause.label,
            "depth": context.depth}


def audit_row(context: WriteContext, at: dt.datetime, entity: str, record_id: int | None,
              action: str, changes: dict[str, list[Any]]) -> dict[str, Any]:
    """One ``loom_audit`` row."""
    row = audit_constants(context, at, entity, action)
    row["record_id"] = record_id
    row["changes"] = changes
    return row


def outbox_row(context: WriteContext, at: dt.datetime, name: str, entity: str,
               model_version: str, payload: dict[str, Any], *, record_id: int | None = None,
               record_ids: list[int] | None = None) -> dict[str, Any]:
    """One ``loom_outbox`` row (``at`` naive UTC); ``record_ids`` for a batch event."""
    cause = context.cause
    return {"created_at": at, "event": name, "entity": entity, "record_id": record_id,
            "record_ids": record_ids, "actor_id": context.actor.user_id,
            "model_version": model_version, "payload": payload, "cause_kind": cause.kind,
            "cause_id": cause.id, "cause_label": cause.label, "depth": context.depth,
            "quiet": context.quiet}


def emit(conn: sa.Connection, tables: "EventTables", context: WriteContext, at: dt.datetime,
         model_version: str, events: Sequence[Event]) -> None:
    """Write the audit row and outbox event of each of ``events`` (two executemany).

    >>> emit(conn, EventTables(audit, outbox), context, at, model.version,
    ...      [Event("deal", 7, "update", "record.updated", {"stage": ["lead", "won"]}, 4)])
    ...                                                             # doctest: +SKIP
    """
    if not events:
        return
    conn.execute(sa.insert(tables.audit), [
        audit_row(context, at, e.entity, e.record_id, e.action, e.changes) for e in events])
    conn.execute(sa.insert(tables.outbox), [
        outbox_row(context, at, e.event, e.entity, model_version,
                   {"version": e.version, "changes": e.changes, **(e.extra or {})},
                   record_id=e.record_id)
        for e in events])


def emit_batch(conn: sa.Connection, tables: "EventTables", context: WriteContext,
               at: dt.datetime, model_version: str, name: str, entity: str,
               record_ids: list[int], payload: dict[str, Any]) -> None:
    """One outbox event for a batch of records (their audit rows are the caller's)."""
    conn.execute(sa.insert(tables.outbox), outbox_row(
        context, at, name, entity, model_version, payload, record_ids=record_ids))


@dataclass(frozen=True)
class EventTables:
    """The ``loom_audit`` and ``loom_outbox`` tables to write to."""

    audit: sa.Table
    outbox: sa.Table
