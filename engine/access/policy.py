"""The role-based permission policy: the union of the actor's roles.

- ``can``: any of the actor's roles grants the action on the entity;
- ``scope``: the rows any role granting ``read`` lets the actor see, OR-ed
  (``own``: owner is the actor; ``team``: owner is the actor or a member of the
  actor's teams; ``team_tree``: the same over the teams the actor belongs to or
  manages and every team below them; ``all``: no condition);
- ``field_access``: the most open access among the roles that grant the entity
  (unlisted fields are ``write`` for a role that may create or update, ``read`` for
  a read-only role), so a read-only role never widens what another role may write.

The system actor and admin roles may do everything; an actor with no known role
may do nothing. Pure apart from building SQL expressions: no queries, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from engine.model import CompiledModel, EntityGrant
from engine.permissions import FIELD_ACCESS, HIDDEN, READ, WRITE, Actor
from engine.storage.tables import ModelTables

#: Scopes from the narrowest to the widest.
SCOPES = ("own", "team", "team_tree", "all")
#: How open each field access level is (lower is more open).
_OPENNESS = {level: i for i, level in enumerate(FIELD_ACCESS)}
#: Actions that write field values.
_WRITING = frozenset({"create", "update"})


def is_admin(model: CompiledModel, actor: Actor | None) -> bool:
    """True for the system actor and for actors holding a role with ``admin: true``."""
    if actor is None:
        return False
    if actor.is_system:
        return True
    return any(model.roles[r].admin for r in actor.roles if r in model.roles)


def _level(grant: EntityGrant, field: str) -> str:
    """A grant's access to ``field``; a grant that cannot write records gives ``read`` at most."""
    level = grant.fields.get(field, WRITE)
    if level == WRITE and not grant.actions & _WRITING:
        return READ
    return level


class RolePolicy:
    """:class:`engine.permissions.PermissionPolicy` over ``model.roles``.

    >>> policy = RolePolicy(model, tables)                       # doctest: +SKIP
    >>> policy.can(Actor(3, roles=("sales",)), "deal", "delete")  # doctest: +SKIP
    True
    """

    def __init__(self, model: CompiledModel, tables: ModelTables) -> None:
        self.model = model
        self.tables = tables
        self._grants: dict[tuple[tuple[str, ...], str], tuple[EntityGrant, ...] | None] = {}

    # -- the roles' grants for one entity -----------------------------------
    def grants(self, actor: Actor, entity: str) -> tuple[EntityGrant, ...] | None:
        """Grants of the actor's roles for ``entity``; ``None`` means unrestricted (admin)."""
        key = (actor.roles, entity)
        if key not in self._grants:
            self._grants[key] = self._compute(actor.roles, entity)
        if actor.is_system:
            return None
        return self._grants[key]

    def _compute(self, role_names: Iterable[str], entity: str) -> tuple[EntityGrant, ...] | None:
        roles = [self.model.roles[r] for r in role_names if r in self.model.roles]
        if any(role.admin for role in roles):
            return None
        found = (role.grant(entity) for role in roles)
        return tuple(g for g in found if g is not None and g.actions)

    # -- PermissionPolicy ----------------------------------------------------
    def can(self, actor: Actor, entity: str, action: str) -> bool:
        grants = self.grants(actor, entity)
        return grants is None or any(action in g.actions for g in grants)

    def scope(self, actor: Actor, entity: str, table: sa.Table) -> sa.ColumnElement[bool] | None:
        grants = self.grants(actor, entity)
        if grants is None:
            return None
        readers = [g for g in grants if "read" in g.actions] or list(grants)
        scopes = {g.scope for g in readers}
        if not scopes:
            return sa.false()
        if "all" in scopes:
            return None
        widest = max(scopes, key=SCOPES.index)
        return self._rows(actor, table, widest)

    def field_access(self, actor: Actor, entity: str, field: str) -> str:
        grants = self.grants(actor, entity)
        if grants is None:
            return WRITE
        if not grants:
            return HIDDEN
        return min((_level(g, field) for g in grants), key=_OPENNESS.__getitem__)

    # -- helpers -------------------------------------------------------------
    def _rows(self, actor: Actor, table: sa.Table, scope: str) -> sa.ColumnElement[bool]:
        """Rows of ``table`` in ``scope`` (own < team < team_tree, each containing the last)."""
        if actor.user_id is None:
            return sa.false()
        own = table.c.owner == actor.user_id
        teams = {"team": actor.team_ids, "team_tree": actor.tree_team_ids or actor.team_ids}
        team_ids = teams.get(scope, ())
        if not team_ids:
            return own
        members = self.tables.team_members
        mates = sa.select(members.c.user_id).where(members.c.team_id.in_(sorted(set(team_ids))))
        return sa.or_(own, table.c.owner.in_(mates))

    def readable_fields(self, actor: Actor, entity: str) -> tuple[str, ...]:
        """Fields of ``entity`` the actor may see (for forms, lists and exports)."""
        names = self.model.entity(entity).field_names
        return tuple(n for n in names if self.field_access(actor, entity, n) != HIDDEN)

    def writable(self, actor: Actor, entity: str, field: str) -> bool:
        """True when the actor may write ``field`` (access ``write``)."""
        return self.field_access(actor, entity, field) == WRITE


__all__ = ["SCOPES", "RolePolicy", "is_admin"]
