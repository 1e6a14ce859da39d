"""The audit trail: one ``loom_audit`` row per record change, bulk included.

``changes`` is ``{field: [old, new]}`` over the fields (and ``owner``) the change
touched, in the JSON form of each field type (``to_json``), so the trail reads the
same whatever the database. A delete also lists the records that linked to the deleted
one through other entities' many-to-many fields (see :mod:`.cascade`). Rows are
written in the transaction of the change by the one emitter
(:mod:`engine.storage.events`), with the write's cause and depth; the service reads
them back with :func:`history`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import sqlalchemy as sa

from engine.records.plan import EntityPlan

#: Audit ``action`` of each kind of change.
CREATE, UPDATE, DELETE = "create", "update", "delete"


def audited_names(plan: EntityPlan) -> tuple[str, ...]:
    """The names whose changes the trail keeps: every field, and ``owner``."""
    return ("owner", *plan.entity.field_names)


def json_value(plan: EntityPlan, name: str, value: Any) -> Any:
    if value is None:
        return None
    convert = plan.to_json[name]
    return convert(value) if convert else value


def diff(plan: EntityPlan, changes: Mapping[str, tuple[Any, Any]]) -> dict[str, list[Any]]:
    """``{name: (old, new)}`` in Python values -> the JSON-safe ``changes`` document."""
    return {name: [json_value(plan, name, old), json_value(plan, name, new)]
            for name, (old, new) in changes.items()}


def snapshot(plan: EntityPlan, record: Mapping[str, Any], *, deleted: bool = False
             ) -> dict[str, list[Any]]:
    """Changes of a created (``[None, value]``) or deleted (``[value, None]``) record."""
    out = {}
    to_json = plan.to_json
    for name in audited_names(plan):
        value = record.get(name)
        if value is None or value == []:
            continue
        convert = to_json[name]
        value = convert(value) if convert else value
        out[name] = [value, None] if deleted else [None, value]
    return out


def history(conn: sa.Connection, table: sa.Table, entity: str, record_id: int) -> list[dict[str, Any]]:
    """The record's audit rows, oldest first, ``at`` as an aware UTC datetime.

    Each has ``cause`` (``{"kind", "id", "label"}``, or ``None`` on rows written before
    causes were recorded) and ``depth``.
    """
    c = table.c
    query = (sa.select(c.id, c.at, c.actor_id, c.action, c.changes, c.cause_kind, c.cause_id,
                       c.cause_label, c.depth)
             .where(table.c.entity == entity, table.c.record_id == record_id)
             .order_by(table.c.id))
    return [{"id": r["id"], "at": r["at"].replace(tzinfo=dt.timezone.utc),
             "actor_id": r["actor_id"], "action": r["action"], "changes": r["changes"],
             "cause": None if r["cause_kind"] is None else {
                 "kind": r["cause_kind"], "id": r["cause_id"], "label": r["cause_label"]},
             "depth": r["depth"] or 0}
            for r in conn.execute(query).mappings()]
