"""W4 and W5 alternate one Loom request with one raw query, and time only the timed calls.

The Loom side here is a stand-in client answering from the generated rows (the real
server runs in the smoke test); the raw side is a real SQLite raw database, so its
answer checks run for real. No timing is asserted: the "seconds" are made-up values
that show which calls the percentiles were taken from.
"""

from __future__ import annotations

import statistics

import pytest

from bench.web import loom_steps as steps
from bench.web.client import Reply
from bench.web.expected import (
    W4_MIN_AMOUNT,
    W4_PER_PAGE,
    W4_TIMED,
    W4_WARMUP,
    W5_TIMED,
    W5_WARMUP,
    PassData,
    Scale,
)
from bench.web.raw import RawDatabase

TINY = Scale(w2=40, w3=400, w7=0, batch=200, clients=4)
#: Seconds a warm-up call "takes": far above any timed one, so a leak shows in p99.
WARMUP_SECONDS = 10.0


class AnswersFromRows:
    """A client answering W4 and W5 from the generated rows; logs each call in ``events``."""

    def __init__(self, deals: list[dict], events: list[tuple]) -> None:
        self.deals, self.events, self.calls = deals, events, 0

    def _seconds(self, warmup: int) -> float:
        self.calls += 1
        return WARMUP_SECONDS if self.calls <= warmup else (self.calls - warmup) / 1000

    def get(self, path: str, params: dict) -> Reply:
        if path.endswith("/aggregate"):
            self.events.append(("loom", None))
            groups: dict[str, dict] = {}
            for d in self.deals:
                g = groups.setdefault(d["stage"], {"stage": d["stage"], "count": 0,
                                                   "sum_amount": 0})
                g["count"] += 1
                g["sum_amount"] += d["amount"]
            return Reply(200, {"data": list(groups.values())}, self._seconds(W5_WARMUP), {})
        page = int(params["page"])
        self.events.append(("loom", page))
        match = sorted((d for d in self.deals
                        if d["stage"] == "won" and d["amount"] > W4_MIN_AMOUNT),
                       key=lambda d: d["close_date"], reverse=True)
        rows = match[(page - 1) * W4_PER_PAGE:page * W4_PER_PAGE]
        return Reply(200, {"data": rows, "meta": {"total": len(match)}},
                     self._seconds(W4_WARMUP), {})


@pytest.fixture
def raw_db(tmp_path):
    data = PassData(TINY)
    db = RawDatabase(f"sqlite:///{tmp_path / 'raw.db'}", data)
    db.insert(data.w3, TINY.batch)
    yield db, data
    db.close()


def _recording(events: list[tuple], once, warmup: int):
    """``once`` wrapped: logs the call, runs the real query, returns a made-up time."""
    calls = []

    def run(*page: int) -> float:
        events.append(("raw", page[0] if page else None))
        real = once(*page)
        assert real > 0
        calls.append(real)
        return WARMUP_SECONDS if len(calls) <= warmup else (len(calls) - warmup) / 1000

    return run


def test_w4_alternates_loom_and_raw_on_the_same_page_and_times_only_the_timed(raw_db):
    db, data = raw_db
    events: list[tuple] = []
    api = AnswersFromRows(data.w2 + data.w3, events)
    with db.db.engine.connect() as conn:
        loom, raw = steps.w4_list(
            api, data.answers,
            _recording(events, lambda page: db.w4_once(conn, data.answers, page), W4_WARMUP))
    n = W4_WARMUP + W4_TIMED
    assert [who for who, _ in events] == ["loom", "raw"] * n
    assert [p for who, p in events if who == "loom"] == [p for who, p in events if who == "raw"]
    expected_p50 = round(statistics.median(range(1, W4_TIMED + 1)), 2)
    for side in (loom, raw):
        assert side["p50_ms"] == expected_p50
        assert side["p99_ms"] < WARMUP_SECONDS * 1000


def test_w5_alternates_loom_and_raw_and_times_only_the_timed(raw_db):
    db, data = raw_db
    events: list[tuple] = []
    api = AnswersFromRows(data.w2 + data.w3, events)
    with db.db.engine.connect() as conn:
        loom, raw = steps.w5_aggregate(
            api, data.answers,
            _recording(events, lambda: db.w5_once(conn, data.answers), W5_WARMUP))
    assert events == [("loom", None), ("raw", None)] * (W5_WARMUP + W5_TIMED)
    expected_p50 = round(statistics.median(range(1, W5_TIMED + 1)), 2)
    assert loom["p50_ms"] == raw["p50_ms"] == expected_p50
    assert max(loom["p99_ms"], raw["p99_ms"]) < WARMUP_SECONDS * 1000


def test_without_a_raw_query_only_loom_is_timed(raw_db):
    _, data = raw_db
    events: list[tuple] = []
    loom, raw = steps.w5_aggregate(AnswersFromRows(data.w2 + data.w3, events), data.answers)
    assert raw is None and loom["p50_ms"] > 0
    assert {who for who, _ in events} == {"loom"}


def test_a_wrong_raw_answer_stops_w4_and_w5(tmp_path):
    data = PassData(TINY)
    db = RawDatabase(f"sqlite:///{tmp_path / 'raw.db'}", data)  # W2's deals only: W3's missing
    try:
        with db.db.engine.connect() as conn:
            with pytest.raises(steps.CheckFailed, match="W4 total"):
                db.w4_once(conn, data.answers, 1)
            with pytest.raises(steps.CheckFailed, match="W5"):
                db.w5_once(conn, data.answers)
    finally:
        db.close()
