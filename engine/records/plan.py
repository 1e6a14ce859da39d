"""Everything the record service needs to know about one entity, worked out once.

An :class:`EntityPlan` is built per entity per service (the model is frozen) and
holds the field lists, the formula order, the CEL variables any expression reads,
the foreign keys to check and the value converters, so the per-record (and
per-row, in bulk) code only looks things up.

Pure: builds values from the compiled model and the Core tables; no queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.fields import FieldType
from engine.fields.reference import ON_DELETE
from engine.fields.standard import STANDARD_FIELDS
from engine.model import Entity, Field, Rule
from engine.storage.tables import ModelTables

Convert = Callable[[Any], Any]


def _overrides(ftype: FieldType, method: str) -> bool:
    return getattr(type(ftype), method) is not getattr(FieldType, method)


def converter(f: Field, method: str) -> Convert | None:
    """``f.type.<method>`` bound to ``f``, or ``None`` where the type keeps values as they are.

    Callers pass non-null values only.
    """
    return partial(getattr(f.type, method), f) if _overrides(f.type, method) else None


class Binder(NamedTuple):
    """How one input field's raw value becomes a checked Python value (a tuple: unpacks fast)."""

    field: Field
    coerce: Convert
    check: Callable[[Any], Any] | None  # None where the type checks nothing
    is_empty: Callable[[Any], bool] | None  # None: the base rule (None, "" or [] is empty)
    many: bool  # a list of ids kept in a link table (sorted, as links have no order)


def _binder(f: Field) -> Binder:
    ftype = f.type
    return Binder(f, partial(ftype.coerce, f),
                  partial(ftype.check, f) if _overrides(ftype, "check") else None,
                  ftype.is_empty if _overrides(ftype, "is_empty") else None, not f.stored)


@dataclass(frozen=True)
class Reference:
    """A stored column whose value must name an existing row of ``target``."""

    field: Field
    target: sa.Table
    entity: str | None  # the target entity, None for users


class Referrer(NamedTuple):
    """A relation of some entity (maybe this one) that points at the planned entity."""

    entity: str
    field: Field
    table: sa.Table
    on_delete: str  # restrict, set_null or cascade


class Linker(NamedTuple):
    """A many_to_many field of some entity that points at the planned entity."""

    entity: str
    field: Field
    link: sa.Table


@dataclass(frozen=True)
class EntityPlan:
    entity: Entity
    table: sa.Table
    #: Fields and standard columns by name.
    fields: Mapping[str, Field]
    #: Names accepted in input (before the actor's field access is applied).
    inputs: Mapping[str, Binder]
    #: Fields with a column of their own, computed ones included.
    stored: tuple[Field, ...]
    #: many_to_many fields, with their link tables.
    links: tuple[tuple[Field, sa.Table], ...]
    default_exprs: tuple[Field, ...]
    #: Formula fields in dependency order.
    formulas: tuple[Field, ...]
    autonumbers: tuple[Field, ...]
    required: tuple[Field, ...]
    required_if: tuple[Field, ...]
    read_only_if: tuple[Field, ...]
    rules: tuple[Rule, ...]
    #: Names that some expression of the entity reads; only these are bound for CEL.
    cel_names: frozenset[str]
    references: tuple[Reference, ...]
    #: Groups of columns that must be unique together (single fields and unique indexes).
    unique: tuple[tuple[Field, ...], ...]
    #: Relations that point here, by ``on_delete`` (what deleting a record of it does).
    referenced_by: Mapping[str, tuple[Referrer, ...]]
    #: many_to_many fields that point here (their link rows go when a record is deleted).
    linked_by: tuple[Linker, ...]
    to_db: Mapping[str, Convert | None]
    from_db: Mapping[str, Convert | None]
    to_json: Mapping[str, Convert | None]
    to_cel: Mapping[str, Convert | None]
    #: Whether any CEL runs on a write (else no bindings are built at all).
    has_expressions: bool
    #: A new record before input: the literal defaults and version 1.
    blank: Mapping[str, Any]
    #: The service's clock: CEL ``now()`` / ``today()`` of this entity's expressions read it.
    clock: Clock = SYSTEM_CLOCK

    @property
    def name(self) -> str:
        return self.entity.name

    def to_db_value(self, f: Field, value: Any) -> Any:
        convert = self.to_db[f.name]
        return convert(value) if convert is not None and value is not None else value

    def from_db_value(self, f: Field, value: Any) -> Any:
        convert = self.from_db[f.name]
        return convert(value) if convert is not None and value is not None else value



def _formula_order(formulas: list[Field]) -> tuple[Field, ...]:
    by_name = {f.name: f for f in formulas}
    ordered: list[Field] = []
    done: set[str] = set()

    def visit(f: Field) -> None:  # the compiler has refused cycles already
        if f.name in done:
            return
        done.add(f.name)
        for name in sorted(f.expr.variables if f.expr else ()):
            if name in by_name:
                visit(by_name[name])
        ordered.append(f)

    for f in formulas:
        visit(f)
    return tuple(ordered)


def build_entity_plan(model_entities: Mapping[str, Entity], tables: ModelTables, name: str,
               clock: Clock = SYSTEM_CLOCK) -> EntityPlan:
    """The plan of entity ``name``; its expressions will read ``clock``."""
    entity = model_entities[name]
    table = tables.entity(name)
    fields = {**STANDARD_FIELDS, **{f.name: f for f in entity.fields}}
    inputs = {f.name: _binder(f) for f in entity.fields if not f.read_only and not f.computed}
    inputs["owner"] = _binder(STANDARD_FIELDS["owner"])
    expressions = [e for f in entity.fields
                   for e in (f.default_expr, f.expr, f.required_if, f.read_only_if) if e is not None]
    expressions += [e for r in entity.rules for e in (r.when, r.assert_) if e is not None]
    references = []
    for f in (*entity.stored_fields, STANDARD_FIELDS["owner"]):
        for fk in table.c[f.name].foreign_keys:
            target = fk.column.table
            references.append(Reference(f, target, target.name if f.target else None))
    unique = [(f,) for f in entity.stored_fields if f.unique and not f.computed]
    unique += [tuple(fields[n] for n in ix.fields) for ix in entity.indexes if ix.unique]
    referenced_by: dict[str, list[Referrer]] = {a: [] for a in ON_DELETE}
    linked_by = []
    for other in model_entities.values():
        for f in other.fields:
            if f.target != name:
                continue
            if f.stored:  # the storage layer's default too: an undeclared action nulls
                action = f.on_delete or "set_null"
                referenced_by[action].append(Referrer(other.name, f, tables.entity(other.name),
                                                      action))
            else:
                linked_by.append(Linker(other.name, f, tables.link(other.name, f.name)))
    stored = entity.stored_fields
    every = (*STANDARD_FIELDS.values(), *entity.fields)
    return EntityPlan(
        entity=entity, table=table, fields=fields, inputs=inputs, stored=stored,
        links=tuple((f, tables.link(name, f.name)) for f in entity.fields if not f.stored),
        default_exprs=tuple(f for f in entity.fields if f.default_expr is not None),
        formulas=_formula_order([f for f in entity.fields if f.expr is not None]),
        autonumbers=tuple(f for f in entity.fields if f.format is not None and f.computed),
        required=tuple(f for f in entity.fields if f.required and not f.computed),
        required_if=tuple(f for f in entity.fields if f.required_if is not None),
        read_only_if=tuple(f for f in entity.fields if f.read_only_if is not None),
        rules=entity.rules,
        cel_names=frozenset(n for e in expressions for n in e.variables),
        references=tuple(references), unique=tuple(unique),
        referenced_by=MappingProxyType({a: tuple(r) for a, r in referenced_by.items()}),
        linked_by=tuple(linked_by),
        to_db={f.name: converter(f, "to_db") for f in every},
        from_db={f.name: converter(f, "from_db") for f in every},
        to_json={f.name: converter(f, "to_json") for f in every},
        to_cel={f.name: converter(f, "to_cel") for f in every},
        has_expressions=bool(expressions),
        blank=MappingProxyType({**{f.name: f.default for f in entity.fields
                                   if f.default is not None}, "version": 1}),
        clock=clock,
    )
