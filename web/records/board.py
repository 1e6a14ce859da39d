"""The pipeline board of an entity (``records.board``) and moving a card (``records.board_move``).

An entity whose ``list_view`` declares ``board: {field, sum, card}`` gets a kanban at
``/r/<entity>/board``: one column per option of ``field`` (a select) in declared order,
each with its count and the totals of the ``sum`` fields, and the first
:data:`CARDS_PER_COLUMN` cards (the display field and the ``card`` fields); "show more"
opens the list filtered to that column. The board takes the list's filters (the same
query string, :mod:`web.records.filtering`), and everything is read through the record
service with the actor, so the scope and the field visibility apply.

Counts and totals come from one ``GROUP BY`` (``service.aggregate``), never from rows
summed here; the cards of each column are one ``service.list`` each.

A move is ``service.update(actor, entity, id, {field: value}, version=...)``, posted by
the drag and drop (``static/loom/board.js``, JSON back) or by the "move to" form on each
card (works without JavaScript: a redirect back with a message). A move the engine
refuses changes nothing: the card goes back, with the engine's message. When the only
problems are fields the new column makes required and that the form shows only then
(a lost deal's loss reason, its closing time), the move is finished in the edit form,
opened with the new value preset (``/r/deal/7/edit?stage=lost``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.filters import FilterError
from engine.model import Entity, Field
from engine.permissions import WRITE, Actor
from engine.records.errors import (
    PermissionDenied,
    RecordError,
    RecordNotFound,
    ValidationFailed,
    VersionConflict,
)
from web.auth import login_required, safe_next
from web.i18n import lang, text, time_zone
from web.records import bp, filtering
from web.records.common import (
    actor_or_401,
    entity_or_404,
    expandable,
    readable,
    search_url,
    visibility,
)
from web.records.display import short, show
from web.records.lists import _chosen_labels, _record_id, notice_text
from web.state import Snapshot, runtime_for

#: Cards a column shows; the rest are one click away in the filtered list.
CARDS_PER_COLUMN = 50
#: HTTP statuses of a refused move (JSON answers).
REFUSED, CONFLICT, FORBIDDEN, GONE = 422, 409, 403, 404


def board_of(ent: Entity) -> Mapping[str, Any]:
    """The entity's declared board (404 when it declares none)."""
    board = ent.list_view.get("board")
    if not board:
        abort(404, description=_("%(entity)s has no board.", entity=text(ent.label)))
    return board


def _parts(ent: Entity, board: Mapping[str, Any], visible: Any) -> tuple[Field, list[Field],
                                                                        list[Field]]:
    """The board's field (404 if the actor may not see it), its totals and its card fields."""
    field = ent.field(board["field"])
    if not visible(field.name):
        abort(404, description=_("%(entity)s has no board.", entity=text(ent.label)))
    sums = [ent.field(n) for n in board.get("sum", ()) if visible(n)]
    names = [ent.display_field, *board.get("card", ())]
    cards = [f for n in dict.fromkeys(names)
             if n != field.name and (f := filtering.field_of(ent, n)) is not None and visible(n)]
    return field, sums, cards


def _and(*parts: Any) -> Any:
    found = [p for p in parts if p]
    return {"and": found} if found else None


def _figures(rt: Snapshot, actor: Actor, entity: str, field: Field, sums: list[Field],
             where: Any) -> dict[Any, dict[str, Any]]:
    """``{option value: {"count", "totals": [Shown]}}`` from one GROUP BY."""
    groups = rt.service.aggregate(actor, entity, group_by=[field.name],
                                  metrics=["count", *(f"sum:{f.name}" for f in sums)],
                                  filters=where)
    out = {}
    for row in groups.rows:
        out[row[field.name]] = {
            "count": row["count"],
            "totals": [show(f, Decimal(str(row[f"sum_{f.name}"])))
                       if row[f"sum_{f.name}"] is not None else show(f, Decimal(0))
                       for f in sums]}
    return out


def _columns(rt: Snapshot, actor: Actor, ent: Entity, field: Field, sums: list[Field],
             cards: list[Field], where: Any, args: MultiDict) -> list[dict[str, Any]]:
    figures = _figures(rt, actor, ent.name, field, sums, where)
    expand = expandable(rt, actor, cards, ent.name)
    sort = list(ent.list_view.get("sort", ()))
    columns = []
    for option in field.options:
        found = figures.get(option.value, {})
        count = found.get("count", 0)
        rows = []
        if count:
            page = rt.service.list(actor, ent.name, filter=_and(
                where, {"field": field.name, "op": "eq", "value": option.value}),
                sort=sort, limit=CARDS_PER_COLUMN, expand=expand)
            rows = [{"id": r["id"], "version": r["version"],
                     "fields": [(f, short(show(f, r.get(f.name), r.get("_expand", {}).get(f.name))))
                                for f in cards]}
                    for r in page.rows]
        more = dict(args.lists())
        more[filtering.FILTER_PREFIX + field.name] = [option.value]
        more.pop("page", None)
        columns.append({
            "value": option.value, "label": option.label, "color": option.color,
            "count": count, "cards": rows, "more": count > len(rows),
            "totals": found.get("totals") or [show(f, Decimal(0)) for f in sums],
            "more_url": url_for("records.list", entity=ent.name, **more)})
    return columns


#: Notices of the list's paging and sorting, which a board (no pages, cards in the list's
#: order) does not use: a list URL opened as a board says nothing about them.
LIST_ONLY_NOTICES = frozenset({"bad_page", "bad_per_page", "page_beyond", "unknown_sort",
                               "unsortable"})


def _board_query(ent: Entity, args: MultiDict, visible: Any) -> tuple[Any, list[str]]:
    query = filtering.parse(ent, args, visible, time_zone())
    return query, [notice_text(ent, n) for n in query.notices if n.code not in LIST_ONLY_NOTICES]


@bp.route("/<entity>/board", endpoint="board")
@login_required
def board_page(entity: str):
    rt, ent, actor = readable(entity)
    board = board_of(ent)
    visible = visibility(rt, actor, entity)
    field, sums, cards = _parts(ent, board, visible)
    query, notices = _board_query(ent, request.args, visible)
    try:
        columns = _columns(rt, actor, ent, field, sums, cards, query.filter, request.args)
    except FilterError:
        notices.append(notice_text(ent, filtering.Notice("filter_failed", {})))
        columns = _columns(rt, actor, ent, field, sums, cards, None, MultiDict())
    can_move = (rt.policy.can(actor, entity, "update")
                and rt.policy.field_access(actor, entity, field.name) == WRITE)
    filters = filtering.filter_fields(ent, visible, query.values)
    return render_template(
        "records/board.html", entity=ent, field=field, sums=sums, columns=columns,
        can_move=can_move, notices=notices, query=query, filters=filters,
        widget_of=filtering.widget_of, search_url=search_url,
        chosen=_chosen_labels(rt, actor, filters, query.values),
        cap=CARDS_PER_COLUMN, here=request.full_path.rstrip("?"))


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) \
        == "application/json"


def _label_of(ent: Entity, name: str | None) -> str | None:
    f = filtering.field_of(ent, name) if name else None
    return text(f.label) if f is not None else None


def _messages(ent: Entity, error: RecordError) -> list[str]:
    """What the engine said, in the user's language, each field named by its label."""
    if isinstance(error, ValidationFailed):
        out = []
        for e in error.errors:
            label = _label_of(ent, e.field)
            message = e.message.get(lang())
            out.append(f"{label}: {message}" if label else message)
        return out
    message = getattr(error, "message", None)
    return [message.get(lang()) if message is not None else str(error)]


def _finish_in_form(ent: Entity, error: RecordError) -> bool:
    """Are the only problems fields the move makes required and the form shows only then
    (``visible_if``: a lost deal's loss reason, a closed deal's closing time)?"""
    if not isinstance(error, ValidationFailed) or not error.errors:
        return False
    for e in error.errors:
        f = filtering.field_of(ent, e.field) if e.field else None
        if e.code != "required" or f is None or f.visible_if is None:
            return False
    return True


def _status(error: RecordError) -> int:
    if isinstance(error, VersionConflict):
        return CONFLICT
    if isinstance(error, PermissionDenied):
        return FORBIDDEN
    if isinstance(error, RecordNotFound):
        return GONE
    return REFUSED


def _filters_of(back: str) -> MultiDict:
    """The board's query string inside ``back`` (its URL), to total the columns again."""
    return MultiDict(parse_qsl(urlsplit(back).query))


@bp.route("/<entity>/board/move", methods=["POST"], endpoint="board_move")
@login_required
def board_move(entity: str):
    """Move one card: set the board field of record ``id`` (at ``version``) to ``value``."""
    rt = runtime_for(entity)
    ent = entity_or_404(rt, entity)
    actor = actor_or_401()
    board = board_of(ent)
    if not rt.policy.can(actor, entity, "update"):
        error = PermissionDenied(entity, "update")
        if _wants_json():
            return jsonify(ok=False, messages=_messages(ent, error)), FORBIDDEN
        raise error
    visible = visibility(rt, actor, entity)
    field, sums, _cards = _parts(ent, board, visible)
    back = safe_next(request.form.get("next"), url_for("records.board", entity=entity))
    record_id = _record_id(request.form.get("id", ""))
    value = request.form.get("value", "")
    version = request.form.get("version", "")
    if record_id is None or value not in field.option_values:
        problem = _("Choose a column to move the card to.")
        if _wants_json():
            return jsonify(ok=False, messages=[problem]), REFUSED
        flash(problem, "warning")
        return redirect(back, 303)
    try:
        saved = rt.service.update(actor, entity, record_id, {field.name: value},
                                  version=int(version) if version.isdigit() else None)
    except RecordError as error:
        edit_url = None
        if _finish_in_form(ent, error):
            edit_url = url_for("records.edit", entity=entity, id=record_id, **{field.name: value})
        messages = _messages(ent, error)
        if _wants_json():
            return jsonify(ok=False, messages=messages, edit_url=edit_url), _status(error)
        if edit_url:
            flash(_("Complete the fields this move needs, then save."), "info")
            return redirect(edit_url, 303)
        for message in messages:
            flash(message, "danger")
        return redirect(back, 303)
    option = next(o for o in field.options if o.value == value)
    done = _("Moved to %(column)s.", column=text(option.label))
    warnings = [w.message.get(lang()) for w in saved.get("_warnings") or ()]
    if not _wants_json():
        flash(done, "success")
        for warning in warnings:
            flash(warning, "warning")
        return redirect(back, 303)
    query = filtering.parse(ent, _filters_of(back), visible, time_zone())
    try:
        figures = _figures(rt, actor, entity, field, sums, query.filter)
    except FilterError:
        figures = _figures(rt, actor, entity, field, sums, None)
    columns = {o.value: {"count": figures.get(o.value, {}).get("count", 0),
                         "totals": [t.text for t in figures.get(o.value, {}).get(
                             "totals", [show(f, Decimal(0)) for f in sums])]}
               for o in field.options}
    return jsonify(ok=True, version=saved["version"], message=done, warnings=warnings,
                   columns=columns)
