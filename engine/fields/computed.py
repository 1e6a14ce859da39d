"""Computed field types: autonumber and formula. The record service fills them."""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

import sqlalchemy as sa

from engine.fields.base import FieldType, FieldValueError, register, registry
from engine.model import Field

#: Placeholders an autonumber format may use. ``{seq:N}`` pads to N digits.
AUTONUMBER_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|seq(?::(\d{1,2}))?)\}")
#: Types a formula may return.
FORMULA_RETURNS = ("string", "integer", "decimal", "money", "percent", "boolean", "date",
                   "datetime")
#: Placeholders an autonumber format may use, for messages.
AUTONUMBER_PLACEHOLDERS = "{YYYY}, {YY}, {MM}, {DD}, {seq}, {seq:N}"
#: Longest value an autonumber column holds.
AUTONUMBER_LENGTH = 64


@register
class AutonumberType(FieldType):
    name = "autonumber"
    widget = "readonly"
    keys = frozenset({"format"})
    required_keys = frozenset({"format"})
    computed = True
    accepts_default = False
    always_unique = True
    titles = True

    def spec_problems(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        fmt = spec.get("format")
        if not isinstance(fmt, str):
            return
        tokens = AUTONUMBER_TOKEN.findall(fmt)
        if sum(1 for t in tokens if t[0].startswith("seq")) != 1:
            yield ("format", "an autonumber format needs exactly one {seq} or {seq:N} placeholder")
        stray = AUTONUMBER_TOKEN.sub("", fmt)
        if "{" in stray or "}" in stray:
            yield ("format", f"unknown placeholder in format; known: {AUTONUMBER_PLACEHOLDERS}")
            return
        # The longest number it can render: a counter reaches 19 digits at most (BIGINT).
        widths = {"YYYY": 4, "YY": 2, "MM": 2, "DD": 2}
        longest = AUTONUMBER_TOKEN.sub(
            lambda m: "9" * (widths.get(m.group(1)) or max(19, int(m.group(2) or 0))), fmt)
        if int(max((t[1] or "0" for t in tokens), key=int)) > 18:
            yield ("format", "{seq:N} pads to at most 18 digits")
        elif len(longest) > AUTONUMBER_LENGTH:
            yield ("format", f"the numbers this format renders can exceed {AUTONUMBER_LENGTH} "
                   "characters; shorten it")

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.String(AUTONUMBER_LENGTH)

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
    accepts_default = False

    def spec_problems(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        returns = spec.get("returns")
        if returns not in registry:
            return  # the metaschema reports it
        result = registry.get(returns)
        for key in ("precision", "scale", "currency"):
            if key in spec and key not in result.keys:
                yield (key, f"key {key!r} does not apply to a formula returning {returns!r}")
        yield from result.spec_problems(spec)

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
        # A computed value must still fit its column (a long string, a huge amount).
        return self.result_type(field).check(field, value)

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
