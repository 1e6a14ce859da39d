"""The record page (``records.detail``): sections, related lists and change history.

Sections follow the entity's ``form_layout`` (fields no section names go last, in an
"Other" section); related lists follow ``entity.inverses``: the first records of
each other entity pointing here, read through ``service.list`` with the actor (so
the policy's scope applies), with a link to the full, filtered list. The history
is ``service.history`` with field labels and values in the current language.
Edit and delete buttons show only when the policy allows them.
"""

from __future__ import annotations

from typing import Any

from flask import render_template

from engine.filters import kind_of
from engine.model import Entity, Field
from engine.permissions import Actor
from web.auth import login_required
from web.records import bp, filtering
from web.records.common import (
    endpoint_url,
    expandable,
    readable,
    user_labels,
    visibility,
)
from web.records.display import format_moment, from_json, show
from web.state import Runtime

#: Records each related list shows before "show all".
RELATED_ROWS = 5
#: Columns each related list shows (after the display field).
RELATED_COLUMNS = 3
#: Standard columns shown in the record page's footer.
SYSTEM_COLUMNS = ("owner", "created_by", "created_at", "updated_by", "updated_at", "version")


def _sections(ent: Entity, visible: Any) -> list[dict[str, Any]]:
    sections, placed = [], set()
    for section in ent.form_layout.get("sections", ()):
        names = [n for n in section.get("fields", ()) if filtering.field_of(ent, n) is not None]
        placed.update(names)
        sections.append({"title": section.get("title"), "columns": int(section.get("columns", 1)),
                         "fields": [filtering.field_of(ent, n) for n in names if visible(n)]})
    rest = [f for f in ent.fields if f.name not in placed and visible(f.name)]
    if rest:
        sections.append({"title": None, "columns": 2, "fields": rest})
    return [s for s in sections if s["fields"]]


def _related(rt: Runtime, actor: Actor, ent: Entity, record_id: int) -> list[dict[str, Any]]:
    out = []
    for inverse in ent.inverses:
        other = rt.model.entity(inverse.entity)
        if not rt.policy.can(actor, other.name, "read"):
            continue
        visible = visibility(rt, actor, other.name)
        if not visible(inverse.field):
            continue
        link = other.field(inverse.field)
        op = "contains" if kind_of(link) == "list" else "eq"
        cols = [f for f in filtering.columns(other, visible) if f.name != inverse.field]
        cols = cols[:RELATED_COLUMNS + 1]
        page = rt.service.list(actor, other.name,
                               filter=[{"field": inverse.field, "op": op, "value": record_id}],
                               sort=list(other.list_view.get("sort", ())), limit=RELATED_ROWS,
                               with_total=True, expand=expandable(rt, actor, cols))
        rows = [{"id": r["id"], "cells": [show(f, r.get(f.name), r.get("_expand", {}).get(f.name))
                                          for f in cols]} for r in page.rows]
        out.append({"name": inverse.name, "label": inverse.label, "entity": other, "columns": cols,
                    "rows": rows, "total": page.total or 0, "field": inverse.field,
                    "new_url": None})
    return out


def _lookup(rt: Runtime, actor: Actor, wanted: dict[str, set[int]]) -> Any:
    """A ``lookup(kind, id)`` for history values: labels of records and users, fetched once."""
    labels: dict[tuple[str, int], str] = {}
    users = user_labels(rt, wanted.pop("_user", set()))
    labels.update({("_user", i): name for i, name in users.items()})
    for entity, ids in wanted.items():
        ids = {i for i in ids if isinstance(i, int)}
        if not ids or not rt.policy.can(actor, entity, "read"):
            continue
        target = rt.model.entity(entity)
        display = filtering.field_of(target, target.display_field)
        if display is None or not visibility(rt, actor, entity)(display.name):
            continue
        page = rt.service.list(actor, entity, filter=[{"field": "id", "op": "in",
                                                       "value": sorted(ids)}],
                               limit=len(ids), fields=sorted({"id", display.name}))
        for r in page.rows:
            labels[(entity, r["id"])] = show(display, r.get(display.name)).text or f"#{r['id']}"
    return lambda kind, record_id: labels.get((kind, record_id))


def _history(rt: Runtime, actor: Actor, ent: Entity, record_id: int) -> list[dict[str, Any]]:
    entries = rt.service.history(actor, ent.name, record_id)
    wanted: dict[str, set[int]] = {"_user": set()}
    fields: dict[str, Field] = {}
    for entry in entries:
        wanted["_user"].add(entry["actor_id"])
        for name, pair in entry["changes"].items():
            f = filtering.field_of(ent, name)
            if f is None:
                continue
            fields[name] = f
            kind = "_user" if f.type.name == "user" else f.target
            if kind is None:
                continue
            for value in pair:
                ids = value if isinstance(value, list) else [value]
                wanted.setdefault(kind, set()).update(i for i in ids if isinstance(i, int))
    lookup = _lookup(rt, actor, wanted)
    out = []
    for entry in reversed(entries):  # newest first
        changes = []
        for name, (old, new) in entry["changes"].items():
            f = fields.get(name)
            if f is None:
                continue
            changes.append({"field": f, "old": show(f, from_json(f, old), lookup=lookup),
                            "new": show(f, from_json(f, new), lookup=lookup)})
        out.append({"at": entry["at"], "action": entry["action"], "changes": changes,
                    "actor": lookup("_user", entry["actor_id"]) if entry["actor_id"] else None})
    return out


@bp.route("/<entity>/<int:id>", endpoint="detail")
@login_required
def detail(entity: str, id: int):
    rt, ent, actor = readable(entity)
    visible = visibility(rt, actor, entity)
    sections = _sections(ent, visible)
    shown_fields = [f for s in sections for f in s["fields"]]
    system = [filtering.field_of(ent, n) for n in SYSTEM_COLUMNS if visible(n)]
    record = rt.service.get(actor, entity, id,
                            expand=expandable(rt, actor, [*shown_fields, *system]))
    expanded = record.get("_expand", {})
    # A conditional field (``visible_if``) left empty is one the form did not show either.
    for section in sections:
        section["fields"] = [f for f in section["fields"]
                             if f.visible_if is None or not f.type.is_empty(record.get(f.name))]
    sections = [s for s in sections if s["fields"]]
    values = {f.name: show(f, record.get(f.name), expanded.get(f.name))
              for f in [*shown_fields, *system]}
    display = filtering.field_of(ent, ent.display_field)
    title = values.get(ent.display_field) or (show(display, record.get(display.name))
                                              if display is not None else None)
    can_update = rt.policy.can(actor, entity, "update")
    can_delete = rt.policy.can(actor, entity, "delete")
    return render_template(
        "records/detail.html", entity=ent, record=record, sections=sections, values=values,
        system=system, title=(title.text if title else "") or f"#{id}",
        related=_related(rt, actor, ent, id), history=_history(rt, actor, ent, id),
        edit_url=endpoint_url("records.edit", entity=entity, id=id) if can_update else None,
        delete_url=endpoint_url("records.delete", entity=entity, id=id) if can_delete else None,
        format_at=format_moment)
