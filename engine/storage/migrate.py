"""Schema migrations: ``loom plan``, ``loom migrate``, ``loom restore``, ``loom purge``.

The public API the CLI calls:

* :func:`plan_migration` diffs the compiled model against the live database
  (Alembic's ``compare_metadata``, over every table; the metadata API plans
  over the tables of the entities it changes, see :mod:`engine.storage.diff`)
  and returns a :class:`Plan`: every step, marked safe or destructive, with
  previews and blocking problems. It changes nothing (declared renames are
  tried inside a transaction that is rolled back).
* :func:`apply_plan` plans again inside one transaction, refuses
  (:class:`MigrationRefused`, nothing changed) when the plan has problems, has
  destructive steps without ``allow_destructive=True``, or differs from the
  plan it was given, then runs every step with Alembic's ``Operations`` and
  records the version (hash, time, actor, plan text, entity specs and presets)
  in ``loom_schema_versions``. Any failure rolls everything back, schema and
  data, on SQLite and PostgreSQL. On PostgreSQL it first locks
  ``loom_schema_versions`` (ACCESS EXCLUSIVE), so it waits for writers that
  already passed the model-version guard and holds new ones until it commits.
* :func:`restore` brings archived values back into the records of a field
  declared again, only where the value is still empty (never overwriting what
  was typed in since). Every value is checked with the field type (``coerce`` +
  ``check``, or ``convert`` after a type change), against unique values and
  against deleted targets; the ones refused stay in the archive and are counted
  (the returned :class:`~engine.storage.archive.Restored` and the archive's
  ``restore_failures``). Each restored record gets ``version + 1``, an audit row
  and a ``record.updated`` event (``cause: {"restore": "entity.field"}``); for a
  many-to-many field, each source record that got links back, with ``{field:
  [old ids or null, all ids]}`` (links typed in since are kept).
* :func:`purge`, :func:`list_archives`: see :mod:`engine.storage.archive`.

Step kinds (``Step.kind``): ``add_system_table`` (Loom's own tables, created on
the first migrate; later additions to them are planned like any table),
``add_entity``, ``add_link`` (a many-to-many link table), ``add_field``,
``add_index``, ``rename_entity`` / ``rename_field`` (only when declared with
``renamed_from``; the data stays), ``rename_index``, ``widen`` (safe),
``retype`` (preview of values that fail to convert; refused if any fail unless
the field declares ``convert: {on_failure: set_null | default}``, which makes
it destructive and writes null or the default over them, each change audited
(old value in the old type's JSON form) and evented with ``cause: {"retype":
"entity.field"}``, in the migration transaction; an integer becoming a decimal with fewer than 19 digits before
the point is a retype, not a widen), ``tighten`` (a stricter constraint with the
same SQL type: an option removed, a lower ``max_length`` on a text field, a new
pattern, a higher min or lower max; the preview counts stored values the field
type's ``check`` refuses; none: safe and informative; some: refused, or with
``on_failure`` destructive and applied by writing null or the default over them,
each change audited and evented like a restore), ``alter_field`` (required or
not; a newly required field with empty records needs a default, which fills
them), ``alter_relation``,
``drop_index``, and the destructive soft drops ``drop_field``, ``drop_link``,
``drop_entity`` (values archived first, restorable until purged).

Behaviour worth knowing:

* A required field added to a table that has rows needs a default (a literal,
  or a CEL default without field variables such as ``today()``); it is written
  into the existing rows. An optional field with a default gives it to the existing
  rows too (as the column's DEFAULT: no table rewrite, and the plan only reads
  whether there are rows, not how many); one without stays empty.
* A plan notes archived values a field declared again could get back:
  "run `loom restore deal.notes` to bring back 12 archived values".
* Migrating when nothing differs but the model hash changed (a label edit)
  records a new version with an empty plan; migrating the applied model again
  records nothing.
* SQLite: foreign keys are turned off around the migration transaction (a
  table recreate would otherwise fire ``ON DELETE`` actions) and
  ``PRAGMA foreign_key_check`` must come back empty before the commit: over
  every table for ``loom migrate``; the metadata API checks only the tables
  its steps may have changed references in (:func:`referencing_tables`: a
  column added without a foreign key, or an index, needs no check).
* Large tables: a retype or tighten reads the column into memory to check it.

Nothing here runs at import time; no Flask.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.model import CompiledModel
from engine.storage import archive
from engine.storage.db import Database
from engine.storage.diff import build_plan
from engine.storage.plan import (
    ArchiveNotFound,
    MigrationError,
    MigrationRefused,
    Plan,
    Step,
)
from engine.storage.steps import Runner
from engine.storage.tables import build_tables
from engine.storage import revisions
from engine.storage.versions import lock_versions, record_version

__all__ = ["ArchiveNotFound", "MigrationError", "MigrationRefused", "Plan", "Step",
           "apply_plan", "check_foreign_keys", "list_archives", "migration_connection",
           "plan_migration", "purge", "referencing_tables", "restore"]


@contextmanager
def migration_connection(db: Database, *, write: bool,
                         check_references: bool = True) -> Iterator[sa.Connection]:
    """A connection in one transaction; committed only when ``write`` and no error.

    A writing migration on PostgreSQL first locks ``loom_schema_versions``
    (:func:`~engine.storage.versions.lock_versions`), so no writer that checked
    the old version can still be writing when the new one commits.

    On SQLite a writing migration runs with ``PRAGMA foreign_keys=OFF``: the
    pragma is a no-op inside a transaction, so it is set on the raw connection
    before ``BEGIN`` and set back on after the end, whatever happens. Before the
    commit every table's references are checked, unless ``check_references`` is
    false: then the caller checks the tables its plan touched
    (:func:`check_foreign_keys` of :func:`referencing_tables`) before leaving the block.
    """
    sqlite = db.dialect == "sqlite"
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection if sqlite else None
        if sqlite and write:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            if sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE" if write else "DEFERRED")
            txn = conn.begin()
            try:
                if write:
                    lock_versions(conn)
                yield conn
                if sqlite and write and check_references:
                    check_foreign_keys(conn)
            except BaseException:
                txn.rollback()
                raise
            if write:
                txn.commit()
            else:
                txn.rollback()
        finally:
            if sqlite and write:
                raw.execute("PRAGMA foreign_keys=ON")


def check_foreign_keys(conn: sa.Connection, tables: set[str] | None = None) -> None:
    """SQLite: refuse (:class:`MigrationError`) references to missing rows in ``tables``
    (every table when ``None``); each named table is scanned, so name only the ones needed."""
    if tables is None:
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    else:
        broken = []
        quote = conn.dialect.identifier_preparer.quote
        for name in sorted(tables):
            broken += conn.exec_driver_sql(f"PRAGMA foreign_key_check({quote(name)})").fetchall()
    if broken:
        sample = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:5])
        raise MigrationError(f"the migration would leave {len(broken)} broken references "
                             f"({sample}); nothing was changed")


#: Step kinds that never write a reference: indexes only.
_NO_REFERENCES = frozenset({"add_index", "drop_index", "rename_index"})
#: Step kinds after which only a whole-database check will do (tables gone or renamed).
_EVERY_TABLE = frozenset({"rename_entity", "drop_entity"})


def referencing_tables(plan: Plan, runner: Runner) -> set[str] | None:
    """The tables whose references ``plan``'s steps may have broken (``None``: any table).

    A column added without a foreign key, or an index, writes no reference; any
    other step is checked on the tables it changed (its entity's table, or its
    link table); dropping or renaming a table needs the whole database checked.
    """
    out: set[str] = set()
    existing = set(sa.inspect(runner.conn).get_table_names())
    for step in plan.steps:
        if step.kind in _EVERY_TABLE:
            return None
        if step.kind in _NO_REFERENCES or step.entity is None:
            continue
        if step.kind == "add_field":
            table = runner.target.metadata.tables.get(step.entity)
            column = table.c.get(step.field) if table is not None else None
            if column is not None and not column.foreign_keys:
                continue
        names = {step.entity}
        if step.field is not None:
            names.add(f"{step.entity}__{step.field}")  # a many-to-many field's link table
        out |= names & existing
    return out


def plan_migration(db: Database, model: CompiledModel) -> Plan:
    """What :func:`apply_plan` would do to bring ``db`` to ``model``; changes nothing.

    >>> print(plan_migration(db, model).text())          # doctest: +SKIP
    """
    with migration_connection(db, write=False) as conn:
        plan = build_plan(Runner(conn, model, build_tables(model)))
    for step in plan.steps:
        step.run = None  # bound to a connection that is gone
    return plan


def run_steps(runner: Runner, plan: Plan, allow_destructive: bool) -> None:
    """Carry out ``plan`` on ``runner``'s connection; refused first (:class:`MigrationRefused`)
    when it has destructive steps and ``allow_destructive`` is false."""
    refusal = MigrationRefused.for_plan(plan, allow_destructive)
    if refusal is not None:
        raise refusal
    for step in plan.steps:
        if step.run is not None:
            step.run(runner)
    runner.finish()


def apply_plan(db: Database, model: CompiledModel, plan: Plan | None = None, *, actor: str,
               allow_destructive: bool = False, clock: Clock = SYSTEM_CLOCK) -> Plan:
    """Bring ``db`` to ``model`` in one transaction and record the version; the plan applied.

    With ``plan`` (what the user saw), the migration is refused if planning
    again inside the transaction gives different steps.

    >>> apply_plan(db, model, actor="admin")                          # doctest: +SKIP
    >>> apply_plan(db, model, plan, actor="admin", allow_destructive=True)  # doctest: +SKIP
    """
    with migration_connection(db, write=True) as conn:
        runner = Runner(conn, model, build_tables(model), clock=clock)
        fresh = build_plan(runner)
        if plan is not None and plan.signature() != fresh.signature():
            raise MigrationRefused("migration refused: the database or the model changed since "
                                   "this plan was made; run `loom plan` again", fresh)
        run_steps(runner, fresh, allow_destructive)
        if not fresh.is_empty or fresh.changes_version:
            record_version(conn, model, fresh.text(), actor, clock=clock)
        # A label or role edited in a file changes no table, but every process must
        # reload it: a new revision row is what they watch (engine.storage.revisions).
        if model.revision and revisions.latest_revision(conn) != model.revision:
            revisions.record_revision(conn, model, author=actor, origin=revisions.ORIGIN_FILES,
                                      clock=clock)
    for step in fresh.steps:
        step.run = None
    return fresh


def restore(db: Database, model: CompiledModel, entity: str, field: str | None, *,
            actor: str, clock: Clock = SYSTEM_CLOCK) -> int:
    """Bring back the archived values of ``entity.field`` into its empty records.

    Returns how many were restored: an :class:`~engine.storage.archive.Restored`
    (an ``int``) whose ``failures``, ``kept``, ``missing`` and ``notes`` tell
    what stayed in the archive and why.
    """
    return archive.restore(db, model, entity, field, actor=actor, clock=clock)


def purge(db: Database, entity: str, field: str | None = None, *,
          clock: Clock = SYSTEM_CLOCK) -> int:
    """Delete the archives of ``entity.field`` (all of ``entity``'s); values removed."""
    return archive.purge(db, entity, field, clock=clock)


def list_archives(db: Database) -> list[dict[str, Any]]:
    """Every archive with its status (archived, restored, purged), oldest first."""
    return archive.list_archives(db)
