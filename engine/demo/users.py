"""The demo's users: an admin, a sales manager, a service agent and the sales team.

Writes Loom's own ``loom_users`` table only (users are not an entity, so they do
not go through the record service). Idempotent: existing usernames are kept.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.demo.words import OTHER_USERS, SALES_PEOPLE
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: Domain of the demo users' e-mail addresses (reserved for examples, never delivered).
DEMO_MAIL_DOMAIN = "example.com"


def create_demo_users(db: Database, tables: ModelTables) -> list[int]:
    """Create the demo users that are missing; return the salespeople's ids, sales1 first.

    The admin, manager and service users are created too but not returned: the demo
    records are owned by the sales team.

    >>> create_demo_users(db, service.tables)       # doctest: +SKIP
    [2, 3, 4, 5, 6, 7, 8, 9]
    """
    users = tables.users
    wanted = OTHER_USERS + SALES_PEOPLE
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with db.write() as conn:
        existing = {row.username for row in conn.execute(
            sa.select(users.c.username).where(users.c.username.in_([u[0] for u in wanted])))}
        missing = [{"username": username, "display_name": display,
                    "email": f"{local}@{DEMO_MAIL_DOMAIN}", "lang": "zh-CN", "active": True,
                    "created_at": now}
                   for username, display, local in wanted if username not in existing]
        if missing:
            conn.execute(users.insert(), missing)
        ids = dict(conn.execute(sa.select(users.c.username, users.c.id).where(
            users.c.username.in_([u[0] for u in SALES_PEOPLE]))).all())
    return [ids[username] for username, _, _ in SALES_PEOPLE]
