"""Who is acting, and the hook point every record operation asks before it acts.

The record service consults a :class:`PermissionPolicy` on every call path:

- ``can(actor, entity, action)``: may the actor ``create``/``read``/``update``/``delete``
  records of the entity at all (``read`` also covers ``list``, ``history`` and expanding a
  relation to the entity);
- ``scope(actor, entity, table)``: a SQL condition the actor's records satisfy (e.g. own
  rows only), applied to get, list, totals, update, delete, history and expansions, and
  checked again after a write so nobody can write a record out of their own sight;
- ``field_access(actor, entity, field)``: ``write``, ``read`` (refused in input) or
  ``hidden`` (removed from results and history, refused in input, filters, sorts and
  expansions).

:class:`AllowAll` is the default. The role-based policy declared in metadata is
:class:`engine.access.RolePolicy`; it plugs in here without changing the record service.
A policy may answer more about single records (write scope, conditions, names read
through a relation): see :mod:`engine.records.rights`.

This module holds no state and must not touch the database or Flask; a policy only
builds SQL expressions for the service to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

#: Actions a policy is asked about.
ACTIONS = ("create", "read", "update", "delete")
#: Field access levels, from most to least open.
WRITE, READ, HIDDEN = "write", "read", "hidden"
FIELD_ACCESS = (WRITE, READ, HIDDEN)
#: Role carried by :meth:`Actor.system` (migrations, workflows, imports run by the system).
SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """The user (or the system) on whose behalf the record service acts.

    >>> Actor(7, roles=("sales",), team_ids=(2,), lang="zh-CN").user_id
    7
    >>> Actor.system().is_system
    True
    """

    user_id: int | None
    roles: tuple[str, ...] = ()
    team_ids: tuple[int, ...] = ()  # teams the user is a member of
    lang: str = "en"
    # Teams the user belongs to or manages, and every team below them (``team_tree`` scope).
    tree_team_ids: tuple[int, ...] = ()

    @classmethod
    def system(cls, lang: str = "en") -> "Actor":
        """The system itself: no user id, the ``system`` role."""
        return cls(None, roles=(SYSTEM_ROLE,), lang=lang)

    @property
    def is_system(self) -> bool:
        return self.user_id is None and SYSTEM_ROLE in self.roles


@runtime_checkable
class PermissionPolicy(Protocol):
    """What the record service asks before it reads or writes."""

    def can(self, actor: Actor, entity: str, action: str) -> bool:
        """May ``actor`` perform ``action`` (one of :data:`ACTIONS`) on ``entity``?"""
        ...

    def scope(self, actor: Actor, entity: str, table: sa.Table) -> sa.ColumnElement[bool] | None:
        """A condition on ``table`` limiting the rows ``actor`` sees, or ``None`` for all."""
        ...

    def field_access(self, actor: Actor, entity: str, field: str) -> str:
        """One of :data:`FIELD_ACCESS` for ``field`` of ``entity`` (standard columns too)."""
        ...


class AllowAll:
    """Every actor may do everything and see every field (the default policy)."""

    def can(self, actor: Actor, entity: str, action: str) -> bool:
        return True

    def scope(self, actor: Actor, entity: str, table: sa.Table) -> sa.ColumnElement[bool] | None:
        return None

    def field_access(self, actor: Actor, entity: str, field: str) -> str:
        return WRITE
