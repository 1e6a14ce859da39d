"""Turn Alembic's differences for one existing table into plan steps.

Rules (see :mod:`engine.storage.migrate` for the whole contract):

* A new column is ``add_field``; a required one on a table with rows is
  filled with the field's default, and refused without one.
* A column the model no longer has is a destructive ``drop_field``; its values
  are archived first.
* A type change is a ``widen`` (safe, no preview) when the new field type
  ``widens_from`` the old one, or when the type stays and the column grows
  (longer string, more decimal digits), and in both cases every old value fits
  the new column (an integer only widens into a NUMERIC with 19 digits before
  the point) and no constraint got stricter; otherwise it is a ``retype``:
  every stored value is converted with the new type's ``convert`` to count
  failures. Failures refuse the plan unless the field declares ``convert:
  {on_failure: set_null | default}``, which makes the step destructive.
* A stricter constraint with the same SQL type (an option removed, a lower
  ``max_length`` on a text field, a new pattern, tighter min/max) is a
  ``tighten`` step (:mod:`engine.storage.constraints`), previewed with the
  field type's ``check`` and refused or destructive like a retype.
* A field type change the database cannot see (``string`` -> ``email``, both
  VARCHAR) is found through the previously applied model and treated alike.
* Nullability, indexes, unique constraints and foreign keys become
  ``alter_field``, ``add_index`` / ``drop_index`` / ``rename_index`` and
  ``alter_relation`` steps; a unique constraint over duplicated values, or a
  relation whose values point at missing records, is refused (a relation with
  ``on_failure: set_null`` nulls them instead).

Reads only; the steps' ``run`` callables change the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import partial
from typing import Any

import sqlalchemy as sa

from engine.model import Entity, Field
from engine.storage import steps, values
from engine.storage.constraints import (
    on_failure,
    plan_tighten,
    replacement,
    show_default,
    tightened,
    trace_replaced,
)
from engine.storage.plan import PREVIEW_EXAMPLES, MigrationError, Planning, Step
from engine.storage.steps import Runner


_INT_RANK = {sa.SmallInteger: 1, sa.Integer: 2, sa.BigInteger: 3}
#: Decimal digits the largest value of each integer rank has (unknown: assume BIGINT).
_INT_DIGITS = {0: 19, 1: 5, 2: 10, 3: 19}


@dataclass
class TableDiff:
    """What Alembic found different in one table that exists on both sides."""

    add_cols: dict[str, sa.Column] = dc_field(default_factory=dict)
    drop_cols: dict[str, sa.Column] = dc_field(default_factory=dict)
    types: dict[str, tuple[Any, Any]] = dc_field(default_factory=dict)
    nullable: dict[str, bool] = dc_field(default_factory=dict)
    add_ix: list[Any] = dc_field(default_factory=list)  # Index | UniqueConstraint (target)
    drop_ix: list[Any] = dc_field(default_factory=list)  # Index | UniqueConstraint (reflected)
    add_fk: list[sa.ForeignKeyConstraint] = dc_field(default_factory=list)
    drop_fk: list[sa.ForeignKeyConstraint] = dc_field(default_factory=list)


def columns_of(item: Any) -> tuple[str, ...]:
    """Column names of an index, unique constraint or foreign key."""
    if isinstance(item, sa.ForeignKeyConstraint):
        return tuple(item.column_keys)
    return tuple(c.name for c in item.columns)


def _int_rank(t: sa.types.TypeEngine) -> int:
    return max((rank for cls, rank in _INT_RANK.items() if isinstance(t, cls)), default=0)


def _exact_numeric(t: sa.types.TypeEngine) -> bool:
    return isinstance(t, sa.Numeric) and not isinstance(t, sa.Float)


def sql_widens(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> bool:
    """True when every value of ``old`` fits ``new`` (strings, integers, exact numerics).

    An integer fits a NUMERIC only with room for all its digits before the point
    (19 for a BIGINT): ``NUMERIC(7, 2)`` holds 99999.99 at most.
    """
    if isinstance(old, sa.String) and isinstance(new, sa.String):
        return new.length is None or (old.length is not None and new.length >= old.length)
    if isinstance(old, sa.Integer) and isinstance(new, sa.Integer):
        return _int_rank(new) >= _int_rank(old)
    if isinstance(old, sa.Integer) and _exact_numeric(new):
        digits = _INT_DIGITS[_int_rank(old)]
        return new.precision is None or new.precision - (new.scale or 0) >= digits
    if _exact_numeric(old) and _exact_numeric(new):
        if new.precision is None:
            return True
        if old.precision is None:
            return False
        old_scale, new_scale = old.scale or 0, new.scale or 0
        return new_scale >= old_scale and new.precision - new_scale >= old.precision - old_scale
    return False


def _judged(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> bool:
    """Whether :func:`sql_widens` can tell if ``old`` values fit ``new``."""
    return (any(isinstance(old, cls) and isinstance(new, cls)
                for cls in (sa.String, sa.Integer, sa.Numeric))
            or (isinstance(old, sa.Integer) and _exact_numeric(new)))


def _field(entity: Entity | None, name: str) -> Field | None:
    if entity is not None and entity.has_field(name):
        return entity.field(name)
    return None


def classify_table(p: Planning, table: str, diff: TableDiff) -> None:
    entity = p.entity_by_table.get(table)
    for column in diff.add_cols.values():
        _add_column(p, table, entity, column, diff)
    for column in diff.drop_cols.values():
        _drop_column(p, table, column, diff)
    for name, (old_type, _) in diff.types.items():
        target = p.target.metadata.tables[table].c[name]
        field = _field(entity, name)
        if field is None:
            _system_type_change(p, table, target, old_type)
        else:
            _type_change(p, table, field, p.old_field(table, name), old_type, target)
    if entity is not None and p.old is not None:
        for field in entity.stored_fields:
            if field.name in diff.add_cols or field.name in diff.types:
                continue
            old = p.old_field(table, field.name)
            if old is None:
                continue
            if old.type_name != field.type_name:
                target = p.target.metadata.tables[table].c[field.name]
                _type_change(p, table, field, old, target.type, target)
            elif what := tightened(old, field):
                plan_tighten(p, table, field, what)
    for name, nullable in diff.nullable.items():
        if name not in diff.add_cols and name not in diff.drop_cols:
            _nullability(p, table, _field(entity, name),
                         p.target.metadata.tables[table].c[name], nullable)
    _indexes(p, table, entity, diff)
    _foreign_keys(p, table, entity, diff)


# -- columns ---------------------------------------------------------------------
def _take(items: list[Any], column: str) -> list[Any]:
    """Remove and return the items of ``items`` over exactly ``column``."""
    taken = [i for i in items if columns_of(i) == (column,)]
    items[:] = [i for i in items if i not in taken]
    return taken


def _add_column(p: Planning, table: str, entity: Entity | None, column: sa.Column,
                diff: TableDiff) -> None:
    name = column.name
    field = _field(entity, name)
    extras = _take(diff.add_ix, name) + _take(diff.add_fk, name)
    description = (f"add field {table}.{name} ({field.type_name})" if field
                   else f"add column {table}.{name}")
    problems: list[str] = []
    backfill: Any = values.MISSING
    preview: dict[str, Any] = {}
    if column.nullable and field is not None and values.static_default(field) is not values.MISSING:
        # An optional field with a default: existing records get the default too, so a
        # filter on the default finds them (and the column reads like new records). Only
        # whether there are any is read: counting a large table costs more than the
        # column's DEFAULT, which fills them without a rewrite.
        preview["has_records"] = values.has_rows(p.conn, table)
        if preview["has_records"]:
            backfill = values.static_default(field)
            description += f"; existing records get the default {show_default(field)}"
    elif not column.nullable:
        rows = values.count_rows(p.conn, table)
        preview["rows"] = rows
        if rows:
            backfill = values.static_default(field) if field else values.MISSING
            if backfill is values.MISSING and column.server_default is None:
                problems.append(
                    f"add {table}.{name}: the field is required and {rows} existing records "
                    "need a value; give it a default (it fills them) or add it as optional first")
            elif backfill is not values.MISSING:
                description += f"; {rows} existing records get the default {show_default(field)}"
                unique = any(isinstance(e, sa.UniqueConstraint) or getattr(e, "unique", False)
                             for e in extras)
                if unique and rows > 1:
                    problems.append(f"add {table}.{name}: a required unique field cannot be "
                                    f"filled with one default on {rows} records")
    p.add(Step("add_field", table, name, description, preview=preview, problems=problems,
               run=partial(steps.add_column, table=table, column=column, backfill=backfill,
                           extras=extras)))


def _drop_column(p: Planning, table: str, column: sa.Column, diff: TableDiff) -> None:
    name = column.name
    index_names = [i.name for i in _take(diff.drop_ix, name) if isinstance(i, sa.Index)]
    _take(diff.drop_fk, name)
    rows = values.count_values(p.conn, table, name)
    old_entity = p.old_entity_of(table)
    old = p.old_field(table, name)
    spec = {"field": p.old_spec(old_entity, p.old_column.get((table, name), name)),
            "type": old.type_name if old else None,
            "sql_type": column.type.compile(dialect=p.conn.dialect), "table": table}
    p.add(Step("drop_field", table, name, f"drop field {table}.{name} (archived: {rows} values)",
               destructive=True, preview={"values": rows},
               run=partial(steps.drop_column, table=table, column=column, entity=table,
                           field=name, spec=spec, indexes=index_names)))


def _label(p: Planning, field: Field | None, type_: sa.types.TypeEngine) -> str:
    sql = type_.compile(dialect=p.conn.dialect)
    return f"{field.type_name} {sql}" if field is not None else sql


def _system_type_change(p: Planning, table: str, target: sa.Column, old_type: Any) -> None:
    widening = sql_widens(old_type, target.type)
    verb = "widen" if widening else "change type of"
    p.add(Step("widen" if widening else "retype", table, target.name,
               f"{verb} {table}.{target.name}: {_label(p, None, old_type)} -> "
               f"{_label(p, None, target.type)}", destructive=not widening,
               run=partial(steps.change_type, table=table, column=target, old_type=old_type,
                           rewrite=None)))


def _type_change(p: Planning, table: str, field: Field, old: Field | None, old_type: Any,
                 target: sa.Column) -> None:
    if old is None or old.type_name == field.type_name:
        widening = sql_widens(old_type, target.type)
    else:
        widening = (old.type_name in field.type.widens_from
                    and (sql_widens(old_type, target.type)
                         or not _judged(old_type, target.type)))
    if widening and old is not None and tightened(old, field):
        # A bigger column with a stricter check (a pattern added): check every value.
        widening = False
    change = f"{_label(p, old, old_type)} -> {_label(p, field, target.type)}"
    run = partial(_run_convert, table=table, column=target, old_type=old_type, old=old,
                  new=field)
    if widening:
        p.add(Step("widen", table, field.name, f"widen {table}.{field.name}: {change}",
                   run=partial(run, policy="refuse", native=True)))
        return
    conversion = steps.retype_values(p.conn, table, old_type, old, field)
    policy = field.convert.get("on_failure", "refuse")
    examples = conversion.examples(PREVIEW_EXAMPLES)
    preview = {"values": conversion.values, "failures": conversion.failures,
               "examples": examples, "on_failure": policy}
    description = f"retype {table}.{field.name}: {change}; {conversion.values} values"
    problems: list[str] = []
    destructive = False
    if not conversion.failures:
        description += ", all convert"
    else:
        suffix, destructive, problems = on_failure(
            "retype", f"{table}.{field.name}", field, target.nullable, conversion.failures,
            conversion.values, examples, "would fail to convert")
        description += suffix
    p.add(Step("retype", table, field.name, description, destructive=destructive,
               preview=preview, problems=problems,
               run=partial(run, policy=policy, native=False)))


def _run_convert(r: Runner, *, table: str, column: sa.Column, old_type: Any, old: Field | None,
                 new: Field, policy: str, native: bool) -> None:
    if native and r.dialect == "postgresql":
        steps.change_type(r, table, column, old_type, None)
        return
    conversion = steps.retype_values(r.conn, table, old_type, old, new)
    if conversion.failures and policy not in ("set_null", "default"):
        raise MigrationError(f"{table}.{new.name}: {conversion.failures} values failed to "
                             f"convert (e.g. {', '.join(conversion.examples(3))})")
    stored = replacement(new, policy)
    rewrite = [*conversion.converted, *((record_id, stored) for record_id, _ in conversion.failed)]
    steps.change_type(r, table, column, old_type, rewrite)
    if conversion.failures:
        # Written again with the version bump, audit row (old value in the old type's
        # JSON form) and event of each record, as a tighten does.
        trace_replaced(r, table=table, field=new, failed=conversion.failed, stored=stored,
                       step="retype", old_json=partial(values.json_of, old))


def _nullability(p: Planning, table: str, field: Field | None, target: sa.Column,
                 nullable: bool) -> None:
    name = target.name
    if nullable:
        p.add(Step("alter_field", table, name, f"make {table}.{name} optional",
                   run=partial(steps.set_nullable, table=table, column=target, nullable=True,
                               backfill=values.MISSING)))
        return
    nulls = values.count_rows(p.conn, table, where_null=name)
    backfill = values.static_default(field) if field is not None and nulls else values.MISSING
    description = f"require {table}.{name}"
    problems = []
    if nulls and backfill is values.MISSING:
        problems.append(f"{table}.{name} is now required but {nulls} records have no value; "
                        "give it a default (it fills them) or fill them first")
    elif nulls:
        description += f"; {nulls} empty records get the default {show_default(field)}"
    p.add(Step("alter_field", table, name, description, preview={"empty": nulls},
               problems=problems,
               run=partial(steps.set_nullable, table=table, column=target, nullable=False,
                           backfill=backfill)))


# -- indexes and relations ------------------------------------------------------------
def _unique(item: Any) -> bool:
    return isinstance(item, sa.UniqueConstraint) or bool(getattr(item, "unique", False))


def _what(item: Any) -> str:
    return "unique constraint" if isinstance(item, sa.UniqueConstraint) else (
        "unique index" if _unique(item) else "index")


def _rename_index(r: Runner, *, table: str, old: Any, new: Any) -> None:
    steps.drop_index(r, table, old.name, isinstance(old, sa.UniqueConstraint))
    steps.create_index(r, new)


def _indexes(p: Planning, table: str, entity: Entity | None, diff: TableDiff) -> None:
    drops, adds = list(diff.drop_ix), list(diff.add_ix)
    for new in list(adds):
        old = next((d for d in drops if columns_of(d) == columns_of(new)
                    and _what(d) == _what(new)), None)
        if old is None:
            continue
        drops.remove(old)
        adds.remove(new)
        p.add(Step("rename_index", table, None,
                   f"rename {_what(new)} {old.name} -> {new.name} on {table}",
                   run=partial(_rename_index, table=table, old=old, new=new)))
    for old in drops:
        cols = columns_of(old)
        p.add(Step("drop_index", table, cols[0] if len(cols) == 1 else None,
                   f"drop {_what(old)} {old.name} on {table}({', '.join(cols)})",
                   run=partial(steps.drop_index, table=table, name=old.name,
                               unique_constraint=isinstance(old, sa.UniqueConstraint))))
    for new in adds:
        cols = columns_of(new)
        problems = []
        preview: dict[str, Any] = {}
        if _unique(new):
            shared = values.count_duplicates(p.conn, table, cols)
            preview["duplicates"] = shared
            if shared:
                problems.append(f"add {_what(new)} {new.name} on {table}({', '.join(cols)}): "
                                f"{shared} values are shared by more than one record; "
                                "fix them first")
        p.add(Step("add_index", table, cols[0] if len(cols) == 1 else None,
                   f"add {_what(new)} {new.name} on {table}({', '.join(cols)})",
                   preview=preview, problems=problems,
                   run=partial(steps.create_index, item=new)))


def _foreign_keys(p: Planning, table: str, entity: Entity | None, diff: TableDiff) -> None:
    inspector = sa.inspect(p.conn)
    for fk in diff.add_fk:
        column = columns_of(fk)[0]
        old = next((d for d in diff.drop_fk if columns_of(d) == columns_of(fk)), None)
        if old is not None:
            diff.drop_fk.remove(old)
        field = _field(entity, column)
        referred = fk.referred_table.name
        orphans = (steps.count_orphans(p.conn, table, column, referred)
                   if inspector.has_table(referred)
                   else values.count_values(p.conn, table, column))
        policy = field.convert.get("on_failure", "refuse") if field else "refuse"
        description = (f"change relation {table}.{column}: to {referred}, "
                       f"on delete {(fk.ondelete or 'no action').lower()}")
        problems: list[str] = []
        destructive = False
        if orphans and policy == "set_null" and p.target.metadata.tables[table].c[column].nullable:
            description += f"; {orphans} values point at no {referred} record and become null"
            destructive = True
        elif orphans:
            problems.append(f"relation {table}.{column}: {orphans} values point at no {referred} "
                            "record; fix them or declare convert: {on_failure: set_null}")
        p.add(Step("alter_relation", table, column, description, destructive=destructive,
                   preview={"orphans": orphans}, problems=problems,
                   run=partial(steps.change_relation, table=table,
                               old_name=old.name if old is not None else None, fk=fk,
                               orphans=policy)))
    for old in diff.drop_fk:
        column = columns_of(old)[0]
        p.add(Step("alter_relation", table, column,
                   f"remove foreign key {old.name} of {table}.{column}",
                   run=partial(steps.drop_foreign_key, table=table, name=old.name)))
