"""The public customer pool (公海池) as use cases: claim, release, return, move, bin.

An account without an owner sits in its pool (``account.pool``, a ``customer_pool``
record with its own rules). A salesperson **claims** it (becomes its owner) and
**releases** it (gives it back); a workflow **returns** it (no follow-up for N days)
or **moves** it to another pool; a pool keeper **abandons** an unwanted one to the
pool's recycle bin (it leaves the claimable list) and **restores** it.

Each use case is ONE unit of work of the record service, so rules, audit (with the
claimant as the actor) and outbox rows apply as for any change. A claim checks,
inside its transaction, that the account has no owner, is not in the bin, sits in
an active pool open to one of the actor's roles that has a pool grant (a pool with
an empty ``open_to`` is open to every such role), that the actor holds fewer
accounts claimed from that pool than its ``claim_cap``, and that the actor did not
give the account back less than ``reclaim_block_days`` ago (the service's clock).

Concurrency: a claim locks the claimant's ``loom_users`` row, then the account row
(``SELECT ... FOR UPDATE`` on PostgreSQL, always in that order; SQLite serialises
writers), and reads what it checks after taking the locks. Two people claiming one
account: the second waits and then finds an owner. One person claiming two accounts
with one slot left: the second claim waits on the user row and then counts the first.

Permissions: the role's scope does not cover an owner-less account (records in a
pool are read only), so the claim and the release pass a
:class:`~engine.records.rights.PoolWrite` with their update: the record service then
asks the policy whether the stored record is claimable by the actor (or, for a
release, updatable as usual) and lets the update change only the pool's bookkeeping
fields. No other caller passes it; forms and the API write accounts the usual way.

Refusals are :class:`PoolRefused` (a :class:`~engine.records.errors.RecordError`,
so ``unit.attempt()`` catches it) with a code and an English/Chinese message.
No Flask; nothing runs at import time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.model import CompiledModel, Text
from engine.permissions import Actor
from engine.records import reads
from engine.records.errors import RecordError, RecordNotFound, text
from engine.records.rights import CLAIM, RELEASE, PoolWrite
from engine.records.service import RecordService
from engine.records.unit import Unit
from engine.records.validation import record_id as record_id_of
from engine.storage.events import Cause

#: The entity whose records sit in pools, and the pool entity (the shipped CRM's).
ACCOUNT, POOL = "account", "customer_pool"
#: What a claim writes.
CLAIM_FIELDS = frozenset({"owner", "claimed_at"})
#: What a release or a return writes (``pool`` when it returns to another pool).
RELEASE_FIELDS = frozenset({"owner", "claimed_at", "previous_owner", "returned_at",
                            "return_reason", "pool"})

#: Codes of :class:`PoolRefused`.
NO_USER, OWNED, NOT_OWNER, NO_POOL, CLOSED, NOT_OPEN, IN_BIN, NOT_IN_BIN, CAP, COOLDOWN = (
    "no_user", "owned", "not_owner", "no_pool", "closed", "not_open", "in_bin", "not_in_bin",
    "cap", "cooldown")
REFUSALS = (NO_USER, OWNED, NOT_OWNER, NO_POOL, CLOSED, NOT_OPEN, IN_BIN, NOT_IN_BIN, CAP,
            COOLDOWN)


class PoolRefused(RecordError):
    """The pool's rules refuse a claim, release or bin move; nothing was written.

    ``code`` is one of :data:`REFUSALS`; ``message`` a :class:`~engine.model.Text`
    in English and Chinese.
    """

    def __init__(self, code: str, message: Text, record_id: int | None = None) -> None:
        self.code, self.message, self.record_id = code, message, record_id
        super().__init__(message.get())


@dataclass(frozen=True)
class Pool:
    """The rules of one pool, as a claim reads them."""

    id: int
    name: str
    region: str | None
    active: bool
    claim_cap: int
    reclaim_block_days: int
    open_to: tuple[str, ...]

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Pool:
        return cls(id=record["id"], name=record.get("name") or f"#{record['id']}",
                   region=record.get("region"), active=bool(record.get("active")),
                   claim_cap=int(record.get("claim_cap") or 0),
                   reclaim_block_days=int(record.get("reclaim_block_days") or 0),
                   open_to=tuple(record.get("open_to") or ()))

    def open_to_roles(self, roles: Iterable[str]) -> bool:
        """Open to one of ``roles`` (the actor's roles with a pool grant)?"""
        roles = set(roles)
        return bool(roles) and (not self.open_to or bool(roles & set(self.open_to)))


@dataclass
class ClaimResult:
    """What :func:`claim_many` did: the claimed records, and why the others were refused."""

    claimed: list[dict[str, Any]] = field(default_factory=list)
    refused: dict[int, RecordError] = field(default_factory=dict)


# -- who may claim ------------------------------------------------------------------
def pool_roles(model: CompiledModel, actor: Actor) -> frozenset[str]:
    """The actor's roles whose grant on accounts reads public pools (``pool: ...``)."""
    out = set()
    for name in actor.roles:
        role = model.roles.get(name)
        grant = role.grant(ACCOUNT) if role is not None else None
        if grant is not None and grant.pool is not None and "read" in grant.actions:
            out.add(name)
    return frozenset(out)


def read_pool(service: RecordService, pool_id: int, conn: sa.Connection | None = None) -> Pool:
    """The rules of pool ``pool_id`` (read by the engine, whoever asks)."""
    return Pool.of(reads.get(service, Actor.system(), POOL, pool_id, conn=conn))


def held(conn: sa.Connection, service: RecordService, user_id: int, pool_id: int) -> int:
    """How many accounts ``user_id`` owns that they claimed from ``pool_id`` (the cap counts these)."""
    table = service.tables.entity(ACCOUNT)
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(
        table.c.owner == user_id, table.c.pool == pool_id,
        table.c.claimed_at.is_not(None))).scalar_one()


# -- claim ----------------------------------------------------------------------------
def claim(service: RecordService, actor: Actor, account_id: Any, *,
          cause: Cause | None = None) -> dict[str, Any]:
    """Make ``actor`` the owner of the owner-less account ``account_id``; returns it.

    >>> claim(service, rt.actor(sales1_id), 42)["owner"] == sales1_id   # doctest: +SKIP
    True
    """
    with service.unit(actor, cause=cause) as unit:
        _lock_claimant(unit)
        return _claim(unit, record_id_of(ACCOUNT, account_id))


def claim_many(service: RecordService, actor: Actor, account_ids: Iterable[Any], *,
               cause: Cause | None = None) -> ClaimResult:
    """Claim several accounts in one transaction, each on its own (a savepoint): the
    allowed ones are claimed, the others reported with their error (the cap stops the
    claims once reached)."""
    ids = sorted({record_id_of(ACCOUNT, i) for i in account_ids})
    result = ClaimResult()
    with service.unit(actor, cause=cause) as unit:
        _lock_claimant(unit)
        for account_id in ids:  # in id order: two batches lock rows in the same order
            try:
                with unit.attempt():
                    result.claimed.append(_claim(unit, account_id))
            except RecordError as error:
                result.refused[account_id] = error
    return result


def _lock_claimant(unit: Unit) -> None:
    user_id = unit.actor.user_id
    if user_id is None:
        raise PoolRefused(NO_USER, text("only a user can claim customers from a pool",
                                        "只有用户才能从公海领取客户"))
    users = unit.core.tables.users
    unit.connection().execute(sa.select(users.c.id).where(users.c.id == user_id)
                              .with_for_update()).first()


def _locked(unit: Unit, account_id: int) -> Any:
    """The account's row, locked for the rest of the unit, once the actor may see it."""
    table = unit.core.tables.entity(ACCOUNT)
    row = unit.connection().execute(
        sa.select(table.c.id, table.c.version, table.c.owner, table.c.pool,
                  table.c.previous_owner, table.c.returned_at, table.c.abandoned_at)
        .where(table.c.id == account_id).with_for_update()).first()
    if row is None:
        raise RecordNotFound(ACCOUNT, account_id)
    unit.get(ACCOUNT, account_id)  # RecordNotFound unless in the actor's read scope
    return row


def _claim(unit: Unit, account_id: int) -> dict[str, Any]:
    core, actor = unit.core, unit.actor
    row = _locked(unit, account_id)
    if row.owner is not None:
        mine = row.owner == actor.user_id
        raise PoolRefused(OWNED, text(
            "this customer is yours already" if mine else "this customer already has an owner",
            "该客户已经是您的客户" if mine else "该客户已有负责人"), account_id)
    if row.pool is None:
        raise PoolRefused(NO_POOL, text("this customer is not in a public pool",
                                        "该客户不在任何公海中"), account_id)
    if row.abandoned_at is not None:
        raise PoolRefused(IN_BIN, text("this customer is in the pool's recycle bin",
                                       "该客户在公海回收站中"), account_id)
    conn = unit.connection()
    pool = read_pool(core, row.pool, conn)
    if not pool.active:
        raise PoolRefused(CLOSED, text(f"the pool {pool.name} is closed",
                                       f"公海“{pool.name}”已停用"), account_id)
    if not pool.open_to_roles(pool_roles(core.model, actor)):
        raise PoolRefused(NOT_OPEN, text(f"the pool {pool.name} is not open to your role",
                                         f"公海“{pool.name}”未向您的角色开放"), account_id)
    now, _ = core.now()
    if row.previous_owner == actor.user_id and row.returned_at is not None:
        until = _aware(row.returned_at) + dt.timedelta(days=pool.reclaim_block_days)
        if now < until:
            shown = core.clock.local(until).strftime("%Y-%m-%d %H:%M")
            raise PoolRefused(COOLDOWN, text(
                f"you gave this customer back recently; you may claim it again from {shown}",
                f"您最近退回了该客户，{shown} 之后才能重新领取"), account_id)
    count = held(conn, core, actor.user_id, pool.id)
    if count >= pool.claim_cap:
        raise PoolRefused(CAP, text(
            f"you hold {count} customers claimed from {pool.name}; its cap is {pool.claim_cap}",
            f"您已从公海“{pool.name}”领取 {count} 个客户，已达上限 {pool.claim_cap} 个"),
            account_id)
    return unit.update(ACCOUNT, account_id, {"owner": actor.user_id, "claimed_at": now},
                       version=row.version, pool=PoolWrite(CLAIM, CLAIM_FIELDS))


# -- release and return ------------------------------------------------------------
def release(service: RecordService, actor: Actor, account_id: Any, reason: str | None = None,
            *, cause: Cause | None = None) -> dict[str, Any]:
    """Give the actor's own account back to its pool (owner cleared, the actor kept as
    ``previous_owner``, ``returned_at`` now, ``reason`` as ``return_reason``)."""
    with service.unit(actor, cause=cause) as unit:
        account_id = record_id_of(ACCOUNT, account_id)
        row = _locked(unit, account_id)
        if row.owner != actor.user_id or actor.user_id is None:
            raise PoolRefused(NOT_OWNER, text("you can only release customers you own",
                                              "只能退回您负责的客户"), account_id)
        return _return(unit, row, reason, None)


def return_to_pool(unit: Unit, account_id: Any, *, reason: str | None,
                   pool_id: int | None = None) -> dict[str, Any]:
    """Return an owned account to its pool (or to ``pool_id``) inside ``unit``.

    For the workflow action "return to pool": the caller opened the unit (its actor,
    cause and depth go on the audit and outbox rows). An account without an owner is
    left as it is (moved to ``pool_id`` if given), so a repeated return changes nothing.

    >>> with service.unit(Actor.system(), cause=Cause.workflow(run_id, "Pool return")) as unit:
    ...     return_to_pool(unit, 42, reason="No follow-up for 30 days")  # doctest: +SKIP
    """
    account_id = record_id_of(ACCOUNT, account_id)
    row = _locked(unit, account_id)
    if row.owner is None:
        if pool_id is not None and pool_id != row.pool:
            return move_to_pool(unit, account_id, pool_id)
        return unit.get(ACCOUNT, account_id)
    return _return(unit, row, reason, pool_id)


def _return(unit: Unit, row: Any, reason: str | None, pool_id: int | None) -> dict[str, Any]:
    target = pool_id if pool_id is not None else row.pool
    if target is None:
        raise PoolRefused(NO_POOL, text("this customer has no public pool to go back to",
                                        "该客户没有可退回的公海"), row.id)
    now, _ = unit.core.now()
    values: dict[str, Any] = {"owner": None, "previous_owner": row.owner, "returned_at": now,
                              "claimed_at": None, "return_reason": reason or None}
    if target != row.pool:
        values["pool"] = target
    return unit.update(ACCOUNT, row.id, values, version=row.version,
                       pool=PoolWrite(RELEASE, RELEASE_FIELDS))


def move_to_pool(unit: Unit, account_id: Any, pool_id: int) -> dict[str, Any]:
    """Put the account in pool ``pool_id`` inside ``unit`` (an ordinary update: the
    actor must be allowed to change the account as it is)."""
    account_id = record_id_of(ACCOUNT, account_id)
    row = _locked(unit, account_id)
    if row.pool == pool_id:
        return unit.get(ACCOUNT, account_id)
    return unit.update(ACCOUNT, account_id, {"pool": pool_id}, version=row.version)


# -- the recycle bin -------------------------------------------------------------------
def abandon(service: RecordService, actor: Actor, account_id: Any, *,
            cause: Cause | None = None) -> dict[str, Any]:
    """Put an owner-less account in its pool's recycle bin (out of the claimable list).

    An ordinary update: the actor must be allowed to change owner-less accounts
    (admins, roles with scope ``all`` on accounts)."""
    with service.unit(actor, cause=cause) as unit:
        account_id = record_id_of(ACCOUNT, account_id)
        row = _locked(unit, account_id)
        if row.owner is not None:
            raise PoolRefused(OWNED, text(
                "only customers without an owner go to the recycle bin; release it first",
                "只有无负责人的客户才能移入回收站，请先退回公海"), account_id)
        if row.pool is None:
            raise PoolRefused(NO_POOL, text("this customer is not in a public pool",
                                            "该客户不在任何公海中"), account_id)
        if row.abandoned_at is not None:
            raise PoolRefused(IN_BIN, text("this customer is in the recycle bin already",
                                           "该客户已在回收站中"), account_id)
        now, _ = unit.core.now()
        return unit.update(ACCOUNT, account_id, {"abandoned_at": now}, version=row.version)


def restore(service: RecordService, actor: Actor, account_id: Any, *,
            cause: Cause | None = None) -> dict[str, Any]:
    """Take an account out of its pool's recycle bin: claimable again."""
    with service.unit(actor, cause=cause) as unit:
        account_id = record_id_of(ACCOUNT, account_id)
        row = _locked(unit, account_id)
        if row.abandoned_at is None:
            raise PoolRefused(NOT_IN_BIN, text("this customer is not in the recycle bin",
                                               "该客户不在回收站中"), account_id)
        return unit.update(ACCOUNT, account_id, {"abandoned_at": None}, version=row.version)


def _aware(value: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) datetime as an aware one."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


__all__ = ["ACCOUNT", "CLAIM_FIELDS", "POOL", "REFUSALS", "RELEASE_FIELDS", "ClaimResult",
           "Pool", "PoolRefused", "abandon", "claim", "claim_many", "held", "move_to_pool",
           "pool_roles", "read_pool", "release", "restore", "return_to_pool"]
