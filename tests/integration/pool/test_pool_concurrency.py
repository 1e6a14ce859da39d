"""Concurrent claims on PostgreSQL: row locks make the pool's checks hold.

Each thread runs its own claim (its own unit, so its own connection). A barrier holds
both threads just before they take the lock that decides, so they really contend;
without the locks both would pass the checks (the cap case) or the loser would fail
on optimistic locking instead of being told the customer has an owner.
"""

from __future__ import annotations

import threading

import pytest

from engine.automation import pool
from engine.automation.pool import PoolRefused
from engine.records.errors import RecordNotFound

WAIT = 20  # seconds a thread waits for the others before the test fails

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(world):
    if world.rt.db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    return world


def run_together(count, work):
    """Run ``work(i)`` in ``count`` threads; returns results or exceptions."""
    results: list = [None] * count

    def run(i):
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert not any(t.is_alive() for t in threads)
    return results


def _meet_before(monkeypatch, name, count):
    """Make ``count`` threads meet before ``pool.<name>`` runs."""
    barrier = threading.Barrier(count)
    original = getattr(pool, name)

    def met(*args, **kwargs):
        barrier.wait(WAIT)
        return original(*args, **kwargs)

    monkeypatch.setattr(pool, name, met)


def test_two_salespeople_claiming_one_customer_one_wins(pg_world, monkeypatch):
    world = pg_world
    account = world.account()
    actors = [world.actor("sales1"), world.actor("sales2")]
    _meet_before(monkeypatch, "_locked", 2)
    results = run_together(2, lambda i: pool.claim(world.service, actors[i], account["id"]))
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, PoolRefused)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].code == "owned"
    assert world.raw(account["id"])["owner"] == winners[0]["owner"]
    history = world.service.history(actors[0], "account", account["id"])
    assert [h["action"] for h in history] == ["create", "update"]


def test_one_salesperson_claiming_two_customers_with_one_slot_left_gets_one(pg_world,
                                                                              monkeypatch):
    world = pg_world
    sales1 = world.actor("sales1")
    for i in range(2):  # east's cap is 3: one slot left
        pool.claim(world.service, sales1, world.account(f"Held {i}")["id"])
    ids = [world.account(f"Wanted {i}")["id"] for i in range(2)]
    _meet_before(monkeypatch, "_lock_claimant", 2)
    results = run_together(2, lambda i: pool.claim(world.service, sales1, ids[i]))
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, PoolRefused)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].code == "cap"
    owners = [world.raw(i)["owner"] for i in ids]
    assert sorted(owners, key=lambda o: o is None) == [sales1.user_id, None]


def test_many_salespeople_racing_for_one_customer_leave_one_owner(pg_world):
    world = pg_world
    from engine import accounts

    names = [f"racer{i}" for i in range(6)]
    for name in names:
        world.users[name] = accounts.create_user(world.rt.db, world.rt.tables, name,
                                                 roles=["sales"])
    account = world.account()
    actors = [world.actor(n) for n in names]
    results = run_together(len(actors),
                           lambda i: pool.claim(world.service, actors[i], account["id"]))
    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1, results
    # The racers share no team: the winner's customer is out of the others' sight now.
    assert all(isinstance(r, RecordNotFound) or (isinstance(r, PoolRefused) and r.code == "owned")
               for r in results if not isinstance(r, dict)), results
    assert world.raw(account["id"])["owner"] == winners[0]["owner"]
