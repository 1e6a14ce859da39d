"""Users: create, edit, change password, deactivate and reactivate, authenticate, roles,
language and time zone.

Writes ``loom_users``, ``loom_credentials`` and ``loom_user_roles``. Whether a
role exists in the model is the caller's check (the model is not needed here).

Every change of what a user may do (roles, active, language) moves their
``authz_epoch`` in the same transaction (:func:`bump_authz`): processes cache actors
per epoch, so the change acts on the user's next request in every process. A new
password or a deactivation ends all of the user's browser sessions
(:mod:`engine.accounts.sessions`); a new password keeps their API tokens, a
deactivation revokes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock, ConfigurationError, zone
from engine.accounts.errors import AccountError
from engine.accounts.passwords import hash_password, needs_rehash, verify_password
from engine.model import LANGUAGES
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: What a username may look like.
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,149}$")
#: What a role name may look like (an identifier, as in role metadata).
ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Longest display name and e-mail address stored.
MAX_DISPLAY_NAME = 255
MAX_EMAIL = 254


def bump_authz(conn: sa.Connection, tables: ModelTables, user_id: int | None = None) -> None:
    """Move the ``authz_epoch`` of ``user_id`` (None: of everyone, after a team change),
    in the caller's transaction: cached actors of the old epoch are no longer used."""
    users = tables.users
    update = users.update().values(authz_epoch=users.c.authz_epoch + 1)
    if user_id is not None:
        update = update.where(users.c.id == user_id)
    conn.execute(update)


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME_PATTERN.match(username):
        raise AccountError("a username is 1 to 150 letters, digits or . _ @ + - "
                           "(starting with a letter or digit)")
    return username


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise AccountError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    return lang


def _check_time_zone(name: str | None) -> str | None:
    """A valid IANA zone name, or None (the organisation's zone); AccountError otherwise."""
    if name is None or not str(name).strip():
        return None
    try:
        return zone(str(name).strip()).key
    except ConfigurationError as exc:
        raise AccountError(str(exc)) from None


def _check_role(role: str) -> str:
    if not isinstance(role, str) or not ROLE_PATTERN.match(role):
        raise AccountError(f"{role!r} is not a valid role name")
    return role


def user_id(conn: sa.Connection, tables: ModelTables, username: str) -> int:
    """The id of ``username``; :class:`AccountError` if there is no such user."""
    found = conn.execute(sa.select(tables.users.c.id).where(
        tables.users.c.username == username)).scalar()
    if found is None:
        raise AccountError(f"unknown user {username!r}")
    return int(found)


def create_user(db: Database, tables: ModelTables, username: str, *, password: str | None = None,
                email: str | None = None, display_name: str = "", lang: str = "en",
                roles: Iterable[str] = (), active: bool = True, time_zone: str | None = None,
                clock: Clock = SYSTEM_CLOCK) -> int:
    """Create a user (with a password and roles if given); return the new id.

    ``time_zone`` is an IANA name, or None for the organisation's zone.
    """
    _check_username(username)
    _check_lang(lang)
    time_zone = _check_time_zone(time_zone)
    roles = sorted({_check_role(r) for r in roles})
    email = _check_email(email)
    if len(display_name or "") > MAX_DISPLAY_NAME:
        raise AccountError(f"the display name must have at most {MAX_DISPLAY_NAME} characters")
    hashed = hash_password(password) if password is not None else None
    users = tables.users
    now = clock.naive_now()
    with db.write() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
            raise AccountError(f"user {username!r} already exists")
        new_id = conn.execute(users.insert().values(
            username=username, email=email or None, display_name=display_name or "",
            active=bool(active), lang=lang, time_zone=time_zone,
            created_at=now)).inserted_primary_key[0]
        if hashed is not None:
            conn.execute(tables.credentials.insert().values(user_id=new_id, password_hash=hashed,
                                                            updated_at=now))
        if roles:
            conn.execute(tables.user_roles.insert(), [{"user_id": new_id, "role": r} for r in roles])
    return int(new_id)


def _store_hash(conn: sa.Connection, tables: ModelTables, uid: int, hashed: str,
                clock: Clock) -> None:
    creds = tables.credentials
    now = clock.naive_now()
    done = conn.execute(creds.update().where(creds.c.user_id == uid).values(
        password_hash=hashed, updated_at=now)).rowcount
    if not done:
        conn.execute(creds.insert().values(user_id=uid, password_hash=hashed, updated_at=now))


def set_password(db: Database, tables: ModelTables, username: str, password: str, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
    """Set (or replace) the password of ``username``; :class:`PasswordTooWeak` if too short.

    Ends every browser session of the user; their API tokens stay (revoke them one by one).
    """
    from engine.accounts.sessions import end_sessions

    hashed = hash_password(password)
    with db.write() as conn:
        uid = user_id(conn, tables, username)
        _store_hash(conn, tables, uid, hashed, clock)
        end_sessions(conn, tables, uid)


def deactivate_user(db: Database, tables: ModelTables, username: str, *,
                    clock: Clock = SYSTEM_CLOCK) -> None:
    """Stop ``username`` from logging in, end their sessions and revoke every token they hold."""
    from engine.accounts.sessions import end_sessions

    with db.write() as conn:
        uid = user_id(conn, tables, username)
        conn.execute(tables.users.update().where(tables.users.c.id == uid).values(active=False))
        bump_authz(conn, tables, uid)
        end_sessions(conn, tables, uid)
        tokens = tables.tokens
        conn.execute(tokens.update().where(tokens.c.user_id == uid, tokens.c.revoked_at.is_(None))
                     .values(revoked_at=clock.naive_now()))


def reactivate_user(db: Database, tables: ModelTables, username: str) -> None:
    """Let ``username`` log in again (the tokens revoked when they were deactivated stay
    revoked; their roles and teams were kept)."""
    with db.write() as conn:
        uid = user_id(conn, tables, username)
        conn.execute(tables.users.update().where(tables.users.c.id == uid).values(active=True))
        bump_authz(conn, tables, uid)


def _check_email(email: str | None) -> str | None:
    email = (email or "").strip() or None
    if email is not None and (len(email) > MAX_EMAIL or "@" not in email):
        raise AccountError("the e-mail address is not valid")
    return email


def update_user(db: Database, tables: ModelTables, username: str, *, display_name: str,
                email: str | None, lang: str, time_zone: str | None) -> None:
    """Change the display name, e-mail address (empty: none), language and time zone
    (None: the organisation's) of ``username`` (their username stays)."""
    _check_lang(lang)
    time_zone = _check_time_zone(time_zone)
    email = _check_email(email)
    if len(display_name or "") > MAX_DISPLAY_NAME:
        raise AccountError(f"the display name must have at most {MAX_DISPLAY_NAME} characters")
    with db.write() as conn:
        uid = user_id(conn, tables, username)
        conn.execute(tables.users.update().where(tables.users.c.id == uid).values(
            display_name=(display_name or "").strip(), email=email, lang=lang,
            time_zone=time_zone))
        bump_authz(conn, tables, uid)


def authenticate(db: Database, tables: ModelTables, username: str, password: str, *,
                 clock: Clock = SYSTEM_CLOCK) -> int | None:
    """The user id when ``password`` is right and the user is active; ``None`` otherwise.

    Takes the same time whether the user exists or not (a hash is always checked).
    """
    users, creds = tables.users, tables.credentials
    row = None
    if isinstance(username, str) and USERNAME_PATTERN.match(username):
        with db.read() as conn:
            row = conn.execute(
                sa.select(users.c.id, users.c.active, creds.c.password_hash)
                .select_from(users.outerjoin(creds, creds.c.user_id == users.c.id))
                .where(users.c.username == username)).first()
    stored = row.password_hash if row is not None else None
    if not verify_password(stored, password) or row is None or not row.active:
        return None
    if needs_rehash(stored):
        with db.write() as conn:
            _store_hash(conn, tables, row.id, hash_password(password), clock)
    return int(row.id)


def _roles_of(conn: sa.Connection, tables: ModelTables, ids: list[int]) -> dict[int, list[str]]:
    roles: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        ur = tables.user_roles
        for uid, role in conn.execute(sa.select(ur.c.user_id, ur.c.role)
                                      .where(ur.c.user_id.in_(ids)).order_by(ur.c.role)):
            roles[uid].append(role)
    return roles


def _user_dict(row: Any, roles: list[str]) -> dict[str, Any]:
    return {"id": int(row.id), "username": row.username, "display_name": row.display_name,
            "email": row.email, "lang": row.lang, "time_zone": row.time_zone,
            "active": bool(row.active), "roles": roles}


def _one_user(db: Database, tables: ModelTables, where: Any) -> dict[str, Any] | None:
    with db.read() as conn:
        row = conn.execute(sa.select(tables.users).where(where)).first()
        if row is None:
            return None
        return _user_dict(row, _roles_of(conn, tables, [int(row.id)])[int(row.id)])


def get_user(db: Database, tables: ModelTables, user_id: int) -> dict[str, Any] | None:
    """The user with this id as a dict (id, username, display_name, email, lang, time_zone
    (None: the organisation's), active, roles)."""
    return _one_user(db, tables, tables.users.c.id == user_id)


def find_user(db: Database, tables: ModelTables, username: str) -> dict[str, Any] | None:
    """The user called ``username`` as a :func:`get_user` dict; ``None`` if there is none."""
    return _one_user(db, tables, tables.users.c.username == username)


def list_users(db: Database, tables: ModelTables) -> list[dict[str, Any]]:
    """Every user, by username, as :func:`get_user` dicts."""
    users = tables.users
    with db.read() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
        roles = _roles_of(conn, tables, [int(r.id) for r in rows])
    return [_user_dict(r, roles[int(r.id)]) for r in rows]


def search_users(db: Database, tables: ModelTables, q: str, limit: int | None,
                 where: Any = None) -> list[dict[str, Any]]:
    """Up to ``limit`` (None: all) active users whose username or display name contains
    ``q`` (any case), and who meet ``where`` (a condition on the users table) if given.

    ``[{"id", "label", "username"}]`` by label, where the label is the display name or,
    without one, the username. An empty ``q`` matches everyone. On SQLite, case is
    folded for ASCII letters only (as in the record filters' ``contains``).
    """
    users = tables.users
    label = sa.func.coalesce(sa.func.nullif(users.c.display_name, ""), users.c.username)
    query = sa.select(users.c.id, users.c.username, label.label("label")).where(users.c.active)
    needle = (q or "").strip().lower()
    if needle:
        query = query.where(sa.or_(
            sa.func.lower(users.c.username).contains(needle, autoescape=True),
            sa.func.lower(sa.func.coalesce(users.c.display_name, "")).contains(
                needle, autoescape=True)))
    if where is not None:
        query = query.where(where)
    query = query.order_by(sa.func.lower(label), users.c.id)
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        return [{"id": int(r.id), "label": r.label, "username": r.username}
                for r in conn.execute(query)]


def set_lang(db: Database, tables: ModelTables, user_id: int, lang: str) -> None:
    """Remember the user's interface language."""
    _check_lang(lang)
    with db.write() as conn:
        done = conn.execute(tables.users.update().where(tables.users.c.id == user_id)
                            .values(lang=lang)).rowcount
    if not done:
        raise AccountError("unknown user")


def set_time_zone(db: Database, tables: ModelTables, user_id: int, name: str | None) -> None:
    """Remember the user's time zone (an IANA name); None or "" means the organisation's."""
    name = _check_time_zone(name)
    with db.write() as conn:
        done = conn.execute(tables.users.update().where(tables.users.c.id == user_id)
                            .values(time_zone=name)).rowcount
    if not done:
        raise AccountError("unknown user")


def grant_role(db: Database, tables: ModelTables, username: str, role: str) -> None:
    """Give ``username`` the role (nothing happens if they already have it)."""
    _check_role(role)
    ur = tables.user_roles
    with db.write() as conn:
        uid = user_id(conn, tables, username)
        if not conn.execute(sa.select(ur.c.role).where(ur.c.user_id == uid, ur.c.role == role)).first():
            conn.execute(ur.insert().values(user_id=uid, role=role))
            bump_authz(conn, tables, uid)


def revoke_role(db: Database, tables: ModelTables, username: str, role: str) -> None:
    """Take the role away from ``username`` (nothing happens if they don't have it)."""
    ur = tables.user_roles
    with db.write() as conn:
        uid = user_id(conn, tables, username)
        if conn.execute(ur.delete().where(ur.c.user_id == uid, ur.c.role == role)).rowcount:
            bump_authz(conn, tables, uid)
