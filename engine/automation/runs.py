"""Workflow runs as users and admins see them: lists, retry, and manual workflows.

Used by the record page's "runs" tab, the admin list, the API and ``loom runs``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.automation.runner import FAILED, Outcome, execute, insert_run, manual_key, utc_naive
from engine.automation.spec import MANUAL, Workflow, workflows_of
from engine.clock import clock_for_evaluation
from engine.permissions import Actor
from engine.records.errors import PermissionDenied, RecordNotFound, text


class WorkflowRefused(Exception):
    """A manual workflow that may not run here (message in en and zh-CN)."""

    def __init__(self, en: str, zh: str, status: int = 409) -> None:
        super().__init__(en)
        self.message = text(en, zh)
        self.status = status


def list_runs(snapshot: Any, *, status: str | None = None, workflow: str | None = None,
              entity: str | None = None, record_id: int | None = None, limit: int = 50,
              before_id: int | None = None) -> list[dict[str, Any]]:
    runs = snapshot.tables.workflow_runs
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(max(1, min(limit, 500)))
    for column, value in (("status", status), ("workflow", workflow), ("entity", entity),
                          ("record_id", record_id)):
        if value is not None:
            query = query.where(runs.c[column] == value)
    if before_id is not None:
        query = query.where(runs.c.id < before_id)
    with snapshot.db.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def get_run(snapshot: Any, run_id: int) -> dict[str, Any] | None:
    runs = snapshot.tables.workflow_runs
    with snapshot.db.read() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
    return dict(row) if row else None


def retry(snapshot: Any, run_id: int) -> bool:
    """Make a failed (or stopped) run due again now; the scheduler enqueues it. False when
    the run is unknown or did not fail."""
    runs = snapshot.tables.workflow_runs
    now = utc_naive(snapshot.clock.now())
    with snapshot.db.write() as conn:
        return conn.execute(sa.update(runs).where(
            runs.c.id == run_id, runs.c.status.in_((FAILED, "stopped"))).values(
            status=FAILED, next_attempt_at=now, attempts=0)).rowcount == 1


def manual_workflows(snapshot: Any, actor: Actor, entity: str, record: dict[str, Any] | None,
                     *, bulk: bool = False) -> list[Workflow]:
    """The manual workflows of ``entity`` whose button ``actor`` sees on ``record`` (or, with
    ``bulk``, on a list)."""
    found = []
    for workflow in workflows_of(snapshot.model).values():
        trigger = workflow.trigger
        if not workflow.active or workflow.entity != entity or trigger.type != MANUAL:
            continue
        if bulk and not trigger.bulk:
            continue
        if trigger.roles and not (actor.is_system or set(trigger.roles) & set(actor.roles)
                                  or _is_admin(snapshot, actor)):
            continue
        if not snapshot.policy.can(actor, entity, "update"):
            continue
        if record is not None and trigger.visible_if is not None and not _visible(
                snapshot, workflow, record, actor):
            continue
        found.append(workflow)
    return sorted(found, key=lambda w: w.name)


def _is_admin(snapshot: Any, actor: Actor) -> bool:
    return any(getattr(snapshot.model.roles.get(r), "admin", False) for r in actor.roles)


def _visible(snapshot: Any, workflow: Workflow, record: dict[str, Any], actor: Actor) -> bool:
    to_cel = snapshot.service.plan(workflow.entity).to_cel
    bindings = {}
    for name, value in record.items():
        if value is not None and name in to_cel:
            convert = to_cel[name]
            bindings[f"record.{name}"] = convert(value) if convert else value
    if actor.user_id is not None:
        bindings["actor.id"] = actor.user_id
    with clock_for_evaluation(snapshot.clock):
        return bool(workflow.trigger.visible_if.holds(bindings))


def start_manual(snapshot: Any, actor: Actor, workflow_name: str, entity: str,
                 record_id: int) -> Outcome:
    """Run a manual workflow on one record now, for ``actor`` (its button or the API)."""
    workflow = workflows_of(snapshot.model).get(workflow_name)
    if workflow is None or workflow.entity != entity or workflow.trigger.type != MANUAL:
        raise WorkflowRefused(f"{entity} has no manual workflow {workflow_name!r}",
                              f"{entity} 没有手动流程 {workflow_name!r}", 404)
    # The actor must see the record (a 404 like any other read otherwise).
    record = snapshot.service.get(actor, entity, record_id)
    if workflow not in manual_workflows(snapshot, actor, entity, record):
        if not snapshot.policy.can(actor, entity, "update"):
            raise PermissionDenied(entity, "update")
        raise WorkflowRefused(f"workflow {workflow_name!r} is not available on this record",
                              f"流程 {workflow_name!r} 不适用于此记录")
    at = utc_naive(snapshot.clock.now())
    with snapshot.db.write() as conn:
        run_id = insert_run(conn, snapshot.tables, workflow=workflow.name, key=manual_key(),
                            entity=entity, record_id=record_id, trigger=MANUAL, at=at,
                            actor_id=actor.user_id)
    return execute(snapshot, run_id)


__all__ = ["RecordNotFound", "WorkflowRefused", "get_run", "list_runs", "manual_workflows",
           "retry", "start_manual"]
