"""The pools' auto-return over simulated time: no follow-up for the pool's days sends a
customer back, tells the previous owner, and the cooldown keeps them from reclaiming it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import add_user, make_crm

from engine.automation import pool
from engine.permissions import Actor


def test_a_customer_nobody_follows_up_goes_back_to_its_pool(database, tmp_path):
    crm = make_crm(database, tmp_path, shipped_workflows=True)
    add_user(crm, "sam", team="East")
    system = Actor.system()
    east = crm.service.create(system, "customer_pool", {
        "name": "East pool", "return_after_days": 15, "reclaim_block_days": 7, "claim_cap": 5})
    account = crm.service.create(system, "account", {"name": "Acme", "pool": east["id"]})
    other = crm.service.create(system, "account", {"name": "Busy", "pool": east["id"]})
    sam = crm.user("sam")
    pool.claim(crm.service, sam, account["id"])
    pool.claim(crm.service, sam, other["id"])
    crm.work()
    crm.clock.advance(days=10)
    crm.service.create(sam, "activity", {"kind": "call", "subject": "Hi", "account": other["id"],
                                         "due_at": crm.clock.now().isoformat()})
    crm.work()
    crm.clock.advance(days=6)                 # 16 days after the claim, 6 after the call
    crm.work()
    rows = {r["name"]: r for r in crm.rows("account")}
    assert rows["Acme"]["owner"] is None and rows["Acme"]["previous_owner"] == sam.user_id
    assert rows["Acme"]["return_reason"].startswith("No follow-up")
    assert rows["Busy"]["owner"] == sam.user_id
    notes = crm.snapshot.tables.notifications
    with crm.snapshot.db.read() as conn:
        kinds = conn.execute(sa.select(notes.c.kind).where(
            notes.c.user_id == sam.user_id)).scalars().all()
    assert kinds == ["pool_return"]
    # The cooldown: sam may not claim it back for 7 days; then may.
    with pytest.raises(pool.PoolRefused):
        pool.claim(crm.service, sam, account["id"])
    crm.clock.advance(days=8)
    assert pool.claim(crm.service, sam, account["id"])["owner"] == sam.user_id
    # A second scan the same day returns nothing again (fired once per stretch).
    crm.work()
    runs = [r for r in crm.runs("pool_auto_return") if r.record_id == account["id"]]
    assert [r.status for r in runs] == ["succeeded"]
