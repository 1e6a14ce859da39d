"""Slow down password guessing: too many failed logins lock a username from an address.

Failures are rows of ``loom_login_attempts`` (so every worker process sees the
same counts). A (username, address) pair is refused for a while after
``max_failures`` failures within ``window_seconds``. An address with
:data:`ADDRESS_FACTOR` times as many failures (guessing across many usernames) is
*suspect*, never shut: each username then gets :data:`SUSPECT_MAX_FAILURES` failures
from it per window instead of ``max_failures``, so guessing slows to one try per
username and window, while a person typing their right password is never refused
because others failed from the same address (an office behind one NAT, a proxy
Loom was not told about). A success clears the pair's failures. Rows older than the
window are pruned as new ones come.
"""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: Failed logins of one username from one address allowed within the window.
MAX_FAILURES = 5
#: The window, in seconds.
WINDOW_SECONDS = 300
#: An address is refused after this many times ``max_failures`` failures (any usernames).
ADDRESS_FACTOR = 10
#: Failed logins of one username allowed within the window from a suspect address.
SUSPECT_MAX_FAILURES = 1
#: Longest username and address stored (longer ones are cut).
MAX_USERNAME, MAX_IP = 150, 64


class LoginThrottle:
    """Counts failed logins per (username, address) and per address, in the database."""

    def __init__(self, db: Database, tables: ModelTables, *, max_failures: int = MAX_FAILURES,
                 window_seconds: int = WINDOW_SECONDS, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock
        self.table = tables.login_attempts
        self.max_failures = max_failures
        self.window = dt.timedelta(seconds=window_seconds)

    @staticmethod
    def _key(username: str, ip: str | None) -> tuple[str, str]:
        return (username or "").strip().lower()[:MAX_USERNAME], (ip or "-")[:MAX_IP]

    def _wait(self, conn: sa.Connection, condition: sa.ColumnElement[bool], limit: int,
              now: dt.datetime) -> int:
        t = self.table
        times = conn.execute(sa.select(t.c.failed_at).where(condition, t.c.failed_at > now - self.window)
                             .order_by(t.c.failed_at.desc()).limit(limit)).scalars().all()
        if len(times) < limit:
            return 0
        # Allowed again once the oldest of the last `limit` failures leaves the window.
        free_at = times[-1] + self.window
        return max(1, math.ceil((free_at - now).total_seconds()))

    def retry_after(self, username: str, ip: str | None) -> int:
        """Seconds until ``username`` may try again from ``ip``; 0 means now.

        Only ``username``'s own failures from ``ip`` count; how many are allowed drops to
        :data:`SUSPECT_MAX_FAILURES` while ``ip`` is suspect.
        """
        name, address = self._key(username, ip)
        t = self.table
        now = self.clock.naive_now()
        with self.db.read() as conn:
            suspect = self._wait(conn, t.c.ip == address, self.max_failures * ADDRESS_FACTOR,
                                 now) > 0
            limit = min(SUSPECT_MAX_FAILURES, self.max_failures) if suspect else self.max_failures
            return self._wait(conn, sa.and_(t.c.username == name, t.c.ip == address), limit, now)

    def suspect(self, ip: str | None) -> bool:
        """True while ``ip`` has too many failures across usernames (see the module)."""
        _, address = self._key("", ip)
        now = self.clock.naive_now()
        with self.db.read() as conn:
            return self._wait(conn, self.table.c.ip == address,
                              self.max_failures * ADDRESS_FACTOR, now) > 0

    def failed(self, username: str, ip: str | None) -> None:
        """Record a failed login."""
        name, address = self._key(username, ip)
        t = self.table
        now = self.clock.naive_now()
        with self.db.write() as conn:
            conn.execute(t.delete().where(t.c.failed_at <= now - self.window))
            conn.execute(t.insert().values(username=name, ip=address, failed_at=now))

    def succeeded(self, username: str, ip: str | None) -> None:
        """Forget the failures of ``username`` from ``ip`` after a successful login."""
        name, address = self._key(username, ip)
        t = self.table
        with self.db.write() as conn:
            conn.execute(t.delete().where(t.c.username == name, t.c.ip == address))
