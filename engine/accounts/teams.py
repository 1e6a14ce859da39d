"""Teams: a tree (each team may have a parent) with members and an optional manager.

Writes ``loom_teams`` and ``loom_team_members``. Which records a team sees is the
access policy's business (:mod:`engine.access`), not this module's. A member change
moves the member's ``authz_epoch``; a change of the tree or of a manager moves everyone's
(:func:`engine.accounts.users.bump_authz`), so cached actors are reread at once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.accounts.errors import AccountError
from engine.accounts.users import bump_authz, user_id
from engine.storage.db import Database
from engine.storage.tables import ModelTables

#: Longest team name.
MAX_TEAM_NAME = 150


def team_id(conn: sa.Connection, tables: ModelTables, name: str) -> int:
    """The id of the team called ``name``; :class:`AccountError` if there is none."""
    found = conn.execute(sa.select(tables.teams.c.id).where(tables.teams.c.name == name)).scalar()
    if found is None:
        raise AccountError(f"unknown team {name!r}")
    return int(found)


def create_team(db: Database, tables: ModelTables, name: str, *, parent: str | None = None,
                manager: str | None = None) -> int:
    """Create a team (under ``parent``, managed by the user ``manager``); return its id."""
    name = (name or "").strip()
    if not name or len(name) > MAX_TEAM_NAME:
        raise AccountError(f"a team name has 1 to {MAX_TEAM_NAME} characters")
    teams = tables.teams
    with db.write() as conn:
        if conn.execute(sa.select(teams.c.id).where(teams.c.name == name)).first():
            raise AccountError(f"team {name!r} already exists")
        parent_id = team_id(conn, tables, parent) if parent else None
        manager_id = user_id(conn, tables, manager) if manager else None
        new_id = int(conn.execute(teams.insert().values(
            name=name, parent_id=parent_id, manager_id=manager_id)).inserted_primary_key[0])
        if parent_id is not None or manager_id is not None:
            bump_authz(conn, tables)
        return new_id


def add_member(db: Database, tables: ModelTables, team: str, username: str) -> None:
    """Make ``username`` a member of ``team`` (nothing happens if they already are)."""
    members = tables.team_members
    with db.write() as conn:
        tid, uid = team_id(conn, tables, team), user_id(conn, tables, username)
        if not conn.execute(sa.select(members.c.team_id).where(
                members.c.team_id == tid, members.c.user_id == uid)).first():
            conn.execute(members.insert().values(team_id=tid, user_id=uid))
            bump_authz(conn, tables, uid)


def remove_member(db: Database, tables: ModelTables, team: str, username: str) -> None:
    """Take ``username`` out of ``team``; :class:`AccountError` if they are not a member."""
    members = tables.team_members
    with db.write() as conn:
        tid, uid = team_id(conn, tables, team), user_id(conn, tables, username)
        if not conn.execute(members.delete().where(members.c.team_id == tid,
                                                   members.c.user_id == uid)).rowcount:
            raise AccountError(f"{username!r} is not a member of team {team!r}")
        bump_authz(conn, tables, uid)


def set_manager(db: Database, tables: ModelTables, team: str, manager: str | None) -> None:
    """Make the user ``manager`` the manager of ``team`` (``None``: no manager)."""
    teams = tables.teams
    with db.write() as conn:
        tid = team_id(conn, tables, team)
        manager_id = user_id(conn, tables, manager) if manager else None
        conn.execute(teams.update().where(teams.c.id == tid).values(manager_id=manager_id))
        bump_authz(conn, tables)


def set_parent(db: Database, tables: ModelTables, team: str, parent: str | None) -> None:
    """Put ``team`` under ``parent`` (``None``: at the top).

    :class:`AccountError` if ``parent`` is ``team`` itself or one of the teams below
    it: a team cannot be its own ancestor. The teams are locked while this is
    checked, so two moves at once cannot make a cycle either.
    """
    teams = tables.teams
    with db.write() as conn:
        tid = team_id(conn, tables, team)
        parent_id = team_id(conn, tables, parent) if parent else None
        if parent_id is not None:
            parents = {int(row.id): row.parent_id for row in conn.execute(
                sa.select(teams.c.id, teams.c.parent_id).with_for_update())}
            above: int | None = parent_id
            seen: set[int] = set()
            while above is not None and above not in seen:
                if above == tid:
                    raise AccountError(f"team {team!r} cannot be placed under {parent!r}: "
                                       "a team cannot be its own ancestor")
                seen.add(above)
                above = parents.get(above)
        conn.execute(teams.update().where(teams.c.id == tid).values(parent_id=parent_id))
        bump_authz(conn, tables)


def list_teams(db: Database, tables: ModelTables) -> list[dict[str, Any]]:
    """Every team with its parent's name, manager's username and members' usernames."""
    teams, members, users = tables.teams, tables.team_members, tables.users
    parent = teams.alias("parent")
    with db.read() as conn:
        rows = conn.execute(
            sa.select(teams.c.id, teams.c.name, parent.c.name.label("parent"),
                      users.c.username.label("manager"))
            .select_from(teams.outerjoin(parent, parent.c.id == teams.c.parent_id)
                         .outerjoin(users, users.c.id == teams.c.manager_id))
            .order_by(teams.c.name)).all()
        pairs = conn.execute(sa.select(members.c.team_id, users.c.username)
                             .select_from(members.join(users, users.c.id == members.c.user_id))
                             .order_by(users.c.username)).all()
    by_team: dict[int, list[str]] = {}
    for tid, username in pairs:
        by_team.setdefault(int(tid), []).append(username)
    return [{"id": int(r.id), "name": r.name, "parent": r.parent, "manager": r.manager,
             "members": by_team.get(int(r.id), [])} for r in rows]
