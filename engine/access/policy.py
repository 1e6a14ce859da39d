"""The role-based permission policy: the union of the actor's roles.

- ``can``: any of the actor's roles grants the action on the entity;
- ``scope``: the rows any role granting ``read`` lets the actor see, OR-ed
  (``own``: owner is the actor; ``team``: owner is the actor or a member of the
  actor's teams; ``team_tree``: the same over the teams the actor belongs to or
  manages and every team below them; ``all``: no condition), plus, for a grant with
  a ``pool``, the records without an owner whose pool the actor may read and is open
  to one of the actor's roles;
- ``write_scope``: the same without the pools: the rows the actor may change, and
  where a written record must land (records in a pool are read only here);
- ``refusal``: why the actor may not update or delete one stored record (an owner-less
  record needs a grant with scope ``all``; a grant's ``conditions`` must hold on it:
  an unknown result, a null field the condition needs, does not hold);
- ``read_through``: the relations whose targets' display names the actor may read
  through a record of the entity;
- ``claimable``: the pool part of ``scope`` alone: the owner-less rows in a pool open
  to one of the actor's roles, the only rows a pool claim may take (see
  :class:`engine.records.rights.PoolWrite`);
- ``field_access``: the most open access among the roles that grant the entity
  (unlisted fields are ``write`` for a role that may create or update, ``read`` for
  a read-only role), so a read-only role never widens what another role may write.

The system actor and admin roles may do everything; an actor with no known role
may do nothing. Pure apart from building SQL expressions: no queries, no Flask.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Callable

import sqlalchemy as sa

from engine.fields.standard import STANDARD_FIELDS
from engine.model import CompiledModel, EntityGrant, PoolGrant, Text
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
        owned = self.write_scope(actor, entity, table)
        grants = self.grants(actor, entity)
        if owned is None or grants is None:
            return owned
        pools = [self._pooled(actor, g.pool, table) for g in grants
                 if g.pool is not None and "read" in g.actions]
        return sa.or_(owned, *pools) if pools else owned

    def write_scope(self, actor: Actor, entity: str,
                    table: sa.Table) -> sa.ColumnElement[bool] | None:
        """The rows the actor may change: :meth:`scope` without the pools."""
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
        return self.rows(actor, table, widest)

    def refusal(self, actor: Actor, entity: str, action: str, record: Mapping[str, Any],
                within: Callable[[str], bool] | None = None) -> Text | None:
        """Why ``actor`` may not ``action`` (update, delete) the stored ``record``, or None;
        the reason ends a :class:`~engine.records.PermissionDenied` message, in each language.

        Some grant giving the action must take the record: its own scope must cover the
        record (``within(scope)`` answers for team scopes, from the database; without it
        only the actor's own records count), an owner-less record (one in a public pool)
        only a grant with scope ``all``, and the grant's condition for the action, if
        any, must hold on the record (unknown does not hold). So a second role with a
        narrower scope and no condition can't lift the first role's condition on records
        outside that narrower scope.
        """
        grants = self.grants(actor, entity)
        if grants is None:
            return None
        acting = [g for g in grants if action in g.actions]
        owner = record.get("owner")
        pooled = owner is None
        failed = []
        for g in acting:
            if pooled and g.scope != "all":
                continue
            if g.scope != "all" and owner != actor.user_id and (
                    g.scope == "own" or within is None or not within(g.scope)):
                continue
            condition = g.conditions.get(action)
            if condition is None or condition.holds(self._bindings(entity, condition, record)):
                return None
            failed.append(condition.source)
        if failed:
            # The condition is shown as declared (CEL, like a formula): it is the rule itself.
            return Text.of({"en": " like this one (your role allows it only when "
                                  + " or ".join(failed) + ")",
                            "zh-CN": "（您的角色仅在满足条件 " + " 或 ".join(failed) + " 时允许）"})
        if pooled and acting:
            return Text.of({"en": " without an owner (records in a public pool are read only "
                                  "for you)",
                            "zh-CN": "（该记录没有负责人：公海池中的记录对您只读）"})
        return Text.of("")

    def claimable(self, actor: Actor, entity: str,
                  table: sa.Table) -> sa.ColumnElement[bool] | None:
        """Owner-less rows of ``table`` in a pool open to the actor through a role's
        ``pool`` grant (``None``: unrestricted, for admins and the system)."""
        grants = self.grants(actor, entity)
        if grants is None:
            return None
        pools = [self._pooled(actor, g.pool, table) for g in grants
                 if g.pool is not None and "read" in g.actions]
        return sa.or_(*pools) if pools else sa.false()

    def condition_names(self, actor: Actor, entity: str, action: str) -> frozenset[str]:
        """The fields :meth:`refusal` reads for ``action`` (``owner`` and its conditions')."""
        grants = self.grants(actor, entity)
        if grants is None:
            return frozenset()
        names = {"owner"}
        for g in grants:
            condition = g.conditions.get(action)
            if condition is not None:
                names |= condition.variables
        return frozenset(names)

    def read_through(self, actor: Actor, entity: str) -> frozenset[str]:
        """Relations of ``entity`` whose targets' display names the actor may read through
        the records of it they may read (admins read the targets themselves)."""
        grants = self.grants(actor, entity)
        if grants is None:
            return frozenset()
        return frozenset(n for g in grants if "read" in g.actions for n in g.read_through)

    def field_access(self, actor: Actor, entity: str, field: str) -> str:
        grants = self.grants(actor, entity)
        if grants is None:
            return WRITE
        if not grants:
            return HIDDEN
        return min((_level(g, field) for g in grants), key=_OPENNESS.__getitem__)

    # -- helpers -------------------------------------------------------------
    def _pooled(self, actor: Actor, pool: PoolGrant, table: sa.Table) -> sa.ColumnElement[bool]:
        """Owner-less rows of ``table`` in a pool the actor may read and is open to them."""
        if not self.can(actor, pool.target, "read"):
            return sa.false()
        pools = self.tables.entity(pool.target)
        # The pool's own record scope, without pools of its own (no recursion).
        where = [c for c in (self.write_scope(actor, pool.target, pools),) if c is not None]
        if pool.roles is not None:
            listed = pools.c[pool.roles]
            text = sa.cast(listed, sa.Text)
            # An empty list (stored as SQL NULL, JSON null or []) opens the pool to every role.
            where.append(sa.or_(listed.is_(None), text.in_(("null", "[]")),
                                *(text.contains(json.dumps(r), autoescape=True)
                                  for r in sorted(actor.roles))))
        return sa.and_(table.c.owner.is_(None),
                       table.c[pool.field].in_(sa.select(pools.c.id).where(*where)))

    def _bindings(self, entity: str, condition: Any, record: Mapping[str, Any]) -> dict[str, Any]:
        """CEL variables of ``record`` that ``condition`` reads; nulls left unbound."""
        fields = self.model.entity(entity)
        out = {}
        for name in condition.variables:
            value = record.get(name)
            if value is None:
                continue
            f = fields.field(name) if fields.has_field(name) else STANDARD_FIELDS.get(name)
            if f is not None:
                value = f.type.to_cel(f, value)
            out[name] = value
        return out

    def rows(self, actor: Actor, table: sa.Table, scope: str) -> sa.ColumnElement[bool]:
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
