"""The audit trail: one ``loom_audit`` row per record change, bulk included.

``changes`` is ``{field: [old, new]}`` over the fields (and ``owner``) the change
touched, in the JSON form of each field type (``to_json``), so the trail reads the
same whatever the database. A delete also lists the records that linked to the deleted
one through other entities' many-to-many fields (see :mod:`.cascade`). Rows are written in the transaction of the change; the
service reads them back with :func:`history`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import sqlalchemy as sa

from engine.records.plan import EntityPlan
from engine.storage.trail import audit_row

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


#: One ``loom_audit`` row; the shape is shared with migrations and ``loom restore``.
row = audit_row


def history(conn: sa.Connection, table: sa.Table, entity: str, record_id: int) -> list[dict[str, Any]]:
    """The record's audit rows, oldest first, ``at`` as an aware UTC datetime."""
    query = (sa.select(table.c.id, table.c.at, table.c.actor_id, table.c.action, table.c.changes)
             .where(table.c.entity == entity, table.c.record_id == record_id)
             .order_by(table.c.id))
    return [{**r, "at": r["at"].replace(tzinfo=dt.timezone.utc)}
            for r in conn.execute(query).mappings()]
