"""The field-type contract and its registry.

Each field type is one class registered here. Everything that depends on a
type (column, value coercion, constraint checks, CEL binding, JSON form, form
widget, migration conversions) is a method of that class, so no other module
branches on type names. A golden test walks the registry and checks that every
type answers all of it.

No database access and no Flask here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Mapping

import sqlalchemy as sa

from engine.model import Field, Text


class FieldValueError(ValueError):
    """A value that a field refuses. ``message`` is bilingual."""

    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.code = code
        self.message = Text.of({"en": en, "zh-CN": zh})


class FieldType:
    """Base class of every field type. Subclasses set ``name`` and override."""

    #: Type name used in metadata files (``type: money``).
    name: ClassVar[str] = ""
    #: Spec keys this type accepts on top of the common field keys.
    keys: ClassVar[frozenset[str]] = frozenset()
    #: Keys this type requires.
    required_keys: ClassVar[frozenset[str]] = frozenset()
    #: False for types stored outside the entity's table (many-to-many).
    has_column: ClassVar[bool] = True
    #: True for values the record service computes (formula, autonumber).
    computed: ClassVar[bool] = False
    #: Name of the widget the web form uses.
    widget: ClassVar[str] = "text"
    #: How people read a value: the name of the display an interface shows it with (the
    #: web has one formatter per display name, ``web/records/display.py``).
    display: ClassVar[str] = "text"
    #: The list page's filter for this type, by kind (``None``: lists don't filter on it).
    list_filter: ClassVar[str | None] = "contains"
    #: True for long values (long text, documents) that lists show only when asked to.
    long_values: ClassVar[bool] = False
    #: True when values are ids of Loom users (``loom_users``) rather than of records.
    refers_to_users: ClassVar[bool] = False
    #: Types whose values always convert into this one without loss.
    widens_from: ClassVar[frozenset[str]] = frozenset()
    #: Whether min/max or min_length/max_length/pattern apply.
    numeric: ClassVar[bool] = False
    textual: ClassVar[bool] = False
    #: False for values a literal or expression default makes no sense for.
    accepts_default: ClassVar[bool] = True
    #: True for ids other tables are joined and filtered on: indexed without asking.
    indexed_by_default: ClassVar[bool] = False
    #: False where the column can't carry a B-tree index or unique constraint on
    #: every database (JSON columns, link tables).
    indexable: ClassVar[bool] = True
    #: True when values are unique whatever the metadata says (autonumber).
    always_unique: ClassVar[bool] = False
    #: True for types that make a good record title; the first such field of an
    #: entity is its display field unless the metadata names one.
    titles: ClassVar[bool] = False

    # -- metadata ------------------------------------------------------------
    def spec_defaults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Keys this type fills in when a field spec leaves them out."""
        return {}

    def spec_problems(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """Yield ``(key, message)`` for each type-specific mistake in a field spec.

        ``spec`` has the preset merged in and only keys the type accepts.
        """
        return iter(())

    # -- storage -----------------------------------------------------------
    def column_type(self, field: Field) -> sa.types.TypeEngine:
        raise NotImplementedError

    def from_db(self, field: Field, value: Any) -> Any:
        """Turn a value read from the database into the Python value."""
        return value

    def to_db(self, field: Field, value: Any) -> Any:
        """Turn a Python value into what the column takes."""
        return value

    def references(self, field: Field) -> str | None:
        """Table whose ``id`` this field's values refer to (relation targets, users), or None."""
        return None

    # -- values ------------------------------------------------------------
    def coerce(self, field: Field, value: Any) -> Any:
        """Turn an input value (JSON or form string) into the Python value.

        Raises :class:`FieldValueError` when the value has the wrong type.
        ``None`` never reaches this method.
        """
        raise NotImplementedError

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        """Yield every constraint a coerced, non-null value breaks."""
        return iter(())

    def is_empty(self, value: Any) -> bool:
        return value is None or value == "" or value == []

    # -- expressions -------------------------------------------------------
    def cel_type(self, field: Field) -> str:
        """CEL type signature of the value, e.g. ``int`` or ``list(string)``."""
        raise NotImplementedError

    def to_cel(self, field: Field, value: Any) -> Any:
        return value

    def from_cel(self, field: Field, value: Any) -> Any:
        """Turn a CEL result (formula, default expression) into the Python value."""
        return self.coerce(field, value)

    # -- API ---------------------------------------------------------------
    def to_json(self, field: Field, value: Any) -> Any:
        return value

    def json_schema(self, field: Field) -> dict[str, Any]:
        raise NotImplementedError

    # -- migrations --------------------------------------------------------
    def convert(self, field: Field, value: Any) -> Any:
        """Convert a stored value of another type into this type, or raise.

        Used to preview and run a retype. The default goes through text.
        """
        if isinstance(value, (list, dict)):
            raise FieldValueError("convert", "cannot convert a list or object", "无法转换列表或对象")
        coerced = self.coerce(field, value if isinstance(value, str) else _plain_str(value))
        problems = list(self.check(field, coerced))
        if problems:
            raise problems[0]
        return coerced


def _plain_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class FieldTypeRegistry:
    """Field types by name. Refuses duplicates, names the known types on a miss."""

    def __init__(self) -> None:
        self._types: dict[str, FieldType] = {}

    def register(self, cls: type[FieldType]) -> type[FieldType]:
        if not cls.name:
            raise ValueError(f"field type class {cls.__name__} has no name")
        if cls.name in self._types:
            raise ValueError(f"field type {cls.name!r} is already registered")
        self._types[cls.name] = cls()
        return cls

    def get(self, name: str) -> FieldType:
        try:
            return self._types[name]
        except KeyError:
            raise KeyError(f"unknown field type {name!r}; known: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def all(self) -> list[FieldType]:
        return [self._types[n] for n in self.names()]


#: The registry of built-in field types, filled by the modules of this package.
registry = FieldTypeRegistry()
register = registry.register
