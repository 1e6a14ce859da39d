"""The expanded, JSON-ready view of compiled entities (``loom show ENTITY --expanded``).

Every key of every field is listed, with presets merged and defaults applied,
plus what the field type derives from it (column, widget, CEL type, JSON
Schema). Reads the compiled model only; no database, no Flask.

    >>> describe_entity(model.entity("deal"), lang="zh-CN")["fields"][0]["label"]  # doctest: +SKIP
    '商机名称'
"""

from __future__ import annotations

from typing import Any

from engine.model import thaw
from engine.model import STANDARD_COLUMNS, CompiledModel, Entity, Field, Text


def _text(value: Text | None, lang: str) -> str | None:
    return None if value is None else value.get(lang)


def _expr(value: Any) -> str | None:
    return None if value is None else value.source


def _json(field: Field, value: Any) -> Any:
    return None if value is None else field.type.to_json(field, value)


def describe_field(field: Field, lang: str = "en") -> dict[str, Any]:
    """Every key of ``field``, as compiled (``None`` where a key does not apply)."""
    ftype = field.type
    return {
        "name": field.name,
        "type": field.type_name,
        "preset": field.preset,
        "label": field.label.get(lang),
        "labels": field.label.as_dict(),
        "help": _text(field.help, lang),
        "required": field.required,
        "unique": field.unique,
        "indexed": field.indexed,
        "read_only": field.read_only,
        "computed": field.computed,
        "stored": field.stored,
        "default": _json(field, field.default),
        "default_expr": _expr(field.default_expr),
        "min": _json(field, field.min),
        "max": _json(field, field.max),
        "min_length": field.min_length,
        "max_length": field.max_length,
        "pattern": field.pattern,
        "options": [{"value": o.value, "label": o.label.get(lang), "labels": o.label.as_dict(),
                     "color": o.color} for o in field.options],
        "transitions": None if field.transitions is None else {
            state: list(targets) for state, targets in field.transitions.items()},
        "target": field.target,
        "on_delete": field.on_delete,
        "inverse": None if field.inverse is None else {
            "name": field.inverse.name, "label": field.inverse.label.get(lang)},
        "precision": field.precision,
        "scale": field.scale,
        "currency": field.currency,
        "format": field.format,
        "expr": _expr(field.expr),
        "returns": field.returns,
        "visible_if": _expr(field.visible_if),
        "required_if": _expr(field.required_if),
        "read_only_if": _expr(field.read_only_if),
        "renamed_from": list(field.renamed_from),
        "convert": thaw(field.convert),
        "widget": ftype.widget,
        "column_type": str(ftype.column_type(field)) if field.stored else None,
        "cel_type": ftype.cel_type(field),
        "json_schema": ftype.json_schema(field),
        "source": {"file": field.source.file, "line": field.source.line},
    }


def describe_entity(entity: Entity, lang: str = "en") -> dict[str, Any]:
    """The expanded schema of ``entity``: labels in ``lang`` (and all), every field key."""
    return {
        "name": entity.name,
        "label": entity.label.get(lang),
        "labels": entity.label.as_dict(),
        "plural_label": entity.plural_label.get(lang),
        "description": _text(entity.description, lang),
        "table": entity.table_name,
        "display_field": entity.display_field,
        "renamed_from": list(entity.renamed_from),
        "standard_columns": list(STANDARD_COLUMNS),
        "fields": [describe_field(f, lang) for f in entity.fields],
        "indexes": [{"name": i.name, "fields": list(i.fields), "unique": i.unique}
                    for i in entity.indexes],
        "rules": [{"name": r.name, "when": _expr(r.when), "assert": r.assert_.source,
                   "message": r.message.get(lang), "severity": r.severity} for r in entity.rules],
        "list_view": thaw(entity.list_view),
        "form_layout": thaw(entity.form_layout),
        "inverses": [{"name": i.name, "label": i.label.get(lang), "entity": i.entity,
                      "field": i.field} for i in entity.inverses],
        "source": {"file": entity.source.file},
    }


def describe_model(model: CompiledModel, lang: str = "en") -> dict[str, Any]:
    """Every entity expanded, the presets and the model version."""
    return {
        "version": model.version,
        "entities": {name: describe_entity(e, lang) for name, e in model.entities.items()},
        "presets": {name: thaw(p.values) for name, p in model.presets.items()},
    }
