"""Browser sessions that can end: one ``loom_sessions`` row per logged-in browser.

The web keeps a random key in its signed session cookie; the database keeps the key's
SHA-256 only. Every request with a cookie looks its row up (one primary-key query joined
with the user, which also hands out the user's ``authz_epoch``), so:

- logging out deletes the row: a copy of the cookie is refused on its next use, anywhere;
- a password change, a deactivation or "log out everywhere" deletes all the user's rows;
- a session lives at most :data:`SESSION_LIFETIME` from its login, and ends after
  :data:`IDLE_TIMEOUT` without a request.

``last_seen_at`` is written at most once per :data:`LAST_SEEN_RESOLUTION`, so a busy
browser does not write on every request. Expired rows are pruned when a session starts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: Longest a session lives after its login, however busy.
SESSION_LIFETIME = dt.timedelta(days=7)
#: A session without a request for this long has ended.
IDLE_TIMEOUT = dt.timedelta(hours=12)
#: ``last_seen_at`` is updated only when older than this.
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)
#: Random bytes in a session key (``secrets.token_urlsafe``).
KEY_BYTES = 32
#: Longest address and browser description stored (longer ones are cut).
MAX_ADDRESS, MAX_AGENT = 64, 255


@dataclass(frozen=True)
class SessionUser:
    """Who a live session belongs to, as the web needs it on every request."""

    user_id: int
    username: str
    display_name: str
    lang: str
    time_zone: str | None
    #: The user's authorisation stamp (see ``engine.runtime.Runtime.actor``).
    authz_epoch: int


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def start_session(db: Database, tables: ModelTables, user_id: int, *, address: str = "",
                  agent: str = "", clock: Clock = SYSTEM_CLOCK) -> str:
    """A new session of ``user_id``; returns the key for the cookie (never stored)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    now = clock.naive_now()
    table = tables.sessions
    with db.write() as conn:
        conn.execute(table.delete().where(sa.or_(
            table.c.expires_at <= now, table.c.last_seen_at <= now - IDLE_TIMEOUT)))
        conn.execute(table.insert().values(
            key_hash=_digest(key), user_id=user_id, created_at=now, last_seen_at=now,
            expires_at=now + SESSION_LIFETIME, address=(address or "")[:MAX_ADDRESS],
            agent=(agent or "")[:MAX_AGENT]))
    return key


@lru_cache(maxsize=16)
def _lookup(sessions: sa.Table, users: sa.Table) -> sa.Select:
    """The session's row joined with its user (built once: a request only binds the hash)."""
    return (sa.select(sessions.c.user_id, sessions.c.expires_at, sessions.c.last_seen_at,
                      users.c.username, users.c.display_name, users.c.lang, users.c.time_zone,
                      users.c.active, users.c.authz_epoch)
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(sessions.c.key_hash == sa.bindparam("key_hash", type_=sessions.c.key_hash.type)))


def session_user(db: Database, tables: ModelTables, key: Any, *,
                 clock: Clock = SYSTEM_CLOCK) -> SessionUser | None:
    """The user of the live session with this key; ``None`` if it ended, expired, was never
    started, or its user is inactive."""
    if not isinstance(key, str) or not key or len(key) > 256:
        return None
    digest = _digest(key)
    table = tables.sessions
    with db.autocommit() as conn:  # one statement: no transaction needed around it
        row = conn.execute(_lookup(table, tables.users), {"key_hash": digest}).first()
    if row is None or not row.active:
        return None
    now = clock.naive_now()
    if row.expires_at <= now or row.last_seen_at <= now - IDLE_TIMEOUT:
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        with db.write() as conn:
            conn.execute(table.update().where(table.c.key_hash == digest)
                         .values(last_seen_at=now))
    return SessionUser(int(row.user_id), row.username, row.display_name or row.username,
                       row.lang or "en", row.time_zone, int(row.authz_epoch or 0))


def end_session(db: Database, tables: ModelTables, key: Any) -> None:
    """End the session with this key (logout); nothing happens if it already ended."""
    if not isinstance(key, str) or not key:
        return
    table = tables.sessions
    with db.write() as conn:
        conn.execute(table.delete().where(table.c.key_hash == _digest(key)))


def end_sessions(conn: sa.Connection, tables: ModelTables, user_id: int, *,
                 keep: str | None = None) -> int:
    """End every session of ``user_id`` (but the one with key ``keep``), in the caller's
    transaction; returns how many ended."""
    table = tables.sessions
    where = [table.c.user_id == user_id]
    if keep:
        where.append(table.c.key_hash != _digest(keep))
    return int(conn.execute(table.delete().where(*where)).rowcount or 0)


def end_other_sessions(db: Database, tables: ModelTables, user_id: int, keep: str) -> int:
    """"Log out everywhere else": end every session of ``user_id`` but the one with ``keep``."""
    with db.write() as conn:
        return end_sessions(conn, tables, user_id, keep=keep)


def list_sessions(db: Database, tables: ModelTables, user_id: int, *, current: str | None = None,
                  clock: Clock = SYSTEM_CLOCK) -> list[dict[str, Any]]:
    """The user's live sessions, most recently seen first (``current``: marks that one)."""
    table = tables.sessions
    now = clock.naive_now()
    mine = _digest(current) if current else None
    with db.read() as conn:
        rows = conn.execute(sa.select(table).where(
            table.c.user_id == user_id, table.c.expires_at > now,
            table.c.last_seen_at > now - IDLE_TIMEOUT)
            .order_by(table.c.last_seen_at.desc(), table.c.created_at.desc())).all()
    return [{"created_at": r.created_at, "last_seen_at": r.last_seen_at,
             "expires_at": r.expires_at, "address": r.address, "agent": r.agent,
             "current": r.key_hash == mine} for r in rows]
