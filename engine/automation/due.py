"""The scheduler: date-relative, inactivity and cron triggers as indexed "due" queries.

Loom schedules with a small loop of its own (:func:`fire_due`, called by every worker
process every few seconds) rather than rq's ``enqueue_at`` or cron scheduler: what is due
depends on the records (a visit's time, an account's last follow-up, its pool's return
days), which change after any "enqueue at" was decided; a query over indexed columns
finds exactly what is due now, reads the runtime's clock (simulated time in tests), and
needs no second kind of process.

Each firing is keyed by (workflow, record, period) in the run row's unique key, so it
fires once even with several schedulers running at once (the second insert finds the
row). The period is what makes a new firing due:

- ``date``: the field's value (a visit moved to another time fires again). ``before``
  fires from the offset before the value up to the value itself; ``after`` from the
  value plus the offset, for :data:`CATCH_UP` (a scheduler that was down catches up);
- ``inactivity`` of a field: the field's value (or the record's creation, when empty):
  once per stretch without a change; ``days_from`` reads the days from the related
  record (a pool's ``return_after_days``), one indexed range per related record;
- ``inactivity`` of related records (no ``activity`` for the account for N days): one
  firing per N-day period while it lasts;
- ``schedule``: the cron's latest tick (in the organisation's time zone), over the
  records its filter selects, if that tick is at most :data:`CRON_CATCH_UP` old.

:func:`retry_due` enqueues failed runs whose backoff has passed and runs left
``running`` by a worker that died.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.automation.relay import Enqueue, Job
from engine.automation.runner import (
    FAILED,
    LOST_AFTER,
    QUEUED,
    insert_runs,
    run_values,
    utc_naive,
)
from engine.automation.spec import Workflow, workflows_of
from engine.filters import FilterCompiler
from engine.model import thaw

#: How long a missed ``after`` date firing is still made up for.
CATCH_UP = dt.timedelta(days=1)
#: How old a cron tick may be and still fire (a scheduler down longer skips it).
CRON_CATCH_UP = dt.timedelta(hours=1)
#: Firings one workflow adds per call (the rest come at the next call).
FIRINGS_PER_CALL = 5000
#: Most candidate records one due query reads (more due at once than this: the rest
#: wait until earlier ones stop being due).
CANDIDATES = 100_000
#: Firings inserted per statement batch.
KEY_CHUNK = 1000


def fire_due(snapshot: Any, enqueue: Enqueue, *, limit: int = FIRINGS_PER_CALL) -> int:
    """Insert and enqueue the runs due now; the number of new runs."""
    total = 0
    for workflow in workflows_of(snapshot.model).values():
        if workflow.active and workflow.trigger.is_due:
            total += fire_workflow(snapshot, workflow, enqueue, limit=limit)
    return total


def fire_workflow(snapshot: Any, workflow: Workflow, enqueue: Enqueue, *,
                  limit: int = FIRINGS_PER_CALL) -> int:
    """Insert and enqueue the firings of ``workflow`` due now (at most ``limit``).

    The due query runs once (a plain scan: no ORDER BY and LIMIT that would turn it into a
    walk of the primary key), at most :data:`CANDIDATES` records; those already fired (their
    run row exists) are skipped by the insert's ``ON CONFLICT DO NOTHING``, so a workflow
    with more due records than ``limit`` gets to the rest at the next calls.
    """
    now = snapshot.clock.now()
    at = utc_naive(now)
    jobs: list[Job] = []
    with snapshot.db.write() as conn:
        firings = list(due_firings(snapshot, conn, workflow, now))
        start = 0
        while start < len(firings) and len(jobs) < limit:
            # Firings already made meet their run row's unique key: the insert skips them
            # (cheaper than looking the keys up first, and exact under concurrent schedulers).
            chunk = firings[start:start + min(KEY_CHUNK, limit - len(jobs))]
            start += len(chunk)
            new = [run_values(workflow=workflow.name, key=f"due:{record_id}:{period}",
                              entity=workflow.entity, record_id=record_id,
                              trigger=workflow.trigger.type, at=at, depth=1)
                   for record_id, period in chunk]
            jobs += [("run", run_id) for run_id in insert_runs(conn, snapshot.tables, new)
                     if run_id is not None]
        if jobs:
            enqueue(jobs)
    return len(jobs)


def due_firings(snapshot: Any, conn: sa.Connection, workflow: Workflow, now: dt.datetime, *,
                limit: int = CANDIDATES) -> Iterable[tuple[int, str]]:
    """(record id, period) of each firing of ``workflow`` due at ``now`` (any order)."""
    trigger = workflow.trigger
    service = snapshot.service
    table = service.tables.entity(workflow.entity)
    where: list[Any] = []
    if trigger.filter:
        clause = FilterCompiler(service.model, service.tables, clock=service.clock).where(
            workflow.entity, thaw(trigger.filter))
        if clause is not None:
            where.append(clause)
    if trigger.type == "date":
        return _date(snapshot, conn, workflow, table, where, now, limit)
    if trigger.type == "inactivity":
        if trigger.related:
            return _no_related(snapshot, conn, workflow, table, where, now, limit)
        return _unchanged(snapshot, conn, workflow, table, where, now, limit)
    return _cron(snapshot, conn, workflow, table, where, now, limit)


def _period(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _date(snapshot: Any, conn: sa.Connection, workflow: Workflow, table: sa.Table,
          where: list[Any], now: dt.datetime, limit: int) -> list[tuple[int, str]]:
    trigger = workflow.trigger
    column = table.c[trigger.field]
    offset = trigger.offset or dt.timedelta()
    field = snapshot.model.entity(workflow.entity).field(trigger.field)
    if field.type.name == "date":
        # A date fires at the start of its day in the organisation's zone, plus the offset:
        # that moment has passed when the date is at most the local date of now - offset.
        zone = snapshot.clock.zone
        latest = (now - offset).astimezone(zone).date()
        if offset < dt.timedelta():
            window = sa.and_(column <= latest, column >= now.astimezone(zone).date())
        else:
            window = sa.and_(column <= latest,
                             column > (now - offset - CATCH_UP).astimezone(zone).date())
    else:
        instant = utc_naive(now)
        latest = instant - offset
        if offset < dt.timedelta():
            window = sa.and_(column <= latest, column > instant)
        else:
            window = sa.and_(column <= latest, column > latest - CATCH_UP)
    rows = conn.execute(sa.select(table.c.id, column).where(window, *where)
                        .limit(limit)).all()
    plan = snapshot.service.plan(workflow.entity)
    convert = plan.from_db.get(trigger.field)
    return [(row[0], _period(convert(row[1]) if convert else row[1])) for row in rows]


def _unchanged(snapshot: Any, conn: sa.Connection, workflow: Workflow, table: sa.Table,
               where: list[Any], now: dt.datetime, limit: int) -> list[tuple[int, str]]:
    trigger = workflow.trigger
    columns = [sa.func.coalesce(table.c[name], table.c.created_at) for name in trigger.field]
    if len(columns) == 1:
        since = columns[0]
    elif conn.dialect.name == "postgresql":
        since = sa.func.greatest(*columns)
    else:  # SQLite: max() with several arguments is the scalar maximum
        since = sa.func.max(*columns)
    instant = utc_naive(now)
    if trigger.days_from is None:
        cutoff: Any = since < instant - dt.timedelta(days=trigger.days)
    else:
        relation, days_field = trigger.days_from
        target = snapshot.model.entity(workflow.entity).field(relation).target
        other = snapshot.service.tables.entity(target)
        ranges = []
        for target_id, days in conn.execute(sa.select(other.c.id, other.c[days_field])
                                            .where(other.c[days_field].is_not(None))).all():
            ranges.append(sa.and_(table.c[relation] == target_id,
                                  since < instant - dt.timedelta(days=int(days))))
        if not ranges:
            return []
        cutoff = sa.or_(*ranges)
    rows = conn.execute(sa.select(table.c.id, since).where(cutoff, *where)
                        .limit(limit)).all()
    return [(row[0], _period(row[1])) for row in rows]


def _no_related(snapshot: Any, conn: sa.Connection, workflow: Workflow, table: sa.Table,
                where: list[Any], now: dt.datetime, limit: int) -> list[tuple[int, str]]:
    trigger = workflow.trigger
    related = snapshot.service.tables.entity(trigger.related)
    instant = utc_naive(now)
    days = trigger.days or 1
    cutoff = instant - dt.timedelta(days=days)
    recent = sa.select(related.c.id).where(related.c[trigger.via] == table.c.id,
                                           related.c.created_at >= cutoff)
    rows = conn.execute(sa.select(table.c.id).where(
        table.c.created_at < cutoff, ~sa.exists(recent), *where)
        .limit(limit)).scalars().all()
    period = f"p{now.date().toordinal() // days}"
    return [(record_id, period) for record_id in rows]


def _cron(snapshot: Any, conn: sa.Connection, workflow: Workflow, table: sa.Table,
          where: list[Any], now: dt.datetime, limit: int) -> list[tuple[int, str]]:
    from croniter import croniter

    local = now.astimezone(snapshot.clock.zone)
    tick = croniter(workflow.trigger.cron, local).get_prev(dt.datetime)
    if local - tick > CRON_CATCH_UP:
        return []
    period = tick.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    rows = conn.execute(sa.select(table.c.id).where(*where).limit(limit)).scalars().all()
    return [(record_id, f"cron:{period}") for record_id in rows]


def retry_due(snapshot: Any, enqueue: Enqueue) -> int:
    """Enqueue failed runs whose backoff passed, and runs still queued after
    :data:`~.runner.LOST_AFTER` (their job was lost, or their worker died mid-run: its unit
    rolled back, leaving the run queued)."""
    runs = snapshot.tables.workflow_runs
    at = utc_naive(snapshot.clock.now())
    with snapshot.db.write() as conn:
        ids = list(conn.execute(sa.select(runs.c.id).where(sa.or_(
            sa.and_(runs.c.status == FAILED, runs.c.next_attempt_at.is_not(None),
                    runs.c.next_attempt_at <= at),
            sa.and_(runs.c.status == QUEUED, runs.c.created_at < at - LOST_AFTER),
        )).order_by(runs.c.id).limit(1000)).scalars())
        if not ids:
            return 0
        conn.execute(sa.update(runs).where(runs.c.id.in_(ids)).values(
            status=QUEUED, next_attempt_at=None))
        enqueue([("run", run_id) for run_id in ids])
    return len(ids)
