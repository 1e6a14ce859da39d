"""CSV export of a list: the rows the list page shows, every visible field, streamed.

``GET /r/<entity>/export.csv`` takes the list page's query string (filters, quick
search, sort) and reads through the record service in keyset pages, so the actor's
scope and hidden fields apply exactly as on the page. Values are what people read for
choices, relations and users (labels, names) and plain machine forms for numbers and
dates (``1200.50``, ``2026-11-23``), so a spreadsheet can compute with them. Text that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) gets a
leading ``'``. The file starts with a UTF-8 byte order mark so spreadsheet programs read
Chinese text correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, flash, redirect, request, stream_with_context, url_for
from flask_babel import gettext as _

from engine.filters import FilterError
from engine.model import Entity, Field
from engine.permissions import Actor
from web.auth import login_required
from web.i18n import text, time_zone
from web.records import bp, filtering
from web.records.common import expandable, readable, visibility
from web.records.display import PLAIN_DISPLAYS, show, value_type
from web.records.lists import notice_text
from web.state import Snapshot

#: Most rows one export gives; a larger list must be narrowed first.
MAX_EXPORT_ROWS = 100_000
#: Rows read per service call.
EXPORT_CHUNK = 1000
#: Standard columns exported after the entity's fields.
STANDARD_COLUMNS = ("owner", "created_at", "updated_at")
#: First characters that make a spreadsheet treat a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_columns(entity: Entity, visible: Any) -> list[Field]:
    """Every field the actor may see (JSON documents left out), then owner and timestamps."""
    out = [f for f in entity.fields if visible(f.name) and value_type(f).display != "json"]
    out += [f for name in STANDARD_COLUMNS
            if visible(name) and (f := filtering.field_of(entity, name)) is not None]
    return out


def cell(field: Field, value: Any, json_value: Any, expanded: Any) -> str:
    """One CSV cell: plain numbers and dates, labels for the rest, formulas defused."""
    if value is None or value == [] or value == "":
        return ""
    if value_type(field).display in PLAIN_DISPLAYS:
        return str(json_value)
    return _defused(show(field, value, expanded).text)


def _defused(shown: str) -> str:
    """``shown`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    return "'" + shown if shown.lstrip(" ").startswith(FORMULA_START) else shown


def _rows(rt: Snapshot, actor: Actor, entity: str, columns: list[Field],
          query: filtering.ListQuery) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", *(_defused(text(f.label)) for f in columns)])
    yield "\ufeff" + out.getvalue()
    expand = expandable(rt, actor, columns, entity)
    after = None
    while True:
        page = rt.service.list(actor, entity, filter=query.filter, sort=query.sort,
                               limit=EXPORT_CHUNK, after=after, expand=expand)
        out.seek(0)
        out.truncate()
        for record in page.rows:
            as_json = rt.service.to_json(entity, record)
            expanded = record.get("_expand", {})
            writer.writerow([record["id"], *(cell(f, record.get(f.name), as_json.get(f.name),
                                                  expanded.get(f.name)) for f in columns)])
        yield out.getvalue()
        after = page.next_after
        if after is None:
            return


@bp.route("/<entity>/export.csv", endpoint="export")
@login_required
def export(entity: str):  # noqa: ANN201
    rt, ent, actor = readable(entity)
    visible = visibility(rt, actor, entity)
    query = filtering.parse(ent, request.args, visible, time_zone())
    back = url_for("records.list", entity=entity)
    if request.query_string:
        back += "?" + request.query_string.decode("ascii", "replace")
    dropped = [n for n in query.notices if n.code in filtering.DROPPED_FILTERS]
    if dropped:  # never export more rows than the filters the user sees ask for
        flash(_("Export failed: %(problem)s",
                problem=" ".join(notice_text(ent, n) for n in dropped)), "danger")
        return redirect(back)
    try:
        total = rt.service.list(actor, entity, filter=query.filter, sort=query.sort, limit=1,
                                with_total=True).total or 0
    except FilterError as error:
        flash(_("Export failed: %(problem)s", problem="; ".join(error.problems)), "danger")
        return redirect(back)
    if total > MAX_EXPORT_ROWS:
        flash(_("%(count)s records match; an export takes at most %(limit)s. Narrow the filter.",
                count=total, limit=MAX_EXPORT_ROWS), "warning")
        return redirect(back)
    columns = export_columns(ent, visible)
    name = f"{entity}-{rt.clock.now().astimezone(time_zone()).strftime('%Y%m%d-%H%M')}.csv"
    body = stream_with_context(_rows(rt, actor, entity, columns, query))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
