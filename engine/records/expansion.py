"""Expanding relations on read (``expand=("account",)``) and records to JSON.

An expansion adds ``record["_expand"][name]``: the related record's visible fields
plus ``_display`` (a list of them for many-to-many; id, username and display name for
user columns). It costs one query per expanded field per page, never one per record.
Which names may be expanded, and what the actor sees of the related records, is given
by the caller (the service asks the permission policy).

A relation the actor's role may read *through* (``read_through``) expands even where
the related record is out of the actor's sight: such a record comes as its name only,
``{"id": 1171, "_display": "...", "_name_only": True}``, never its fields (and not
at all when its display field is hidden from the actor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import sqlalchemy as sa

from engine.filters import FilterError
from engine.records import reading
from engine.records.errors import PermissionDenied
from engine.records.plan import EntityPlan


#: Marks an expanded record given by name only (see the module docstring).
NAME_ONLY = "_name_only"


@dataclass(frozen=True)
class Expansion:
    name: str
    entity: str | None  # the related entity; None for a user column
    many: bool
    readable: bool = True  # the actor may read the related entity's records
    through: bool = False  # names of related records out of sight are given (read_through)


def expansions(plan: EntityPlan, names: Any, hidden: set[str], users: sa.Table,
               can_read: Callable[[str], bool],
               through: frozenset[str] = frozenset()) -> list[Expansion]:
    """The checked expansions of ``names``; FilterError names every one that can't be.

    ``through``: relations whose targets' names the actor may read through this entity.
    """
    if isinstance(names, str):
        names = (names,)
    out, problems = [], []
    for name in names or ():
        f = plan.fields.get(name) if isinstance(name, str) else None
        if f is None or name in hidden:
            problems.append(f"unknown field {name!r} of {plan.name!r} to expand")
        elif f.target is not None:
            readable = can_read(f.target)
            if not readable and name not in through:
                raise PermissionDenied(f.target, "read")
            out.append(Expansion(name, f.target, not f.stored, readable, name in through))
        elif name in plan.table.c and any(fk.column.table is users
                                          for fk in plan.table.c[name].foreign_keys):
            out.append(Expansion(name, None, False))
        else:
            problems.append(f"field {name!r} of {plan.name!r} is not a relation to expand")
    if problems:
        raise FilterError(problems)
    return out


def expand(conn: sa.Connection, records: list[dict[str, Any]], wanted: Iterable[Expansion], *,
           plans: Mapping[str, EntityPlan], users: sa.Table, scope: Callable[[str], Any],
           hidden: Callable[[EntityPlan], set[str]]) -> None:
    """Add ``_expand`` to every record of the page."""
    for x in wanted:
        ids = {i for r in records for i in ((r.get(x.name) or ()) if x.many else (r.get(x.name),))
               if i is not None}
        if x.entity is None:
            found = reading.users(conn, users, ids)
        else:
            target = plans[x.entity]
            found = (reading.related(conn, target, ids, scope(x.entity), hidden(target))
                     if x.readable else {})
            if x.through and len(found) < len(ids):
                # A role that may not read the target at all hides none of its fields from a
                # name read through: it was declared for exactly that.
                found.update(names(conn, target, ids - set(found),
                                   hidden(target) if x.readable else set()))
        for r in records:
            value = r.get(x.name)
            r.setdefault("_expand", {})[x.name] = (
                [found[i] for i in value or () if i in found] if x.many else found.get(value))


def names(conn: sa.Connection, target: EntityPlan, ids: Iterable[int],
          hidden: set[str]) -> dict[int, dict[str, Any]]:
    """``{id: {"id", "_display", "_name_only"}}`` of records read through a relation.

    No scope: the caller has checked that the ids come from a record the actor may read.
    """
    display = target.entity.display_field
    if display in hidden:
        return {}
    shown = {"id", display}
    rows = reading.related(conn, target, ids, None, [n for n in target.fields if n not in shown])
    return {i: {"id": i, "_display": r["_display"], NAME_ONLY: True} for i, r in rows.items()}


def record_json(plans: Mapping[str, EntityPlan], entity: str, record: Mapping[str, Any],
                lang: str | None = None) -> dict[str, Any]:
    """``record`` (as the service returns it) with every value in its JSON form, and the
    messages of its ``_warnings`` in ``lang`` (``None``: every language)."""
    plan = plans[entity]
    fields, to_json = plan.fields, plan.to_json
    out = {}
    for key, value in record.items():  # runs for every field of every listed record
        if key in fields:
            if value is not None and (convert := to_json[key]) is not None:
                value = convert(value)
            out[key] = value
        elif key == "_expand":
            out[key] = {name: _expanded_json(plans, plan, name, sub) for name, sub in value.items()}
        elif key == "_warnings":
            out[key] = [w.as_dict(lang) for w in value]
        else:
            out[key] = value
    return out


def _expanded_json(plans: Mapping[str, EntityPlan], plan: EntityPlan, name: str, sub: Any) -> Any:
    target = plan.fields[name].target
    if sub is None or target is None:
        return sub
    if isinstance(sub, list):
        return [record_json(plans, target, s) for s in sub]
    return record_json(plans, target, sub)
