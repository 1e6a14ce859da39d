"""API tokens: ``loom_<id>_<secret>``, shown once, stored as the SHA-256 of the secret.

Verifying is one primary-key query (joined with the user, run without a transaction
around it) and a constant-time comparison, on every request: nothing about a token is
cached, so revoking it or deactivating its user acts on the next request in every
process; ``last_used_at`` is written at most once per
:data:`LAST_USED_RESOLUTION`, so a busy client does not write on every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock, naive_utc
from engine.accounts.errors import AccountError
from engine.accounts.users import user_id
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: Prefix of every token (lets secret scanners and logs recognise them).
TOKEN_PREFIX = "loom_"
#: Random bytes in a token's secret (``secrets.token_urlsafe``).
SECRET_BYTES = 32
#: ``last_used_at`` is updated only when older than this.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
#: Longest token name stored.
MAX_TOKEN_NAME = 150
_TOKEN = re.compile(r"^loom_([1-9][0-9]{0,18})_([A-Za-z0-9_-]{20,128})$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(db: Database, tables: ModelTables, username: str, *, name: str = "",
                 expires_at: dt.datetime | None = None, clock: Clock = SYSTEM_CLOCK) -> str:
    """A new token for ``username``; the plaintext is returned once and never stored."""
    if len(name or "") > MAX_TOKEN_NAME:
        raise AccountError(f"a token name has at most {MAX_TOKEN_NAME} characters")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    now = clock.naive_now()
    expires_at = naive_utc(expires_at)
    if expires_at is not None and expires_at <= now:
        raise AccountError("the expiry date must be in the future")
    tokens, users = tables.tokens, tables.users
    with db.write() as conn:
        uid = user_id(conn, tables, username)
        if not conn.execute(sa.select(users.c.active).where(users.c.id == uid)).scalar():
            raise AccountError(f"user {username!r} is not active")
        token_id = conn.execute(tokens.insert().values(
            user_id=uid, name=name or "", secret_hash=_digest(secret), created_at=now,
            expires_at=expires_at)).inserted_primary_key[0]
    return f"{TOKEN_PREFIX}{token_id}_{secret}"


@lru_cache(maxsize=16)
def _lookup(tokens: sa.Table, users: sa.Table) -> sa.Select:
    """The token's row joined with its user, by id (built once: a request only binds the id)."""
    return (sa.select(tokens.c.secret_hash, tokens.c.user_id, tokens.c.expires_at,
                      tokens.c.revoked_at, tokens.c.last_used_at, users.c.active,
                      users.c.authz_epoch)
            .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
            .where(tokens.c.id == sa.bindparam("token_id", type_=tokens.c.id.type)))


def verify_token(db: Database, tables: ModelTables, token: str, *,
                 clock: Clock = SYSTEM_CLOCK) -> int | None:
    """The user id of a valid token; ``None`` if unknown, revoked, expired or the user is inactive."""
    found = token_user(db, tables, token, clock=clock)
    return found[0] if found is not None else None


def token_user(db: Database, tables: ModelTables, token: str, *,
               clock: Clock = SYSTEM_CLOCK) -> tuple[int, int] | None:
    """(user id, the user's ``authz_epoch``) of a valid token; ``None`` as in :func:`verify_token`."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        return None
    token_id, secret = int(match.group(1)), match.group(2)
    tokens = tables.tokens
    with db.autocommit() as conn:  # one statement: no transaction needed around it
        row = conn.execute(_lookup(tokens, tables.users), {"token_id": token_id}).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    now = clock.naive_now()
    if row.revoked_at is not None or not row.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        with db.write() as conn:
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(last_used_at=now))
    return int(row.user_id), int(row.authz_epoch or 0)


def revoke_token(db: Database, tables: ModelTables, token_id: int, *,
                 clock: Clock = SYSTEM_CLOCK, owner: int | None = None) -> None:
    """Revoke the token with this id (its user can no longer use it).

    ``owner``: a user id the token must belong to (a user revoking their own tokens);
    another's token is then as unknown as a missing one.
    """
    tokens = tables.tokens
    with db.write() as conn:
        found = conn.execute(sa.select(tokens.c.revoked_at, tokens.c.user_id)
                             .where(tokens.c.id == token_id)).first()
        if found is None or (owner is not None and int(found.user_id) != owner):
            raise AccountError(f"unknown token {token_id}")
        if found.revoked_at is None:
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=clock.naive_now()))


def list_tokens(db: Database, tables: ModelTables, username: str) -> list[dict[str, Any]]:
    """The user's tokens (never their secrets), newest first."""
    tokens = tables.tokens
    with db.read() as conn:
        uid = user_id(conn, tables, username)
        rows = conn.execute(sa.select(tokens.c.id, tokens.c.name, tokens.c.created_at,
                                      tokens.c.expires_at, tokens.c.revoked_at,
                                      tokens.c.last_used_at)
                            .where(tokens.c.user_id == uid).order_by(tokens.c.id.desc())).all()
    return [dict(r._mapping) for r in rows]
