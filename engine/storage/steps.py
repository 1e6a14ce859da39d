"""How each kind of migration step is carried out, with Alembic's ``Operations``.

Every function here takes a :class:`Runner` (one connection, inside the one
migration transaction) and changes the schema through Alembic operations;
column changes go through ``batch_alter_table`` so SQLite gets its
copy-and-move table recreate and PostgreSQL plain ``ALTER TABLE``. Values are
moved with Core statements (:mod:`engine.storage.values`). No DDL strings.

Traps handled here:

* SQLite recreates a table to change a column; :func:`engine.storage.migrate`
  turns foreign keys off around the transaction so dropping the old copy does
  not fire ``ON DELETE`` actions, and checks ``foreign_key_check`` before commit.
* SQLite's batch copy wraps a changed column in ``CAST`` (``CAST('2024-01-05' AS
  DATETIME)`` is ``2024``), so after a type change the converted values are
  written again from Python. PostgreSQL converts through a temporary column and
  ``ALTER COLUMN ... TYPE ... USING`` it, keeping indexes and constraints.
* PostgreSQL needs a foreign key's target to exist: new tables are created in
  dependency order and the foreign keys of a cycle are added at the end.

Must not decide anything: :mod:`engine.storage.diff` plans, this module obeys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
import decimal
import math
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from engine.clock import SYSTEM_CLOCK, Clock
from engine.model import CompiledModel, Field
from engine.storage import archive, values
from engine.storage.tables import NAMING_CONVENTION, ModelTables

#: Name of the temporary column a PostgreSQL retype converts through. Field
#: names start with a letter, so it can never clash with one.
RETYPE_COLUMN = "_loom_retype"


@dataclass
class Runner:
    """One migration transaction: the connection, Alembic operations, the target tables."""

    conn: sa.Connection
    model: CompiledModel
    target: ModelTables
    op: Operations = dc_field(init=False)
    #: Work that must wait until every table exists (foreign keys of new tables on PostgreSQL).
    deferred: list[Callable[[], None]] = dc_field(default_factory=list)
    #: Times archives, audit rows and events of the migration.
    clock: Clock = SYSTEM_CLOCK

    def __post_init__(self) -> None:
        self.op = Operations(MigrationContext.configure(self.conn))

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def batch(self, table: str):
        return self.op.batch_alter_table(table, recreate="auto",
                                         naming_convention=NAMING_CONVENTION)

    def finish(self) -> None:
        while self.deferred:
            self.deferred.pop(0)()


# -- tables --------------------------------------------------------------------
def create_table(r: Runner, table: sa.Table) -> None:
    """Create a target table with its indexes; foreign keys to missing tables wait (PostgreSQL)."""
    fks = [c for c in table.constraints if isinstance(c, sa.ForeignKeyConstraint)]
    if r.dialect == "sqlite":
        r.op.impl.create_table(table)
        return
    inspector = sa.inspect(r.conn)
    ready = [fk for fk in fks if fk.referred_table is table
             or inspector.has_table(fk.referred_table.name)]
    r.op.impl.create_table(table, include_foreign_key_constraints=ready)
    for fk in fks:
        if fk not in ready:
            r.deferred.append(lambda fk=fk: add_foreign_key(r, fk))


def rename_table(r: Runner, old: str, new: str, entity_rename: bool = False) -> None:
    r.op.rename_table(old, new)
    if entity_rename:
        archive.rename_entity(r.conn, old, new)


def drop_table(r: Runner, name: str, entity: str, field: str | None,
               spec: dict[str, Any]) -> None:
    """Archive the whole table, then drop it."""
    reflected = sa.Table(name, sa.MetaData(), autoload_with=r.conn)
    archive.archive_table(r.op, reflected, entity, field, spec, clock=r.clock)
    r.op.drop_table(name)


# -- columns -------------------------------------------------------------------
def rename_column(r: Runner, table: str, old: str, new: str) -> None:
    # Native RENAME COLUMN on both databases (SQLite >= 3.25): no table recreate.
    r.op.alter_column(table, old, new_column_name=new)


def _bare(column: sa.Column) -> sa.Column:
    return sa.Column(column.name, column.type, nullable=True,
                     server_default=column.server_default)


def _literal_default(value: Any) -> Any:
    """``value`` as a SQL DEFAULT clause, or None when it is not a plain literal."""
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    if isinstance(value, (int, float, decimal.Decimal)) and math.isfinite(value):
        return sa.text(str(value))
    if isinstance(value, str):
        return sa.text("'" + value.replace("'", "''") + "'")
    return None


def add_column(r: Runner, table: str, column: sa.Column, backfill: Any,
               extras: list[sa.SchemaItem]) -> None:
    """Add ``column`` bare, fill ``backfill`` into it, then make it NOT NULL and add extras.

    A literal backfill is added as the column's DEFAULT: both databases then give it to
    existing rows without rewriting them (PostgreSQL 11+ and SQLite store it once), so
    adding a field with a default to a large table takes milliseconds. PostgreSQL drops
    the DEFAULT again at once (existing rows keep the value); on SQLite dropping it would
    rebuild the table, so the column keeps it (Loom writes every value itself anyway).
    """
    literal = None if backfill is values.MISSING or backfill is None else _literal_default(backfill)
    bare = _bare(column)
    if literal is not None and column.server_default is None:
        bare = sa.Column(column.name, column.type, nullable=True, server_default=literal)
    if literal is not None and column.server_default is None:
        # A plain ALTER TABLE: SQLite's batch mode would rebuild the table for it.
        r.op.add_column(table, bare)
    else:
        with r.batch(table) as batch:
            batch.add_column(bare)
    if literal is not None and column.server_default is None:
        if r.conn.dialect.name == "postgresql":
            r.op.alter_column(table, column.name, server_default=None,
                              existing_type=column.type)
    elif backfill is not values.MISSING and backfill is not None:
        values.fill_nulls(r.conn, table, column.name, column.type, backfill)
    finish_column(r, table, column, extras)


def finish_column(r: Runner, table: str, column: sa.Column, extras: list[sa.SchemaItem]) -> None:
    """NOT NULL, unique constraints and foreign keys in one batch, then indexes."""
    indexes = [e for e in extras if isinstance(e, sa.Index)]
    others = [e for e in extras if not isinstance(e, sa.Index)]
    if not column.nullable or others:
        with r.batch(table) as batch:
            if not column.nullable:
                batch.alter_column(column.name, existing_type=column.type, nullable=False)
            for item in others:
                _add_constraint(batch, item)
    for index in indexes:
        create_index(r, index)


def drop_column(r: Runner, table: str, column: sa.Column, entity: str, field: str,
                spec: dict[str, Any], indexes: list[str]) -> None:
    """Archive the column's values, drop the indexes on it, drop it."""
    archive.archive_column(r.op, table, column, entity, field, spec, clock=r.clock)
    with r.batch(table) as batch:
        for name in indexes:
            batch.drop_index(name)
        batch.drop_column(column.name)


def change_type(r: Runner, table: str, column: sa.Column, old_type: sa.types.TypeEngine,
                rewrite: list[tuple[int, Any]] | None) -> None:
    """Change ``table.column`` to ``column.type``, leaving ``rewrite``'s values in it.

    ``rewrite`` lists ``(id, value as stored)`` for every row that held a value
    (``None`` for a value that became null); when it is ``None`` the database's
    own cast converts (PostgreSQL widening).
    """
    name = column.name
    same_sql = same_sql_type(r.conn.dialect, old_type, column.type)
    if same_sql:
        if rewrite:
            values.write_values(r.conn, table, name, column.type, rewrite)
        return
    if r.dialect == "postgresql":
        using = None
        if rewrite is not None:
            r.op.add_column(table, sa.Column(RETYPE_COLUMN, column.type, nullable=True))
            values.write_values(r.conn, table, RETYPE_COLUMN, column.type, rewrite)
            using = RETYPE_COLUMN
        r.op.alter_column(table, name, type_=column.type, existing_type=old_type,
                          postgresql_using=using)
        if using:
            r.op.drop_column(table, RETYPE_COLUMN)
        return
    with r.batch(table) as batch:
        batch.alter_column(name, type_=column.type, existing_type=old_type)
    if rewrite:
        values.write_values(r.conn, table, name, column.type, rewrite)


def same_sql_type(dialect, a: sa.types.TypeEngine, b: sa.types.TypeEngine) -> bool:
    """Whether ``a`` and ``b`` are the same column type on ``dialect`` (variants resolved)."""
    return a.compile(dialect=dialect) == b.compile(dialect=dialect)


def set_nullable(r: Runner, table: str, column: sa.Column, nullable: bool,
                 backfill: Any) -> None:
    if not nullable and backfill is not values.MISSING:
        values.fill_nulls(r.conn, table, column.name, column.type, backfill)
    with r.batch(table) as batch:
        batch.alter_column(column.name, existing_type=column.type, nullable=nullable)


# -- indexes, constraints, foreign keys -----------------------------------------
def _add_constraint(batch, item: sa.SchemaItem) -> None:
    if isinstance(item, sa.UniqueConstraint):
        batch.create_unique_constraint(item.name, [c.name for c in item.columns])
    elif isinstance(item, sa.ForeignKeyConstraint):
        referred = item.referred_table.name
        batch.create_foreign_key(item.name, referred, list(item.column_keys),
                                 [e.column.name for e in item.elements], ondelete=item.ondelete)
    else:  # pragma: no cover - the planner only passes the two kinds above
        raise TypeError(f"cannot add {item!r}")


def create_index(r: Runner, item: sa.Index | sa.UniqueConstraint) -> None:
    if isinstance(item, sa.Index):
        r.op.create_index(item.name, item.table.name, [c.name for c in item.columns],
                          unique=bool(item.unique))
        return
    with r.batch(item.table.name) as batch:
        _add_constraint(batch, item)


def drop_index(r: Runner, table: str, name: str, unique_constraint: bool) -> None:
    if unique_constraint:
        with r.batch(table) as batch:
            batch.drop_constraint(name, type_="unique")
    else:
        r.op.drop_index(name, table_name=table)


def drop_foreign_key(r: Runner, table: str, name: str) -> None:
    with r.batch(table) as batch:
        batch.drop_constraint(name, type_="foreignkey")


def add_foreign_key(r: Runner, fk: sa.ForeignKeyConstraint) -> None:
    with r.batch(fk.table.name) as batch:
        _add_constraint(batch, fk)


def clear_orphans(r: Runner, fk: sa.ForeignKeyConstraint) -> int:
    """Null the values of ``fk``'s column that point at no row of its target."""
    (column,) = fk.column_keys
    t = sa.table(fk.table.name, sa.column(column))
    target = sa.table(fk.referred_table.name, sa.column("id"))
    stmt = (sa.update(t).where(t.c[column].is_not(None),
                               t.c[column].not_in(sa.select(target.c.id)))
            .values({column: None}))
    return r.conn.execute(stmt).rowcount


def count_orphans(conn: sa.Connection, table: str, column: str, referred: str) -> int:
    t = sa.table(table, sa.column(column))
    target = sa.table(referred, sa.column("id"))
    return conn.execute(sa.select(sa.func.count()).select_from(t).where(
        t.c[column].is_not(None), t.c[column].not_in(sa.select(target.c.id)))).scalar_one()


def change_relation(r: Runner, table: str, old_name: str | None, fk: sa.ForeignKeyConstraint,
                    orphans: str) -> None:
    """Drop the old foreign key now; null orphans and add the new one at the end."""
    if old_name:
        drop_foreign_key(r, table, old_name)

    def later() -> None:
        if orphans == "set_null":
            clear_orphans(r, fk)
        add_foreign_key(r, fk)

    r.deferred.append(later)


def retype_values(conn: sa.Connection, table: str, old_type: sa.types.TypeEngine,
                  old: Field | None, new: Field) -> values.Conversion:
    """Read ``table.<new.name>`` and convert every value to ``new``'s type."""
    rows = values.read_values(conn, table, new.name, old_type)
    return values.convert_values(rows, old, new)
