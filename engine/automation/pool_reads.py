"""What the pool's pages read: the pools an actor may claim from, the claimable and
binned customers as structured filters, the claimed count against the cap, and a
pool's figures for the month.

The customers themselves are always listed through the record service with the
actor (:meth:`RecordService.list` with :func:`claimable_filter` or :func:`bin_filter`),
so the policy's scope applies; only the counts a pool's page shows are asked of the
tables directly (counts, no record data). No Flask; no writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.automation.pool import ACCOUNT, POOL, Pool, held, pool_roles
from engine.permissions import Actor
from engine.records.service import RecordService

#: Most pools a page lists (pools are few; more are left out, never an error).
MAX_POOLS = 500


@dataclass(frozen=True)
class PoolSeat:
    """One pool the actor may claim from, with how many of its customers they hold."""

    pool: Pool
    held: int

    @property
    def left(self) -> int:
        return max(self.pool.claim_cap - self.held, 0)


@dataclass(frozen=True)
class PoolFigures:
    """A pool's figures: waiting customers now, and this month's claims, returns, bin."""

    waiting: int
    claimed_this_month: int
    returned_this_month: int
    abandoned: int


def pools(service: RecordService) -> list[Pool]:
    """Every pool, by name."""
    page = service.list(Actor.system(), POOL, sort=["name"], limit=MAX_POOLS)
    return [Pool.of(r) for r in page.rows]


def claimable_pools(service: RecordService, actor: Actor) -> list[PoolSeat]:
    """The active pools open to one of the actor's roles with a pool grant, with the
    actor's claimed count in each (empty for admins and the system: they assign owners)."""
    roles = pool_roles(service.model, actor)
    if not roles or actor.user_id is None:
        return []
    open_pools = [p for p in pools(service) if p.active and p.open_to_roles(roles)]
    if not open_pools:
        return []
    with service.db.reads() as conn:
        return [PoolSeat(p, held(conn, service, actor.user_id, p.id)) for p in open_pools]


def may_use_pools(service: RecordService, actor: Actor | None) -> bool:
    """Does the actor hold a role with a pool grant (the navigation's pool link)?"""
    return actor is not None and bool(pool_roles(service.model, actor))


def claimable_filter(pool_ids: list[int], *, region: str | None = None,
                     search: str | None = None) -> list[dict[str, Any]]:
    """The engine filter of claimable customers in ``pool_ids`` (owner-less, not binned)."""
    out: list[dict[str, Any]] = [
        {"field": "owner", "op": "is_null", "value": True},
        {"field": "abandoned_at", "op": "is_null", "value": True},
        # No pool open to the actor: a condition no record meets (ids are never empty).
        {"field": "pool", "op": "in", "value": sorted(pool_ids)} if pool_ids else
        {"field": "id", "op": "is_null", "value": True},
    ]
    if region:
        out.append({"field": "region", "op": "eq", "value": region})
    if search:
        out.append({"field": "name", "op": "contains", "value": search})
    return out


def bin_filter(pool_id: int) -> list[dict[str, Any]]:
    """The engine filter of the customers in pool ``pool_id``'s recycle bin."""
    return [{"field": "pool", "op": "eq", "value": pool_id},
            {"field": "owner", "op": "is_null", "value": True},
            {"field": "abandoned_at", "op": "is_null", "value": False}]


def figures(service: RecordService, pool_id: int) -> PoolFigures:
    """Pool ``pool_id``'s figures; the month is the organisation's (the service's clock).

    "Claimed this month" counts accounts of the pool claimed since the month began and
    still held (a release clears ``claimed_at``); "returned" those whose last return
    was this month.
    """
    clock = service.clock
    today = clock.today()
    start = clock.day_start(today.replace(day=1)).astimezone(dt.UTC)
    since = start.replace(tzinfo=None)  # stored naive UTC
    t = service.tables.entity(ACCOUNT)
    unowned = t.c.owner.is_(None)
    count = sa.func.count()
    query = sa.select(
        count.filter(unowned, t.c.abandoned_at.is_(None)),
        count.filter(t.c.claimed_at >= since, t.c.owner.is_not(None)),
        count.filter(t.c.returned_at >= since),
        count.filter(unowned, t.c.abandoned_at.is_not(None)),
    ).where(t.c.pool == pool_id)
    with service.db.reads() as conn:
        row = conn.execute(query).one()
    return PoolFigures(*(int(v or 0) for v in row))


__all__ = ["MAX_POOLS", "PoolFigures", "PoolSeat", "bin_filter", "claimable_filter",
           "claimable_pools", "figures", "may_use_pools", "pools"]
