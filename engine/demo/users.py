"""The demo's users: an admin, a sales manager, a service agent and the sales team.

Writes Loom's own account tables only (users are not an entity, so they do not go
through the record service): users, their password (:data:`DEMO_PASSWORD` for
everyone), roles, and the teams "Sales" (managed by ``manager``) with "East"
(sales1-4) and "West" (sales5-8) below it. Idempotent: what exists is kept and
only what is missing is added.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.accounts.passwords import hash_password
from engine.clock import SYSTEM_CLOCK, Clock
from engine.demo.words import OTHER_USERS, SALES_PEOPLE
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: Domain of the demo users' e-mail addresses (reserved for examples, never delivered).
DEMO_MAIL_DOMAIN = "example.com"
#: Every demo user's password (the demo is public; never use it for real users).
DEMO_PASSWORD = "loom-demo-2026"
#: Role of each demo user who is not a salesperson; salespeople get :data:`SALES_ROLE`.
DEMO_ROLES = {"admin": "admin", "manager": "sales_manager", "service1": "service"}
SALES_ROLE = "sales"
#: Teams: (name, parent, manager, members).
DEMO_TEAMS = (
    ("Sales", None, "manager", ()),
    ("East", "Sales", None, ("sales1", "sales2", "sales3", "sales4")),
    ("West", "Sales", None, ("sales5", "sales6", "sales7", "sales8")),
)


def demo_logins() -> list[tuple[str, str, str, str | None]]:
    """Every demo user as (username, display name, role, team), admin first.

    >>> demo_logins()[0]
    ('admin', '系统管理员', 'admin', None)
    """
    team_of = {member: team for team, _, _, members in DEMO_TEAMS for member in members}
    team_of.update({manager: team for team, _, manager, _ in DEMO_TEAMS if manager})
    return [(username, display, DEMO_ROLES.get(username, SALES_ROLE), team_of.get(username))
            for username, display, _ in OTHER_USERS + SALES_PEOPLE]


def create_demo_users(db: Database, tables: ModelTables, *,
                      clock: Clock = SYSTEM_CLOCK) -> list[int]:
    """Create the demo users that are missing; return the salespeople's ids, sales1 first.

    The admin, manager and service users are created too but not returned: the demo
    records are owned by the sales team.

    >>> create_demo_users(db, service.tables)       # doctest: +SKIP
    [2, 3, 4, 5, 6, 7, 8, 9]
    """
    users = tables.users
    wanted = OTHER_USERS + SALES_PEOPLE
    names = [u[0] for u in wanted]
    now = clock.naive_now()
    with db.write() as conn:
        existing = {row.username for row in conn.execute(
            sa.select(users.c.username).where(users.c.username.in_(names)))}
        missing = [{"username": username, "display_name": display,
                    "email": f"{local}@{DEMO_MAIL_DOMAIN}", "lang": "zh-CN", "active": True,
                    "created_at": now}
                   for username, display, local in wanted if username not in existing]
        if missing:
            conn.execute(users.insert(), missing)
        ids = dict(conn.execute(sa.select(users.c.username, users.c.id).where(
            users.c.username.in_(names))).all())
        _passwords(conn, tables, ids, now)
        _roles(conn, tables, ids)
        _teams(conn, tables, ids)
    return [ids[username] for username, _, _ in SALES_PEOPLE]


def _passwords(conn: sa.Connection, tables: ModelTables, ids: dict[str, int],
               now: dt.datetime) -> None:
    creds = tables.credentials
    have = set(conn.execute(sa.select(creds.c.user_id).where(
        creds.c.user_id.in_(ids.values()))).scalars())
    todo = [uid for uid in ids.values() if uid not in have]
    if todo:
        # One hash for all: the demo password is public anyway, and argon2 is slow on purpose.
        hashed = hash_password(DEMO_PASSWORD)
        conn.execute(creds.insert(), [{"user_id": uid, "password_hash": hashed, "updated_at": now}
                                      for uid in todo])


def _roles(conn: sa.Connection, tables: ModelTables, ids: dict[str, int]) -> None:
    ur = tables.user_roles
    have = {tuple(row) for row in conn.execute(sa.select(ur.c.user_id, ur.c.role).where(
        ur.c.user_id.in_(ids.values())))}
    wanted = {(ids[name], DEMO_ROLES.get(name, SALES_ROLE)) for name in ids}
    rows = [{"user_id": uid, "role": role} for uid, role in sorted(wanted - have)]
    if rows:
        conn.execute(ur.insert(), rows)


def _teams(conn: sa.Connection, tables: ModelTables, ids: dict[str, int]) -> None:
    teams, members = tables.teams, tables.team_members
    team_ids = dict(conn.execute(sa.select(teams.c.name, teams.c.id)).all())
    for name, parent, manager, people in DEMO_TEAMS:
        if name not in team_ids:
            team_ids[name] = conn.execute(teams.insert().values(
                name=name, parent_id=team_ids.get(parent) if parent else None,
                manager_id=ids.get(manager) if manager else None)).inserted_primary_key[0]
        have = set(conn.execute(sa.select(members.c.user_id).where(
            members.c.team_id == team_ids[name])).scalars())
        rows = [{"team_id": team_ids[name], "user_id": ids[p]} for p in people
                if p in ids and ids[p] not in have]
        if rows:
            conn.execute(members.insert(), rows)
