"""The record page (``records.detail``): sections, related lists and change history.

Sections follow the entity's ``form_layout`` (fields no section names go last, in an
"Other" section); related lists follow ``entity.inverses``: the first records of
each other entity pointing here, read through ``service.list`` with the actor (so
the policy's scope applies), with a link to the full, filtered list. The history
is ``service.history`` with field labels and values in the current language, and the
cause of each change that was not the user's own request ("by workflow X").
Edit and delete buttons show only when the policy allows them.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _

from engine.automation import approvals
from engine.automation.runs import list_runs, manual_workflows
from engine.filters import kind_of
from engine.model import Entity, Field
from engine.permissions import WRITE, Actor
from engine.records import rights
from web.auth import login_required
from web.records import bp, filtering
from web.records.common import (
    endpoint_url,
    expandable,
    labels_through,
    readable,
    user_labels,
    visibility,
)
from web.records.display import format_moment, from_json, show
from web.records.home import remember
from web.state import Snapshot

#: Records each related list shows before "show all".
RELATED_ROWS = 5
#: Columns each related list shows (after the display field).
RELATED_COLUMNS = 3
#: Workflow runs the record page lists (newest first).
RUNS_SHOWN = 10
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


def _related(rt: Snapshot, actor: Actor, ent: Entity, record_id: int) -> list[dict[str, Any]]:
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
                               with_total=True, expand=expandable(rt, actor, cols, other.name))
        rows = [{"id": r["id"], "cells": [show(f, r.get(f.name), r.get("_expand", {}).get(f.name))
                                          for f in cols]} for r in page.rows]
        # "New" opens the other entity's form with this record already chosen (the form
        # takes prefilled values from its query string); only where the actor may create
        # one and set the link.
        may_link = rt.policy.field_access(actor, other.name, inverse.field) == WRITE
        new_url = (endpoint_url("records.new", entity=other.name, **{inverse.field: record_id})
                   if may_link and rt.policy.can(actor, other.name, "create") else None)
        out.append({"name": inverse.name, "label": inverse.label, "entity": other, "columns": cols,
                    "rows": rows, "total": page.total or 0, "field": inverse.field,
                    "new_url": new_url})
    return out


def _lookup(rt: Snapshot, actor: Actor, wanted: dict[str, set[int]]) -> Any:
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


def _cause_text(cause: dict[str, Any] | None) -> str | None:
    """"by workflow X", "by import Y" ... for a history entry; nothing for a user's own
    request (the entry names the user already) or an entry with no recorded cause."""
    if cause is None or cause["kind"] == "request":
        return None
    name = cause.get("label") or cause.get("id") or ""
    # One message per kind, so each reads naturally in every language.
    phrases = {
        "workflow": lambda: _("by workflow %(name)s", name=name),
        "import": lambda: _("by import %(name)s", name=name),
        "merge": lambda: _("by merge %(name)s", name=name),
        "transfer": lambda: _("by transfer %(name)s", name=name),
        "migration": lambda: _("by migration %(name)s", name=name),
    }
    phrase = phrases.get(cause["kind"])
    return (phrase() if phrase else f"{cause['kind']} {name}").strip()


def _named_through(rt: Snapshot, actor: Actor, ent: Entity, record_id: int,
                   wanted: dict[str, set[int]], lookup: Any) -> Any:
    """``lookup`` completed with the names the record's ``read_through`` relations give."""
    names = labels_through(rt, actor, ent.name, record_id, lambda target, ids: {})
    extra: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        missing = sorted(i for i in ids if lookup(kind, i) is None)
        if missing and kind != "_user":
            extra.update(((kind, i), label) for i, label in names(kind, missing).items())
    if not extra:
        return lookup
    return lambda kind, record_id: lookup(kind, record_id) or extra.get((kind, record_id))


def _history(rt: Snapshot, actor: Actor, ent: Entity, record_id: int) -> list[dict[str, Any]]:
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
            kind = "_user" if f.type.refers_to_users else f.target
            if kind is None:
                continue
            for value in pair:
                ids = value if isinstance(value, list) else [value]
                wanted.setdefault(kind, set()).update(i for i in ids if isinstance(i, int))
    lookup = _named_through(rt, actor, ent, record_id, wanted, _lookup(rt, actor, dict(wanted)))
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
                    "actor": lookup("_user", entry["actor_id"]) if entry["actor_id"] else None,
                    "cause": _cause_text(entry.get("cause"))})
    return out


def _approval(rt: Snapshot, actor: Actor, entity: str, record_id: int) -> dict[str, Any] | None:
    """The record's pending approval, with whether the actor may decide it."""
    pending = approvals.pending_for(rt, entity, record_id)
    if pending is None:
        return None
    users = user_labels(rt, pending["approver_ids"])
    return {**pending, "may_decide": approvals.may_decide(rt, actor, pending),
            "approvers": [users.get(u, str(u)) for u in pending["approver_ids"]]}


@bp.route("/<entity>/<int:id>", endpoint="detail")
@login_required
def detail(entity: str, id: int):
    rt, ent, actor = readable(entity)
    visible = visibility(rt, actor, entity)
    sections = _sections(ent, visible)
    shown_fields = [f for s in sections for f in s["fields"]]
    # A standard column the layout already places (Owner, usually) is not repeated below.
    placed = {f.name for f in shown_fields}
    system = [filtering.field_of(ent, n) for n in SYSTEM_COLUMNS
              if visible(n) and n not in placed]
    record = rt.service.get(actor, entity, id,
                            expand=expandable(rt, actor, [*shown_fields, *system], entity))
    remember(entity, id)  # for the home page's "recently viewed"
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
    # Buttons only where the role allows it on this record (a won deal, a pool customer).
    with rt.db.reads() as conn:  # a team scope's reach is asked of the database
        within = rights.within(rt.policy, conn, actor, rt.tables.entity(entity), id)
        can_update, can_delete = (rt.policy.can(actor, entity, action) and rights.refusal(
            rt.policy, actor, entity, action, record, within) is None
            for action in ("update", "delete"))
    return render_template(
        "records/detail.html", entity=ent, record=record,
        workflows=manual_workflows(rt, actor, entity, record),
        approval=_approval(rt, actor, entity, id),
        runs=list_runs(rt, entity=entity, record_id=id, limit=RUNS_SHOWN), sections=sections, values=values,
        system=system, title=(title.text if title else "") or f"#{id}",
        related=_related(rt, actor, ent, id), history=_history(rt, actor, ent, id),
        edit_url=endpoint_url("records.edit", entity=entity, id=id) if can_update else None,
        delete_url=endpoint_url("records.delete", entity=entity, id=id) if can_delete else None,
        format_at=format_moment)
