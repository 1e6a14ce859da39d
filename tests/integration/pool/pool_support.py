"""A small pool world on the shipped CRM: users with roles, pools, owner-less accounts.

``PoolWorld`` holds the snapshot (simulated clock), actors and pool ids the pool tests
use; ``build_world(db)`` migrates the shipped CRM into ``db`` and fills it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine import accounts
from engine.clock import SimulatedClock
from engine.compiler import compile_model
from engine.config import SHIPPED_METADATA
from engine.permissions import Actor
from engine.runtime import Snapshot, assemble
from engine.spec import FileSource
from engine.storage.db import Database
from engine.storage.migrate import apply_plan

#: When the simulated clock starts (mid-month, so "this month" has room either side).
START = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.timezone.utc)

_MODEL: list[Any] = []


def shipped_model():
    if not _MODEL:
        _MODEL.append(compile_model([FileSource(*SHIPPED_METADATA)]))
    return _MODEL[0]


@dataclass
class PoolWorld:
    rt: Snapshot
    clock: SimulatedClock
    users: dict[str, int] = field(default_factory=dict)
    pools: dict[str, int] = field(default_factory=dict)

    @property
    def service(self):
        return self.rt.service

    def actor(self, username: str) -> Actor:
        return accounts.actor_for(self.rt.db, self.rt.tables, self.users[username])

    def account(self, name: str = "ACME", *, pool: str | None = "east", owner: str | None = None,
                **values: Any) -> dict[str, Any]:
        """A customer created by the system, owner-less unless ``owner`` is given."""
        row = {"name": name, "pool": self.pools[pool] if pool else None,
               "owner": self.users[owner] if owner else None, **values}
        return self.service.create(Actor.system(), "account", row)

    def raw(self, account_id: int) -> dict[str, Any]:
        return self.service.get(Actor.system(), "account", account_id)


#: Pools: name -> (open_to, active, claim cap, reclaim block days).
POOLS = {
    "east": (["sales", "sales_manager"], True, 3, 7),
    "national": ([], True, 2, 7),
    "managers": (["sales_manager"], True, 5, 7),
    "closed": (["sales"], False, 5, 7),
}


def build_world(db: Database) -> PoolWorld:
    model = shipped_model()
    apply_plan(db, model, actor="tests")
    clock = SimulatedClock(START)
    rt = assemble(db, model, clock=clock)
    world = PoolWorld(rt, clock)
    for username, roles in (("sales1", ["sales"]), ("sales2", ["sales"]),
                            ("manager", ["sales_manager"]), ("admin", ["admin"]),
                            ("service1", ["service"])):
        world.users[username] = accounts.create_user(db, rt.tables, username, roles=roles,
                                                     display_name=username, clock=clock)
    accounts.create_team(db, rt.tables, "East", manager="manager")
    for username in ("sales1", "sales2"):
        accounts.add_member(db, rt.tables, "East", username)
    for name, (open_to, active, cap, block) in POOLS.items():
        pool = rt.service.create(Actor.system(), "customer_pool", {
            "name": name, "open_to": open_to, "active": active, "claim_cap": cap,
            "reclaim_block_days": block, "return_after_days": 30})
        world.pools[name] = pool["id"]
    return world
