"""The state one demo seeding run shares: the random source, the calendar, the writer.

Every generator module (customers, pipeline, orders, followups) takes a :class:`Demo`,
draws from its one ``random.Random`` in a fixed order (so a seed always gives the same
rows) and writes through :meth:`Demo.write`, which calls the record service's
``bulk_create``: the only write path. Never write entity tables directly here.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Sequence, TypeVar
from zoneinfo import ZoneInfo

from engine.clock import DEMO_TIME_ZONE

#: The demo's "today". Fixed, so that a seed always gives the same rows; pass another
#: ``anchor`` to :func:`engine.demo.seed.seed_demo` to move the whole history.
DEMO_ANCHOR = dt.date(2026, 11, 23)
#: Whole months of history before the anchor's month (2023-12 .. 2026-11 for the default).
HISTORY_MONTHS = 36
#: Rows handed to one ``bulk_create`` call; the progress bar moves once per chunk.
WRITE_CHUNK = 5000
CENT = Decimal("0.01")

T = TypeVar("T")


def history_start(anchor: dt.date) -> dt.date:
    """First day of the history: :data:`HISTORY_MONTHS` months up to the anchor's month."""
    months = anchor.year * 12 + anchor.month - 1 - (HISTORY_MONTHS - 1)
    return dt.date(months // 12, months % 12 + 1, 1)


def money(value: float | int | Decimal) -> Decimal:
    """A CNY amount with two decimals."""
    return Decimal(str(value)).quantize(CENT)


def line_total(quantity: int, unit_price: Decimal, discount: Decimal) -> Decimal:
    """What the ``order_line.line_total`` formula stores, computed the same way (CEL doubles)."""
    value = float(quantity) * float(unit_price) * (100.0 - float(discount)) / 100.0
    return money(round(value, 2))


@dataclass
class Demo:
    """One seeding run: randomness, calendar, scale, owners and what was written so far."""

    write_rows: Callable[[str, list[dict[str, Any]]], list[int]]
    rng: random.Random
    users: Sequence[int]
    scale: float = 1.0
    anchor: dt.date = DEMO_ANCHOR
    start: dt.date = field(init=False)  # the history's first day, from the anchor
    counts: dict[str, int] = field(default_factory=dict)
    # Written rows (with their "id"), kept for later generators to refer to.
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Unique company names and mobiles of this run (engine.demo.customers sets it).
    names: Any = None
    #: Where the demo company works: its business hours are wall time here (stored as UTC).
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEMO_TIME_ZONE))

    def __post_init__(self) -> None:
        self.start = history_start(self.anchor)

    # -- sizes -------------------------------------------------------------
    def count(self, base: int, minimum: int = 1) -> int:
        """``base`` rows at scale 1.0, scaled, never fewer than ``minimum``."""
        return max(minimum, round(base * self.scale))

    # -- draws -------------------------------------------------------------
    def weighted(self, pairs: Sequence[tuple[T, float]]) -> T:
        """One value of ``(value, weight)`` pairs."""
        return self.rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def log_uniform(self, low: float, high: float) -> float:
        return math.exp(self.rng.uniform(math.log(low), math.log(high)))

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        """A day in ``[first, last]`` (``first`` when the range is empty)."""
        span = (last - first).days
        return first + dt.timedelta(days=self.rng.randint(0, span)) if span > 0 else first

    def at(self, day: dt.date, first_hour: int = 9, last_hour: int = 18) -> dt.datetime:
        """A moment of business hours in the demo's zone (Asia/Shanghai) on ``day``, to the
        quarter hour, as an aware datetime (the record service stores it as UTC)."""
        minutes = self.rng.randrange(first_hour * 60, last_hour * 60, 15)
        return dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60,
                           tzinfo=self.zone)

    def earlier(self, at: dt.datetime, *, days: int, hours: int, first_hour: int = 9) -> dt.datetime:
        """``days`` before ``at``, and ``hours`` earlier still unless that leaves business
        hours (then the same time of day): no random draw, so a seed keeps its rows."""
        moved = at - dt.timedelta(days=days)
        earlier = moved - dt.timedelta(hours=hours)
        return earlier if earlier.hour >= first_hour and earlier.date() == moved.date() else moved

    def now(self) -> dt.datetime:
        """The demo's present moment: the anchor day at 18:00 in the demo's zone."""
        return dt.datetime(self.anchor.year, self.anchor.month, self.anchor.day, 18,
                           tzinfo=self.zone)

    def owner_of(self, account: dict[str, Any]) -> int:
        """Who works on an account's records: its owner, else its previous owner, else anyone."""
        return account.get("owner") or account.get("previous_owner") or self.rng.choice(self.users)

    # -- writing -----------------------------------------------------------
    def write(self, entity: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create ``rows`` through the record service; set each row's ``id``; keep them.

        Keys starting with ``_`` are planning notes for later generators, not values.
        """
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start:start + WRITE_CHUNK]
            values = [{k: v for k, v in row.items() if not k.startswith("_")} for row in chunk]
            ids = self.write_rows(entity, values)
            for row, new_id in zip(chunk, ids, strict=True):
                row["id"] = new_id
        self.counts[entity] = self.counts.get(entity, 0) + len(rows)
        self.rows.setdefault(entity, []).extend(rows)
        return rows


class WeightedPicker:
    """Many weighted draws from one population (cumulative weights computed once)."""

    def __init__(self, rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items:
            raise ValueError("nothing to pick from")
        self.rng = rng
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self) -> Any:
        point = self.rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_right(self.cumulative, point)]
