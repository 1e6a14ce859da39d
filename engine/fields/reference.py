"""Reference field types: relation (many-to-one), many_to_many, user.

The foreign keys themselves are built by :mod:`engine.storage`; these classes
only say what the values look like.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from engine.fields.base import FieldType, FieldValueError, register
from engine.model import Field

#: ``on_delete`` values a relation may declare.
ON_DELETE = ("restrict", "set_null", "cascade")


def coerce_id(value: Any) -> int:
    """An id from an int, an integral string or ``{"id": n}``."""
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    if isinstance(value, bool):
        raise FieldValueError("type", "must be a record id", "必须是记录 ID")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value) and int(value) > 0:
        return int(value)
    raise FieldValueError("type", "must be a record id", "必须是记录 ID")


@register
class RelationType(FieldType):
    name = "relation"
    widget = "relation"
    keys = frozenset({"target", "on_delete", "inverse"})
    required_keys = frozenset({"target"})

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def coerce(self, field: Field, value: Any) -> Any:
        return coerce_id(value)

    def cel_type(self, field: Field) -> str:
        return "int"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "x-target": field.target}


@register
class ManyToManyType(FieldType):
    name = "many_to_many"
    widget = "relation_multi"
    keys = frozenset({"target", "inverse"})
    required_keys = frozenset({"target"})
    has_column = False

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        # Stored in a generated link table: both ends are ids.
        return sa.BigInteger()

    def coerce(self, field: Field, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise FieldValueError("type", "must be a list of record ids", "必须是记录 ID 列表")
        return list(dict.fromkeys(coerce_id(v) for v in value))

    def cel_type(self, field: Field) -> str:
        return "list(int)"

    def to_cel(self, field: Field, value: Any) -> Any:
        return list(value)

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "integer", "minimum": 1},
                "x-target": field.target}


@register
class UserType(FieldType):
    name = "user"
    widget = "user"

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def coerce(self, field: Field, value: Any) -> Any:
        return coerce_id(value)

    def cel_type(self, field: Field) -> str:
        return "int"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "x-target": "user"}
