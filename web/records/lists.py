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

from engine.automation.runs import WorkflowRefused, manual_workflows, start_manual
from engine.filters import FilterError
from engine.model import Entity, Field
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
    args = request.args.to_dict(flat=False)
    query = filtering.parse(ent, request.args, visible, time_zone())
    cols = filtering.columns(ent, visible)
    notices = list(query.notices)
    expand = expandable(rt, actor, cols, entity)

    def fetch(q: filtering.ListQuery, where: Any) -> Any:
        return rt.service.list(actor, entity, filter=where, sort=q.sort, limit=q.per_page,
                               offset=q.offset, with_total=True, expand=expand)

    where = query.filter
    try:
        page = fetch(query, where)
    except FilterError:
        notices.append(filtering.Notice("filter_failed", {}))
        where = None
        query = query.on_page(1)
        page = fetch(query, where)
    total = page.total or 0
    pages = max(1, -(-total // query.per_page))
    if query.page > pages:  # past the end (a stale link, fewer records now): the last page
        notices.append(filtering.Notice("page_beyond", {"page": query.page, "pages": pages}))
        query = query.on_page(pages)
        page = fetch(query, where)
        total = page.total or 0
        pages = max(1, -(-total // query.per_page))
    rows = [{"id": r["id"],
             "cells": [short(show(f, r.get(f.name), r.get("_expand", {}).get(f.name)))
                       for f in cols]}
            for r in page.rows]
    context = {
        "entity": ent, "columns": cols, "rows": rows, "total": total, "query": query,
        "pages": pages, "notices": [notice_text(ent, n) for n in notices],
        "filters": filtering.filter_fields(ent, visible, query.values),
        "widget_of": filtering.widget_of, "sortable": filtering.sortable,
        "page_sizes": filtering.page_sizes(ent), "args": args,
        "sort_arg": request.args.get("sort", ""),
        "new_url": endpoint_url("records.new", entity=entity)
        if rt.policy.can(actor, entity, "create") else None,
        "can_update": rt.policy.can(actor, entity, "update") and visible("owner"),
        "can_delete": rt.policy.can(actor, entity, "delete"),
        "url_with": _url_with,
    }
    context["users"] = assignable_users(rt, actor, entity) if context["can_update"] else []
    context["bulk_workflows"] = manual_workflows(rt, actor, entity, None, bulk=True)
    context["chosen"] = _chosen_labels(rt, actor, context["filters"], query.values)
    context["search_url"] = search_url
    template = "records/_table.html" if request.headers.get("HX-Request") else "records/list.html"
    return render_template(template, **context)


def notice_text(entity: Entity, notice: filtering.Notice) -> str:
    """What a :class:`filtering.Notice` tells the user, in their language."""
    p = dict(notice.params)
    if "field" in p:
        f = filtering.field_of(entity, p["field"])
        p["label"] = f.label.get(lang()) if f is not None else p["field"]
    messages = {
        "unknown_sort": lambda: _("The list can't be sorted by “%(given)s”: there is no such "
                                  "column. It is shown in its usual order.", given=p["given"]),
        "unsortable": lambda: _("The list can't be sorted by %(label)s. It is shown in its "
                                "usual order.", label=p["label"]),
        "bad_page": lambda: _("“%(given)s” is not a page number; showing page 1.",
                              given=p["given"]),
        "bad_per_page": lambda: _("“%(given)s” is not a number of records per page; showing "
                                  "%(size)d per page.", given=p["given"], size=p["default"]),
        "page_beyond": lambda: _("There is no page %(page)d: the list has %(pages)d. Showing "
                                 "the last page.", page=p["page"], pages=p["pages"]),
        "swapped": lambda: _("%(label)s: the range was given the wrong way round, so it is "
                             "read as from %(low)s to %(high)s.", label=p["label"],
                             low=p["low"], high=p["high"]),
        "unknown_choice": lambda: _("%(label)s has no choice “%(value)s”; it is ignored.",
                                    label=p["label"], value=p["value"]),
        "bad_number": lambda: _("%(label)s: “%(value)s” is not a number; it is ignored.",
                                label=p["label"], value=p["value"]),
        "bad_date": lambda: _("%(label)s: “%(value)s” is not a date (YYYY-MM-DD); it is "
                              "ignored.", label=p["label"], value=p["value"]),
        "bad_id": lambda: _("%(label)s: “%(value)s” is not a record to filter by; it is "
                            "ignored.", label=p["label"], value=p["value"]),
        "filter_failed": lambda: _("The filters could not be applied, so every record is "
                                   "shown. Change or clear them."),
    }
    return messages[notice.code]()


def _url_with(**changes: Any) -> str:
    """This list's URL with some parameters changed (``None`` removes one); repeated
    parameters (several choices of a filter) are kept."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [value]
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


def _bulk_workflow(rt, actor, entity: str, name: str, ids: list[int], back: str):  # noqa: ANN001, ANN202
    """Run a manual workflow offered on lists on each selected record (a run each)."""
    if name not in {w.name for w in manual_workflows(rt, actor, entity, None, bulk=True)}:
        flash(_("Choose an action."), "warning")
        return redirect(back, 303)
    done = 0
    for record_id in ids:
        try:
            outcome = start_manual(rt, actor, name, entity, record_id)
        except (WorkflowRefused, RecordError) as error:
            flash(_("Record #%(id)d: %(message)s", id=record_id, message=_message(error)),
                  "danger")
            continue
        if outcome.status == "succeeded":
            done += 1
        elif outcome.status == "failed":
            flash(_("Record #%(id)d: %(message)s", id=record_id, message=outcome.error or ""),
                  "danger")
    if done:
        flash(ngettext("The workflow ran on %(num)d record.",
                       "The workflow ran on %(num)d records.", done), "success")
    return redirect(back, 303)


@bp.route("/<entity>/bulk", methods=["POST"], endpoint="bulk")
@login_required
def bulk(entity: str):
    """Transfer the selected records to another owner, or delete them (per record)."""
    rt = runtime()
    entity_or_404(rt, entity)
    actor = actor_or_401()
    action = request.form.get("action", "")
    back = safe_next(request.form.get("next"), url_for("records.list", entity=entity))
    workflow = action.partition(":")[2] if action.startswith("workflow:") else None
    if action not in BULK_ACTIONS and workflow is None:
        flash(_("Choose an action."), "warning")
        return redirect(back, 303)
    ids = _ids(request.form.getlist("ids"))
    if not ids:
        flash(_("Select at least one record."), "warning")
        return redirect(back, 303)
    if workflow is not None:
        return _bulk_workflow(rt, actor, entity, workflow, ids, back)
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
