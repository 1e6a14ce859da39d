"""Reference field types: relation (many-to-one), many_to_many, user.

The foreign keys themselves are built by :mod:`engine.storage`; these classes
only say what the values look like.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

import sqlalchemy as sa

from engine.fields.base import FieldType, FieldValueError, register
from engine.model import Field

#: ``on_delete`` values a relation may declare.
ON_DELETE = ("restrict", "set_null", "cascade")
#: Largest id a BIGINT column holds.
MAX_ID = 2**63 - 1


def coerce_id(value: Any) -> int:
    """An id from an int, an integral string or ``{"id": n}``."""
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    if isinstance(value, bool):
        raise FieldValueError("type", "must be a record id", "必须是记录 ID")
    if isinstance(value, str) and len(value) <= 40 and re.fullmatch(r"\s*[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    raise FieldValueError("type", "must be a record id", "必须是记录 ID")


class _IdType(FieldType):
    """A BIGINT column holding the id of a row elsewhere (a record, or a Loom user)."""

    indexed_by_default = True

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def coerce(self, field: Field, value: Any) -> Any:
        return coerce_id(value)

    def cel_type(self, field: Field) -> str:
        return "int"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "x-target": self.references(field)}


@register
class RelationType(_IdType):
    name = "relation"
    display = "relation"
    list_filter = "relation"
    widget = "relation"
    keys = frozenset({"target", "on_delete", "inverse"})
    required_keys = frozenset({"target"})

    def references(self, field: Field) -> str | None:
        return field.target

    def spec_defaults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        # A required relation can't be emptied, so deleting its target is refused.
        return {"on_delete": "restrict" if spec.get("required") else "set_null"}

    def spec_problems(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if spec.get("required") and spec.get("on_delete") == "set_null":
            yield ("on_delete", "a required relation cannot use on_delete: set_null "
                   "(use restrict or cascade)")


@register
class ManyToManyType(FieldType):
    name = "many_to_many"
    display = "many_to_many"
    list_filter = "relations"
    widget = "relation_multi"
    keys = frozenset({"target", "inverse"})
    required_keys = frozenset({"target"})
    has_column = False
    accepts_default = False
    indexable = False

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        # Stored in a generated link table: both ends are ids.
        return sa.BigInteger()

    def references(self, field: Field) -> str | None:
        return field.target

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
class UserType(_IdType):
    name = "user"
    display = "user"
    list_filter = "user"
    refers_to_users = True
    widget = "user"

    def references(self, field: Field) -> str | None:
        # Loom's own users table (engine.storage.tables.USERS; not imported: no storage here).
        return "loom_users"
