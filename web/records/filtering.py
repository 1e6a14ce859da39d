"""List page query strings -> the engine's structured filters, sorts and pages.

A list URL carries ``q`` (quick search), ``sort`` (``-close_date``), ``page``,
``per_page`` and one parameter per filter: ``f.<field>`` for a value, and
``f.<field>.from`` / ``f.<field>.to`` for a range. Each field type has one filter
widget kind, its ``list_filter`` (formulas use their result type's); this module turns
the parameters into ``{"and": [...]}`` and leaves every check of field names and
values to :mod:`engine.filters` (which raises ``FilterError`` naming the problem).

No Flask request access and no database here: the view passes the query args in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from engine.clock import day_start
from engine.fields.standard import STANDARD_FIELDS
from engine.filters import kind_of
from engine.model import Entity, Field
from web.records.display import value_type

#: Query parameter prefix of a filter, and the suffixes of a range's ends.
FILTER_PREFIX = "f."
RANGE_FROM, RANGE_TO = ".from", ".to"
#: Page sizes the list offers; the entity's ``list_view.page_size`` is added.
PAGE_SIZES = (25, 50, 100, 200)
#: Page size when the entity declares none.
DEFAULT_PAGE_SIZE = 50
#: Largest page a list page shows.
MAX_PAGE_SIZE = 500
#: Columns a list shows when the entity declares none: the display field and this many more.
FALLBACK_COLUMNS = 5
#: Operator families a list can sort by (lists, JSON and the like are not ordered).
SORTABLE_KINDS = frozenset({"bool", "int", "double", "string", "timestamp"})

def field_of(entity: Entity, name: str) -> Field | None:
    """The field or standard column called ``name`` (None when there is none)."""
    if entity.has_field(name):
        return entity.field(name)
    return STANDARD_FIELDS.get(name)


#: The filter kinds lists know (``records/_filter.html`` renders each, and this module
#: turns each into conditions); a field type's ``list_filter`` names one of them.
FILTER_KINDS = frozenset({"contains", "number", "date", "datetime", "boolean", "choice",
                          "choices", "relation", "relations", "user"})


def widget_of(field: Field) -> str | None:
    return value_type(field).list_filter


def sortable(field: Field) -> bool:
    return field.stored and kind_of(field) in SORTABLE_KINDS


@dataclass(frozen=True)
class ListQuery:
    """What one list request asks for, already in the engine's terms."""

    filter: dict[str, Any] | None
    sort: list[str]
    page: int
    per_page: int
    q: str
    values: Mapping[str, str]  # the filter parameters given (to refill the widgets)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return min(max(number, low), high)


def _day_start(value: str, zone: ZoneInfo, days: int = 0) -> str | None:
    """Where the day ``value`` (``YYYY-MM-DD``) plus ``days`` begins in ``zone``, as ISO
    8601 with its offset; None when ``value`` is not a date (the engine then refuses it)."""
    try:
        day = dt.date.fromisoformat(value.strip()) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return day_start(day, zone).isoformat()


def _condition(field: Field, widget: str, args: Mapping[str, str],
               zone: ZoneInfo) -> list[dict[str, Any]]:
    key = FILTER_PREFIX + field.name
    name = field.name
    value = (args.get(key) or "").strip()
    low = (args.get(key + RANGE_FROM) or "").strip()
    high = (args.get(key + RANGE_TO) or "").strip()
    out: list[dict[str, Any]] = []
    if widget in ("number", "date", "datetime"):
        # A datetime range is of whole days in the user's zone, from the start of the first
        # to the end of the last.
        if low:
            start = _day_start(low, zone) if widget == "datetime" else None
            out.append({"field": name, "op": "gte", "value": start or low})
        if high:
            if widget == "datetime" and (nxt := _day_start(high, zone, 1)) is not None:
                out.append({"field": name, "op": "lt", "value": nxt})  # the whole last day
            else:
                out.append({"field": name, "op": "lte", "value": high})
    elif value:
        op = {"contains": "contains", "choices": "contains", "relations": "contains"}.get(widget, "eq")
        out.append({"field": name, "op": op, "value": value})
    return out


def search_fields(entity: Entity, visible: Any) -> list[str]:
    """Fields the quick search looks in: the display field and ``list_view.search`` (text only)."""
    names = [entity.display_field, *entity.list_view.get("search", ())]
    out = []
    for name in dict.fromkeys(names):
        f = field_of(entity, name)
        if f is not None and f.stored and kind_of(f) == "string" and visible(name):
            out.append(name)
    return out


def parse(entity: Entity, args: Mapping[str, str], visible: Any,
          zone: ZoneInfo | None = None) -> ListQuery:
    """The :class:`ListQuery` of a list URL's ``args``; ``visible(name)`` says what may be used;
    date ranges of datetime fields are days in ``zone`` (the user's; UTC by default).

    Unknown or hidden filter names are ignored (they come from hand-edited URLs); bad
    values are left for the engine to refuse.
    """
    view = entity.list_view
    conditions: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    seen = set()
    for key, value in args.items():
        if not key.startswith(FILTER_PREFIX) or not value:
            continue
        name = key[len(FILTER_PREFIX):]
        for suffix in (RANGE_FROM, RANGE_TO):
            name = name.removesuffix(suffix)
        f = field_of(entity, name)
        if f is None or not visible(name) or (widget := widget_of(f)) is None:
            continue
        values[key] = value
        if name not in seen:
            seen.add(name)
            conditions.extend(_condition(f, widget, args, zone or ZoneInfo("UTC")))
    q = (args.get("q") or "").strip()
    if q:
        fields = search_fields(entity, visible)
        if fields:
            conditions.append({"or": [{"field": n, "op": "contains", "value": q} for n in fields]})
    default_size = int(view.get("page_size") or DEFAULT_PAGE_SIZE)
    per_page = _int(args.get("per_page"), default_size, 1, MAX_PAGE_SIZE)
    sort_arg = (args.get("sort") or "").strip()
    sort = [sort_arg] if sort_arg else list(view.get("sort", ()))
    return ListQuery(filter={"and": conditions} if conditions else None, sort=sort,
                     page=_int(args.get("page"), 1, 1, 10 ** 9), per_page=per_page, q=q,
                     values=values)


def columns(entity: Entity, visible: Any) -> list[Field]:
    """The list's columns: ``list_view.columns`` the actor may see, else a sensible few."""
    names = list(entity.list_view.get("columns", ()))
    if not names:
        names = [entity.display_field]
        names += [f.name for f in entity.fields
                  if f.name != entity.display_field and f.stored
                  and not value_type(f).long_values][:FALLBACK_COLUMNS]
        names.append("owner")
    out = []
    for name in dict.fromkeys(names):
        f = field_of(entity, name)
        if f is not None and visible(name):
            out.append(f)
    return out


def filter_fields(entity: Entity, visible: Any, given: Mapping[str, str]) -> list[Field]:
    """Fields with a filter widget: ``list_view.filters`` plus any filter in the URL."""
    names = list(entity.list_view.get("filters", ()))
    if not names:
        names = [f.name for f in entity.fields if widget_of(f) in ("choice", "boolean", "user")]
        names.append("owner")
    for key in given:
        name = key[len(FILTER_PREFIX):]
        for suffix in (RANGE_FROM, RANGE_TO):
            name = name.removesuffix(suffix)
        names.append(name)
    out = []
    for name in dict.fromkeys(names):
        f = field_of(entity, name)
        if f is not None and visible(name) and widget_of(f) is not None:
            out.append(f)
    return out


def page_sizes(entity: Entity) -> list[int]:
    declared = entity.list_view.get("page_size")
    return sorted({*PAGE_SIZES, *([int(declared)] if declared else [])})
