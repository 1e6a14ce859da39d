"""Soft drops: archive tables, registered in ``loom_archive``, restored or purged on request.

Behaviour (the contract ``loom restore`` / ``loom purge`` / ``loom archives`` rely on):

* Dropping a field copies ``(id, value)`` of every row whose value is not null into
  a new table ``loom_archived_<hex>`` (no constraints, no foreign keys, so an
  archive never blocks deleting a live record), then drops the column.
  Dropping a many-to-many field or a whole entity copies the whole link or
  entity table the same way. Each archive is one ``loom_archive`` row:
  entity, field (null for a whole entity), archive table, the old field spec,
  row count, ``dropped_at``.
* :func:`restore` brings an archived field back once the field is declared
  again and migrated: the newest archive of ``entity.field`` that is neither
  restored nor purged is written into the live column of every record that
  still exists *and whose value is still empty* (a value typed in since the
  field came back is never overwritten). Each value goes through the field
  type first (``coerce`` + ``check`` for the same type, ``convert`` when the
  type changed), and must not repeat a unique value or point at a deleted
  record; values that fail are left in the archive and counted (the returned
  :class:`Restored`, and the archive row's spec: ``restore_failures``,
  ``restore_kept``, ``restore_missing``). Each restored record gets ``version
  + 1``, a new ``updated_at``, a ``loom_audit`` row and a ``record.updated``
  event with ``cause: {"restore": "entity.field"}`` (:mod:`engine.storage.trail`),
  in the restore's transaction. The archive is marked ``restored_at`` and
  *kept* until purged. A many-to-many field gets its link rows back (pairs whose
  two records still exist, added to links typed in since); each source record
  that got links back gets ``version + 1``, one audit row ``{field: [old ids or
  null, all ids]}`` (sorted, as the record service writes them) and one
  ``record.updated`` event, like a restored value. Restoring a whole entity is not
  supported: its archive table stays readable until purged.
* :func:`purge` drops the archive tables of ``entity.field`` (or of every
  archive of ``entity`` when ``field`` is None), restored or not, and marks them
  ``purged_at``. This is the only way archived values disappear.

Archive tables are invisible to the migration planner (see :func:`is_archive`).
Restore and purge lock ``loom_schema_versions`` on PostgreSQL like a migration
(:func:`engine.storage.versions.lock_versions`).
"""

from __future__ import annotations

import uuid
from typing import Any, Self

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from engine.clock import SYSTEM_CLOCK, Clock
from engine.model import CompiledModel, Field
from engine.storage.db import Database
from engine.storage.plan import PREVIEW_EXAMPLES, ArchiveNotFound, MigrationError
from engine.storage.tables import ARCHIVE, ModelTables, build_tables
from engine.storage.trail import Change, Trace, write_changes, write_traces
from engine.storage.values import (
    CONVERT_ERRORS,
    count_rows,
    read_versions,
    readable,
    short,
)
from engine.storage.versions import ensure_current, lock_versions, system_table

#: Prefix of archive tables. Differs from ``loom_archive`` (the registry) on purpose.
ARCHIVE_PREFIX = "loom_archived_"
#: Ids per ``IN (...)`` when a restore looks up the records its values point at.
RESTORE_CHUNK = 500


def is_archive(name: str) -> bool:
    return name.startswith(ARCHIVE_PREFIX)


def _new_name() -> str:
    return ARCHIVE_PREFIX + uuid.uuid4().hex[:16]


def _plain_copy(column: sa.Column, primary_key: bool = False) -> sa.Column:
    return sa.Column(column.name, column.type, primary_key=primary_key, nullable=not primary_key,
                     autoincrement=False)


def _register(conn: sa.Connection, entity: str, field: str | None, table: str,
              spec: dict[str, Any], rows: int, clock: Clock) -> None:
    conn.execute(system_table(ARCHIVE).insert().values(
        entity=entity, field=field, archive_table=table, spec=spec, row_count=rows,
        dropped_at=clock.naive_now()))


def archive_column(op: Operations, table: str, column: sa.Column, entity: str, field: str,
                   spec: dict[str, Any], *, clock: Clock = SYSTEM_CLOCK) -> int:
    """Copy the non-null values of ``table.column`` into a new archive; rows copied."""
    conn = op.get_bind()
    name = _new_name()
    archive = op.create_table(name, sa.Column("id", sa.BigInteger(), primary_key=True,
                                              autoincrement=False),
                              sa.Column("value", column.type, nullable=True))
    source = sa.table(table, sa.column("id"), sa.column(column.name))
    conn.execute(archive.insert().from_select(
        ["id", "value"], sa.select(source.c.id, source.c[column.name])
        .where(source.c[column.name].is_not(None))))
    # Trap: psycopg reports rowcount -1 for INSERT ... SELECT; count instead.
    rows = count_rows(conn, name)
    _register(conn, entity, field, name, spec, rows, clock)
    return rows


def archive_table(op: Operations, table: sa.Table, entity: str, field: str | None,
                  spec: dict[str, Any], *, clock: Clock = SYSTEM_CLOCK) -> int:
    """Copy every row of the reflected ``table`` into a new archive; rows copied."""
    conn = op.get_bind()
    name = _new_name()
    pk = {c.name for c in table.primary_key.columns}
    columns = [_plain_copy(c, primary_key=c.name in pk) for c in table.columns]
    archive = op.create_table(name, *columns)
    names = [c.name for c in table.columns]
    source = sa.table(table.name, *[sa.column(n) for n in names])
    conn.execute(archive.insert().from_select(names, sa.select(*[source.c[n] for n in names])))
    rows = count_rows(conn, name)
    _register(conn, entity, field, name, {**spec, "columns": names}, rows, clock)
    return rows


def rename_entity(conn: sa.Connection, old: str, new: str) -> None:
    """Archives of ``old`` follow the entity to its new name."""
    if sa.inspect(conn).has_table(ARCHIVE):
        t = system_table(ARCHIVE)
        conn.execute(t.update().where(t.c.entity == old).values(entity=new))


def pending(conn: sa.Connection) -> dict[tuple[str, str | None], dict[str, Any]]:
    """The newest archive of each (entity, field) that is neither restored nor purged."""
    if not sa.inspect(conn).has_table(ARCHIVE):
        return {}
    t = system_table(ARCHIVE)
    rows = conn.execute(sa.select(t).where(t.c.restored_at.is_(None), t.c.purged_at.is_(None))
                        .order_by(t.c.id)).mappings()
    return {(r["entity"], r["field"]): dict(r) for r in rows}


def _status(row: dict[str, Any]) -> str:
    if row["purged_at"] is not None:
        return "purged"
    if row["restored_at"] is not None:
        return "restored"
    return "archived"


def list_archives(db: Database) -> list[dict[str, Any]]:
    """Every archive, oldest first, with ``status``: archived, restored or purged."""
    with db.read() as conn:
        if not sa.inspect(conn).has_table(ARCHIVE):
            return []
        t = system_table(ARCHIVE)
        rows = conn.execute(sa.select(t).order_by(t.c.id)).mappings().all()
    return [{**dict(r), "status": _status(dict(r))} for r in rows]


class Restored(int):
    """How many values :func:`restore` wrote (an ``int``), with what it left in the archive.

    ``failures``: values the field refuses now (type, constraints, a unique value
    taken, a record they point at gone); ``kept``: records that got a value since
    the field was declared again (never overwritten); ``missing``: records deleted
    since the drop. ``notes`` says each in a sentence.
    """

    failures: int
    kept: int
    missing: int
    notes: tuple[str, ...]

    def __new__(cls, restored: int, *, failures: int = 0, kept: int = 0, missing: int = 0,
                notes: tuple[str, ...] = ()) -> Self:
        self = super().__new__(cls, restored)
        self.failures, self.kept, self.missing, self.notes = failures, kept, missing, notes
        return self


def restore(db: Database, model: CompiledModel, entity: str, field: str, *,
            actor: str, clock: Clock = SYSTEM_CLOCK) -> Restored:
    """Write the newest unrestored archive of ``entity.field`` back; values restored.

    >>> restore(db, model, "deal", "notes", actor="admin")    # doctest: +SKIP
    12
    """
    ent = model.entity(entity)
    if field is None:
        raise MigrationError(f"restoring a whole entity is not supported; the archive of "
                             f"{entity!r} stays readable until `loom purge {entity}`")
    target = ent.field(field)
    tables = build_tables(model)
    with db.write() as conn:
        lock_versions(conn)
        ensure_current(conn, model)
        row = pending(conn).get((entity, field))
        if row is None:
            raise ArchiveNotFound(f"no archived values of {entity}.{field} to restore "
                                  "(never dropped, already restored, or purged)")
        archive = sa.Table(row["archive_table"], sa.MetaData(), autoload_with=conn)
        shape = "value" if target.stored else "source_id"
        if shape not in archive.c:
            raise MigrationError(f"the archive of {entity}.{field} holds a "
                                 f"{'link table' if target.stored else 'column'}, but the field "
                                 f"is now {'a column' if target.stored else 'many-to-many'}; "
                                 f"it stays readable in {row['archive_table']} until purged")
        if target.stored:
            result = _restore_column(conn, model, tables, entity, target, archive, row["spec"],
                                     clock)
        else:
            result = Restored(_restore_links(conn, model, tables, entity, field, archive, clock))
        registry = system_table(ARCHIVE)
        spec = {**row["spec"], "restored_by": actor, "restored": int(result),
                "restore_failures": result.failures, "restore_kept": result.kept,
                "restore_missing": result.missing}
        conn.execute(registry.update().where(registry.c.id == row["id"])
                     .values(restored_at=clock.naive_now(), spec=spec))
    return result


def _converted(target: Field, raw: Any, same_type: bool) -> Any:
    """The archived ``raw`` as a value of ``target``; raises when the field refuses it."""
    if not same_type:
        return target.type.convert(target, raw)
    value = target.type.coerce(target, target.type.from_db(target, raw))
    for problem in target.type.check(target, value):
        raise problem
    return value


def _taken(conn: sa.Connection, tables: ModelTables, live: sa.Table, target: Field,
           candidates: list[Change]) -> set[int]:
    """Ids of ``candidates`` whose value the database would refuse: a unique value
    already used (or restored twice), or an id of a row that no longer exists."""
    refused: set[int] = set()
    referred = target.type.references(target)
    if referred is not None:
        other = tables.metadata.tables[referred]
        wanted = sorted({c.new for c in candidates})
        found: set[Any] = set()
        for start in range(0, len(wanted), RESTORE_CHUNK):
            found.update(conn.execute(sa.select(other.c.id).where(
                other.c.id.in_(wanted[start:start + RESTORE_CHUNK]))).scalars())
        refused.update(c.record_id for c in candidates if c.new not in found)
    if (target.unique or target.type.always_unique) and target.type.indexable:
        column = live.c[target.name]
        used = {target.type.from_db(target, v)
                for v in conn.execute(sa.select(column).where(column.is_not(None))).scalars()}
        for change in candidates:
            if change.record_id in refused:
                continue
            if change.new in used:
                refused.add(change.record_id)
            used.add(change.new)
    return refused


def _restore_column(conn: sa.Connection, model: CompiledModel, tables: ModelTables, entity: str,
                    target: Field, archive: sa.Table, spec: dict[str, Any],
                    clock: Clock) -> Restored:
    live = tables.entity(entity)
    column = live.c[target.name]
    value = sa.type_coerce(archive.c.value, readable(archive.c.value.type, conn.dialect.name))
    # Lock the records first (a no-op on SQLite, whose writer holds the database).
    rows = conn.execute(
        sa.select(live.c.id, live.c.version, column.is_(None).label("empty"), value)
        .join_from(live, archive, archive.c.id == live.c.id)
        .order_by(live.c.id).with_for_update(of=live)).all()
    missing = count_rows(conn, archive.name) - len(rows)
    same_type = spec.get("type") == target.type_name
    candidates: list[Change] = []
    failed: list[Any] = []
    kept = 0
    for record_id, version, empty, raw in rows:
        if not empty:
            kept += 1
            continue
        try:
            candidates.append(Change(record_id, version, None, _converted(target, raw, same_type)))
        except CONVERT_ERRORS:
            failed.append(raw)
    refused = _taken(conn, tables, live, target, candidates)
    failed += [c.new for c in candidates if c.record_id in refused]
    candidates = [c for c in candidates if c.record_id not in refused]
    name = f"{entity}.{target.name}"
    restored = write_changes(conn, model.version, live, entity, target, candidates,
                             {"restore": name}, clock=clock)
    notes = []
    if failed:
        examples = ", ".join(short(v) for v in failed[:PREVIEW_EXAMPLES])
        notes.append(f"{len(failed)} archived values of {name} do not fit the field now "
                     f"(e.g. {examples}); they stay in the archive until purged")
    if kept:
        notes.append(f"{kept} records got a new value of {name} since it was dropped; "
                     "their archived values were not restored")
    if missing:
        notes.append(f"{missing} archived values of {name} belong to deleted records")
    return Restored(restored, failures=len(failed), kept=kept, missing=missing,
                    notes=tuple(notes))


def _restore_links(conn: sa.Connection, model: CompiledModel, tables: ModelTables, entity: str,
                   field: str, archive: sa.Table, clock: Clock) -> int:
    """Insert the archived pairs whose two records still exist; trace each source record."""
    link = tables.link(entity, field)
    before: dict[int, set[int]] = {}
    for s, t in conn.execute(sa.select(link.c.source_id, link.c.target_id)):
        before.setdefault(s, set()).add(t)
    source_table = tables.entity(entity)
    target_table = next(iter(link.c.target_id.foreign_keys)).column.table
    sources = {r[0] for r in conn.execute(sa.select(source_table.c.id))}
    targets = {r[0] for r in conn.execute(sa.select(target_table.c.id))}
    added: dict[int, set[int]] = {}
    for s, t in conn.execute(sa.select(archive.c.source_id, archive.c.target_id)):
        if s in sources and t in targets and t not in before.get(s, ()):
            added.setdefault(s, set()).add(t)
    rows = [{"source_id": s, "target_id": t} for s in sorted(added) for t in sorted(added[s])]
    if rows:
        conn.execute(link.insert(), rows)
    # One audit row per source record, in the service's form for a many-to-many field:
    # sorted ids, old null when the record had no links (links typed in since are kept).
    versions = read_versions(conn, source_table.name, sorted(added))
    traces = [Trace(s, versions[s], {field: [sorted(before[s]) if s in before else None,
                                             sorted(before.get(s, set()) | added[s])]})
              for s in sorted(added)]
    write_traces(conn, model.version, source_table, entity, traces,
                 {"restore": f"{entity}.{field}"}, clock=clock)
    return len(rows)


def purge(db: Database, entity: str, field: str | None = None, *,
          clock: Clock = SYSTEM_CLOCK) -> int:
    """Drop the archives of ``entity.field`` (all of ``entity``'s when ``field`` is None).

    Returns the number of archived values (rows) removed; raises
    :class:`ArchiveNotFound` when nothing matches.
    """
    with db.write() as conn:
        lock_versions(conn)
        if not sa.inspect(conn).has_table(ARCHIVE):
            raise ArchiveNotFound(f"no archives of {entity}")
        t = system_table(ARCHIVE)
        query = sa.select(t).where(t.c.entity == entity, t.c.purged_at.is_(None))
        if field is not None:
            query = query.where(t.c.field == field)
        rows = conn.execute(query).mappings().all()
        if not rows:
            what = f"{entity}.{field}" if field else entity
            raise ArchiveNotFound(f"no archives of {what} to purge")
        op = Operations(MigrationContext.configure(conn))
        inspector = sa.inspect(conn)
        for row in rows:
            if inspector.has_table(row["archive_table"]):
                op.drop_table(row["archive_table"])
            conn.execute(t.update().where(t.c.id == row["id"]).values(purged_at=clock.naive_now()))
    return sum(r["row_count"] for r in rows)
