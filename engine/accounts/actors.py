"""Build the :class:`~engine.permissions.Actor` of a user: roles, teams and team tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from engine.permissions import Actor
from engine.storage.db import Database
from engine.storage.tables import ModelTables


def team_tree(parents: Mapping[int, int | None], roots: Iterable[int]) -> tuple[int, ...]:
    """``roots`` and every team below them, given each team's parent (sorted ids).

    >>> team_tree({1: None, 2: 1, 3: 1, 4: 2, 5: None}, [2])
    (2, 4)
    """
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)
    seen: set[int] = set()
    todo = [r for r in roots]
    while todo:
        team = todo.pop()
        if team in seen:
            continue
        seen.add(team)
        todo.extend(children.get(team, ()))
    return tuple(sorted(seen))


def actor_for(db: Database, tables: ModelTables, user_id: int, *, lang: str | None = None) -> Actor | None:
    """The actor of an active user (``lang`` overrides the user's language); ``None`` otherwise."""
    users, roles, members, teams = tables.users, tables.user_roles, tables.team_members, tables.teams
    with db.read() as conn:
        row = conn.execute(sa.select(users.c.active, users.c.lang).where(users.c.id == user_id)).first()
        if row is None or not row.active:
            return None
        role_names = conn.execute(sa.select(roles.c.role).where(roles.c.user_id == user_id)
                                  .order_by(roles.c.role)).scalars().all()
        member_of = conn.execute(sa.select(members.c.team_id).where(members.c.user_id == user_id)
                                 .order_by(members.c.team_id)).scalars().all()
        all_teams = conn.execute(sa.select(teams.c.id, teams.c.parent_id, teams.c.manager_id)).all()
    parents = {int(t.id): (int(t.parent_id) if t.parent_id is not None else None) for t in all_teams}
    managed = [int(t.id) for t in all_teams if t.manager_id == user_id]
    team_ids = tuple(int(t) for t in member_of)
    return Actor(int(user_id), roles=tuple(role_names), team_ids=team_ids, lang=lang or row.lang,
                 tree_team_ids=team_tree(parents, (*team_ids, *managed)))
