"""The welcome page after login (``records.home``, ``/r/``) and the recently viewed records.

Three panels, each read through the record service with the actor (scope and field
visibility apply), each left out when the model or the role has nothing for it:

- the actor's own open deals (:data:`OPEN_DEALS`), soonest expected close first;
- the actor's activities not done and due today or earlier: "today" is the day in the
  user's time zone (:func:`web.i18n.time_zone`), overdue ones first;
- the records the user opened last, newest first.

Recently viewed records are kept in the user's session (:data:`RECENT_KEY`, at most
:data:`RECENT_MAX` ``[entity, id]`` pairs), not in a table: they are a convenience of
one browser session, cost no write per page view, and leave with the session. Their
labels are read again on each visit, so a record deleted or out of sight since is
simply not listed.

The reports issue replaces the centre of this page with the role's dashboard; the
panels name the shipped CRM's entities in :data:`OPEN_DEALS` and :data:`ACTIVITIES`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import render_template, session, url_for

from engine.clock import day_start
from engine.permissions import HIDDEN, Actor
from engine.records.errors import RecordError
from web.auth import login_required
from web.i18n import time_zone
from web.records import bp, filtering
from web.records.common import actor_or_401, expandable, labels_for, visibility
from web.records.display import short, show
from web.state import Snapshot, runtime

#: Session key of the recently viewed records, and how many are kept.
RECENT_KEY = "loom.recent"
RECENT_MAX = 8
#: Rows each panel shows (the panel links to the full list).
PANEL_ROWS = 10


@dataclass(frozen=True)
class OpenRecords:
    """Records of ``entity`` owned by the actor whose ``field`` is none of ``closed``."""

    entity: str
    field: str
    closed: tuple[str, ...]
    sort: tuple[str, ...]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class DueRecords:
    """Records of ``entity`` owned by the actor, not ``done``, due (``due``) by today."""

    entity: str
    due: str
    done: str
    columns: tuple[str, ...]


OPEN_DEALS = OpenRecords("deal", "stage", ("won", "lost"), ("expected_close_date", "-amount"),
                         ("account", "stage", "amount", "expected_close_date"))
ACTIVITIES = DueRecords("activity", "due_at", "done", ("kind", "account", "due_at"))


def remember(entity: str, record_id: int) -> None:
    """Put ``entity`` #``record_id`` first among the session's recently viewed records."""
    recent = [pair for pair in session.get(RECENT_KEY, [])
              if isinstance(pair, list) and pair != [entity, record_id]]
    session[RECENT_KEY] = [[entity, record_id], *recent][:RECENT_MAX]


def _usable(rt: Snapshot, actor: Actor, entity: str, names: tuple[str, ...]) -> bool:
    if not rt.model.has_entity(entity) or not rt.policy.can(actor, entity, "read"):
        return False
    ent = rt.model.entity(entity)
    return all(filtering.field_of(ent, n) is not None
               and rt.policy.field_access(actor, entity, n) != HIDDEN for n in names)


def _rows(rt: Snapshot, actor: Actor, entity: str, columns: tuple[str, ...], where: Any,
          sort: Any) -> dict[str, Any]:
    ent = rt.model.entity(entity)
    visible = visibility(rt, actor, entity)
    cols = [f for n in columns if (f := filtering.field_of(ent, n)) is not None and visible(n)]
    display = filtering.field_of(ent, ent.display_field)
    page = rt.service.list(actor, entity, filter=where, sort=list(sort), limit=PANEL_ROWS,
                           with_total=True, expand=expandable(rt, actor, cols, entity))
    rows = [{"id": r["id"], "record": r,
             "title": (show(display, r.get(display.name)).text if display else "") or f"#{r['id']}",
             "cells": [short(show(f, r.get(f.name), r.get("_expand", {}).get(f.name)))
                       for f in cols]} for r in page.rows]
    return {"entity": ent, "columns": cols, "rows": rows, "total": page.total or 0}


def _open_deals(rt: Snapshot, actor: Actor) -> dict[str, Any] | None:
    spec = OPEN_DEALS
    if not _usable(rt, actor, spec.entity, (spec.field, "owner")):
        return None
    where = {"and": [{"field": "owner", "op": "eq", "value": actor.user_id},
                     {"field": spec.field, "op": "not_in", "value": list(spec.closed)}]}
    panel = _rows(rt, actor, spec.entity, spec.columns, where, spec.sort)
    field = rt.model.entity(spec.entity).field(spec.field)
    open_values = [o.value for o in field.options if o.value not in spec.closed]
    panel["all_url"] = url_for("records.list", entity=spec.entity,
                               **{"f.owner": actor.user_id, f"f.{spec.field}": open_values})
    return panel


def _activities(rt: Snapshot, actor: Actor, now: dt.datetime) -> dict[str, Any] | None:
    spec = ACTIVITIES
    if not _usable(rt, actor, spec.entity, (spec.due, spec.done, "owner")):
        return None
    zone = time_zone()
    today = now.astimezone(zone).date()
    starts, ends = day_start(today, zone), day_start(today + dt.timedelta(days=1), zone)
    where = {"and": [{"field": "owner", "op": "eq", "value": actor.user_id},
                     {"field": spec.done, "op": "eq", "value": False},
                     {"field": spec.due, "op": "lt", "value": ends.isoformat()}]}
    panel = _rows(rt, actor, spec.entity, spec.columns, where, (spec.due,))
    for row in panel["rows"]:  # overdue: due before today began in the user's zone
        moment = row["record"].get(spec.due)
        row["overdue"] = moment is not None and moment < starts
    panel["today"] = today
    panel["all_url"] = url_for("records.list", entity=spec.entity,
                               **{"f.owner": actor.user_id, f"f.{spec.done}": "false",
                                  f"f.{spec.due}.to": today.isoformat()})
    return panel


def _recent(rt: Snapshot, actor: Actor) -> list[dict[str, Any]]:
    pairs = [p for p in session.get(RECENT_KEY, []) if isinstance(p, list) and len(p) == 2]
    labels = labels_for(rt, actor)
    wanted: dict[str, list[int]] = {}
    for entity, record_id in pairs:
        if isinstance(entity, str) and isinstance(record_id, int) and rt.model.has_entity(entity):
            wanted.setdefault(entity, []).append(record_id)
    found: dict[tuple[str, int], str] = {}
    for entity, ids in wanted.items():
        try:
            found.update(((entity, i), label) for i, label in labels(entity, ids).items())
        except RecordError:
            continue
    out = []
    for entity, record_id in pairs:
        label = found.get((entity, record_id))
        if label is not None:
            out.append({"entity": rt.model.entity(entity), "id": record_id, "label": label})
    return out


@bp.route("/", endpoint="home")
@login_required
def home():
    """The welcome page: my open deals, my activities due, recently viewed records."""
    rt = runtime()
    actor = actor_or_401()
    return render_template("records/home.html", deals=_open_deals(rt, actor),
                           activities=_activities(rt, actor, rt.clock.now()),
                           recent=_recent(rt, actor))
