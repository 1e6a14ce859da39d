"""Field values as people read them: one formatter per field type, in one registry.

A formatter turns a value the record service returned (Python values: ``Decimal``,
``date``, ids...) into a :class:`Shown`: the text in the current language and, for
relations and users, the link to follow. Templates print ``Shown.text`` through
Jinja's autoescape; nothing here returns markup, so a value can never become HTML.

Each field type names its display (``FieldType.display``); formulas show as the type
they return. :data:`FORMATTERS` has a formatter for every display a registered type
names (a test walks the registry), so a new type cannot be half done.
No database access here: related labels come from the service's ``_expand`` data or
from a lookup the caller passes in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from flask import url_for
from flask_babel import (
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    gettext,
)

from engine.fields import FieldType
from engine.fields.scalar import DEFAULT_CURRENCY
from engine.model import Field
from engine.records.expansion import NAME_ONLY
from web.i18n import text, time_zone

#: Schemes a website value may link to; anything else is shown as text.
SAFE_LINK_SCHEMES = frozenset({"http", "https"})
#: How many characters of a long text (or JSON document) a list cell shows.
CELL_TEXT_CHARS = 80
#: Babel format of dates and times on pages. A datetime is shown in the user's time zone
#: (Flask-Babel's timezone selector), followed by the zone's name: "2026-11-23 09:30
#: (Asia/Shanghai)", so nobody has to guess which clock a time was read on.
DATE_FORMAT = "medium"
DATETIME_FORMAT = "yyyy-MM-dd HH:mm"


@dataclass(frozen=True)
class Shown:
    """A displayed value: its text, an optional link, and the raw value for sorting/tests."""

    text: str
    url: str | None = None
    badge: str | None = None  # a colour name for select options that declare one
    external: bool = False  # a link out of Loom (opens in a new tab, no referrer)

    def __str__(self) -> str:
        return self.text


EMPTY = Shown("")

#: ``lookup(kind, id) -> label | None`` where kind is an entity name or ``"_user"``.
Lookup = Callable[[str, int], "str | None"]
Formatter = Callable[[Field, Any, Mapping[str, Any] | None, "Lookup | None"], Shown]


def value_type(field: Field) -> FieldType:
    """The type a value of ``field`` has: a formula's result type, else the field's own."""
    result_type = getattr(field.type, "result_type", None)
    if field.type.computed and callable(result_type) and field.returns:
        return result_type(field)
    return field.type


def _text(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(str(value))


def _email(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(str(value), url="mailto:" + quote(str(value), safe="@.+-_"))


def _phone(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    # tel: takes digits and a leading +; spaces, dashes and brackets are for reading only.
    digits = "".join(c for c in str(value) if c.isdigit() or c == "+")
    return Shown(str(value), url=f"tel:{digits}" if digits else None)


def _url(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    # Only web addresses become links: a "javascript:" value (the type refuses it, but
    # older rows or another backend's data may hold anything) stays plain text.
    text = str(value)
    scheme = urlsplit(text.strip()).scheme.lower() if text.strip() else ""
    return Shown(text, url=text.strip() if scheme in SAFE_LINK_SCHEMES else None,
                 external=True)


def _integer(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(format_decimal(value))


def _decimal(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    scale = field.scale
    pattern = None
    if scale is not None:
        pattern = "#,##0" + ("." + "0" * scale if scale else "")
    return Shown(format_decimal(value, format=pattern))


def _money(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(format_currency(value, field.currency or DEFAULT_CURRENCY))


def _percent(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(format_decimal(value) + "%")


def _boolean(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(gettext("Yes") if value else gettext("No"))


def _date(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(format_date(value, DATE_FORMAT))


def format_moment(value: Any) -> str:
    """An instant as wall time in the user's zone, with the zone named."""
    return f"{format_datetime(value, DATETIME_FORMAT)} ({time_zone().key})"


def _datetime(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(format_moment(value))


def _option(field: Field, value: str) -> Shown:
    for option in field.options:
        if option.value == value:
            return Shown(text(option.label), badge=option.color)
    return Shown(str(value))


def _select(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return _option(field, value)


def _multiselect(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(", ".join(_option(field, v).text for v in value or ()))


class NameOnly(str):
    """A related record's label read through another record: shown, but not a link."""


def _record_url(entity: str, record_id: int) -> str:
    return url_for("records.detail", entity=entity, id=record_id)


def _relation(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    label, linked = None, True
    if isinstance(expanded, Mapping):
        label = expanded.get("_display")
        linked = not expanded.get(NAME_ONLY)
    elif lookup is not None and field.target:
        label = lookup(field.target, value)
        linked = not isinstance(label, NameOnly)
    if label is None:
        return Shown(f"#{value}")  # not visible to the actor: the id only, no link
    if not linked:  # named through a record the actor reads; the record itself can't be opened
        return Shown(label or f"#{value}")
    return Shown(label or f"#{value}", url=_record_url(field.target, value) if field.target else None)


def _many(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    labels = []
    shown = {r["id"]: r.get("_display") for r in expanded or () if isinstance(r, Mapping)}
    for record_id in value or ():
        label = shown.get(record_id)
        if label is None and lookup is not None and field.target:
            label = lookup(field.target, record_id)
        labels.append(label or f"#{record_id}")
    return Shown(", ".join(labels))


def _user(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    label = expanded.get("_display") if isinstance(expanded, Mapping) else None
    if label is None and lookup is not None:
        label = lookup("_user", value)
    return Shown(label or f"#{value}")


def _json(field: Field, value: Any, expanded: Any, lookup: Any) -> Shown:
    return Shown(json.dumps(value, ensure_ascii=False, sort_keys=True))


#: One formatter per display name (a field type's ``display``; formulas use their result
#: type's). A test walks the field-type registry, so no type names a display missing here.
FORMATTERS: Mapping[str, Formatter] = {
    "text": _text, "email": _email, "phone": _phone, "url": _url, "integer": _integer, "decimal": _decimal, "money": _money,
    "percent": _percent, "boolean": _boolean, "date": _date, "datetime": _datetime,
    "select": _select, "multiselect": _multiselect, "relation": _relation,
    "many_to_many": _many, "user": _user, "json": _json,
}
#: Displays of values a spreadsheet reads as they are (numbers and dates): exports give
#: their machine form rather than the formatted text.
PLAIN_DISPLAYS = frozenset({"integer", "decimal", "money", "percent", "date", "datetime"})


def show(field: Field, value: Any, expanded: Any = None, lookup: Lookup | None = None) -> Shown:
    """``value`` of ``field`` as text in the current language (``EMPTY`` for no value).

    >>> show(deal.field("stage"), "won").text          # doctest: +SKIP
    '赢单'
    """
    if value is None or value == [] or value == "":
        return EMPTY
    return FORMATTERS[value_type(field).display](field, value, expanded, lookup)


def from_json(field: Field, value: Any) -> Any:
    """A JSON-form value (as the audit trail keeps it) back to the Python value, or as is."""
    if value is None:
        return None
    try:
        return field.type.coerce(field, value)
    except (ValueError, TypeError):
        return value


def short(shown: Shown, limit: int = CELL_TEXT_CHARS) -> Shown:
    """``shown`` cut to ``limit`` characters (for list cells)."""
    if len(shown.text) <= limit:
        return shown
    return Shown(shown.text[:limit - 1] + "…", shown.url, shown.badge, shown.external)
