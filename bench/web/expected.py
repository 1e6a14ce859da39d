"""The pass's data (from :mod:`bench.workload`) and the answers every check compares with.

Rows come from :class:`bench.workload.Workload` in the spec's order (accounts, W2
deals, W3 deals, W7 deals); they are drawn against account ids 1..1000 and mapped to
the ids the target returned when the accounts were created (the draw depends only on
how many accounts there are). :class:`Answers` holds the W4 match count and the W5
per-stage counts and sums of whatever rows were loaded so far. No I/O here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from bench.workload import ACCOUNTS, STAGES, W2_DEALS, W3_DEALS, W7_DEALS, Workload

#: Rows per bulk request (W3, S0) and per raw Core transaction: the workload's batch size.
BATCH = 5_000
#: W4's filter threshold and page size, and how many pages its requests cycle through.
W4_MIN_AMOUNT = Decimal(1000)
W4_PER_PAGE = 50
W4_PAGES = 10
#: W4 and W5 request counts (warm-up, then timed), and W5's tolerance on sums.
W4_WARMUP, W4_TIMED = 3, 50
W5_WARMUP, W5_TIMED = 3, 20
W5_SUM_TOLERANCE = Decimal("1.00")
#: W7 rows are generated and loaded in chunks of this many (keeps memory flat).
W7_CHUNK = 50_000


@dataclass(frozen=True)
class Scale:
    """How many deals each step creates; :meth:`full` is the workload's, tests go smaller."""

    w2: int = W2_DEALS
    w3: int = W3_DEALS
    w7: int = W7_DEALS
    batch: int = BATCH
    clients: int = 8

    @classmethod
    def full(cls) -> Scale:
        return cls()


@dataclass
class Answers:
    """Right answers over the deals loaded so far."""

    rows: int = 0
    w4_total: int = 0
    stages: dict[str, list] = field(default_factory=lambda: {s: [0, Decimal(0)] for s in STAGES})

    def add(self, deals: list[dict]) -> None:
        for d in deals:
            self.rows += 1
            if d["stage"] == "won" and d["amount"] > W4_MIN_AMOUNT:
                self.w4_total += 1
            entry = self.stages[d["stage"]]
            entry[0] += 1
            entry[1] += d["amount"]

    def w4_page_rows(self, page: int) -> int:
        """Rows page ``page`` (1-based) of W4 must hold."""
        return max(0, min(W4_PER_PAGE, self.w4_total - (page - 1) * W4_PER_PAGE))


class PassData:
    """The accounts, W2 and W3 deals of one pass, and a generator for W7's."""

    def __init__(self, scale: Scale) -> None:
        self.scale = scale
        self.work = Workload()
        self.accounts = self.work.accounts()
        ids = list(range(1, ACCOUNTS + 1))
        self.w2 = self.work.deals(scale.w2, ids)
        self.w3 = self.work.deals(scale.w3, ids)
        self.answers = Answers()
        self.answers.add(self.w2)
        self.answers.add(self.w3)

    def w7_chunks(self) -> Iterator[list[dict]]:
        """W7's deals in chunks (the generator continues where W3 stopped)."""
        ids = list(range(1, ACCOUNTS + 1))
        left = self.scale.w7
        while left > 0:
            n = min(W7_CHUNK, left)
            left -= n
            yield self.work.deals(n, ids)


def with_account_ids(deals: list[dict], account_ids: list[int]) -> list[dict]:
    """``deals`` drawn against ids 1..n, pointing at the ids the target gave the accounts."""
    if account_ids == list(range(1, len(account_ids) + 1)):
        return deals
    return [{**d, "account": account_ids[d["account"] - 1]} for d in deals]


def to_json(row: dict) -> dict:
    """A generated row as the REST API takes it (decimals as strings, dates as ISO)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out
