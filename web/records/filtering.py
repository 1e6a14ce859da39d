"""List page query strings -> the engine's structured filters, sorts and pages.

A list URL carries ``q`` (quick search), ``sort`` (``-close_date``), ``page``,
``per_page`` and one parameter per filter: ``f.<field>`` for a value (repeated for
several choices of a select: any of them matches), and ``f.<field>.from`` /
``f.<field>.to`` for a range. Each field type has one filter widget kind, its
``list_filter`` (formulas use their result type's); this module turns the parameters
into ``{"and": [...]}``.

A hand-edited or stale URL never breaks the list: what can't be used (a sort by no such
column, a page that is not a number, a choice the field doesn't have, a number or date
that isn't one) is left out and reported as a :class:`Notice`, and a range given the
wrong way round is swapped (and reported); the view words each notice in the user's
language. Anything else is still checked by :mod:`engine.filters` (``FilterError``).

No Flask request access and no database here: the view passes the query args in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
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


#: Widget kinds whose filter takes several values (any of them matches).
MULTI_KINDS = frozenset({"choice", "choices"})
#: Widget kinds whose filter is a range (``.from`` / ``.to``).
RANGE_KINDS = frozenset({"number", "date", "datetime"})
#: Widget kinds whose value is the id of a record (or of a user).
ID_KINDS = frozenset({"relation", "relations", "user"})
#: Notices of a filter value left out (the rows are more than the user asked for).
DROPPED_FILTERS = frozenset({"unknown_choice", "bad_number", "bad_date", "bad_id"})
#: Largest id a filter may name (a BIGINT).
MAX_ID = 2 ** 63 - 1


@dataclass(frozen=True)
class Notice:
    """Something of the URL the list could not use as given, and what it did instead.

    ``code`` is one of ``unknown_sort``, ``unsortable``, ``bad_page``, ``bad_per_page``,
    ``page_beyond``, ``swapped``, ``unknown_choice``, ``bad_number``, ``bad_date``,
    ``bad_id``, ``filter_failed``; ``params`` what its message needs (``field``: a name).
    """

    code: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class ListQuery:
    """What one list request asks for, already in the engine's terms."""

    filter: dict[str, Any] | None
    sort: list[str]
    page: int
    per_page: int
    q: str
    values: Mapping[str, str]  # the filter parameters given (to refill the widgets)
    chosen: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)  # multi-selects
    notices: tuple[Notice, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def on_page(self, page: int) -> ListQuery:
        """The same query on another page."""
        return replace(self, page=page)


def _all(args: Mapping[str, Any], key: str) -> list[str]:
    """Every value of ``key`` (a MultiDict's repeats; one value of a plain mapping)."""
    getlist = getattr(args, "getlist", None)
    values = getlist(key) if getlist is not None else [args.get(key)]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def _int(value: str | None, default: int, low: int, high: int, code: str,
         notices: list[Notice]) -> int:
    """``value`` as a whole number within [low, high] (clamped); the default, with a
    notice, when it is given but is not a whole number."""
    text = (value or "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        notices.append(Notice(code, {"given": text[:40], "default": default}))
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


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _range(field: Field, widget: str, args: Mapping[str, Any], zone: ZoneInfo,
           notices: list[Notice]) -> list[dict[str, Any]]:
    """The conditions of a number or date range; an end that is not a number (a date) is
    left out, and ends given the wrong way round are swapped (each with a notice)."""
    key, name = FILTER_PREFIX + field.name, field.name
    parse = _number if widget == "number" else _date
    bad = "bad_number" if widget == "number" else "bad_date"
    ends = []
    for suffix in (RANGE_FROM, RANGE_TO):
        text = (args.get(key + suffix) or "").strip()
        value = parse(text) if text else None
        if text and value is None:
            notices.append(Notice(bad, {"field": name, "value": text[:40]}))
            text = ""
        ends.append((text, value))
    (low, low_value), (high, high_value) = ends
    if low and high and low_value > high_value:  # type: ignore[operator]
        notices.append(Notice("swapped", {"field": name, "low": high, "high": low}))
        low, high = high, low
    out: list[dict[str, Any]] = []
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
    return out


def _choices(field: Field, widget: str, args: Mapping[str, Any],
             notices: list[Notice]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Any of the chosen options (unknown ones left out, with a notice); and the known ones."""
    known = set(field.option_values)
    chosen: list[str] = []
    for value in dict.fromkeys(_all(args, FILTER_PREFIX + field.name)):
        if value in known:
            chosen.append(value)
        else:
            notices.append(Notice("unknown_choice", {"field": field.name, "value": value[:40]}))
    if not chosen:
        return [], ()
    if widget == "choice":
        return [{"field": field.name, "op": "in", "value": chosen}], tuple(chosen)
    # A multi-valued field: holding any of the chosen values.
    parts = [{"field": field.name, "op": "contains", "value": v} for v in chosen]
    return [parts[0] if len(parts) == 1 else {"or": parts}], tuple(chosen)


def _condition(field: Field, widget: str, args: Mapping[str, Any], zone: ZoneInfo,
               notices: list[Notice]) -> list[dict[str, Any]]:
    if widget in RANGE_KINDS:
        return _range(field, widget, args, zone, notices)
    value = (args.get(FILTER_PREFIX + field.name) or "").strip()
    if not value:
        return []
    if widget in ID_KINDS and not (value.isascii() and value.isdigit()
                                   and 0 < int(value[:20]) <= MAX_ID and len(value) <= 19):
        notices.append(Notice("bad_id", {"field": field.name, "value": value[:40]}))
        return []
    op = {"contains": "contains", "relations": "contains"}.get(widget, "eq")
    return [{"field": field.name, "op": op, "value": value}]


def _sort(entity: Entity, given: str, visible: Any, notices: list[Notice]) -> list[str]:
    """``[given]`` when it names a column the actor may sort by; else the entity's default
    order, with a notice (one that does not tell a hidden column from a missing one)."""
    default = list(entity.list_view.get("sort", ()))
    if not given:
        return default
    name = given[1:] if given.startswith("-") else given
    f = field_of(entity, name) if name else None
    if f is None or not visible(name):
        notices.append(Notice("unknown_sort", {"given": given[:40]}))
        return default
    if not sortable(f):
        notices.append(Notice("unsortable", {"field": name}))
        return default
    return [given]


def search_fields(entity: Entity, visible: Any) -> list[str]:
    """Fields the quick search looks in: the display field and ``list_view.search`` (text only)."""
    names = [entity.display_field, *entity.list_view.get("search", ())]
    out = []
    for name in dict.fromkeys(names):
        f = field_of(entity, name)
        if f is not None and f.stored and kind_of(f) == "string" and visible(name):
            out.append(name)
    return out


def parse(entity: Entity, args: Mapping[str, Any], visible: Any,
          zone: ZoneInfo | None = None) -> ListQuery:
    """The :class:`ListQuery` of a list URL's ``args`` (a MultiDict: a select filter may
    repeat); ``visible(name)`` says what may be used; date ranges of datetime fields are
    days in ``zone`` (the user's; UTC by default).

    Unknown or hidden filter names are ignored (they come from hand-edited URLs); values
    the list can't use are left out with a :class:`Notice` (see the module's docstring).
    """
    view = entity.list_view
    notices: list[Notice] = []
    conditions: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    chosen: dict[str, tuple[str, ...]] = {}
    seen = set()
    for key in args:
        value = args.get(key)
        if not key.startswith(FILTER_PREFIX) or not value:
            continue
        name = key[len(FILTER_PREFIX):]
        for suffix in (RANGE_FROM, RANGE_TO):
            name = name.removesuffix(suffix)
        f = field_of(entity, name)
        if f is None or not visible(name) or (widget := widget_of(f)) is None:
            continue
        values[key] = value
        if name in seen:
            continue
        seen.add(name)
        if widget in MULTI_KINDS:
            found, picked = _choices(f, widget, args, notices)
            conditions.extend(found)
            if picked:
                chosen[FILTER_PREFIX + name] = picked
        else:
            conditions.extend(_condition(f, widget, args, zone or ZoneInfo("UTC"), notices))
    q = (args.get("q") or "").strip()
    if q:
        fields = search_fields(entity, visible)
        if fields:
            conditions.append({"or": [{"field": n, "op": "contains", "value": q} for n in fields]})
    default_size = int(view.get("page_size") or DEFAULT_PAGE_SIZE)
    per_page = _int(args.get("per_page"), default_size, 1, MAX_PAGE_SIZE, "bad_per_page", notices)
    page = _int(args.get("page"), 1, 1, 10 ** 9, "bad_page", notices)
    sort = _sort(entity, (args.get("sort") or "").strip(), visible, notices)
    return ListQuery(filter={"and": conditions} if conditions else None, sort=sort,
                     page=page, per_page=per_page, q=q, values=values, chosen=chosen,
                     notices=tuple(notices))


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
