"""Build the create/edit form of an entity from the compiled model.

One WTForms class per (model version, entity, the actor's field access, language),
built once and cached (:class:`FormCache`). A :class:`FormSpec` carries the class
and the layout: sections of :class:`FieldSpec` in the order of the entity's
``form_layout`` (fields no section names go into a last section, so none is
unreachable). Hidden fields are left out entirely; fields the actor may only read,
``read_only`` fields and computed ones are in the layout but never writable.

WTForms attribute names are ``f__<field>`` while the HTML name stays the field name,
so a field called ``data`` or ``errors`` can't shadow the form's own attributes.

No requests and no database here; :mod:`web.forms.binding` moves values in and out.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField

from engine.filters import STANDARD_FIELDS
from engine.model import CompiledModel, Entity, Field, Text
from engine.permissions import HIDDEN, WRITE
from web.forms.widgets import Widget, registry

#: Prefix of the WTForms attribute of a field (the HTML name is the field name).
ATTR_PREFIX = "f__"
#: Prefix of a field's element id (its HTML name is the field name).
ID_PREFIX = "field-"
#: Standard columns a form may set (the record service takes ``owner`` only).
FORM_STANDARD_FIELDS = ("owner",)
#: Most form classes kept per app (model versions x entities x access x languages).
CACHE_SIZE = 512
#: Title of the section collecting fields no section of the layout names.
OTHER_SECTION = Text.of({"en": "Other", "zh-CN": "其他"})
#: Columns of a section that does not say.
DEFAULT_COLUMNS = 2


@dataclass(frozen=True)
class FieldSpec:
    """One field of a generated form."""

    name: str
    field: Field
    widget: Widget
    writable: bool
    label: str
    help: str
    required: bool

    @property
    def attr(self) -> str:
        return ATTR_PREFIX + self.name


@dataclass(frozen=True)
class Section:
    title: str
    columns: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class FormSpec:
    """A generated form: its WTForms class, fields by name (layout order) and sections."""

    entity: Entity
    lang: str
    form_class: type[FlaskForm]
    fields: Mapping[str, FieldSpec]
    sections: tuple[Section, ...]
    cel_types: Mapping[str, str]

    def writable(self) -> list[FieldSpec]:
        return [s for s in self.fields.values() if s.writable]


class EntityForm(FlaskForm):
    """Base of every generated form: the version the user read travels with it."""

    version = HiddenField()

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            # WTForms names a field after its attribute (f__title); post it as "title".
            html_name = getattr(unbound_field, "html_name", None)
            if html_name is not None:
                # The id differs from the name: the browser's form.elements.namedItem()
                # matches ids too, and must find only the controls that are posted.
                options = {**options, "name": html_name, "id": ID_PREFIX + html_name}
            return unbound_field.bind(form=form, **options)


def form_fields(entity: Entity) -> list[Field]:
    """The entity's fields and the standard columns a form may set, in declaration order."""
    return [*entity.fields, *(STANDARD_FIELDS[n] for n in FORM_STANDARD_FIELDS)]


def _sections(entity: Entity, names: list[str], lang: str) -> tuple[Section, ...]:
    shown = set(names)
    placed: set[str] = set()
    out = []
    for section in entity.form_layout.get("sections", ()):
        members = tuple(n for n in section.get("fields", ()) if n in shown and n not in placed)
        placed.update(members)
        title = section.get("title")
        if members:
            out.append(Section(Text.of(title).get(lang) if title else "",
                               int(section.get("columns", DEFAULT_COLUMNS)), members))
    rest = tuple(n for n in names if n not in placed)
    if rest:
        out.append(Section(OTHER_SECTION.get(lang) if out else "", DEFAULT_COLUMNS, rest))
    return tuple(out)


def build_form_spec(model: CompiledModel, entity_name: str, access: Mapping[str, str],
                    lang: str) -> FormSpec:
    """The form of ``entity_name`` for an actor whose field access is ``access``.

    ``access`` maps field names to ``write`` / ``read`` / ``hidden`` (missing = write).
    """
    entity = model.entity(entity_name)
    specs: dict[str, FieldSpec] = {}
    attrs: dict[str, Any] = {}
    for f in form_fields(entity):
        level = access.get(f.name, WRITE)
        if level == HIDDEN:
            continue
        widget = registry.for_field(f)
        label = f.label.get(lang)
        spec = FieldSpec(name=f.name, field=f, widget=widget,
                         writable=level == WRITE and not f.read_only and not f.computed,
                         label=label, help=f.help.get(lang) if f.help else "",
                         required=f.required)
        specs[f.name] = spec
        unbound = widget.wtforms_field(f, label)
        unbound.html_name = f.name  # see EntityForm.Meta.bind_field
        attrs[spec.attr] = unbound
    names = list(specs)
    cel_types = {f.name: f.type.cel_type(f) for f in (*entity.fields, *STANDARD_FIELDS.values())
                 if f.name not in access or access[f.name] != HIDDEN}
    form_class = type(f"{entity.name.title().replace('_', '')}Form", (EntityForm,), attrs)
    return FormSpec(entity=entity, lang=lang, form_class=form_class, fields=specs,
                    sections=_sections(entity, names, lang), cel_types=cel_types)


class FormCache:
    """Form specs by (model version, entity, field access, language); bounded, thread-safe."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._specs: dict[tuple[Any, ...], FormSpec] = {}

    def get(self, model: CompiledModel, entity: str, access: Mapping[str, str],
            lang: str) -> FormSpec:
        key = (model.version, entity, tuple(sorted(access.items())), lang)
        with self._lock:
            spec = self._specs.get(key)
        if spec is None:
            spec = build_form_spec(model, entity, access, lang)
            with self._lock:
                if len(self._specs) >= self.size:
                    self._specs.pop(next(iter(self._specs)))
                self._specs[key] = spec
        return spec
