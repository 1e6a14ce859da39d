"""Running one workflow run: exactly once, in one unit of work, observable.

A run is a ``loom_workflow_runs`` row, unique per (workflow, key), written by whoever
decided the workflow should run (the relay for a record event, the scheduler for a due
firing, a user's button for a manual workflow) with status ``queued``. :func:`execute`
(the rq job, or called directly) then:

1. reads the run and its record (a read transaction); a run already final is left alone
   (a redelivered job does nothing);
2. opens ONE unit of work as the workflow's actor, with cause ``workflow`` (id: the run,
   label: the workflow's name) and the run's causal depth; locks the run row and leaves
   at once if another execution finished it meanwhile;
3. checks the trigger's filter and the condition, runs each action;
4. writes the run's outcome (status, condition result, each action's outcome, the attempt,
   duration) in the same transaction, and commits: the run's record writes and its final
   row commit together or not at all. A worker that dies before that commit leaves the run
   ``queued``, and the lost-job sweep (:data:`LOST_AFTER`) hands it out again.

A failing action rolls the whole unit back (nothing half-written) and the run is marked
``failed`` with the reason in its own transaction; with attempts left it gets a
``next_attempt_at`` (backoff) and the scheduler enqueues it again. The job itself never
raises for a failed run, so rq's registries only hold jobs whose worker died.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.automation.actions import ActionFailed, RunContext, run_actions
from engine.automation.spec import Workflow, workflows_of
from engine.clock import clock_for_evaluation
from engine.model import thaw
from engine.permissions import Actor
from engine.records.errors import RecordError
from engine.storage.events import Cause

log = logging.getLogger(__name__)

QUEUED, SUCCEEDED, SKIPPED, FAILED, STOPPED = (
    "queued", "succeeded", "skipped", "failed", "stopped")
#: Statuses a run never leaves (a redelivered job for such a run does nothing).
FINAL = (SUCCEEDED, SKIPPED, STOPPED)
#: Seconds before the n-th retry of a failed run (the last value repeats).
BACKOFF = (10, 60, 300, 900)
#: A run ``queued`` for longer than this lost its job (Redis lost it, or the job ran before
#: the run's row was committed): it is enqueued again (running it twice does nothing).
LOST_AFTER = dt.timedelta(minutes=5)
#: Seconds a job waits for its run's row to be committed before it gives up (the sweep
#: of :data:`LOST_AFTER` enqueues it again).
MISSING_WAITS = (0.05, 0.2, 0.5, 0.0)


class _Finished(Exception):
    """Another execution of the run finished it; this one writes nothing."""


def utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Outcome:
    """What :func:`execute` did: the run's status, its error, its outcomes."""

    run_id: int
    status: str
    error: str | None = None
    actions: tuple[dict[str, Any], ...] = ()


#: Run rows one INSERT statement of :func:`insert_runs` carries.
INSERT_CHUNK = 1000


def run_values(*, workflow: str, key: str, entity: str, record_id: int | None, trigger: str,
               at: dt.datetime, depth: int = 0, event_id: int | None = None,
               payload: Any = None, actor_id: int | None = None, status: str = QUEUED,
               error: str | None = None) -> dict[str, Any]:
    """The columns of a new run row (for :func:`insert_run` / :func:`insert_runs`)."""
    return {"workflow": workflow, "key": key, "entity": entity, "record_id": record_id,
            "trigger": trigger, "event_id": event_id, "payload": payload, "status": status,
            "actions": [], "error": error, "attempts": 0, "depth": depth, "actor_id": actor_id,
            "created_at": at, "finished_at": at if status in FINAL else None}


def _insert_new(conn: sa.Connection, tables: Any) -> Any:
    """``INSERT INTO loom_workflow_runs ... ON CONFLICT (workflow, key) DO NOTHING``."""
    runs = tables.workflow_runs
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - Loom runs on PostgreSQL and SQLite
        raise RuntimeError(f"unsupported database {dialect!r}")
    return insert(runs).on_conflict_do_nothing(index_elements=[runs.c.workflow, runs.c.key])


def insert_run(conn: sa.Connection, tables: Any, *, workflow: str, key: str, entity: str,
               record_id: int | None, trigger: str, at: dt.datetime, depth: int = 0,
               event_id: int | None = None, payload: Any = None, actor_id: int | None = None,
               status: str = QUEUED, error: str | None = None) -> int | None:
    """Insert a run row unless (workflow, key) has one; its id, or None when it had."""
    values = run_values(workflow=workflow, key=key, entity=entity, record_id=record_id,
                        trigger=trigger, at=at, depth=depth, event_id=event_id,
                        payload=payload, actor_id=actor_id, status=status, error=error)
    statement = _insert_new(conn, tables).values(**values).returning(
        tables.workflow_runs.c.id)
    return conn.execute(statement).scalar()


def insert_runs(conn: sa.Connection, tables: Any,
                rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert many run rows (each from :func:`run_values`) as :func:`insert_run` does one,
    :data:`INSERT_CHUNK` rows per statement: the id of each row, in ``rows``' order, or
    None for a row whose (workflow, key) had one already (or appears twice in ``rows``)."""
    runs = tables.workflow_runs
    ids: dict[tuple[str, str], int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        # executemany: SQLAlchemy batches the rows into multi-row statements itself
        # ("insertmanyvalues") with a cached compiled form; a .values(chunk) statement
        # would be compiled anew, column by column, for every chunk.
        statement = _insert_new(conn, tables).returning(runs.c.id, runs.c.workflow,
                                                        runs.c.key)
        for run_id, workflow, key in conn.execute(statement, chunk):
            ids[(workflow, key)] = run_id
    found: list[int | None] = []
    for row in rows:
        found.append(ids.pop((row["workflow"], row["key"]), None))
    return found


def execute(snapshot: Any, run_id: int) -> Outcome:
    """Run the run ``run_id`` once (see the module's docstring)."""
    tables = snapshot.tables
    runs = tables.workflow_runs
    clock = snapshot.clock
    started = time.perf_counter()
    now = clock.now()
    row = record = None
    for wait in MISSING_WAITS:
        with snapshot.db.read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is not None:
                if row.status in FINAL:
                    return Outcome(run_id, row.status)
                if snapshot.model.has_entity(row.entity):
                    record = _load(snapshot, row.entity, row.record_id, conn)
                break
        # The relay enqueues just before it commits: a fast worker may look too early.
        time.sleep(wait)
    if row is None:
        return Outcome(run_id, "missing", "no such run")
    workflow = workflows_of(snapshot.model).get(row.workflow)
    if workflow is None or not workflow.active:
        why = "no longer declared" if workflow is None else "not active"
        return _finish_alone(snapshot, row, STOPPED, f"workflow {row.workflow!r} is {why}",
                             started)
    try:
        status, outcomes = _run(snapshot, workflow, row, record, now, started)
    except _Finished:
        return Outcome(run_id, "duplicate")
    except (RecordError, ActionFailed, LookupError, ValueError, sa.exc.SQLAlchemyError) as exc:
        return _failed(snapshot, row, workflow, exc, started)
    except Exception as exc:
        log.exception("workflow run %s failed", run_id)
        return _failed(snapshot, row, workflow, exc, started)
    return Outcome(run_id, status, None, tuple(outcomes))


def _actor(snapshot: Any, workflow: Workflow, row: Any, record: dict[str, Any] | None,
           runtime_actor: Any) -> Actor:
    if workflow.actor == "owner":
        owner = (record or {}).get("owner")
        if owner is None:
            raise ActionFailed("the workflow acts as the record's owner, and the record has none")
        return runtime_actor(owner)
    if workflow.actor.startswith("user:"):
        username = workflow.actor.partition(":")[2]
        users = snapshot.tables.users
        with snapshot.db.read() as conn:
            user_id = conn.execute(sa.select(users.c.id).where(
                users.c.username == username, users.c.active.is_(True))).scalar()
        if user_id is None:
            raise ActionFailed(f"the workflow acts as user {username!r}, who does not exist or "
                               "is inactive")
        return runtime_actor(user_id)
    if workflow.actor == "caller":
        if row.actor_id is None:
            raise ActionFailed("the workflow acts as the user who started it, and none did")
        return runtime_actor(row.actor_id)
    return Actor.system()


def _load(snapshot: Any, entity: str, record_id: int | None,
          conn: sa.Connection | None = None) -> dict[str, Any] | None:
    if record_id is None:
        return None
    plan = snapshot.service.plan(entity)
    table = plan.table
    query = sa.select(table).where(table.c.id == record_id)
    if conn is None:
        with snapshot.db.read() as own:
            row = own.execute(query).mappings().first()
    else:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    from_db = plan.from_db
    return {k: (from_db[k](v) if from_db.get(k) and v is not None else v) for k, v in row.items()}


def _old(snapshot: Any, entity: str, record: dict[str, Any], payload: Any) -> dict[str, Any]:
    """The record before the triggering change, from the event's ``{field: [old, new]}``."""
    old = dict(record)
    changes = (payload or {}).get("changes") or {}
    model_entity = snapshot.model.entity(entity)
    for name, pair in changes.items():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            continue
        value = pair[0]
        if value is not None and model_entity.has_field(name):
            f = model_entity.field(name)
            try:
                value = f.type.coerce(f, value)
            except Exception:  # noqa: BLE001 - an old value that no longer fits: leave it out
                value = None
        old[name] = value
    return old


def _run(snapshot: Any, workflow: Workflow, row: Any, record: dict[str, Any] | None,
         now: dt.datetime, started: float) -> tuple[str, list[dict[str, Any]]]:
    runtime_actor = _actor_loader(snapshot)
    if record is None and row.trigger == "deleted":
        record = {"id": row.record_id}
        for name, pair in ((row.payload or {}).get("changes") or {}).items():
            record[name] = pair[0] if isinstance(pair, (list, tuple)) else None
    actor = _actor(snapshot, workflow, row, record, runtime_actor)
    runs = snapshot.tables.workflow_runs
    label = workflow.label.get("en")[:255]
    with snapshot.service.unit(actor, cause=Cause.workflow(row.id, label), depth=row.depth,
                               quiet=bool((row.payload or {}).get("quiet"))) as unit:
        conn = unit.connection()
        status = conn.execute(sa.select(runs.c.status).where(runs.c.id == row.id)
                              .with_for_update()).scalar()
        if status in FINAL:
            raise _Finished()
        outcomes: list[dict[str, Any]] = []
        if record is None:
            result, condition = SKIPPED, None
            outcomes.append({"outcome": f"{workflow.entity} {row.record_id} no longer exists"})
        else:
            ctx = RunContext(unit=unit, snapshot=snapshot, workflow=workflow, record=record,
                             old=_old(snapshot, workflow.entity, record, row.payload),
                             run_id=row.id, actor=actor, now=now, depth=row.depth,
                             quiet=bool((row.payload or {}).get("quiet")), outcomes=outcomes,
                             visited=(workflow.name,))
            condition = _applies(ctx, workflow, conn, row.trigger)
            result = SUCCEEDED if condition else SKIPPED
            if condition:
                run_actions(ctx, workflow)
        conn.execute(sa.update(runs).where(runs.c.id == row.id).values(
            status=result, condition=condition, actions=outcomes, error=None,
            attempts=runs.c.attempts + 1, started_at=utc_naive(now), next_attempt_at=None,
            finished_at=utc_naive(snapshot.clock.now()),
            duration_ms=round((time.perf_counter() - started) * 1000, 3)))
    return result, outcomes


def _actor_loader(snapshot: Any) -> Any:
    """Actors for user ids, with their roles and teams (no runtime at hand: read them)."""
    from engine.accounts.actors import actor_for

    def load(user_id: int) -> Actor:
        actor = actor_for(snapshot.db, snapshot.tables, user_id)
        if actor is None:
            raise ActionFailed(f"user {user_id} does not exist or is inactive")
        return actor
    return load


def _applies(ctx: RunContext, workflow: Workflow, conn: sa.Connection, trigger: str) -> bool | None:
    """The trigger's filter (in SQL) and the condition (CEL) on the record."""
    spec = workflow.trigger.filter
    if spec and trigger != "deleted":
        from engine.filters import FilterCompiler
        service = ctx.snapshot.service
        table = service.tables.entity(workflow.entity)
        where = FilterCompiler(service.model, service.tables, clock=service.clock).where(
            workflow.entity, thaw(spec))
        if where is not None and conn.execute(sa.select(table.c.id).where(
                table.c.id == ctx.record_id, where)).first() is None:
            ctx.outcomes.append({"outcome": "the record no longer matches the trigger's filter"})
            return False
    if workflow.condition is None:
        return True
    with clock_for_evaluation(ctx.snapshot.clock):
        held = workflow.condition.holds(ctx.bindings())
    return bool(held)


def _finish_alone(snapshot: Any, row: Any, status: str, error: str | None,
                  started: float) -> Outcome:
    runs = snapshot.tables.workflow_runs
    with snapshot.db.write() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == row.id).values(
            status=status, error=error, finished_at=utc_naive(snapshot.clock.now()),
            duration_ms=round((time.perf_counter() - started) * 1000, 3)))
    return Outcome(row.id, status, error)


def describe_error(exc: BaseException) -> str:
    """A run's error as an admin reads it (a record error's English message)."""
    message = getattr(exc, "message", None)
    if isinstance(message, dict):
        text = message.get("en") or str(exc)
    else:
        text = str(exc) or type(exc).__name__
    errors = getattr(exc, "errors", None)
    if errors:
        details = []
        for error in errors[:5]:
            msg = getattr(error, "message", error)
            msg = msg.get("en") if isinstance(msg, dict) else str(msg)
            field = getattr(error, "field", None)
            details.append(f"{field}: {msg}" if field else msg)
        text = f"{text} ({'; '.join(details)})"
    return f"{type(exc).__name__}: {text}"[:4000]


def _failed(snapshot: Any, row: Any, workflow: Workflow, exc: BaseException,
            started: float) -> Outcome:
    runs = snapshot.tables.workflow_runs
    now = snapshot.clock.now()
    with snapshot.db.write() as conn:
        attempts = (conn.execute(sa.select(runs.c.attempts).where(runs.c.id == row.id)
                                 ).scalar() or 0) + 1
        retry_at = None
        if attempts is not None and attempts < workflow.max_attempts:
            delay = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
            retry_at = utc_naive(now + dt.timedelta(seconds=delay))
        error = describe_error(exc)
        conn.execute(sa.update(runs).where(runs.c.id == row.id, runs.c.status.not_in(FINAL)).values(
            status=FAILED, error=error, actions=[], next_attempt_at=retry_at, attempts=attempts,
            finished_at=utc_naive(now),
            duration_ms=round((time.perf_counter() - started) * 1000, 3)))
    return Outcome(row.id, FAILED, error)


def manual_key() -> str:
    return f"manual:{uuid.uuid4().hex}"
