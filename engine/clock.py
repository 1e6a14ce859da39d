"""One clock for the whole engine, and the organisation's time zone.

Every part of Loom that needs the time (record writes, CEL ``now()`` / ``today()``,
day-based filters, audit and outbox rows, archives, schema versions, accounts,
exports) asks the :class:`Clock` it was handed, never the system directly, so tests
and benchmarks can run on simulated time (:class:`SimulatedClock`).

A clock also carries the organisation's time zone (``LOOM_TIMEZONE``, an IANA name,
default ``UTC``): "today", whole-day filters and date buckets are days in that zone.
Storage stays naive UTC; the zone only says where a day starts.

This module reads no environment at import time and holds no mutable global: the
configuration builds a clock (:func:`zone_from_env`) and passes it down.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
import re
import threading
import zoneinfo
from contextlib import contextmanager
from typing import Iterator, Mapping

#: Environment variable naming the organisation's time zone (an IANA name).
TIMEZONE_ENV = "LOOM_TIMEZONE"
#: The zone used when ``LOOM_TIMEZONE`` is unset.
DEFAULT_TIME_ZONE = "UTC"
#: The zone ``loom demo`` uses when ``LOOM_TIMEZONE`` is unset (the demo company is in China).
DEMO_TIME_ZONE = "Asia/Shanghai"

UTC = dt.timezone.utc

#: What an IANA zone name may hold. Zone names reach SQL as literals (PostgreSQL's
#: ``AT TIME ZONE``), so only these characters are ever accepted.
ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")


class ConfigurationError(ValueError):
    """A setting that can't be used; raised when a process starts, never later."""


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (``"Asia/Shanghai"``); raises ConfigurationError naming it.

    >>> zone("Asia/Shanghai").key
    'Asia/Shanghai'
    """
    if not isinstance(name, str) or not ZONE_NAME.fullmatch(name.strip()):
        raise ConfigurationError(f"unknown time zone {name!r}: expected an IANA name such as "
                                 "'UTC', 'Asia/Shanghai' or 'Europe/Berlin'")
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigurationError(f"unknown time zone {name!r}: expected an IANA name such as "
                                 "'UTC', 'Asia/Shanghai' or 'Europe/Berlin'") from None


def day_start(day: dt.date, in_zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant (aware UTC) ``day`` begins in ``in_zone`` (a user's or the organisation's).

    Trap: a zone may skip midnight on a DST change (e.g. America/Sao_Paulo in the
    past); ``fold=0`` of a nonexistent local time gives the instant just after the
    gap, which is when that day really began.
    """
    return dt.datetime(day.year, day.month, day.day, tzinfo=in_zone).astimezone(UTC)


def zone_from_env(environ: Mapping[str, str] | None = None, *,
                  default: str = DEFAULT_TIME_ZONE) -> zoneinfo.ZoneInfo:
    """The zone named by ``$LOOM_TIMEZONE`` (``default`` when unset or empty)."""
    environ = os.environ if environ is None else environ
    return zone(environ.get(TIMEZONE_ENV) or default)


class Clock:
    """The time now (aware UTC) and the organisation's zone, with the day arithmetic
    that depends on both. Subclasses give :meth:`now`.

    >>> clock = SimulatedClock(dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC),
    ...                        zone=zone("Asia/Shanghai"))
    >>> clock.today()
    datetime.date(2026, 2, 1)
    >>> clock.day_start(clock.today())
    datetime.datetime(2026, 1, 31, 16, 0, tzinfo=datetime.timezone.utc)
    """

    zone: zoneinfo.ZoneInfo

    def now(self) -> dt.datetime:
        raise NotImplementedError

    def __call__(self) -> dt.datetime:
        """The same as :meth:`now`, so a clock also serves where a callable is asked for."""
        return self.now()

    @property
    def zone_name(self) -> str:
        return self.zone.key

    def naive_now(self) -> dt.datetime:
        """Now as the database stores it: naive UTC."""
        return self.now().astimezone(UTC).replace(tzinfo=None)

    def today(self) -> dt.date:
        """Today's date in the organisation's zone."""
        return self.now().astimezone(self.zone).date()

    def day_start(self, day: dt.date) -> dt.datetime:
        """The instant (aware UTC) ``day`` begins in the organisation's zone."""
        return day_start(day, self.zone)

    def local(self, value: dt.datetime, zone: zoneinfo.ZoneInfo | None = None) -> dt.datetime:
        """An aware (or naive UTC) instant as wall time in ``zone`` (the organisation's)."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(zone or self.zone)


class SystemClock(Clock):
    """The machine's clock (which must keep UTC correctly, as NTP does), read each time."""

    def __init__(self, zone: dt.tzinfo | None = None) -> None:
        self.zone = _as_zone(zone)

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    def __repr__(self) -> str:
        return f"SystemClock({self.zone.key!r})"


class SimulatedClock(Clock):
    """A clock that shows a time it is given, for tests and benchmarks.

    >>> clock = SimulatedClock(dt.datetime(2026, 3, 1, tzinfo=UTC))
    >>> clock.advance(days=1).now()
    datetime.datetime(2026, 3, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """

    def __init__(self, at: dt.datetime, zone: dt.tzinfo | None = None) -> None:
        self.zone = _as_zone(zone)
        self._lock = threading.Lock()
        self._at = _aware(at)

    def now(self) -> dt.datetime:
        with self._lock:
            return self._at

    def set(self, at: dt.datetime) -> "SimulatedClock":
        with self._lock:
            self._at = _aware(at)
        return self

    def advance(self, **delta: float) -> "SimulatedClock":
        """Move on by ``timedelta(**delta)``: ``clock.advance(hours=2)``."""
        with self._lock:
            self._at += dt.timedelta(**delta)
        return self

    def __repr__(self) -> str:
        return f"SimulatedClock({self._at.isoformat()}, {self.zone.key!r})"


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as naive UTC, how Loom's tables store times (aware values are converted;
    naive ones are taken to be UTC already)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _as_zone(tz: dt.tzinfo | None) -> zoneinfo.ZoneInfo:
    """An IANA zone (``datetime.timezone.utc`` is taken as ``UTC``): SQL needs its name."""
    if tz is None or tz is UTC:
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)
    if not isinstance(tz, zoneinfo.ZoneInfo):
        raise TypeError(f"a clock's zone is an IANA zone (zoneinfo.ZoneInfo), got {tz!r}")
    return tz


def _aware(at: dt.datetime) -> dt.datetime:
    if not isinstance(at, dt.datetime):
        raise TypeError(f"a datetime is needed, got {at!r}")
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(UTC)


#: The clock of a caller that was handed none: the system's time, days in UTC. It is
#: immutable (a zone and a way to read the time), so sharing it is safe.
SYSTEM_CLOCK: Clock = SystemClock()


#: The clock of the CEL evaluation under way (``now()``, ``today()``, and the day a date
#: field's value starts). Why a context variable rather than an argument:
#: cel-expr-python binds a function's implementation when the environment is built
#: (once per model, shared by every service, thread and clock), and its planner refuses
#: implementations handed to ``eval`` for a declared function ("No overload found in
#: reference resolve step"). So whoever evaluates (the record service's validation,
#: with its own clock) sets it around the evaluation with
#: :func:`clock_for_evaluation`; a context variable is local to the thread and the
#: task and is reset on exit, so two services on two clocks never see each other's.
#: Unset, it is :data:`SYSTEM_CLOCK`.
_EVALUATION_CLOCK: contextvars.ContextVar[Clock] = contextvars.ContextVar(
    "loom_evaluation_clock", default=SYSTEM_CLOCK)


@contextmanager
def clock_for_evaluation(clock: Clock) -> Iterator[Clock]:
    """Make CEL's ``now()`` / ``today()`` read ``clock`` inside the ``with`` block.

    >>> with clock_for_evaluation(service.clock):        # doctest: +SKIP
    ...     expression.evaluate(bindings)
    """
    token = _EVALUATION_CLOCK.set(clock)
    try:
        yield clock
    finally:
        _EVALUATION_CLOCK.reset(token)


def evaluation_clock() -> Clock:
    """The clock set by :func:`clock_for_evaluation` (the system clock, days in UTC, if none)."""
    return _EVALUATION_CLOCK.get()


def local_time_text(value: str | None, zone_name: str) -> str | None:
    """A naive UTC timestamp as SQLite stores it (``2026-01-31 16:30:00.000000``) as the
    same text in ``zone_name``'s wall time: SQLite's ``loom_local(column, zone)``.

    >>> local_time_text("2026-01-31 16:30:00.000000", "Asia/Shanghai")
    '2026-02-01 00:30:00.000000'
    """
    if value is None:
        return None
    try:
        instant = dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
        local = instant.astimezone(zoneinfo.ZoneInfo(zone_name))
    except (ValueError, TypeError, OverflowError, zoneinfo.ZoneInfoNotFoundError):
        return None  # not a timestamp (or no such zone): no day to put it in
    return local.replace(tzinfo=None).isoformat(" ", "microseconds")
