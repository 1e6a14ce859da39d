"""The time account tables store: naive UTC, like every other Loom timestamp."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, in UTC, without tzinfo (how Loom's tables store times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` converted to naive UTC (aware values are converted; naive ones kept)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)
