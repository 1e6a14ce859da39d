"""Two sessions at once: optimistic locking and autonumbers hold under concurrency.

Each thread calls the service, which takes its own connection per call. On PostgreSQL
the update test makes both transactions read the record before either writes; SQLite
serialises writers (BEGIN IMMEDIATE), so there the loser reads the new version.
"""

from __future__ import annotations

import threading

from engine.records import VersionConflict
from engine.records.unit import Unit

WAIT = 20  # seconds a thread waits for the others before the test fails


def run_together(count, work):
    """Run ``work(i)`` in ``count`` threads started together; returns results or exceptions."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            start.wait(WAIT)
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


def test_two_sessions_updating_the_same_version_one_wins_one_conflicts(svc, alice, monkeypatch):
    deal = svc.create(alice, "deal", {"title": "T"})
    if svc.db.dialect == "postgresql":
        both_read = threading.Barrier(2)
        current = Unit._current

        def read_then_wait(*args, **kwargs):
            record = current(*args, **kwargs)
            both_read.wait(WAIT)  # both transactions hold version 1 before either writes
            return record

        monkeypatch.setattr(Unit, "_current", read_then_wait)
    results = run_together(2, lambda i: svc.update(alice, "deal", deal["id"],
                                                   {"title": f"writer {i}"}, version=1))
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, VersionConflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert (losers[0].expected, losers[0].actual) == (1, 2)
    stored = svc.get(alice, "deal", deal["id"])
    assert stored["title"] == winners[0]["title"] and stored["version"] == 2
    assert [h["action"] for h in svc.history(alice, "deal", deal["id"])] == ["create", "update"]


def test_concurrent_creates_get_distinct_gap_free_autonumbers(svc, alice):
    writers = 8
    results = run_together(writers, lambda i: svc.create(alice, "contract", {"title": f"C{i}"}))
    assert all(isinstance(r, dict) for r in results), results
    numbers = sorted(int(r["number"].rsplit("-", 1)[1]) for r in results)
    assert numbers == list(range(1, writers + 1))
