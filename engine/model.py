"""Frozen values of the compiled model.

Everything downstream of the compiler (storage, the record service, and later
forms, the API, automation and reports) reads these values and nothing else.
They are built once by :mod:`engine.compiler` and never mutated: containers are
tuples and read-only mappings, dataclasses are frozen.

This module must not import SQLAlchemy, CEL or Flask: it only describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

# The model sits below the field types and CEL: ``engine.fields.base.FieldType`` and
# ``engine.rules.Expression`` import this module, so annotations here name them through
# these aliases instead of importing them (which would make an import circle).
FieldType = Any
Expression = Any

#: Languages every label may carry. The first one is the fallback.
LANGUAGES = ("en", "zh-CN")

#: Columns every entity table has, in this order, whatever the metadata says.
STANDARD_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "owner",
    "version",
)

EMPTY: Mapping[str, Any] = MappingProxyType({})


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become MappingProxyType, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain (JSON-ready) copy of a :func:`freeze` result."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Text:
    """A label in several languages: ``Text({"en": "Deal", "zh-CN": "商机"})``."""

    values: Mapping[str, str]

    def get(self, lang: str = "en") -> str:
        """The label in ``lang``, falling back to English, then to any language."""
        if lang in self.values:
            return self.values[lang]
        if "en" in self.values:
            return self.values["en"]
        return next(iter(self.values.values()), "")

    def as_dict(self) -> dict[str, str]:
        return dict(self.values)

    @classmethod
    def of(cls, value: "str | Mapping[str, str] | Text | None", fallback: str = "") -> "Text":
        """Build from a plain string (used for every language) or a mapping."""
        if isinstance(value, Text):
            return value
        if value is None:
            value = fallback
        if isinstance(value, str):
            return cls(MappingProxyType({lang: value for lang in LANGUAGES}))
        return cls(MappingProxyType(dict(value)))

    def __str__(self) -> str:
        return self.get()


@dataclass(frozen=True)
class Source:
    """Where a piece of metadata came from, for error messages."""

    file: str
    path: tuple[str | int, ...] = ()
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        return f"{where} at {json_path(self.path)}"


def json_path(path: tuple[str | int, ...]) -> str:
    """``("fields", 2, "type")`` -> ``$.fields[2].type``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True)
class Option:
    """One choice of a select or multiselect field."""

    value: str
    label: Text
    color: str | None = None


@dataclass(frozen=True)
class Inverse:
    """The one-to-many listing another entity's relation gives this entity."""

    name: str
    label: Text
    entity: str  # the entity holding the relation field
    field: str  # the relation field on that entity


@dataclass(frozen=True)
class Field:
    """A compiled field. Type-specific keys sit in their own attributes."""

    name: str
    type: "FieldType"
    label: Text
    source: Source
    help: Text | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    default: Any = None
    default_expr: "Expression | None" = None
    # fields whose change recomputes ``default_expr`` on update (``default: {expr, follows}``)
    follows: tuple[str, ...] = ()
    min: Any = None
    max: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: tuple[Option, ...] = ()
    #: select fields: state -> the states a change may move it to (``None``: any move).
    #: A state not listed may move anywhere; the system (workflows) and admins are not held.
    transitions: "Mapping[str, tuple[str, ...]] | None" = None
    # relation / many_to_many
    target: str | None = None
    on_delete: str | None = None
    inverse: Inverse | None = None
    # decimal / money
    precision: int | None = None
    scale: int | None = None
    currency: str | None = None
    # autonumber
    format: str | None = None
    # formula
    expr: "Expression | None" = None
    returns: str | None = None
    # conditional behaviour (CEL over the record)
    visible_if: "Expression | None" = None
    required_if: "Expression | None" = None
    read_only_if: "Expression | None" = None
    # migrations
    renamed_from: tuple[str, ...] = ()
    convert: Mapping[str, Any] = dc_field(default_factory=lambda: EMPTY)
    preset: str | None = None

    @property
    def type_name(self) -> str:
        return self.type.name

    @property
    def stored(self) -> bool:
        """True when the field is a column of the entity's own table."""
        return self.type.has_column

    @cached_property
    def option_values(self) -> tuple[str, ...]:
        # Cached: every select check reads it (cached_property writes the instance
        # __dict__ directly, which a frozen dataclass allows).
        return tuple(o.value for o in self.options)

    @property
    def computed(self) -> bool:
        """Values the record service fills itself (formula, autonumber)."""
        return self.type.computed


@dataclass(frozen=True)
class Index:
    """A (possibly composite) index or unique constraint over fields."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Rule:
    """``assert`` must hold whenever ``when`` holds; otherwise ``message``."""

    name: str
    assert_: "Expression"
    message: Text
    source: Source
    when: "Expression | None" = None
    severity: str = "error"  # error blocks the write; warning is reported only


@dataclass(frozen=True)
class Entity:
    """A compiled entity: its fields, constraints, rules and view defaults."""

    name: str
    label: Text
    plural_label: Text
    source: Source
    fields: tuple[Field, ...]
    description: Text | None = None
    display_field: str = "id"
    indexes: tuple[Index, ...] = ()
    rules: tuple[Rule, ...] = ()
    list_view: Mapping[str, Any] = dc_field(default_factory=lambda: EMPTY)
    form_layout: Mapping[str, Any] = dc_field(default_factory=lambda: EMPTY)
    inverses: tuple[Inverse, ...] = ()
    renamed_from: tuple[str, ...] = ()
    _by_name: Mapping[str, Field] = dc_field(default_factory=lambda: EMPTY, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({f.name: f for f in self.fields}))

    @property
    def table_name(self) -> str:
        return self.name

    def field(self, name: str) -> Field:
        """The field called ``name``; a KeyError names the known fields."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise KeyError(f"unknown field {name!r} of entity {self.name!r}; known: {known}") from None

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    @property
    def stored_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.stored)

    def link_table_name(self, field: Field) -> str:
        """Name of the generated link table of a many-to-many field."""
        return f"{self.name}__{field.name}"


@dataclass(frozen=True)
class Preset:
    """A named bundle of field defaults that a field may override."""

    name: str
    values: Mapping[str, Any]
    source: Source


@dataclass(frozen=True)
class PoolGrant:
    """Records without an owner that sit in a pool the role may read are visible (read only).

    ``field`` is the entity's relation to the pool entity ``target``; ``roles``, when
    given, a multiselect of the pool naming the roles it is open to (empty: every role).
    """

    field: str
    target: str
    roles: str | None = None


@dataclass(frozen=True)
class EntityGrant:
    """What a role may do with one entity: actions, the rows it sees, field access.

    ``scope`` is ``own``, ``team``, ``team_tree`` or ``all``; ``fields`` maps a field
    (or standard column) to ``read`` or ``hidden``; unlisted fields are writable.
    ``pool`` adds the unowned records of the pools the role may read (read only);
    ``read_through`` names relations whose targets' display names may be read through
    a record of this entity; ``conditions`` maps ``update`` / ``delete`` to a CEL
    condition the stored record must satisfy.
    """

    actions: frozenset[str]
    scope: str = "own"
    fields: Mapping[str, str] = dc_field(default_factory=lambda: EMPTY)
    pool: PoolGrant | None = None
    read_through: frozenset[str] = frozenset()
    conditions: Mapping[str, "Expression"] = dc_field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class Role:
    """A named bundle of grants, declared by a ``kind: role`` document."""

    name: str
    label: Text
    source: Source
    description: Text | None = None
    admin: bool = False
    default: EntityGrant | None = None
    entities: Mapping[str, EntityGrant] = dc_field(default_factory=lambda: EMPTY)

    def grant(self, entity: str) -> EntityGrant | None:
        """The grant for ``entity``: its own, else the role's default, else ``None``."""
        return self.entities.get(entity, self.default)


@dataclass(frozen=True)
class Use:
    """One place in the metadata that reads an entity or a field (see ``CompiledModel.users_of``).

    ``kind`` is the document kind (``entity``, ``extends``, ``role``...), ``owner`` the
    entity or role (or other document) the user belongs to, ``description`` says what
    it is: ``rule 'won_needs_amount' (when)``.
    """

    kind: str
    owner: str
    source: Source
    description: str

    def __str__(self) -> str:
        return f"{self.description} ({self.kind} {self.owner!r}; {self.source})"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "owner": self.owner, "description": self.description,
                "file": self.source.file, "line": self.source.line,
                "path": json_path(self.source.path)}


@dataclass(frozen=True)
class CompiledModel:
    """The whole compiled metadata.

    ``version`` (the schema version) hashes what shapes tables and stored values and
    gates writes; ``revision`` hashes every document (labels, layouts, roles included)
    and is what processes reload on (see :mod:`engine.compiler.versioning`).
    """

    entities: Mapping[str, Entity]
    presets: Mapping[str, Preset]
    version: str
    specs: Mapping[str, Any] = dc_field(default_factory=lambda: EMPTY)  # merged entity specs, for `loom show` and the API
    # Roles are not part of ``version`` (no table depends on them), only of ``revision``.
    roles: Mapping[str, Role] = dc_field(default_factory=lambda: EMPTY)
    #: Hash of every document the model compiled from; ``""`` for a model built by hand.
    revision: str = ""
    # Values of registered document kinds that have no attribute of their own, by place.
    parts: Mapping[str, Any] = dc_field(default_factory=lambda: EMPTY)
    # (entity, field or None for the entity itself) -> what reads it. Not in ``version``.
    uses: Mapping[tuple[str, str | None], tuple[Use, ...]] = dc_field(
        default_factory=lambda: EMPTY, repr=False)

    def part(self, place: str) -> Any:
        """The compiled value of a document kind by its place; a KeyError names the known ones."""
        if place in ("entities", "presets", "roles"):
            return getattr(self, place)
        try:
            return self.parts[place]
        except KeyError:
            known = ", ".join(sorted({"entities", "presets", "roles", *self.parts}))
            raise KeyError(f"unknown model part {place!r}; known: {known}") from None

    def users_of(self, entity: str, field: str | None = None) -> tuple[Use, ...]:
        """What reads ``entity.field`` (or, without ``field``, the entity itself).

        >>> model.users_of("deal", "stage")          # doctest: +SKIP
        (Use(kind='entity', owner='deal', description="rule 'won_needs_amount' (when)", ...), ...)
        """
        known = self.entity(entity)
        if field is not None and field not in STANDARD_COLUMNS:
            known.field(field)  # an unknown field is a KeyError naming the known ones
        return self.uses.get((entity, field), ())

    def entity(self, name: str) -> Entity:
        """The entity called ``name``; a KeyError names the known entities."""
        try:
            return self.entities[name]
        except KeyError:
            known = ", ".join(sorted(self.entities))
            raise KeyError(f"unknown entity {name!r}; known: {known}") from None

    def has_entity(self, name: str) -> bool:
        return name in self.entities
