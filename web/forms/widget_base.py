"""The widget contract and its registry (the widgets themselves: :mod:`web.forms.widgets`).

A :class:`Widget` draws the fields of every type whose ``FieldType.widget`` names
it: the WTForms field carrying the posted data, its template snippet
(``templates/widgets/<template>.html``) and input attributes, and the conversions
:meth:`Widget.to_form` (record value -> input) and :meth:`Widget.from_form`
(posted data -> what the record service accepts); both get the user's time zone,
in which a date-and-time input shows and reads wall time. A registry miss names the known
widgets. No database access and no requests here: lookups come from the caller
through :class:`WidgetContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from wtforms import StringField

from engine.model import Field, Text

#: Suffix of the hidden input that tells a posted form a widget was on the page
#: (unchecked checkboxes and empty multi-selects post nothing at all).
PRESENT_SUFFIX = "__present"
#: Lookup target naming Loom's users rather than an entity.
USERS = "_users"


class FormValueError(ValueError):
    """What was posted can't even be handed to the record service (e.g. broken JSON)."""

    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.code = code
        self.message = Text.of({"en": en, "zh-CN": zh})


class WidgetContext:
    """Lookups a widget needs for one request.

    ``labels(target, ids)`` -> ``{id: label}`` of records of ``target`` (or of users
    when ``target`` is :data:`USERS`); ``search_url(target)`` -> the typeahead URL;
    ``zone`` the user's time zone; ``owners_url`` the typeahead URL of the users the
    record may be given to (its ``owner`` field), when the page knows it.
    """

    def __init__(self, labels: Callable[[str, list[int]], dict[int, str]],
                 search_url: Callable[[str], str], lang: str,
                 zone: ZoneInfo | None = None, owners_url: str | None = None) -> None:
        self._labels, self.search_url, self.lang = labels, search_url, lang
        self.zone = zone
        self.owners_url = owners_url

    def labels(self, target: str, ids: list[int]) -> dict[int, str]:
        return self._labels(target, ids) if ids else {}


def ids_of(values: Any) -> list[int]:
    out = []
    for value in values if isinstance(values, (list, tuple)) else [values]:
        text = str(value).strip() if value is not None else ""
        if text.isdigit():
            out.append(int(text))
    return out


class Widget:
    """Base widget: a one-line text input."""

    #: Registry key: the ``widget`` name of field types this class draws.
    name: ClassVar[str] = ""
    #: Template snippet under ``templates/widgets/``.
    template: ClassVar[str] = "input"
    #: ``type`` attribute of the input.
    input_type: ClassVar[str] = "text"
    #: True when an absent value in the post means "empty" (checkboxes, multi-choices).
    absent_is_empty: ClassVar[bool] = False
    #: True for values the record service computes (never posted).
    computed: ClassVar[bool] = False

    def wtforms_field(self, field: Field, label: str) -> Any:
        """The unbound WTForms field carrying this field's posted data."""
        return StringField(label)

    def attrs(self, field: Field) -> dict[str, Any]:
        """Extra attributes of the input (constraints the browser may check early)."""
        out: dict[str, Any] = {}
        if field.max_length is not None:
            out["maxlength"] = field.max_length
        return out

    def to_form(self, field: Field, value: Any, zone: ZoneInfo | None = None) -> Any:
        """A record (Python) value as the input's data."""
        if value is None:
            return ""
        return str(value)

    def from_form(self, field: Field, data: Any, zone: ZoneInfo | None = None) -> Any:
        """Posted data as a value the record service accepts ('' means no value)."""
        if data is None:
            return None
        return data.strip() if isinstance(data, str) else data

    def prepare(self, form_field: Any, field: Field, ctx: WidgetContext) -> dict[str, Any]:
        """Per-request extras for the template (choices, labels); may set WTForms choices."""
        return {}


class _Registry:
    """Widgets by name; a miss names the known widgets."""

    def __init__(self) -> None:
        self._widgets: dict[str, Widget] = {}

    def register(self, cls: type[Widget]) -> type[Widget]:
        if not cls.name or cls.name in self._widgets:
            raise ValueError(f"widget {cls.__name__} has no name or a taken one: {cls.name!r}")
        self._widgets[cls.name] = cls()
        return cls

    def get(self, name: str) -> Widget:
        try:
            return self._widgets[name]
        except KeyError:
            raise KeyError(f"unknown widget {name!r}; known: {', '.join(self.names())}") from None

    def for_field(self, field: Field) -> Widget:
        return self.get(field.type.widget)

    def names(self) -> list[str]:
        return sorted(self._widgets)

    def __iter__(self) -> Iterator[Widget]:
        return iter(self._widgets[n] for n in self.names())


#: The registry of widgets, keyed by ``FieldType.widget``.
registry = _Registry()
register = registry.register
