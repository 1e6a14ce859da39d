"""Choice field types: select (one option) and multiselect (several)."""

from __future__ import annotations

from typing import Any, Iterator

import sqlalchemy as sa

from engine.fields.base import FieldType, FieldValueError, register
from engine.model import Field

#: Column length of a select field, unless an option value is longer.
SELECT_LENGTH = 64


def _not_an_option(field: Field, value: Any) -> FieldValueError:
    known = ", ".join(field.option_values)
    return FieldValueError("choice", f"{value!r} is not one of: {known}",
                           f"{value!r} 不是可选值之一：{known}")


@register
class SelectType(FieldType):
    name = "select"
    display = "select"
    list_filter = "choice"
    widget = "select"
    keys = frozenset({"options", "transitions"})
    required_keys = frozenset({"options"})

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        longest = max((len(v) for v in field.option_values), default=0)
        return sa.String(max(SELECT_LENGTH, longest))

    def coerce(self, field: Field, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("type", "must be text", "必须是文本")
        return value

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        if value not in field.option_values:
            yield _not_an_option(field, value)

    def cel_type(self, field: Field) -> str:
        return "string"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "enum": list(field.option_values)}


@register
class MultiSelectType(FieldType):
    name = "multiselect"
    display = "multiselect"
    list_filter = "choices"
    widget = "multiselect"
    indexable = False  # a JSON column
    keys = frozenset({"options"})
    required_keys = frozenset({"options"})

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.JSON()

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise FieldValueError("type", "must be a list of options", "必须是选项列表")
        # Keep the first occurrence of each value, in the order given.
        return list(dict.fromkeys(value))

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        for item in value:
            if item not in field.option_values:
                yield _not_an_option(field, item)

    def cel_type(self, field: Field) -> str:
        return "list(string)"

    def to_cel(self, field: Field, value: Any) -> Any:
        return list(value)

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": list(field.option_values)},
                "uniqueItems": True}

    def convert(self, field: Field, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        result = self.coerce(field, value)
        problems = list(self.check(field, result))
        if problems:
            raise problems[0]
        return result
