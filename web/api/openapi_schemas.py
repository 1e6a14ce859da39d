"""The JSON Schemas of the OpenAPI document: records, inputs, filters, problems.

Each record schema is built from the compiled model, every field through its field
type's ``json_schema`` (no branching on type names here). ``<Entity>`` is a record as
the API returns it (every property optional but ``id`` and ``version``: field access
and ``fields=`` leave fields out; constraints that only guard input are dropped, as
stored values may predate a tightened rule), ``<Entity>Create`` and ``<Entity>Update``
are the inputs (no unknown keys), ``<Entity>Filter`` the structured filter.

Pure functions of the model; no Flask, no database. :mod:`web.api.openapi` assembles
the document and serves it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from engine.fields.standard import STANDARD_FIELDS
from engine.filters import ALL_OPERATORS
from engine.model import Entity, Field

#: Keywords that constrain input only; a stored value is shown as it is.
INPUT_ONLY = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
              "maxLength", "pattern", "uniqueItems")
#: Standard columns a client may set on create (the rest the service fills in).
WRITABLE_STANDARD = ("owner",)
#: Sample values used to build request examples, by JSON Schema type then format.
SAMPLES: dict[str, Any] = {"string": "Example", "integer": 1, "number": 1, "boolean": True,
                           "date": "2026-01-15", "date-time": "2026-01-15T09:30:00+00:00",
                           "email": "someone@example.com", "decimal": "100.00"}
#: Texts tried, in order, for a required text field with a pattern.
PATTERN_SAMPLES = ("Example", "EXAMPLE-1", "example", "E1", "1")


def component_name(entity: str) -> str:
    """``sales_order`` -> ``SalesOrder``."""
    return "".join(part[:1].upper() + part[1:] for part in entity.split("_"))


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or JSON null."""
    return {"anyOf": [schema, {"type": "null"}]}


def _described(f: Field, schema: dict[str, Any], lang: str) -> dict[str, Any]:
    out = dict(schema)
    out["title"] = f.label.get(lang)
    if f.help is not None:
        out["description"] = f.help.get(lang)
    return out


def _field_schema(f: Field) -> dict[str, Any]:
    return copy.deepcopy(f.type.json_schema(f))


def _read_schema(f: Field) -> dict[str, Any]:
    schema = _field_schema(f)
    for key in INPUT_ONLY:
        schema.pop(key, None)
        if isinstance(schema.get("items"), dict):
            schema["items"].pop(key, None)
    if not f.stored:
        return schema  # many-to-many lists come back as [] when empty, never null
    return nullable(schema) if schema else schema


def _input_schema(f: Field, required: bool) -> dict[str, Any]:
    schema = _field_schema(f)
    schema.pop("readOnly", None)
    return schema if required or not f.stored or not schema else nullable(schema)


def _must_give(f: Field) -> bool:
    return f.required and f.default is None and f.default_expr is None


def record_schema(entity: Entity, lang: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, f in STANDARD_FIELDS.items():
        schema = _read_schema(f)
        if name in ("id", "version", "created_at", "updated_at"):
            schema = schema["anyOf"][0]
        props[name] = {**_described(f, schema, lang), "readOnly": name not in WRITABLE_STANDARD}
    for f in entity.fields:
        props[f.name] = _described(f, _read_schema(f), lang)
    props["_expand"] = {"type": "object", "description": "Related records asked for with expand=",
                        "additionalProperties": True}
    props["_warnings"] = {"type": "array", "items": ref("FieldProblem"),
                          "description": "Rule warnings of the write that returned this record"}
    return {"type": "object", "title": entity.label.get(lang), "properties": props,
            "required": ["id", "version"],
            **({"description": entity.description.get(lang)} if entity.description else {})}


def _inputs(entity: Entity) -> list[Field]:
    fields = [f for f in entity.fields if not f.read_only and not f.computed]
    return fields + [STANDARD_FIELDS[n] for n in WRITABLE_STANDARD]


def _example(schema: dict[str, Any]) -> Any:
    if "anyOf" in schema:
        return _example(schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "array":
        return []
    value = SAMPLES.get(schema.get("format", ""), SAMPLES.get(kind, "Example"))
    if isinstance(value, (int, float)) and "minimum" in schema:
        value = max(value, schema["minimum"])
    if isinstance(value, str) and "maxLength" in schema:
        value = value[:schema["maxLength"]]
    if isinstance(value, str) and "pattern" in schema:
        fits = [t for t in PATTERN_SAMPLES if re.search(schema["pattern"], t)]
        return fits[0] if fits else None
    return value


def create_schema(entity: Entity, lang: str) -> dict[str, Any]:
    inputs = _inputs(entity)
    props = {f.name: _described(f, _input_schema(f, _must_give(f)), lang) for f in inputs}
    required = [f.name for f in inputs if _must_give(f)]
    example = {name: _example(props[name]) for name in required}
    examples = [] if None in example.values() else [example]  # no sample fits a pattern
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False, **({"examples": examples} if examples else {})}


def update_schema(entity: Entity, lang: str) -> dict[str, Any]:
    props = {f.name: _described(f, _input_schema(f, False), lang) for f in _inputs(entity)}
    props["version"] = {"type": "integer", "minimum": 1,
                        "description": "The version you read (or send If-Match)"}
    return {"type": "object", "properties": props, "additionalProperties": False}


def filter_schema(entity: Entity) -> dict[str, Any]:
    """One condition, a list of them (AND) or ``and``/``or``/``not`` (nested items not
    described further: a recursive schema makes generated examples explode)."""
    names = [*STANDARD_FIELDS, *entity.field_names]
    condition = {"type": "object", "required": ["field", "op"], "additionalProperties": False,
                 "properties": {"field": {"type": "string", "enum": names,
                                          "description": "A field, or relation.field"},
                                "op": {"type": "string", "enum": list(ALL_OPERATORS)},
                                "value": {}}}
    nested = {"type": "array", "items": {"type": "object"}}
    return {"anyOf": [
        condition,
        {"type": "array", "items": condition},
        {"type": "object", "properties": {"and": nested}, "required": ["and"],
         "additionalProperties": False},
        {"type": "object", "properties": {"or": nested}, "required": ["or"],
         "additionalProperties": False},
        {"type": "object", "properties": {"not": {"type": "object"}}, "required": ["not"],
         "additionalProperties": False},
    ]}


def shared_schemas() -> dict[str, Any]:
    """Schemas every entity's operations use."""
    problem = {"type": "object", "required": ["type", "title", "status"],
               "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                              "status": {"type": "integer"}, "detail": {"type": "string"},
                              "errors": {"type": "array", "items": ref("FieldProblem")}}}
    field_problem = {"type": "object", "properties": {
        "field": {"type": ["string", "null"]}, "code": {"type": "string"},
        "message": {"type": "string", "description": "In the caller's language"},
        "rule": {"type": "string"},
        "row": {"type": "integer"}}}
    aggregate_row = {"type": "object", "additionalProperties": True,
                     "description": "Group keys by name, then metrics: count, sum_amount..."}
    return {
        "ProblemDetails": problem,
        "FieldProblem": field_problem,
        "PageMeta": {"type": "object", "properties": {
            "page": {"type": "integer"}, "per_page": {"type": "integer"},
            "total": {"type": "integer"}}},
        "PageLinks": {"type": "object", "properties": {"next": {"type": "string"}}},
        "AggregateRequest": {"type": "object", "additionalProperties": False, "properties": {
            "group_by": {"type": ["string", "array"], "items": {"type": "string"},
                         "examples": ["stage,close_date:month"]},
            "metrics": {"type": ["string", "array"], "items": {"type": "string"},
                        "examples": ["count,sum:amount"]},
            "filter": {}, "sort": {"type": ["string", "array"], "items": {"type": "string"}},
            "limit": {"type": "integer", "minimum": 1}}},
        "AggregateResult": {"type": "object", "required": ["data", "meta"], "properties": {
            "data": {"type": "array", "items": aggregate_row},
            "meta": {"type": "object", "properties": {
                "group_by": {"type": "array", "items": {"type": "string"}},
                "metrics": {"type": "array", "items": {"type": "string"}},
                "count": {"type": "integer"}, "truncated": {"type": "boolean"}}}}},
        "BulkCreated": {"type": "object", "properties": {
            "data": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}}}},
            "count": {"type": "integer"}}},
        "BulkResults": {"type": "object", "properties": {"results": {"type": "array", "items": {
            "type": "object", "properties": {
                "index": {"type": "integer"}, "status": {"type": "integer"},
                "id": {"type": "integer"},
                "errors": {"type": "array", "items": ref("FieldProblem")}}}}}},
    }


def entity_schemas(entity: Entity, lang: str) -> dict[str, Any]:
    """``<Entity>``, ``<Entity>Create``, ``<Entity>Update``, ``<Entity>Filter``, ``<Entity>Page``."""
    name = component_name(entity.name)
    page = {"type": "object", "required": ["data", "meta"], "properties": {
        "data": {"type": "array", "items": ref(name)}, "meta": ref("PageMeta"),
        "links": ref("PageLinks")}}
    query = {"type": "object", "additionalProperties": False, "properties": {
        "filter": ref(f"{name}Filter"), "sort": {"type": ["string", "array"],
                                                 "items": {"type": "string"}},
        "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
        "after": {"type": "string"},
        "total": {"type": "boolean"}, "fields": {"type": ["string", "array"],
                                                  "items": {"type": "string"}},
        "expand": {"type": ["string", "array"], "items": {"type": "string"}}}}
    bulk = {"anyOf": [{"type": "array", "minItems": 1, "items": ref(f"{name}Create")},
                      {"type": "object", "required": ["records"], "properties": {
                          "records": {"type": "array", "minItems": 1,
                                      "items": ref(f"{name}Create")},
                          "mode": {"type": "string", "enum": ["atomic", "per_row"]}}}]}
    return {name: record_schema(entity, lang), f"{name}Create": create_schema(entity, lang),
            f"{name}Update": update_schema(entity, lang), f"{name}Filter": filter_schema(entity),
            f"{name}Page": page, f"{name}Query": query, f"{name}Bulk": bulk}
