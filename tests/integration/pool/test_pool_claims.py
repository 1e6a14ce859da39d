"""Claim and release through the record service: the pool's rules, audit and outbox."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from engine.automation import pool
from engine.automation.pool import PoolRefused
from engine.permissions import Actor
from engine.records.errors import PermissionDenied, RecordNotFound


def _refused(code, call, *args, **kwargs):
    with pytest.raises(PoolRefused) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    assert caught.value.message.get("en") and caught.value.message.get("zh-CN")
    return caught.value


def test_a_claim_makes_the_claimant_the_owner_with_their_audit_row_and_an_event(world):
    account = world.account()
    sales1 = world.actor("sales1")
    claimed = pool.claim(world.service, sales1, account["id"])
    assert claimed["owner"] == sales1.user_id
    assert claimed["claimed_at"] == world.clock.now()
    tables = world.rt.tables
    with world.rt.db.read() as conn:
        audit = conn.execute(sa.select(tables.audit).where(
            tables.audit.c.record_id == account["id"], tables.audit.c.action == "update")).one()
        events = conn.execute(sa.select(tables.outbox.c.event, tables.outbox.c.actor_id).where(
            tables.outbox.c.entity == "account")).all()
    assert audit.actor_id == sales1.user_id
    changes = audit.changes if isinstance(audit.changes, dict) else json.loads(audit.changes)
    assert set(changes) >= {"owner", "claimed_at"}
    assert ("record.updated", sales1.user_id) in [tuple(e) for e in events]


def test_the_claimant_works_the_claimed_customer_like_their_own(world):
    account = world.account()
    sales1 = world.actor("sales1")
    claimed = pool.claim(world.service, sales1, account["id"])
    changed = world.service.update(sales1, "account", account["id"], {"level": "A"},
                                   version=claimed["version"])
    assert changed["level"] == "A"


def test_a_customer_with_an_owner_is_refused(world):
    account = world.account(owner="sales2")
    _refused("owned", pool.claim, world.service, world.actor("sales1"), account["id"])


def test_a_customer_outside_any_pool_is_not_found_for_a_salesperson(world):
    account = world.account(pool=None)
    with pytest.raises(RecordNotFound):
        pool.claim(world.service, world.actor("sales1"), account["id"])


def test_a_closed_pool_refuses_claims(world):
    account = world.account(pool="closed")
    error = _refused("closed", pool.claim, world.service, world.actor("sales1"), account["id"])
    assert "closed" in error.message.get("en")


def test_a_pool_not_open_to_the_role_hides_its_customers_and_refuses_the_claim(world):
    account = world.account(pool="managers")
    with pytest.raises(RecordNotFound):
        pool.claim(world.service, world.actor("sales1"), account["id"])
    claimed = pool.claim(world.service, world.actor("manager"), account["id"])
    assert claimed["owner"] == world.users["manager"]


def test_an_admin_without_a_pool_grant_may_not_claim(world):
    account = world.account()
    _refused("not_open", pool.claim, world.service, world.actor("admin"), account["id"])


def test_the_system_may_not_claim(world):
    account = world.account()
    _refused("no_user", pool.claim, world.service, Actor.system(), account["id"])


def test_an_empty_open_to_opens_the_pool_to_every_role_with_a_pool_grant(world):
    account = world.account(pool="national")
    assert pool.claim(world.service, world.actor("sales1"), account["id"])["owner"]
    other = world.account("Other", pool="national")
    # The service role reads every customer but has no pool grant: it may not claim.
    _refused("not_open", pool.claim, world.service, world.actor("service1"), other["id"])


def test_the_cap_counts_claimed_customers_of_that_pool_only(world):
    sales1 = world.actor("sales1")
    world.account("Own", owner="sales1")  # created, not claimed: not counted
    ids = [world.account(f"C{i}")["id"] for i in range(4)]
    for account_id in ids[:3]:
        pool.claim(world.service, sales1, account_id)
    error = _refused("cap", pool.claim, world.service, sales1, ids[3])
    assert "3" in error.message.get("en") and "上限" in error.message.get("zh-CN")
    assert pool.claim(world.service, sales1, world.account("N", pool="national")["id"])
    pool.release(world.service, sales1, ids[0])
    assert pool.claim(world.service, sales1, ids[3])["owner"] == sales1.user_id


def test_a_zero_cap_refuses_every_claim(world):
    world.service.update(Actor.system(), "customer_pool", world.pools["east"],
                         {"claim_cap": 0}, version=None)
    _refused("cap", pool.claim, world.service, world.actor("sales1"), world.account()["id"])


def test_release_clears_the_owner_and_keeps_who_had_it_and_why(world):
    sales1 = world.actor("sales1")
    account = world.account()
    pool.claim(world.service, sales1, account["id"])
    world.clock.advance(hours=5)
    released = pool.release(world.service, sales1, account["id"], "not interested")
    assert released["owner"] is None and released["claimed_at"] is None
    assert released["previous_owner"] == sales1.user_id
    assert released["returned_at"] == world.clock.now()
    assert released["return_reason"] == "not interested"
    history = world.service.history(Actor.system(), "account", account["id"])
    assert [h["actor_id"] for h in history] == [None, sales1.user_id, sales1.user_id]


def test_only_the_owner_may_release(world):
    account = world.account(owner="sales2")
    _refused("not_owner", pool.release, world.service, world.actor("sales1"), account["id"])


def test_the_previous_owner_waits_out_the_cooldown_on_the_services_clock(world):
    sales1, sales2 = world.actor("sales1"), world.actor("sales2")
    account = world.account()
    pool.claim(world.service, sales1, account["id"])
    pool.release(world.service, sales1, account["id"])
    world.clock.advance(days=6, hours=23)
    error = _refused("cooldown", pool.claim, world.service, sales1, account["id"])
    assert "2026-03-23" in error.message.get("en")
    # Someone else may claim it at once; the cooldown is the previous owner's.
    other = world.account("Other")
    pool.claim(world.service, sales2, other["id"])
    pool.release(world.service, sales2, other["id"])
    assert pool.claim(world.service, sales1, other["id"])["owner"] == sales1.user_id
    world.clock.advance(hours=1)
    assert pool.claim(world.service, sales1, account["id"])["owner"] == sales1.user_id


def test_a_salesperson_cannot_take_a_pool_customer_by_editing_its_owner(world):
    account = world.account()
    sales1 = world.actor("sales1")
    with pytest.raises(PermissionDenied):
        world.service.update(sales1, "account", account["id"], {"owner": sales1.user_id},
                             version=account["version"])


def test_a_salesperson_cannot_write_the_pool_bookkeeping_by_hand(world):
    sales1 = world.actor("sales1")
    account = world.account(owner="sales1")
    from engine.records.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        world.service.update(sales1, "account", account["id"],
                             {"claimed_at": "2020-01-01T00:00:00Z"}, version=account["version"])
    assert "claimed_at" in caught.value.codes()


def test_claim_many_claims_up_to_the_cap_and_reports_the_rest(world):
    sales1 = world.actor("sales1")
    ids = [world.account(f"M{i}")["id"] for i in range(4)]
    taken = world.account("Taken", owner="sales2")["id"]
    result = pool.claim_many(world.service, sales1, [*ids, taken])
    assert [r["id"] for r in result.claimed] == ids[:3]
    assert {i: e.code for i, e in result.refused.items()} == {ids[3]: "cap", taken: "owned"}
    assert world.raw(ids[0])["owner"] == sales1.user_id


def test_return_to_pool_runs_in_the_callers_unit_and_may_move_the_customer(world):
    from engine.storage.events import Cause

    account = world.account(owner="sales1", pool="east")
    with world.service.unit(Actor.system(), cause=Cause.workflow(7, "Pool return"),
                            depth=1) as unit:
        returned = pool.return_to_pool(unit, account["id"], reason="no follow-up",
                                       pool_id=world.pools["national"])
    assert returned["owner"] is None and returned["pool"] == world.pools["national"]
    assert returned["previous_owner"] == world.users["sales1"]
    history = world.service.history(Actor.system(), "account", account["id"])
    assert history[-1]["cause"]["kind"] == "workflow" and history[-1]["depth"] == 1
    # A second return changes nothing.
    with world.service.unit(Actor.system()) as unit:
        again = pool.return_to_pool(unit, account["id"], reason="again")
    assert again["version"] == returned["version"]


def test_the_owner_as_a_workflow_actor_may_return_their_customer(world):
    account = world.account(owner="sales1")
    with world.service.unit(world.actor("sales1")) as unit:
        returned = pool.return_to_pool(unit, account["id"], reason="done")
    assert returned["owner"] is None


def test_move_to_pool_is_an_ordinary_update(world):
    account = world.account()
    with pytest.raises(PermissionDenied):
        with world.service.unit(world.actor("sales1")) as unit:
            pool.move_to_pool(unit, account["id"], world.pools["national"])
    with world.service.unit(world.actor("admin")) as unit:
        moved = pool.move_to_pool(unit, account["id"], world.pools["national"])
    assert moved["pool"] == world.pools["national"]


def test_the_recycle_bin_hides_a_customer_from_claims_until_restored(world):
    account = world.account()
    admin, sales1 = world.actor("admin"), world.actor("sales1")
    with pytest.raises(PermissionDenied):  # pool customers are read only for salespeople
        pool.abandon(world.service, sales1, account["id"])
    binned = pool.abandon(world.service, admin, account["id"])
    assert binned["abandoned_at"] == world.clock.now()
    _refused("in_bin", pool.claim, world.service, sales1, account["id"])
    _refused("in_bin", pool.abandon, world.service, admin, account["id"])
    pool.restore(world.service, admin, account["id"])
    _refused("not_in_bin", pool.restore, world.service, admin, account["id"])
    assert pool.claim(world.service, sales1, account["id"])["owner"] == sales1.user_id
    _refused("owned", pool.abandon, world.service, admin, account["id"])


def test_figures_count_the_month_in_the_organisations_zone(world):
    from engine.automation.pool_reads import figures

    sales1, admin = world.actor("sales1"), world.actor("admin")
    a, b, c = (world.account(n)["id"] for n in "abc")
    pool.claim(world.service, sales1, a)
    pool.claim(world.service, sales1, b)
    pool.release(world.service, sales1, b)
    pool.abandon(world.service, admin, c)
    world.account("d", returned_at=dt.datetime(2026, 2, 20, tzinfo=dt.timezone.utc))
    got = figures(world.service, world.pools["east"])
    assert (got.waiting, got.claimed_this_month, got.returned_this_month, got.abandoned) == (
        2, 1, 1, 1)
