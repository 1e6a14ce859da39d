"""What the record service asks the permission policy about single records.

Beyond :class:`~engine.permissions.PermissionPolicy`'s three questions, a policy may
answer six more (:class:`~engine.access.RolePolicy` does; a policy without them has
nothing to add):

- ``write_scope(actor, entity, table)``: the rows the actor may change (the read
  scope can be wider: records in a public pool are visible but read only);
- ``refusal(actor, entity, action, record, within)``: why the actor may not update or
  delete this stored record (no grant giving the action covers it, or its condition
  does not hold), or None;
- ``rows(actor, table, scope)``: the SQL condition of one scope (``own``, ``team``...);
- ``condition_names(actor, entity, action)``: the fields ``refusal`` reads;
- ``read_through(actor, entity)``: relations whose targets' display names the actor
  may read through a record of ``entity`` it may read;
- ``claimable(actor, entity, table)``: the owner-less rows in a public pool open to one
  of the actor's roles (the rows a :class:`PoolWrite` claim may take).

A :class:`PoolWrite` is the one narrow allowance the record service knows: the pool
use cases (:mod:`engine.automation.pool`) pass it with an update after their own checks
(pool open and active, cap, cooldown), so a salesperson takes an owner-less customer
(or gives up their own) as themselves, with their own audit row, although their role's
scope does not cover the record before (or after) the change. See :func:`check_pool_write`.

Pure apart from the SQL expressions the policy builds: no queries, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from engine.permissions import Actor, PermissionPolicy
from engine.model import Text
from engine.records.errors import PermissionDenied, text

#: The two pool writes: take an owner-less record, give up one's own to a pool.
CLAIM, RELEASE = "claim", "release"


@dataclass(frozen=True)
class PoolWrite:
    """An update that claims a record from a public pool or releases one to it.

    ``fields``: the only fields the update may change (the pool's bookkeeping: owner,
    claimed_at, previous_owner, returned_at, ...). With it, :meth:`Unit.update` checks
    :func:`check_pool_write` instead of the role's update scope:

    - ``claim``: the stored record has no owner and is in a pool open to one of the
      actor's roles (the policy's ``claimable`` rows); the update sets the owner to
      the actor, who must then hold it in their write scope like any record of theirs;
    - ``release``: the actor may update the stored record (the role's ordinary check);
      the update clears the owner, so the record leaves the actor's write scope, and
      the usual "outside your own scope" check after the write is skipped.

    Read-only fields among ``fields`` may be written (hidden ones may not). Nothing
    else changes: the actor needs ``update`` on the entity, and validation, rules,
    optimistic locking, audit and outbox run as for any update.
    """

    kind: str
    fields: frozenset[str]

    def __post_init__(self) -> None:
        if self.kind not in (CLAIM, RELEASE):
            raise ValueError(f"unknown pool write {self.kind!r}; known: {CLAIM}, {RELEASE}")
        object.__setattr__(self, "fields", frozenset(self.fields))


def write_scope(policy: PermissionPolicy, actor: Actor, entity: str, table: sa.Table) -> Any:
    """The rows ``actor`` may change (the read scope for a policy that makes no difference)."""
    method = getattr(policy, "write_scope", None)
    return (method or policy.scope)(actor, entity, table)


def refusal(policy: PermissionPolicy, actor: Actor, entity: str, action: str,
            record: Mapping[str, Any], within: Callable[[str], bool] | None = None
            ) -> Text | str | None:
    """Why ``actor`` may not ``action`` the stored ``record`` (the end of a
    :class:`PermissionDenied` message, in each language), or None when it may. ``within(scope)``: is the
    record in that scope of the actor (see :func:`within`)."""
    method = getattr(policy, "refusal", None)
    return method(actor, entity, action, record, within) if method is not None else None


def within(policy: PermissionPolicy, conn: sa.Connection, actor: Actor, table: sa.Table,
           record_id: int) -> Callable[[str], bool]:
    """``scope -> bool``: is record ``record_id`` of ``table`` in that scope of ``actor``?
    Asked of the database (team membership) only when a grant's scope decides."""
    rows = getattr(policy, "rows", None)

    def test(scope: str) -> bool:
        if rows is None:
            return True
        query = sa.select(table.c.id).where(table.c.id == record_id, rows(actor, table, scope))
        return conn.execute(query).first() is not None

    return test


def check(policy: PermissionPolicy, actor: Actor, entity: str, action: str,
          record: Mapping[str, Any], within: Callable[[str], bool] | None = None, *,
          label: Text | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may ``action`` the stored ``record``
    (``label``: the entity's, for the message)."""
    reason = refusal(policy, actor, entity, action, record, within)
    if reason is not None:
        raise PermissionDenied(entity, action, reason, label=label)


def condition_names(policy: PermissionPolicy, actor: Actor, entity: str,
                    action: str) -> frozenset[str]:
    """Fields :func:`check` needs of a record for ``action``."""
    method = getattr(policy, "condition_names", None)
    return method(actor, entity, action) if method is not None else frozenset()


def read_through(policy: PermissionPolicy, actor: Actor, entity: str) -> frozenset[str]:
    """Relations of ``entity`` whose targets' names ``actor`` may read through it."""
    method = getattr(policy, "read_through", None)
    return method(actor, entity) if method is not None else frozenset()


def claimable(policy: PermissionPolicy, actor: Actor, entity: str, table: sa.Table) -> Any:
    """Rows of ``table`` a :class:`PoolWrite` claim may take (``None``: any row)."""
    method = getattr(policy, "claimable", None)
    return method(actor, entity, table) if method is not None else None


def check_pool_write(policy: PermissionPolicy, conn: sa.Connection, actor: Actor, table: sa.Table,
                     entity: str, write: PoolWrite, record: Mapping[str, Any],
                     within: Callable[[str], bool] | None = None, *,
                     label: Text | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``write`` may start from the stored ``record``."""
    if write.kind == RELEASE:
        check(policy, actor, entity, "update", record, within, label=label)
        if record.get("owner") is None:
            raise PermissionDenied(entity, "update", text(
                " without an owner (nothing to release)", "（该记录没有负责人，无可退回）"),
                label=label)
        return
    if record.get("owner") is not None or actor.user_id is None:
        raise PermissionDenied(entity, "update", text(" that already has an owner",
                                                      "（该记录已有负责人）"), label=label)
    where = claimable(policy, actor, entity, table)
    if where is None:
        return
    query = sa.select(table.c.id).where(table.c.id == record["id"], where)
    if conn.execute(query).first() is None:
        raise PermissionDenied(entity, "update", text(
            " outside the public pools open to your role", "（不在您的角色可用的公海池中）"),
            label=label)


def check_pool_result(entity: str, actor: Actor, write: PoolWrite, record: Mapping[str, Any],
                      changed: set[str], *, label: Text | None = None) -> None:
    """The update of a :class:`PoolWrite` asks for its fields only (``changed``: the
    names given), and leaves the owner as its kind says."""
    outside = sorted(changed - write.fields)
    if outside:  # a use case's mistake, never a user's: field names are what it needs
        raise PermissionDenied(entity, "update", text(
            " (a pool write may not change " + ", ".join(outside) + ")",
            "（公海池操作不能修改 " + "、".join(outside) + "）"), label=label)
    wanted = actor.user_id if write.kind == CLAIM else None
    if record.get("owner") != wanted:
        raise PermissionDenied(entity, "update", text(
            " (a pool write must " + ("make you the owner)" if write.kind == CLAIM
                                      else "clear the owner)"),
            "（公海池操作必须" + ("让您成为负责人）" if write.kind == CLAIM else "清空负责人）")),
            label=label)


#: The columns a stand-in row of :func:`owners` fills: both carry the candidate user's id.
OWNER_COLUMNS = frozenset({"id", "owner"})


def owners(policy: PermissionPolicy, actor: Actor, entity: str, table: sa.Table,
           users: sa.Table) -> sa.ColumnElement[bool] | None:
    """The rows of ``users`` that ``actor`` may make the owner of a record of ``entity``
    (stored in ``table``), as a condition on ``users``; None when anyone may be.

    The write scope decides, as it does after every create and update (see
    ``RecordCore.check_scope``): a user may be given a record when a record owned by
    them is one the actor may change. The scope is asked about a stand-in row per user
    whose ``owner`` (and ``id``) is that user's id, so this is the service's own rule,
    not a copy of it. A scope that reads other columns too (say a name) can't be
    answered from the owner alone: None, and the check after the write decides.
    """
    others = [sa.cast(sa.null(), c.type).label(c.name) for c in table.c
              if c.name not in OWNER_COLUMNS]
    candidate = sa.select(users.c.id.label("id"), users.c.id.label("owner"), *others
                          ).subquery("candidate")
    scope = write_scope(policy, actor, entity, candidate)
    if scope is None:
        return None
    read = {c.name for c in visitors.iterate(scope)
            if isinstance(c, sa.ColumnClause) and getattr(c, "table", None) is candidate}
    if read - OWNER_COLUMNS:
        return None
    return users.c.id.in_(sa.select(candidate.c.id).where(scope))


#: A pending approval: the record service refuses changes to the fields it locks.
PENDING = "pending"


def check_approval_lock(conn: sa.Connection, tables: Any, entity: str, record_id: int,
                        changed: set[str], errors: list[Any]) -> None:
    """Add an error per changed field that a pending approval of the record locks.

    Approvals (``loom_approvals``, started by a workflow's ``start_approval`` action) list
    the fields they lock; the decision itself marks the approval decided before it writes
    the record, in the same transaction, so it passes. No index lookup happens for an
    entity whose records never had an approval (the common case costs one indexed probe).
    """
    from engine.records.errors import FieldError, text

    approvals = tables.approvals
    rows = conn.execute(sa.select(approvals.c.locked).where(
        approvals.c.entity == entity, approvals.c.record_id == record_id,
        approvals.c.status == PENDING)).scalars().all()
    locked = {name for row in rows for name in (row or ())}
    for name in sorted(changed & locked):
        errors.append(FieldError(name, "locked", text(
            "can't be changed while the record waits for approval",
            "记录审批中，不能修改此字段")))


def check_transitions(model: Any, actor: Actor, fields: Mapping[str, Any],
                      old: Mapping[str, Any], new: Mapping[str, Any], changed: set[str],
                      errors: list[Any]) -> None:
    """Add an error per changed select field whose move from its old state is not one its
    ``transitions`` allow. The system (workflows, approval decisions) and admins are not held."""
    from engine.records.errors import FieldError, text

    if actor.is_system or any(getattr(model.roles.get(r), "admin", False) for r in actor.roles):
        return
    for name in sorted(changed):
        f = fields.get(name)
        transitions = getattr(f, "transitions", None)
        if not transitions:
            continue
        before, after = old.get(name), new.get(name)
        if before == after or before not in transitions or after in transitions[before]:
            continue
        allowed = ", ".join(transitions[before]) or "none"
        errors.append(FieldError(name, "transition", text(
            f"can't go from {before!r} to {after!r}; from {before!r}: {allowed}",
            f"不能从 {before!r} 改为 {after!r}；{before!r} 可改为：{allowed}")))
