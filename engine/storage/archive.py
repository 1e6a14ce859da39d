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
  restored nor purged is written into the live column for every record that
  still exists (values converted with the field type's ``convert`` when the
  type changed; values that fail to convert are counted in the archive row's
  spec as ``restore_failures`` and stay in the archive). Restored records get
  ``version + 1`` and a new ``updated_at``. The archive is marked
  ``restored_at`` and *kept* until purged. A many-to-many field gets its link
  rows back (pairs whose two records still exist). Restoring a whole entity is
  not supported: its archive table stays readable until purged.
* :func:`purge` drops the archive tables of ``entity.field`` (or of every
  archive of ``entity`` when ``field`` is None), restored or not, and marks them
  ``purged_at``. This is the only way archived values disappear.

Archive tables are invisible to the migration planner (see :func:`is_archive`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from engine.model import CompiledModel
from engine.storage.db import Database
from engine.storage.plan import ArchiveNotFound, MigrationError
from engine.storage.tables import ARCHIVE, build_tables
from engine.storage.values import CONVERT_ERRORS, count_rows, readable, write_values
from engine.storage.versions import ensure_current, system_table

#: Prefix of archive tables. Differs from ``loom_archive`` (the registry) on purpose.
ARCHIVE_PREFIX = "loom_archived_"


def is_archive(name: str) -> bool:
    return name.startswith(ARCHIVE_PREFIX)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _new_name() -> str:
    return ARCHIVE_PREFIX + uuid.uuid4().hex[:16]


def _plain_copy(column: sa.Column, primary_key: bool = False) -> sa.Column:
    return sa.Column(column.name, column.type, primary_key=primary_key, nullable=not primary_key,
                     autoincrement=False)


def _register(conn: sa.Connection, entity: str, field: str | None, table: str,
              spec: dict[str, Any], rows: int) -> None:
    conn.execute(system_table(ARCHIVE).insert().values(
        entity=entity, field=field, archive_table=table, spec=spec, row_count=rows,
        dropped_at=_now()))


def archive_column(op: Operations, table: str, column: sa.Column, entity: str, field: str,
                   spec: dict[str, Any]) -> int:
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
    _register(conn, entity, field, name, spec, rows)
    return rows


def archive_table(op: Operations, table: sa.Table, entity: str, field: str | None,
                  spec: dict[str, Any]) -> int:
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
    _register(conn, entity, field, name, {**spec, "columns": names}, rows)
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


def restore(db: Database, model: CompiledModel, entity: str, field: str, *, actor: str) -> int:
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
            restored, failed = _restore_column(conn, tables.entity(entity), target, archive,
                                               row["spec"])
        else:
            restored, failed = _restore_links(conn, tables.link(entity, field), archive), 0
        registry = system_table(ARCHIVE)
        spec = {**row["spec"], "restored_by": actor, "restored": restored,
                "restore_failures": failed}
        conn.execute(registry.update().where(registry.c.id == row["id"])
                     .values(restored_at=_now(), spec=spec))
    return restored


def _restore_column(conn: sa.Connection, live: sa.Table, target, archive: sa.Table,
                    spec: dict[str, Any]) -> tuple[int, int]:
    value_type = readable(archive.c.value.type, conn.dialect.name)
    pairs = conn.execute(sa.select(archive.c.id, sa.type_coerce(archive.c.value, value_type))
                         ).all()
    same_type = spec.get("type") == target.type_name
    ready, failed = [], 0
    for record_id, raw in pairs:
        try:
            value = (target.type.from_db(target, raw) if same_type
                     else target.type.convert(target, raw))
            ready.append((record_id, target.type.to_db(target, value)))
        except CONVERT_ERRORS:
            failed += 1
    column = live.c[target.name]
    restored = write_values(conn, live.name, column.name, column.type, ready)
    ids = [record_id for record_id, _ in ready]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        conn.execute(live.update().where(live.c.id.in_(chunk))
                     .values(version=live.c.version + 1, updated_at=_now()))
    return restored, failed


def _restore_links(conn: sa.Connection, link: sa.Table, archive: sa.Table) -> int:
    existing = set(conn.execute(sa.select(link.c.source_id, link.c.target_id)).all())
    source_table = next(iter(link.c.source_id.foreign_keys)).column.table
    target_table = next(iter(link.c.target_id.foreign_keys)).column.table
    sources = {r[0] for r in conn.execute(sa.select(source_table.c.id))}
    targets = {r[0] for r in conn.execute(sa.select(target_table.c.id))}
    rows = [{"source_id": s, "target_id": t}
            for s, t in conn.execute(sa.select(archive.c.source_id, archive.c.target_id))
            if (s, t) not in existing and s in sources and t in targets]
    if rows:
        conn.execute(link.insert(), rows)
    return len(rows)


def purge(db: Database, entity: str, field: str | None = None) -> int:
    """Drop the archives of ``entity.field`` (all of ``entity``'s when ``field`` is None).

    Returns the number of archived values (rows) removed; raises
    :class:`ArchiveNotFound` when nothing matches.
    """
    with db.write() as conn:
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
            conn.execute(t.update().where(t.c.id == row["id"]).values(purged_at=_now()))
    return sum(r["row_count"] for r in rows)
