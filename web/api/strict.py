"""JSON types as the OpenAPI document states them: the API refuses what it would coerce.

The record service parses values leniently, because forms send every value as text
("12", "yes", ""). An API client sends JSON, and the document tells it each field's JSON
type; a value of another type (``"name": 0``, ``"is_primary": "yes"``, ``"wechat": []``,
``"birthday": ""``) is a 422 on its field here, before the service sees it, so the document
and the engine agree. ``null`` is always a JSON type the service judges (required or not).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.records.errors import FieldError, ValidationFailed, text

#: JSON Schema type -> the Python types ``json.loads`` gives for it.
_PYTHON = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
           "array": (list,), "object": (dict,)}


#: id(entity) -> (entity, its expected types): computed once per compiled entity.
_CACHE: dict[int, tuple[Any, Mapping[str, tuple[str, ...]]]] = {}


def _expected(entity: Any) -> Mapping[str, tuple[str, ...]]:
    """Field name -> the JSON types its values may have (fields without a type: absent)."""
    hit = _CACHE.get(id(entity))
    if hit is not None and hit[0] is entity:
        return hit[1]
    from engine.model import STANDARD_COLUMNS

    out: dict[str, tuple[str, ...]] = {name: ("integer",) for name in STANDARD_COLUMNS}
    for f in entity.fields:
        schema = f.type.json_schema(f)
        kind = schema.get("type")
        if kind:
            kinds = tuple(kind) if isinstance(kind, list) else (kind,)
            # A date, a choice, a number given as text: "" is not one (send null).
            if any(k in schema for k in ("format", "enum", "pattern")):
                kinds += (NOT_EMPTY,)
            if schema.get("uniqueItems"):
                kinds += (UNIQUE_ITEMS,)
            out[f.name] = kinds
    if len(_CACHE) > 1000:
        _CACHE.clear()
    _CACHE[id(entity)] = (entity, out)
    return out


#: Marks a field whose text values may not be empty.
NOT_EMPTY = "not-empty"
#: Marks a list field whose items must differ.
UNIQUE_ITEMS = "unique-items"


def _fits(value: Any, kinds: tuple[str, ...]) -> bool:
    if value == "" and NOT_EMPTY in kinds:
        return False
    if isinstance(value, bool):
        return "boolean" in kinds
    return any(isinstance(value, _PYTHON[k]) for k in kinds if k in _PYTHON)


def problems(entity: Any, values: Any, row: int | None = None) -> list[FieldError]:
    """The fields of ``values`` whose JSON type is not the document's."""
    if not isinstance(values, dict):
        return []
    expected = _expected(entity)
    found = []
    for name, value in values.items():
        kinds = expected.get(name)
        if value is None or kinds is None:
            continue
        if not _fits(value, kinds):
            if value == "" and NOT_EMPTY in kinds:
                message = text("must not be empty text: send null for no value",
                               "不能是空文本：没有值请发送 null")
            else:
                wanted = " or ".join(k for k in kinds if k not in (NOT_EMPTY, UNIQUE_ITEMS))
                message = text(f"must be JSON {wanted}", f"必须是 JSON {wanted}")
            found.append(FieldError(name, "type", message, None, row))
        elif isinstance(value, list) and UNIQUE_ITEMS in kinds \
                and len({repr(v) for v in value}) != len(value):
            found.append(FieldError(name, "duplicate", text("lists a value twice",
                                                            "包含重复的值"), None, row))
    return found


def check(entity: Any, values: Any) -> None:
    """Raise ValidationFailed (422) listing every value of the wrong JSON type."""
    found = problems(entity, values)
    if found:
        raise ValidationFailed(found)


def check_rows(entity: Any, rows: list[Any]) -> None:
    found = [e for i, row in enumerate(rows) for e in problems(entity, row, i)]
    if found:
        raise ValidationFailed(found)
