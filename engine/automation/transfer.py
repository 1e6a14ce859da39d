"""One-click transfer (一键转派): one user's records to another, as one background job.

A transfer is a row of ``loom_transfer_jobs`` written by :func:`request` (the admin page
calls it; the web needs no Redis): who gives (``from_user``), who receives
(``to_user``), what moves (``spec``: entity -> an optional structured filter, always
within the entity's *open* records, see :data:`OPEN`), who asked. Every worker's loop
hands queued rows to the rq queue (:func:`hand_over`, a ``transfer`` job), and
:func:`execute` runs one:

1. claims the row (``queued`` -> ``running``; a second copy of the job finds it taken);
2. selects the ids of each entity's records owned by ``from_user`` that match;
3. moves them with :func:`engine.records.bulk_actions.transfer_owner` as the requesting
   admin: batches of 200, one transaction each, the same checks as a single update
   (permissions, rules, references), an audit row and an outbox event per record, all
   with the cause ``transfer`` (id: the job, label "alice → bob"). The record writes are
   quiet (no per-record notifications); the receiver gets one notification at the end;
4. after each committed batch, writes ``done``, ``failed``, the first
   :data:`ERRORS_KEPT` refusals and ``progress_at`` in a short transaction of its own
   (what the progress bar polls);
5. ends ``done`` (records refused by a rule or a permission are counted and listed, and
   never stop the others) or ``failed`` with the reason when the job itself can't go on
   (the requester or the receiver was deactivated, the database went away).

Durable: a row handed to a queue that lost it, or a job whose worker died (no progress
for :data:`STALE_AFTER`), is handed over again; it resumes where it stopped, since the
records already moved no longer belong to ``from_user``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engine.access import is_admin
from engine.accounts.actors import actor_for
from engine.automation import notifications
from engine.automation.relay import Enqueue
from engine.automation.runner import utc_naive
from engine.filters import FilterCompiler, FilterError
from engine.permissions import Actor
from engine.records import bulk_actions
from engine.records.errors import RecordError, text
from engine.storage.events import Cause

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: The job kind on the rq queue (see engine.automation.queue.FUNCTIONS).
JOB_KIND = "transfer"
#: What a transfer moves, in this order: each entity's *open* records (``None``: all).
#: Open deals are those not won or lost; open activities those not done.
OPEN: Mapping[str, list[dict[str, Any]] | None] = {
    "account": None,
    "deal": [{"field": "stage", "op": "not_in", "value": ["won", "lost"]}],
    "activity": [{"field": "done", "op": "eq", "value": False}],
}
#: Refusals a job keeps to show (the count is always complete).
ERRORS_KEPT = 100
#: A running job with no progress for this long is handed over again (its worker died);
#: a queued one handed to the queue this long ago and never started too.
STALE_AFTER = dt.timedelta(minutes=10)


class TransferError(ValueError):
    """A transfer that can't be asked for or go on; ``message`` is bilingual."""

    def __init__(self, en: str, zh: str | None = None) -> None:
        self.message = text(en, zh or en)
        super().__init__(en)


# -- asking -------------------------------------------------------------------------------
def entities_of(model: Any) -> list[str]:
    """The entities of :data:`OPEN` the model has (with an ``owner``), in order."""
    return [name for name in OPEN if name in model.entities]


def open_filter(entity: str, extra: Any = None) -> list[Any]:
    """The structured filter of ``entity``'s open records, ANDed with ``extra``."""
    conditions = list(OPEN.get(entity) or [])
    if extra:
        conditions.append({"and": extra} if isinstance(extra, list) else extra)
    return conditions


def request(snapshot: Any, actor: Actor, from_user: int, to_user: int, *,
            entities: list[str] | None = None,
            filters: Mapping[str, Any] | None = None) -> int:
    """Record a transfer of ``from_user``'s open records of ``entities`` (default: all of
    :data:`OPEN` the model has), each optionally narrowed by ``filters[entity]``, to
    ``to_user``, asked by ``actor`` (an admin). Returns the job id; a worker runs it."""
    if not is_admin(snapshot.model, actor):
        raise TransferError("only administrators may transfer another user's records",
                            "只有管理员可以转派其他用户的记录")
    known = entities_of(snapshot.model)
    chosen = list(dict.fromkeys(entities if entities is not None else known))
    unknown = [e for e in chosen if e not in known]
    if unknown:
        raise TransferError(f"cannot transfer {', '.join(unknown)}; known: {', '.join(known)}",
                            f"不能转派 {'、'.join(unknown)}；可转派：{'、'.join(known)}")
    if not chosen:
        raise TransferError("choose at least one kind of record to transfer",
                            "请至少选择一类要转派的记录")
    filters = dict(filters or {})
    if set(filters) - set(chosen):
        raise TransferError("a filter names an entity that is not transferred",
                            "筛选条件指向了未被转派的实体")
    compiler = FilterCompiler(snapshot.model, snapshot.tables, clock=snapshot.clock)
    for entity in chosen:
        try:
            compiler.where(entity, open_filter(entity, filters.get(entity)))
        except FilterError as error:
            raise TransferError(f"{entity}: {error}", f"{entity}：筛选条件有误（{error}）") from error
    if from_user == to_user:
        raise TransferError("the records already belong to that user", "这些记录已属于该用户")
    users = snapshot.tables.users
    jobs = snapshot.tables.transfer_jobs
    with snapshot.db.write() as conn:
        found = {r.id: r.active for r in conn.execute(
            sa.select(users.c.id, users.c.active).where(users.c.id.in_([from_user, to_user])))}
        if from_user not in found:
            raise TransferError(f"no user with id {from_user}", f"不存在 ID 为 {from_user} 的用户")
        if not found.get(to_user):
            raise TransferError("the receiving user does not exist or is inactive",
                                "接收用户不存在或已停用")
        spec = {entity: {"filter": filters.get(entity)} for entity in chosen}
        return int(conn.execute(sa.insert(jobs).values(
            from_user=from_user, to_user=to_user, spec=spec, status=QUEUED, done=0, failed=0,
            errors=[], requested_by=actor.user_id,
            created_at=utc_naive(snapshot.clock.now()))).inserted_primary_key[0])


def counts(snapshot: Any, user_id: int) -> dict[str, int]:
    """How many open records of each transferable entity ``user_id`` owns."""
    compiler = FilterCompiler(snapshot.model, snapshot.tables, clock=snapshot.clock)
    out = {}
    with snapshot.db.read() as conn:
        for entity in entities_of(snapshot.model):
            table = snapshot.tables.entity(entity)
            query = sa.select(sa.func.count()).select_from(table).where(table.c.owner == user_id)
            where = compiler.where(entity, open_filter(entity))
            out[entity] = conn.execute(query if where is None else query.where(where)).scalar_one()
    return out


def get(snapshot: Any, job_id: int) -> dict[str, Any] | None:
    """One job as a dict, with the usernames of its users; ``None`` if there is none."""
    found = _jobs(snapshot, snapshot.tables.transfer_jobs.c.id == job_id, 1)
    return found[0] if found else None


def recent(snapshot: Any, *, user_id: int | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The newest jobs (of ``user_id`` as giver or receiver, when given)."""
    jobs = snapshot.tables.transfer_jobs
    where = None if user_id is None else sa.or_(jobs.c.from_user == user_id,
                                                 jobs.c.to_user == user_id)
    return _jobs(snapshot, where, limit)


def _jobs(snapshot: Any, where: Any, limit: int) -> list[dict[str, Any]]:
    jobs, users = snapshot.tables.transfer_jobs, snapshot.tables.users
    giver, receiver = users.alias("giver"), users.alias("receiver")
    query = (sa.select(jobs, giver.c.username.label("from_username"),
                       receiver.c.username.label("to_username"))
             .join(giver, giver.c.id == jobs.c.from_user)
             .join(receiver, receiver.c.id == jobs.c.to_user)
             .order_by(jobs.c.id.desc()).limit(limit))
    if where is not None:
        query = query.where(where)
    with snapshot.db.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def label(job: Mapping[str, Any]) -> str:
    """The cause label of a job's changes: ``alice → bob``."""
    return f"{job['from_username']} → {job['to_username']}"[:255]


# -- the worker's side ------------------------------------------------------------------------
def hand_over(snapshot: Any, enqueue: Enqueue) -> int:
    """Enqueue the jobs waiting for a worker (and those lost or stalled, see the module
    doc); the number handed over. Redis down: the transaction rolls back, rows wait."""
    jobs = snapshot.tables.transfer_jobs
    at = utc_naive(snapshot.clock.now())
    stale = at - STALE_AFTER
    waiting = sa.select(jobs.c.id).where(sa.or_(
        sa.and_(jobs.c.status == QUEUED,
                sa.or_(jobs.c.enqueued_at.is_(None), jobs.c.enqueued_at < stale)),
        sa.and_(jobs.c.status == RUNNING, jobs.c.progress_at < stale),
    )).order_by(jobs.c.id).limit(100)
    with snapshot.db.read() as conn:  # every turn: look before taking the write lock
        if conn.execute(waiting).first() is None:
            return 0
    with snapshot.db.write() as conn:
        ids = list(conn.execute(waiting).scalars())
        if not ids:
            return 0
        conn.execute(sa.update(jobs).where(jobs.c.id.in_(ids)).values(enqueued_at=at))
        enqueue([(JOB_KIND, job_id) for job_id in ids])
    return len(ids)


def execute(snapshot: Any, job_id: int) -> str:
    """Run transfer job ``job_id`` (see the module doc); its final status, or the status
    it had when another worker holds it."""
    jobs = snapshot.tables.transfer_jobs
    clock = snapshot.clock
    now = utc_naive(clock.now())
    with snapshot.db.write() as conn:
        claimed = conn.execute(sa.update(jobs).where(jobs.c.id == job_id, sa.or_(
            jobs.c.status == QUEUED,
            sa.and_(jobs.c.status == RUNNING, jobs.c.progress_at < now - STALE_AFTER),
        )).values(status=RUNNING, started_at=now, progress_at=now, failed=0, errors=[],
                  error=None)).rowcount
    job = get(snapshot, job_id)
    if job is None:
        return "missing"
    if not claimed:
        return job["status"]
    try:
        moved = _move(snapshot, job)
    except Exception as error:  # the job can't go on: say why on the row, then re-raise
        _finish(snapshot, job_id, FAILED, _bilingual(error))
        if isinstance(error, (RecordError, TransferError)):
            return FAILED
        raise
    _finish(snapshot, job_id, DONE, None)
    if moved:
        with snapshot.db.write() as conn:
            notifications.notify(conn, snapshot.tables, [job["to_user"]], kind="transfer", title={
                "en": f"{moved} records were transferred to you from {job['from_username']}",
                "zh-CN": f"{job['from_username']} 的 {moved} 条记录已转派给您"},
                at=clock.now())
    return DONE


def _move(snapshot: Any, job: dict[str, Any]) -> int:
    """Select and move the job's records, writing the progress; the number moved."""
    actor = actor_for(snapshot.db, snapshot.tables, job["requested_by"]) \
        if job["requested_by"] is not None else None
    if actor is None:
        raise TransferError("the user who asked for the transfer is no longer active",
                            "发起转派的用户已停用")
    if not is_admin(snapshot.model, actor):
        raise TransferError("the user who asked for the transfer is no longer an administrator",
                            "发起转派的用户已不是管理员")
    users = snapshot.tables.users
    with snapshot.db.read() as conn:
        active = conn.execute(sa.select(users.c.active).where(
            users.c.id == job["to_user"])).scalar()
    if not active:
        raise TransferError("the receiving user is no longer active", "接收用户已停用")
    compiler = FilterCompiler(snapshot.model, snapshot.tables, clock=snapshot.clock)
    selected: list[tuple[str, list[int]]] = []
    with snapshot.db.read() as conn:
        for entity, part in job["spec"].items():
            table = snapshot.tables.entity(entity)
            query = sa.select(table.c.id).where(table.c.owner == job["from_user"])
            where = compiler.where(entity, open_filter(entity, (part or {}).get("filter")))
            if where is not None:
                query = query.where(where)
            selected.append((entity, list(conn.execute(query.order_by(table.c.id)).scalars())))
    before = job["done"]
    total = before + sum(len(ids) for _, ids in selected)
    jobs = snapshot.tables.transfer_jobs
    with snapshot.db.write() as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == job["id"]).values(total=total))
    cause = Cause.transfer(job["id"], label(job))
    moved, refused = 0, []
    for entity, ids in selected:
        report = functools.partial(_report, snapshot, job["id"], entity, before + moved,
                                   list(refused))
        result = bulk_actions.transfer_owner(snapshot.service, actor, entity, ids,
                                             job["to_user"], cause=cause, quiet=True,
                                             progress=report)
        moved += len(result.done)
        refused += [_refusal(entity, record_id, error) for record_id, error in result.failed]
    return moved


def _report(snapshot: Any, job_id: int, entity: str, earlier: int,
            earlier_refused: list[dict[str, Any]], done: int,
            failed: list[tuple[Any, RecordError]]) -> None:
    """The progress of ``entity``'s transfer after a batch: ``earlier`` records moved and
    ``earlier_refused`` before it, ``done`` and ``failed`` of it so far."""
    kept = earlier_refused[:ERRORS_KEPT]
    kept += [_refusal(entity, record_id, error)
             for record_id, error in failed[:ERRORS_KEPT - len(kept)]]
    _progress(snapshot, job_id, earlier + done, len(earlier_refused) + len(failed), kept)


def _refusal(entity: str, record_id: Any, error: RecordError) -> dict[str, Any]:
    return {"entity": entity, "id": record_id, "error": _bilingual(error)}


def _bilingual(error: BaseException) -> dict[str, str]:
    """``{en, zh-CN}`` of an error: its own bilingual message(s) where it has them."""
    message = getattr(error, "message", None)
    if getattr(error, "errors", None):  # ValidationFailed: each problem in both languages
        en = "; ".join(str(e.message.get("en")) for e in error.errors)  # type: ignore[attr-defined]
        zh = "; ".join(str(e.message.get("zh-CN")) for e in error.errors)  # type: ignore[attr-defined]
    elif message is not None and hasattr(message, "get"):
        en, zh = message.get("en"), message.get("zh-CN")
    else:
        en = zh = str(error) or type(error).__name__
    return {"en": en, "zh-CN": zh}


def _progress(snapshot: Any, job_id: int, done: int, failed: int,
              errors: list[dict[str, Any]]) -> None:
    jobs = snapshot.tables.transfer_jobs
    with snapshot.db.write() as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
            done=done, failed=failed, errors=errors,
            progress_at=utc_naive(snapshot.clock.now())))


def _finish(snapshot: Any, job_id: int, status: str, error: dict[str, str] | None) -> None:
    jobs = snapshot.tables.transfer_jobs
    with snapshot.db.write() as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
            status=status, error=error, finished_at=utc_naive(snapshot.clock.now())))
