"""Typeahead lookups for relation and user widgets: ``[{"id", "label"}]`` as JSON.

``records.search`` (``/r/<entity>/search?q=&limit=``) returns records the actor may
read whose display field contains ``q`` (through ``service.list``, so the policy's
scope applies); ``records.user_search`` (``/r/_users/search?q=``) returns active users
for user fields; ``records.owner_search`` (``/r/<entity>/owners?q=``) returns only
the active users the actor may give a record of that entity to (the owner pickers).
Pages' session only: these are UI helpers, the
REST API is the programs' way in.
"""

from __future__ import annotations

from flask import jsonify, request

from engine import accounts
from engine.filters import kind_of
from web.auth import login_required
from web.records import bp
from web.records.common import actor_or_401, assignable_users, readable, visibility
from web.records.display import show
from web.records.filtering import field_of
from web.state import runtime

#: Results a lookup returns when the caller does not say, and at most.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _limit() -> int:
    try:
        value = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        value = DEFAULT_LIMIT
    return min(max(value, 1), MAX_LIMIT)


@bp.route("/_users/search", endpoint="user_search")
@login_required
def user_search():
    rt = runtime()
    actor_or_401()
    users = accounts.search_users(rt.db, rt.tables, request.args.get("q") or "", _limit())
    return jsonify([{"id": u["id"], "label": u["label"]} for u in users])


@bp.route("/<entity>/owners", endpoint="owner_search")
@login_required
def owner_search(entity: str):
    rt, _, actor = readable(entity)
    users = assignable_users(rt, actor, entity, request.args.get("q") or "", _limit())
    return jsonify([{"id": u["id"], "label": u["label"]} for u in users])


@bp.route("/<entity>/search", endpoint="search")
@login_required
def record_search(entity: str):
    rt, ent, actor = readable(entity)
    q = (request.args.get("q") or "").strip()
    display = field_of(ent, ent.display_field)
    visible = visibility(rt, actor, entity)
    shows_display = display is not None and visible(display.name) and display.stored
    conditions = []
    if q:
        if shows_display and kind_of(display) == "string":
            conditions.append({"field": display.name, "op": "contains", "value": q})
        elif q.isdigit():
            conditions.append({"field": "id", "op": "eq", "value": q})
        else:
            return jsonify([])
    sort = [display.name] if shows_display and display.name != "id" else ["id"]
    fields = ["id", display.name] if shows_display and display.name != "id" else ["id"]
    page = rt.service.list(actor, entity, filter=conditions or None, sort=sort, limit=_limit(),
                           fields=fields)
    out = []
    for record in page.rows:
        label = show(display, record.get(display.name)).text if shows_display else ""
        out.append({"id": record["id"], "label": label or f"#{record['id']}"})
    return jsonify(out)
