"""Approvals: a state machine on a select field, started by a workflow, decided by people.

The workflow action ``start_approval`` (see :class:`StartApproval`) moves the record's
select field to its ``pending`` state, resolves the approvers from the record (the
owner's manager through the team tree, the holders of a role, a user field, a named
user), writes a ``loom_approvals`` row listing them and the fields it locks, and notifies
them. While it is pending the record service refuses any change to the locked fields
(``engine.records.rights.check_approval_lock``): the engine refuses the write, not only
the form.

:func:`decide` is the approver's approve / reject, with a comment, from the record page
or the API: in ONE unit of work it marks the approval decided (so the locks lift), moves
the field to the ``approved`` or ``rejected`` state and sets the action's ``on_approved``
/ ``on_rejected`` values, as the system with the workflow run as cause and "approved by
NAME" in the cause's label, so the record's history keeps who decided; then notifies the
requester and the owner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.automation.actions import (
    Action,
    ActionFailed,
    RunContext,
    Value,
    check_values,
    managers_of,
    register,
    resolve_values,
)
from engine.clock import clock_for_evaluation
from engine.model import Text
from engine.permissions import Actor
from engine.records.errors import RecordError, text
from engine.storage.events import Cause

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
#: Who may decide: these keys under ``approvers``.
APPROVER_KINDS = ("manager_of", "role", "field", "user")


class ApprovalRefused(RecordError):
    """A decision that may not be taken (message in en and zh-CN)."""

    def __init__(self, en: str, zh: str, status: int = 409) -> None:
        self.message = text(en, zh)
        self.status = status
        super().__init__(en)


@dataclass(frozen=True)
class ApprovalArgs:
    field: str
    pending: str
    approved: str
    rejected: str
    approvers: tuple[str, str]
    locked: tuple[str, ...]
    on_approved: Mapping[str, Value]
    on_rejected: Mapping[str, Value]
    title: Text | None


class StartApproval(Action):
    name = "start_approval"
    summary = "ask for an approval: a select field's pending state, approvers, locked fields"

    KEYS = {"field", "pending", "approved", "rejected", "approvers", "read_only", "on_approved",
            "on_rejected", "title"}

    def check(self, check: Any, args: Any) -> Any:
        from engine.automation.actions import _only, check_template

        if not _only(check, args, self.KEYS, {"field", "pending", "approved", "rejected",
                                               "approvers"}):
            return None
        entity = check.entity
        f = check.field(entity, args["field"], "field", writable=True)
        if f is None:
            return None
        if f == "owner" or not f.options or f.type.name != "select":
            check.error(f"field {args['field']!r} is not a select field", "field")
            return None
        for key in ("pending", "approved", "rejected"):
            if args[key] not in f.option_values:
                check.error(f"{args[key]!r} is not an option of {f.name!r}; options: "
                            f"{', '.join(f.option_values)}", key, code="option")
        approvers = args["approvers"]
        if not (isinstance(approvers, Mapping) and len(approvers) == 1
                and next(iter(approvers)) in APPROVER_KINDS):
            check.error("approvers is one of {manager_of: owner}, {role: ROLE}, "
                        "{field: USER_FIELD}, {user: USERNAME}", "approvers")
            return None
        kind, value = next(iter(approvers.items()))
        if kind in ("manager_of", "field"):
            g = check.field(entity, value, "approvers", kind)
            if g is not None and g != "owner" and not g.type.refers_to_users:
                check.error(f"field {value!r} is not a user field", "approvers", kind)
        elif not isinstance(value, str) or not value:
            check.error(f"{kind} names a {kind}", "approvers", kind)
        locked = args.get("read_only", [])
        if not isinstance(locked, list):
            check.error("read_only lists field names", "read_only")
            locked = []
        for i, name in enumerate(locked):
            check.field(entity, name, "read_only", i)
        on_approved = check_values(check, entity, args["on_approved"], "on_approved") \
            if "on_approved" in args else {}
        on_rejected = check_values(check, entity, args["on_rejected"], "on_rejected") \
            if "on_rejected" in args else {}
        title = check_template(check, args["title"], "title") if "title" in args else None
        return ApprovalArgs(f.name, args["pending"], args["approved"], args["rejected"],
                            (kind, value), tuple(dict.fromkeys([f.name, *locked])),
                            on_approved, on_rejected, title)

    def run(self, ctx: RunContext, args: ApprovalArgs) -> dict[str, Any]:
        conn = ctx.unit.connection()
        tables = ctx.snapshot.tables
        approvals = tables.approvals
        pending = conn.execute(sa.select(approvals.c.id).where(
            approvals.c.entity == ctx.entity, approvals.c.record_id == ctx.record_id,
            approvals.c.status == PENDING)).scalar()
        if pending is not None:
            return {"outcome": f"approval {pending} is already pending"}
        approvers = sorted(_approvers(ctx, args))
        if not approvers:
            raise ActionFailed(f"no active approver found for {args.approvers[0]} "
                               f"{args.approvers[1]!r}")
        if ctx.record.get(args.field) != args.pending:
            ctx.update_record({args.field: args.pending})
        at = ctx.now.astimezone(dt.UTC).replace(tzinfo=None)
        approval_id = conn.execute(sa.insert(approvals).values(
            workflow=ctx.workflow.name, run_id=ctx.run_id, entity=ctx.entity,
            record_id=ctx.record_id, status=PENDING, approver_ids=approvers,
            locked=list(args.locked), requested_by=ctx.record.get("updated_by"),
            created_at=at).returning(approvals.c.id)).scalar_one()
        from engine.automation import notifications
        from engine.automation.actions import render

        title = render(ctx, args.title) if args.title else _default_title(ctx)
        notifications.notify(conn, tables, approvers, kind="approval", title=title,
                             entity=ctx.entity, record_id=ctx.record_id, run_id=ctx.run_id,
                             at=at)
        return {"outcome": f"approval {approval_id} asked of user(s) "
                           f"{', '.join(map(str, approvers))}", "approval": approval_id}


def _default_title(ctx: RunContext) -> dict[str, str]:
    entity = ctx.snapshot.model.entity(ctx.entity)
    shown = ctx.record.get(entity.display_field) or f"#{ctx.record_id}"
    return {"en": f"Approval needed: {entity.label.get('en')} {shown}",
            "zh-CN": f"待您审批：{entity.label.get('zh-CN')} {shown}"}


def _approvers(ctx: RunContext, args: ApprovalArgs) -> set[int]:
    conn = ctx.unit.connection()
    tables = ctx.snapshot.tables
    users = tables.users
    kind, value = args.approvers
    if kind == "manager_of":
        user = ctx.record.get(value)
        found = managers_of(conn, tables, user) if user else set()
    elif kind == "field":
        found = {ctx.record[value]} if ctx.record.get(value) else set()
    elif kind == "role":
        roles = tables.user_roles
        found = set(conn.execute(sa.select(roles.c.user_id).where(
            roles.c.role == value)).scalars())
    else:
        found = set(conn.execute(sa.select(users.c.id).where(
            users.c.username == value)).scalars())
    if not found:
        return set()
    return set(conn.execute(sa.select(users.c.id).where(
        users.c.id.in_(found), users.c.active.is_(True))).scalars())


register(StartApproval())


def pending_for(snapshot: Any, entity: str, record_id: int) -> dict[str, Any] | None:
    """The record's pending approval, if any."""
    approvals = snapshot.tables.approvals
    with snapshot.db.read() as conn:
        row = conn.execute(sa.select(approvals).where(
            approvals.c.entity == entity, approvals.c.record_id == record_id,
            approvals.c.status == PENDING)).mappings().first()
    return dict(row) if row else None


def history(snapshot: Any, entity: str, record_id: int) -> list[dict[str, Any]]:
    approvals = snapshot.tables.approvals
    with snapshot.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(approvals).where(
            approvals.c.entity == entity, approvals.c.record_id == record_id)
            .order_by(approvals.c.id.desc())).mappings()]


def may_decide(snapshot: Any, actor: Actor, approval: Mapping[str, Any]) -> bool:
    from engine.access import is_admin

    return actor.user_id in (approval.get("approver_ids") or ()) or is_admin(snapshot.model, actor)


def decide(snapshot: Any, actor: Actor, approval_id: int, *, approve: bool,
           comment: str | None = None) -> dict[str, Any]:
    """Approve or reject approval ``approval_id`` as ``actor`` (an approver or an admin)."""
    from engine.automation import notifications

    if comment is not None and len(comment) > 2000:
        raise ApprovalRefused("a comment has at most 2,000 characters",
                              "备注最多 2000 个字符", 422)
    approvals = snapshot.tables.approvals
    users = snapshot.tables.users
    with snapshot.db.read() as conn:
        row = conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)
                           ).mappings().first()
        name = conn.execute(sa.select(users.c.display_name, users.c.username).where(
            users.c.id == actor.user_id)).first() if actor.user_id else None
    if row is None:
        raise ApprovalRefused(f"no approval {approval_id}", f"没有审批 {approval_id}", 404)
    if not may_decide(snapshot, actor, row):
        raise ApprovalRefused("you are not an approver of this record",
                              "您不是此记录的审批人", 403)
    try:
        workflow = dict(snapshot.model.part("workflows")).get(row["workflow"])
    except KeyError:
        workflow = None
    args = next((a.args for a in (workflow.actions if workflow else ())
                 if a.kind == "start_approval"), None)
    if args is None:
        raise ApprovalRefused(f"workflow {row['workflow']!r} no longer asks for this approval",
                              f"流程 {row['workflow']!r} 已不再要求此审批")
    who = (name.display_name or name.username) if name else "admin"
    verdict = APPROVED if approve else REJECTED
    label = f"{workflow.label.get('en')}: {verdict} by {who}"[:255]
    now = snapshot.clock.now()
    at = now.astimezone(dt.UTC).replace(tzinfo=None)
    with snapshot.service.unit(Actor.system(), cause=Cause.workflow(row["run_id"], label),
                               depth=1) as unit:
        conn = unit.connection()
        changed = conn.execute(sa.update(approvals).where(
            approvals.c.id == approval_id, approvals.c.status == PENDING).values(
            status=verdict, decided_by=actor.user_id, decided_at=at,
            comment=(comment or "").strip() or None)).rowcount
        if changed != 1:
            raise ApprovalRefused("this approval was already decided", "此审批已处理")
        record = unit.get(row["entity"], row["record_id"])
        ctx = RunContext(unit=unit, snapshot=snapshot, workflow=workflow, record=dict(record),
                         old=dict(record), run_id=row["run_id"] or 0, actor=Actor.system(),
                         now=now, depth=1)
        values = {args.field: args.approved if approve else args.rejected}
        with clock_for_evaluation(snapshot.clock):
            values.update(resolve_values(ctx, args.on_approved if approve else args.on_rejected))
        updated = unit.update(row["entity"], row["record_id"], values, version=None)
        tell = {u for u in (row["requested_by"], updated.get("owner")) if u}
        entity = snapshot.model.entity(row["entity"])
        shown = updated.get(entity.display_field) or f"#{row['record_id']}"
        en_verdict, zh_verdict = ("approved", "已通过") if approve else ("rejected", "已驳回")
        if tell:
            notifications.notify(conn, snapshot.tables, sorted(tell), kind="approval", title={
                "en": f"{entity.label.get('en')} {shown} {en_verdict} by {who}",
                "zh-CN": f"{entity.label.get('zh-CN')} {shown} 审批{zh_verdict}（{who}）"},
                body={"en": comment, "zh-CN": comment} if comment else None,
                entity=row["entity"], record_id=row["record_id"], run_id=row["run_id"], at=at)
    return {"id": approval_id, "status": verdict, "record": updated}
