"""The relay: from ``loom_outbox`` (written in each change's transaction) to rq jobs.

One call of :func:`relay` takes a batch of undelivered outbox rows, oldest first, and in
ONE transaction:

- claims them: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several relays (one per
  worker process, on several machines) share the work without waiting on each other;
  SQLite's write lock (``BEGIN IMMEDIATE``) lets one relay at a time;
- for each record event, finds the active workflows whose event trigger matches
  (``created``/``updated``/``deleted``, ``field_changed`` with ``from``/``to``) and
  inserts their run rows (``queued``), unique per (workflow, ``event:<outbox id>:<record
  id>``): a redelivered event finds its rows and adds nothing. An event whose causal depth
  already reached :data:`~.runner.MAX_DEPTH` gets a ``stopped`` run with the reason;
- for each delivery event (an e-mail or webhook an action asked for), a delivery job;
- enqueues the jobs (deterministic job ids ``loom-run-<id>``, ``loom-deliver-<id>``),
  then marks the event rows delivered and leases the delivery rows (the delivery job marks
  them delivered once sent: at least once), then commits.

If Redis is down, enqueueing raises, the transaction rolls back and the rows wait for the
next call: nothing is lost. If the commit fails after the jobs were enqueued, the jobs
find no run row (or a finished one) and do nothing; the rows are delivered again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from engine.automation.actions import MAIL_EVENT, WEBHOOK_EVENT
from engine.automation.actions import MAX_DEPTH
from engine.automation.runner import QUEUED, STOPPED, insert_runs, run_values, utc_naive
from engine.automation.spec import Workflow, workflows_of

#: Outbox rows one relay call takes.
BATCH = 500
DELIVERIES = (MAIL_EVENT, WEBHOOK_EVENT)
#: How long a delivery handed to a job is not handed out again (longer than any webhook
#: timeout): a delivery whose job was lost goes out again after it.
DELIVERY_LEASE = dt.timedelta(minutes=5)

#: A job to enqueue: ("run", run id) or ("deliver", outbox id).
Job = tuple[str, int]
Enqueue = Callable[[Sequence[Job]], None]


def event_workflows(model: Any) -> dict[str, list[Workflow]]:
    """Active workflows with an event trigger, by entity."""
    found: dict[str, list[Workflow]] = defaultdict(list)
    for workflow in workflows_of(model).values():
        if workflow.active and workflow.trigger.is_event:
            found[workflow.entity].append(workflow)
    return found


def _event_kind(name: str) -> str | None:
    return {"record.created": "created", "record.updated": "updated",
            "record.deleted": "deleted", "records.created": "created"}.get(name)


def relay(snapshot: Any, enqueue: Enqueue, *, limit: int = BATCH) -> int:
    """Deliver one batch; the number of outbox rows it took (0: nothing was waiting)."""
    tables = snapshot.tables
    outbox = tables.outbox
    now = snapshot.clock.now()
    at = utc_naive(now)
    by_entity = event_workflows(snapshot.model)
    with snapshot.db.write() as conn:
        query = (sa.select(outbox.c.id, outbox.c.event, outbox.c.entity, outbox.c.record_id,
                           outbox.c.record_ids, outbox.c.payload, outbox.c.depth, outbox.c.quiet)
                 .where(outbox.c.delivered_at.is_(None),
                        sa.or_(outbox.c.available_at.is_(None), outbox.c.available_at <= at))
                 .order_by(outbox.c.id).limit(limit))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if not rows:
            return 0
        # Jobs in the outbox's order: a delivery's outbox id, or the index of a new run
        # row in `new` (its id is known once the rows are inserted, all at once).
        order: list[tuple[str, int]] = []
        new: list[dict[str, Any]] = []
        for row in rows:
            if row.event in DELIVERIES:
                order.append(("deliver", row.id))
                continue
            kind = _event_kind(row.event)
            workflows = by_entity.get(row.entity, ())
            if kind is None or not workflows:
                continue
            for values in _runs_for(row, kind, workflows, at):
                if values["status"] != STOPPED:
                    order.append(("run", len(new)))
                new.append(values)
        run_ids = insert_runs(conn, tables, new)
        jobs: list[Job] = []
        for kind, ident in order:
            if kind == "deliver":
                jobs.append((kind, ident))
            elif run_ids[ident] is not None:
                jobs.append((kind, run_ids[ident]))
        if jobs:
            enqueue(jobs)
        events = [r.id for r in rows if r.event not in DELIVERIES]
        deliveries = [r.id for r in rows if r.event in DELIVERIES]
        if events:
            conn.execute(sa.update(outbox).where(outbox.c.id.in_(events)).values(
                delivered_at=at, attempts=outbox.c.attempts + 1))
        if deliveries:
            # Leased, not delivered: the delivery job marks the row delivered when it has
            # sent it; a job that is lost leaves the row to be handed out again.
            conn.execute(sa.update(outbox).where(outbox.c.id.in_(deliveries)).values(
                available_at=utc_naive(now + DELIVERY_LEASE), attempts=outbox.c.attempts + 1))
    return len(rows)


def _runs_for(row: Any, kind: str, workflows: Sequence[Workflow],
              at: dt.datetime) -> list[dict[str, Any]]:
    """The run rows of one record event: one per matching workflow and record."""
    payload = row.payload or {}
    changes = payload.get("changes") or {}
    ids = [row.record_id] if row.record_id is not None else list(row.record_ids or ())
    depth = (row.depth or 0) + 1
    found: list[dict[str, Any]] = []
    for workflow in workflows:
        if not workflow.trigger.matches_event(kind, changes):
            continue
        for record_id in ids:
            stopped = depth > MAX_DEPTH
            error = (f"stopped: this run would be automated step {depth} in a row, past the "
                     f"limit of {MAX_DEPTH} (a workflow may be triggering itself)"
                     if stopped else None)
            found.append(run_values(
                workflow=workflow.name, key=f"event:{row.id}:{record_id}",
                entity=row.entity, record_id=record_id, trigger=kind, at=at, depth=depth,
                event_id=row.id, payload={"changes": changes, "quiet": bool(row.quiet)},
                status=STOPPED if stopped else QUEUED, error=error))
    return found
