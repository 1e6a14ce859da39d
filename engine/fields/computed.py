"""Computed field types: autonumber and formula. The record service fills them."""

from __future__ import annotations

import re
from typing import Any, Iterator

import sqlalchemy as sa

from engine.fields.base import FieldType, FieldValueError, register, registry
from engine.model import Field

#: Placeholders an autonumber format may use. ``{seq:N}`` pads to N digits.
AUTONUMBER_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|seq(?::(\d{1,2}))?)\}")
#: Types a formula may return.
FORMULA_RETURNS = ("string", "integer", "decimal", "money", "percent", "boolean", "date",
                   "datetime")


@register
class AutonumberType(FieldType):
    name = "autonumber"
    widget = "readonly"
    keys = frozenset({"format"})
    required_keys = frozenset({"format"})
    computed = True

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.String(64)

    def coerce(self, field: Field, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("type", "must be text", "必须是文本")
        return value

    def cel_type(self, field: Field) -> str:
        return "string"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "readOnly": True}


@register
class FormulaType(FieldType):
    name = "formula"
    widget = "readonly"
    keys = frozenset({"expr", "returns", "precision", "scale", "currency"})
    required_keys = frozenset({"expr", "returns"})
    computed = True

    @staticmethod
    def result_type(field: Field) -> FieldType:
        return registry.get(field.returns or "string")

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return self.result_type(field).column_type(field)

    def from_db(self, field: Field, value: Any) -> Any:
        return self.result_type(field).from_db(field, value)

    def to_db(self, field: Field, value: Any) -> Any:
        return self.result_type(field).to_db(field, value)

    def coerce(self, field: Field, value: Any) -> Any:
        return self.result_type(field).coerce(field, value)

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        return iter(())

    def cel_type(self, field: Field) -> str:
        return self.result_type(field).cel_type(field)

    def to_cel(self, field: Field, value: Any) -> Any:
        return self.result_type(field).to_cel(field, value)

    def from_cel(self, field: Field, value: Any) -> Any:
        return self.result_type(field).from_cel(field, value)

    def to_json(self, field: Field, value: Any) -> Any:
        return self.result_type(field).to_json(field, value)

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {**self.result_type(field).json_schema(field), "readOnly": True}
