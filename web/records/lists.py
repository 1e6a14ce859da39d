"""The list page of every entity (``records.list``) and its bulk actions (``records.bulk``).

Columns, default sort, filters, quick-search fields and page size come from the
entity's ``list_view``; the rows from ``service.list`` with the actor, so a list
shows exactly the records and fields the policy lets the actor read. An htmx request
(``HX-Request``) gets the table alone, for in-place reloads.

Bulk actions are the engine's use cases (:mod:`engine.records.bulk_actions`: one
transaction per batch, each record on its own within it): a record the actor may not
change is reported, the others are done (per record, not all-or-nothing: a user who
selected 40 rows wants the 38 allowed ones changed).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from engine.filters import FilterError
from engine.model import Field
from engine.permissions import Actor
from engine.records import bulk_actions
from engine.records.errors import RecordError, ValidationFailed
from web.auth import login_required, safe_next
from web.forms.widget_base import USERS
from web.i18n import lang, time_zone
from web.records import bp, filtering
from web.records.common import (
    actor_or_401,
    assignable_users,
    endpoint_url,
    entity_or_404,
    expandable,
    labels_for,
    readable,
    search_url,
    visibility,
)
from web.records.display import short, show
from web.state import Snapshot, runtime

#: Bulk actions the list offers.
BULK_ACTIONS = ("transfer", "delete")
#: Largest record id (a BIGINT) and its number of digits.
MAX_RECORD_ID = 2 ** 63 - 1
MAX_ID_DIGITS = len(str(MAX_RECORD_ID))
#: Most records one bulk request may name.
MAX_BULK_IDS = 1000


def _record_id(text: str) -> int | None:
    """``text`` as a record id (1 to 2**63 - 1, ASCII digits only), else None."""
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS):
        return None
    value = int(text)
    return value if 0 < value <= MAX_RECORD_ID else None


def _chosen_labels(rt: Snapshot, actor: Actor, fields: list[Field],
                   values: dict[str, str]) -> dict[str, str]:
    """Labels of the records (or users) chosen in relation filters, by filter parameter.

    A value that is not an id, or a record the actor can't read, keeps its text as given.
    """
    labels = labels_for(rt, actor)
    out = {}
    for f in fields:
        if filtering.widget_of(f) not in ("relation", "relations", "user"):
            continue
        key = filtering.FILTER_PREFIX + f.name
        given = values.get(key, "").strip()
        if not given:
            continue
        target = USERS if filtering.widget_of(f) == "user" else (f.target or "")
        record_id = _record_id(given)
        try:
            found = labels(target, [record_id]) if record_id is not None else {}
        except FilterError:
            found = {}
        out[key] = found.get(record_id, given)
    return out


@bp.route("/<entity>", endpoint="list")
@login_required
def list_page(entity: str):
    rt, ent, actor = readable(entity)
    visible = visibility(rt, actor, entity)
    args = request.args.to_dict(flat=True)
    query = filtering.parse(ent, args, visible, time_zone())
    cols = filtering.columns(ent, visible)
    problems: list[str] = []
    try:
        page = rt.service.list(actor, entity, filter=query.filter, sort=query.sort,
                               limit=query.per_page, offset=query.offset, with_total=True,
                               expand=expandable(rt, actor, cols, entity))
    except FilterError as error:
        problems = list(error.problems)
        page = rt.service.list(actor, entity, sort=list(ent.list_view.get("sort", ())),
                               limit=query.per_page, with_total=True,
                               expand=expandable(rt, actor, cols, entity))
    rows = [{"id": r["id"],
             "cells": [short(show(f, r.get(f.name), r.get("_expand", {}).get(f.name)))
                       for f in cols]}
            for r in page.rows]
    total = page.total or 0
    pages = max(1, -(-total // query.per_page))
    context = {
        "entity": ent, "columns": cols, "rows": rows, "total": total, "query": query,
        "pages": pages, "problems": problems,
        "filters": filtering.filter_fields(ent, visible, query.values),
        "widget_of": filtering.widget_of, "sortable": filtering.sortable,
        "page_sizes": filtering.page_sizes(ent), "args": args,
        "new_url": endpoint_url("records.new", entity=entity)
        if rt.policy.can(actor, entity, "create") else None,
        "can_update": rt.policy.can(actor, entity, "update") and visible("owner"),
        "can_delete": rt.policy.can(actor, entity, "delete"),
        "url_with": _url_with,
    }
    context["users"] = assignable_users(rt, actor, entity) if context["can_update"] else []
    context["chosen"] = _chosen_labels(rt, actor, context["filters"], query.values)
    context["search_url"] = search_url
    template = "records/_table.html" if request.headers.get("HX-Request") else "records/list.html"
    return render_template(template, **context)


def _url_with(**changes: Any) -> str:
    """This list's URL with some parameters changed (``None`` removes one)."""
    args = request.args.to_dict(flat=True)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for("records.list", entity=request.view_args["entity"], **args)


def _ids(values: list[str]) -> list[int]:
    out = []
    for value in values[:MAX_BULK_IDS]:
        try:
            out.append(int(value))
        except ValueError:
            continue
    return list(dict.fromkeys(out))


def _message(error: RecordError) -> str:
    if isinstance(error, ValidationFailed):
        return "; ".join(e.message.get(lang()) for e in error.errors)
    message = getattr(error, "message", None)
    return message.get(lang()) if message is not None else str(error)


@bp.route("/<entity>/bulk", methods=["POST"], endpoint="bulk")
@login_required
def bulk(entity: str):
    """Transfer the selected records to another owner, or delete them (per record)."""
    rt = runtime()
    entity_or_404(rt, entity)
    actor = actor_or_401()
    action = request.form.get("action", "")
    back = safe_next(request.form.get("next"), url_for("records.list", entity=entity))
    if action not in BULK_ACTIONS:
        flash(_("Choose an action."), "warning")
        return redirect(back, 303)
    ids = _ids(request.form.getlist("ids"))
    if not ids:
        flash(_("Select at least one record."), "warning")
        return redirect(back, 303)
    owner = None
    if action == "transfer":
        try:
            owner = int(request.form.get("owner", ""))
        except ValueError:
            flash(_("Choose the new owner."), "warning")
            return redirect(back, 303)
    if action == "delete":
        result = bulk_actions.delete_many(rt.service, actor, entity, ids)
    else:
        result = bulk_actions.transfer_owner(rt.service, actor, entity, ids, owner)
    done = len(result.done)
    failed = [(record_id, _message(error)) for record_id, error in result.failed]
    if done:
        if action == "delete":
            flash(ngettext("Deleted %(num)d record.", "Deleted %(num)d records.", done), "success")
        else:
            flash(ngettext("Transferred %(num)d record.", "Transferred %(num)d records.", done),
                  "success")
    for record_id, message in failed:
        flash(_("Record #%(id)d: %(message)s", id=record_id, message=message), "danger")
    return redirect(back, 303)
