"""Form widgets: one class per widget name, all in one registry.

Every field type names its widget (``FieldType.widget``, e.g. ``money`` or
``relation``); :data:`registry` maps that name to a :class:`Widget`, which knows:

- the WTForms field that carries the posted data (plain text fields almost
  everywhere: converting and checking values is the record service's job, so a
  form never refuses what the API would accept, and messages stay bilingual);
- its template snippet (``widgets/<name>.html``) and its input attributes;
- :meth:`Widget.to_form`: a record value -> what the input shows;
- :meth:`Widget.from_form`: what was posted -> what the record service accepts.

The contract and the registry are in :mod:`web.forms.widget_base`.

Nothing here branches on a type name; a new field type either names an existing
widget or registers a new one here (the golden test checks every type has one).
No database access and no requests here: lookups (users, relation labels) come
from the caller through :class:`WidgetContext`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from wtforms import BooleanField, SelectField, SelectMultipleField, TextAreaField

from engine.model import Field
from web.forms.widget_base import (
    PRESENT_SUFFIX,
    USERS,
    FormValueError,
    Widget,
    WidgetContext,
    ids_of,
    register,
    registry,
)

__all__ = ["PRESENT_SUFFIX", "USERS", "FormValueError", "Widget", "WidgetContext", "registry"]

#: The standard column naming who a record belongs to (its picker offers fewer users).
OWNER = "owner"
#: Choice value meaning "no value" in selects.
EMPTY_CHOICE = ""
#: Step of a whole-number input.
INTEGER_STEP = "1"
#: Rows of a textarea for long text and JSON.
TEXTAREA_ROWS = 4


@register
class TextInput(Widget):
    name = "text"


@register
class EmailInput(Widget):
    name = "email"
    input_type = "email"


@register
class PhoneInput(Widget):
    name = "tel"
    input_type = "tel"


@register
class UrlInput(Widget):
    name = "url"
    input_type = "url"


@register
class TextArea(Widget):
    name = "textarea"
    template = "textarea"

    def wtforms_field(self, field: Field, label: str) -> Any:
        return TextAreaField(label)

    def attrs(self, field: Field) -> dict[str, Any]:
        return {**super().attrs(field), "rows": TEXTAREA_ROWS}

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        # Long text keeps its inner line breaks and indentation; only the ends are trimmed.
        return None if data is None else data.strip()


@register
class NumberInput(Widget):
    name = "number"
    input_type = "number"
    step: ClassVar[str] = INTEGER_STEP

    def attrs(self, field: Field) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step_of(field), "inputmode": "decimal"}
        if field.min is not None:
            out["min"] = str(field.min)
        if field.max is not None:
            out["max"] = str(field.max)
        return out

    def step_of(self, field: Field) -> str:
        return self.step


@register
class DecimalInput(NumberInput):
    name = "decimal"

    def step_of(self, field: Field) -> str:
        dims = getattr(field.type, "dims", None)
        scale = dims(field)[1] if dims else 0
        return str(Decimal(1).scaleb(-scale)) if scale else INTEGER_STEP

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        return "" if value is None else format(value, "f")


@register
class MoneyInput(DecimalInput):
    name = "money"
    template = "money"

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        return {"currency": field.currency or ""}


@register
class PercentInput(DecimalInput):
    name = "percent"
    template = "percent"


@register
class Checkbox(Widget):
    name = "checkbox"
    template = "checkbox"
    absent_is_empty = True

    def wtforms_field(self, field: Field, label: str) -> Any:
        return BooleanField(label, false_values=("false", "0", "off", ""))

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        return bool(value)

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        return bool(data)


@register
class DateInput(Widget):
    name = "date"
    input_type = "date"

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        return "" if value is None else value.isoformat()


@register
class DateTimeInput(Widget):
    """``datetime-local`` in the user's time zone: the value is shown as wall time there,
    and a typed wall time is read there and handed on with its UTC offset (the server
    stores UTC and would read a time without an offset as UTC)."""

    name = "datetime"
    template = "datetime"
    input_type = "datetime-local"

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        return {"zone": ctx.zone.key if ctx.zone is not None else "UTC"}

    def attrs(self, field: Field) -> dict[str, Any]:
        return {"step": INTEGER_STEP}

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        if value is None:
            return ""
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(zone or dt.UTC).replace(tzinfo=None)
        shown = "%Y-%m-%dT%H:%M" if not value.second and not value.microsecond else "%Y-%m-%dT%H:%M:%S"
        return value.strftime(shown)

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        text = super().from_form(field, data)
        if not isinstance(text, str) or not text:
            return text
        try:
            typed = dt.datetime.fromisoformat(text)
        except ValueError:
            return text  # the record service names the problem
        if typed.tzinfo is not None or zone is None:
            return text
        # A wall time skipped by a DST change reads as the instant after the gap (fold=0).
        return typed.replace(tzinfo=zone).isoformat()


def _choices(field: Field, lang: str) -> list[tuple[str, str]]:
    return [(o.value, o.label.get(lang)) for o in field.options]


@register
class Select(Widget):
    name = "select"
    template = "select"

    def wtforms_field(self, field: Field, label: str) -> Any:
        # validate_choice off: the record service refuses unknown options, bilingually.
        return SelectField(label, choices=[], validate_choice=False)

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        form_field.choices = [(EMPTY_CHOICE, "—"), *_choices(field, ctx.lang)]
        return {}


@register
class MultiSelect(Widget):
    name = "multiselect"
    template = "multiselect"
    absent_is_empty = True

    def wtforms_field(self, field: Field, label: str) -> Any:
        return SelectMultipleField(label, choices=[], validate_choice=False)

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        form_field.choices = _choices(field, ctx.lang)
        return {}

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        return list(value or [])

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        return [v for v in (data or []) if v]


@register
class RelationTypeahead(Widget):
    """A search box calling ``GET /r/<target>/search?q=`` plus a hidden id input."""

    name = "relation"
    template = "relation"

    def target(self, field: Field) -> str:
        return field.target or ""

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        ids = ids_of(form_field.data)
        labels = ctx.labels(self.target(field), ids)
        return {"search_url": ctx.search_url(self.target(field)),
                "chosen_label": labels.get(ids[0], f"#{ids[0]}") if ids else ""}


@register
class UserTypeahead(RelationTypeahead):
    """Like a relation, over Loom's users (``GET /r/_users/search?q=``)."""

    name = "user"

    def target(self, field: Field) -> str:
        return USERS

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        extra = super().prepare(form_field, field, ctx)
        if field.name == OWNER and ctx.owners_url:  # only the people it may be given to
            extra["search_url"] = ctx.owners_url
        return extra


@register
class RelationMulti(Widget):
    """Several records of the target: chips with hidden id inputs plus a search box."""

    name = "relation_multi"
    template = "relation_multi"
    absent_is_empty = True

    def wtforms_field(self, field: Field, label: str) -> Any:
        return SelectMultipleField(label, choices=[], validate_choice=False)

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        return [str(v) for v in value or []]

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        return [v for v in (data or []) if str(v).strip()]

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        ids = ids_of(form_field.data or [])
        labels = ctx.labels(field.target or "", ids)
        return {"search_url": ctx.search_url(field.target or ""),
                "chosen": [(str(i), labels.get(i, f"#{i}")) for i in ids]}


@register
class JsonText(Widget):
    name = "json"
    template = "textarea"

    def wtforms_field(self, field: Field, label: str) -> Any:
        return TextAreaField(label)

    def attrs(self, field: Field) -> dict[str, Any]:
        return {"rows": TEXTAREA_ROWS, "spellcheck": "false"}

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        if data is None or not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise FormValueError("type", f"must be valid JSON ({exc.msg}, line {exc.lineno})",
                                 f"必须是有效的 JSON（第 {exc.lineno} 行：{exc.msg}）") from None


@register
class ReadOnlyDisplay(Widget):
    """Values the record service computes (formulas, autonumbers): shown, never posted."""

    name = "readonly"
    template = "readonly"
    computed = True

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return str(value)
