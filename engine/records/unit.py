"""A unit of work: several writes through the record service in ONE transaction.

>>> with service.unit(actor, cause=Cause.workflow(run_id, "Won deal follow-up")) as unit:
...     account = unit.create("account", {"name": "ACME"})
...     unit.update("deal", 7, {"account": account["id"]}, version=3)
...     unit.delete("task", 12)                                          # doctest: +SKIP

Every write runs validate -> rules -> permissions -> store -> audit -> outbox as a
lone call does, and every audit and outbox row carries the unit's
:class:`~engine.storage.events.WriteContext` (actor, cause, depth, quiet). The
transaction opens at the first write (with the model-version guard) and commits when
the ``with`` block ends; an exception out of the block rolls everything back.

A failure anywhere writes nothing: a write that raises marks the unit failed, later
writes are refused, and the block's end rolls back and raises that first error even if
the caller caught it. To let one part fail alone (a bulk action reporting per-record
problems), wrap it in :meth:`Unit.attempt`: a savepoint, undone on a
:class:`~engine.records.errors.RecordError`, after which the unit goes on.

The service's single-call methods (``create``, ``update``, ``delete``, ``bulk_create``)
are one-write units. A lone create keeps its guarded fast path
(:class:`~engine.records.fastinsert.GuardedCreate`, one statement on PostgreSQL): only a
one-write unit, before any transaction is open, may take it.

Never used from more than one thread; no Flask.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from engine.records import (audit, autonumber, bulk, cascade, fastinsert, outbox, reading,
                            rights)
from engine.records.core import RecordCore, integrity_failed
from engine.records.errors import (FieldError, RecordError, RecordNotFound, ValidationFailed,
                                   VersionConflict, text)
from engine.permissions import HIDDEN
from engine.records.plan import EntityPlan
from engine.records.reads import get as read_one
from engine.records.validation import record_id as record_id_of
from engine.records.validation import validate_create, validate_update, version_of
from engine.storage import events, versions
from engine.storage.events import Event, WriteContext
from engine.storage.tables import SCHEMA_VERSIONS


class UnitClosed(RuntimeError):
    """A write on a unit whose ``with`` block has ended."""


class Unit:
    """Writes of one :class:`WriteContext` in one transaction; see the module doc."""

    def __init__(self, core: RecordCore, context: WriteContext, *, single: bool = False) -> None:
        self.core = core
        self.context = context
        self.actor = context.actor
        # A one-write unit (the service's single calls): a create may take the guarded path.
        self._single = single
        self._transaction: Any = None  # the open ``core.writing()`` context manager
        self._conn: sa.Connection | None = None
        self._failed: BaseException | None = None
        self._closed = False
        self._after_commit: list[Callable[[], None]] = []

    # -- the transaction -----------------------------------------------------
    def __enter__(self) -> "Unit":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> bool:
        self._closed = True
        transaction, self._transaction, self._conn = self._transaction, None, None
        failed = self._failed
        if error is None and failed is not None:
            # A write failed and the caller caught its error: still write nothing.
            if transaction is not None:
                transaction.__exit__(type(failed), failed, failed.__traceback__)
            raise failed
        if transaction is None:
            return False
        # Commit, or roll back (``writing()`` turns a constraint race into ValidationFailed).
        transaction.__exit__(kind, error, trace)
        if error is None:
            for job in self._after_commit:
                job()
        return False

    def connection(self) -> sa.Connection:
        """The unit's write transaction, opened (with the model-version guard) if need be."""
        if self._closed:
            raise UnitClosed("this unit of work has ended; open a new one")
        if self._failed is not None:
            raise self._failed
        if self._conn is None:
            transaction = self.core.writing()
            self._conn = transaction.__enter__()
            self._transaction = transaction
        return self._conn

    @contextmanager
    def attempt(self) -> Iterator["Unit"]:
        """Writes that may fail alone: on a record error inside, they are undone (a
        savepoint), the error is raised, and the unit stays usable.

        >>> with service.unit(actor) as unit:                       # doctest: +SKIP
        ...     for record_id in ids:
        ...         try:
        ...             with unit.attempt():
        ...                 unit.delete("deal", record_id)
        ...         except RecordError as error:
        ...             problems[record_id] = error
        """
        conn = self.connection()
        savepoint = conn.begin_nested()
        try:
            yield self
        except (RecordError, sa.exc.IntegrityError) as error:
            savepoint.rollback()
            self._failed = None
            if isinstance(error, sa.exc.IntegrityError):
                raise integrity_failed(error) from error
            raise
        except BaseException:
            savepoint.rollback()
            raise
        else:
            savepoint.commit()

    def _run(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._failed is not None:
            raise self._failed
        try:
            return write(*args, **kwargs)
        except BaseException as error:
            self._failed = error
            raise

    def _checking(self) -> Any:
        """A connection to check integrity on before raising validation errors: the
        unit's (it sees the unit's own writes) if open, else a read transaction."""
        if self._conn is not None:
            return _Borrowed(self._conn)
        return self.core.db.read()

    # -- writes ----------------------------------------------------------------
    def create(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        """Create one record; returns it with id, version and standard columns."""
        return self._run(self._create, entity, values)

    def update(self, entity: str, record_id: Any, values: dict[str, Any], *,
               version: Any, pool: rights.PoolWrite | None = None) -> dict[str, Any]:
        """Change fields of one record; ``version`` is the version you read (the system
        actor may pass ``None``: last write wins). ``pool``: a claim from or release to
        a public pool, checked by the pool's rules instead of the role's update scope
        (only the pool use cases pass it; see :class:`~engine.records.rights.PoolWrite`)."""
        return self._run(self._update, entity, record_id, values, version, pool)

    def delete(self, entity: str, record_id: Any, *, version: Any = None) -> None:
        """Delete one record and handle the records pointing at it (see :mod:`.cascade`)."""
        return self._run(self._delete, entity, record_id, version)

    def bulk_create(self, entity: str, rows: Any, *, batch_size: int = 1000) -> list[int]:
        """Create many records; returns their ids in input order. Any invalid row refuses
        the whole call (every problem listed by row); one ``records.created`` event per batch."""
        return self._run(self._bulk_create, entity, rows, batch_size)

    def get(self, entity: str, record_id: Any, *, expand: tuple[str, ...] = ()) -> dict[str, Any]:
        """One record as the unit sees it (its own writes included), within the actor's scope."""
        return read_one(self.core, self.actor, entity, record_id, expand=expand,
                        conn=self.connection())

    # -- the use cases ---------------------------------------------------------
    def _emit(self, conn: sa.Connection, at: Any, changes: list[Event]) -> None:
        core = self.core
        events.emit(conn, core.event_tables, self.context, at, core.model.version, changes)

    def _create(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        core, actor = self.core, self.actor
        plan = core._require(actor, entity, "create")
        denied = core._denied(actor, plan)
        errors: list[FieldError] = []
        warnings: list[FieldError] = []
        now, at = core.now()  # before validation: expressions see created_at
        record = validate_create(plan, values, owner=actor.user_id, denied=denied, errors=errors,
                                 warnings=warnings, now=now)
        if errors:
            with self._checking() as conn:
                core.check_integrity(conn, actor, plan, [record], errors)
        elif self._single and self._conn is None and self._create_guarded(plan, record, at):
            return core._result(plan, record, denied, warnings)
        conn = self.connection()
        core.check_integrity(conn, actor, plan, [record], errors)
        if plan.autonumbers:
            autonumber.fill(conn, core.tables, plan.name, plan.autonumbers, [record],
                            core.clock.local(now), bulk=False)
        result = conn.execute(sa.insert(plan.table),
                              core.db_values(plan, record, core._columns[plan.name]))
        record["id"] = record_id = result.inserted_primary_key[0]
        for f, link in plan.links:
            reading.write_links(conn, link, [{"source_id": record_id, "target_id": t}
                                             for t in record.get(f.name) or ()])
        core.check_scope(conn, actor, plan, [record_id], "create")
        self._emit(conn, at, [Event(plan.name, record_id, audit.CREATE, outbox.CREATED,
                                    audit.snapshot(plan, record), 1)])
        return core._result(plan, record, denied, warnings)

    def _create_guarded(self, plan: EntityPlan, record: dict[str, Any], at: Any) -> bool:
        """Store a valid new record with its audit and outbox rows in one guarded statement
        (one transaction elsewhere); ``True`` when stored (``record["id"]`` is set).

        Same guarantees as the ordinary path: the INSERT happens only if the model version
        is current and every referenced row exists, and a unique or foreign-key violation
        stores nothing. ``False`` (nothing stored) when the guard or the database refused,
        or when the record needs what the statement doesn't do (autonumbers, links, a
        record scope): the caller then takes the ordinary path, whose checks say why.
        """
        if plan.autonumbers or any(record.get(f.name) for f, _ in plan.links):
            return False
        core, actor = self.core, self.actor
        policy = core.policy
        if policy.scope(actor, plan.name, plan.table) is not None:
            return False
        checked = []
        for ref in plan.references:
            value = record.get(ref.field.name)
            if not value or (ref.entity is None and value == actor.user_id
                             and ref.field.name == "owner"):
                continue
            if ref.entity is not None and policy.scope(actor, ref.entity, ref.target) is not None:
                return False
            checked.append(ref)
        key = (plan.name, tuple(r.field.name for r in checked))
        statement = core._guarded.get(key)
        if statement is None:
            statement = core._guarded[key] = fastinsert.GuardedCreate(
                core.db.engine.dialect, plan.table, core._columns[plan.name],
                versions.system_table(SCHEMA_VERSIONS),
                [(r.field.name, r.target) for r in checked], core.tables.audit,
                core.tables.outbox)
        changes = audit.snapshot(plan, record)
        row = core.db_values(plan, record, statement.columns)
        references = {r.field.name: record[r.field.name] for r in checked}
        version = core.model.version
        # The rows come from the one emitter's shapes; the statement writes them itself.
        audit_row = events.audit_row(self.context, at, plan.name, None, audit.CREATE, changes)
        outbox_row = events.outbox_row(self.context, at, outbox.CREATED, plan.name, version,
                                       {"version": 1, "changes": changes})
        db = core.db
        try:
            with (db.autocommit() if statement.one_statement else db.write()) as conn:
                record_id = statement.run(conn, version, row, references, audit_row, outbox_row)
        except sa.exc.DBAPIError as error:
            if error.connection_invalidated:
                raise  # the statement may have committed before the connection dropped
            # A unique value taken, or a model newer than the tables (a column missing):
            # nothing was stored; the ordinary path names the field or raises ModelOutdated.
            return False
        if record_id is None:
            return False
        record["id"] = record_id
        return True

    def _current(self, conn: sa.Connection, plan: EntityPlan, record_id: Any,
                 version: int | None) -> dict[str, Any]:
        """The stored record (``record_id`` and ``version`` already checked)."""
        stored, links = reading.column_names(plan)
        old = reading.fetch_one(conn, plan, record_id, self.core._scope(self.actor, plan.name),
                                stored, links)
        if old is None:
            raise RecordNotFound(plan.name, record_id, label=plan.entity.label)
        if version is not None and old["version"] != version:
            raise VersionConflict(plan.name, record_id, version, old["version"],
                                  label=plan.entity.label)
        return old

    def _update(self, entity: str, record_id: Any, values: dict[str, Any],
                version: Any, pool: rights.PoolWrite | None = None) -> dict[str, Any]:
        core, actor = self.core, self.actor
        plan = core._require(actor, entity, "update")
        record_id = record_id_of(entity, record_id, label=plan.entity.label)
        version = version_of(version)
        if version is None and not actor.is_system:
            raise ValidationFailed([FieldError("version", "required", text(
                "the version you read is required to save a change",
                "保存修改需要提供您读取到的版本号"))])
        denied = core._denied(actor, plan)
        errors: list[FieldError] = []
        warnings: list[FieldError] = []
        conn = self.connection()
        old = self._current(conn, plan, record_id, version)
        within = rights.within(core.policy, conn, actor, plan.table, record_id)
        if pool is None:
            rights.check(core.policy, actor, entity, "update", old, within,
                         label=plan.entity.label)
            writable = denied
        else:
            rights.check_pool_write(core.policy, conn, actor, plan.table, entity, pool, old,
                                    within, label=plan.entity.label)
            # The pool's bookkeeping fields may be read only for the role, never hidden.
            writable = {n: a for n, a in denied.items() if n not in pool.fields or a == HIDDEN}
        record, changes = validate_update(plan, old, values, denied=writable, errors=errors,
                                          warnings=warnings)
        if changes:
            rights.check_transitions(core.model, actor, plan.fields, old, record, set(changes),
                                     errors)
        if changes and entity in core.approval_entities:
            rights.check_approval_lock(conn, core.tables, entity, record_id, set(changes),
                                       errors)
        if pool is not None and not errors:
            # The fields asked for (formulas and followed defaults derive from them).
            rights.check_pool_result(entity, actor, pool, record, set(values),
                                     label=plan.entity.label)
        core.check_integrity(conn, actor, plan, [record], errors, exclude_id=record_id,
                             names=set(changes))
        if not changes:
            return core._result(plan, old, denied, warnings)
        now, at = core.now()
        record.update(updated_at=now, updated_by=actor.user_id, version=old["version"] + 1)
        columns = [n for n in changes if n in plan.table.c]
        table = plan.table
        result = conn.execute(
            sa.update(table).where(table.c.id == record_id, table.c.version == old["version"])
            .values(core.db_values(plan, record, [*columns, "updated_at", "updated_by",
                                                  "version"])))
        if result.rowcount != 1:
            actual = conn.execute(sa.select(table.c.version)
                                  .where(table.c.id == record_id)).scalar()
            raise VersionConflict(plan.name, record_id, old["version"], actual,
                                  label=plan.entity.label)
        for f, link in plan.links:
            if f.name in changes:
                reading.write_links(conn, link, [{"source_id": record_id, "target_id": t}
                                                 for t in record.get(f.name) or ()],
                                    clear=[record_id])
        if pool is None or pool.kind == rights.CLAIM:
            # A release hands the record to a pool, out of the actor's write scope.
            core.check_scope(conn, actor, plan, [record_id], "update")
        self._emit(conn, at, [Event(plan.name, record_id, audit.UPDATE, outbox.UPDATED,
                                    audit.diff(plan, changes), record["version"])])
        return core._result(plan, record, denied, warnings)

    def _delete(self, entity: str, record_id: Any, version: Any) -> None:
        core, actor = self.core, self.actor
        plan = core._require(actor, entity, "delete")
        record_id = record_id_of(entity, record_id, label=plan.entity.label)
        version = version_of(version)
        conn = self.connection()
        cascade.lock(conn, plan, record_id)
        old = self._current(conn, plan, record_id, version)
        rights.check(core.policy, actor, entity, "delete", old,
                     rights.within(core.policy, conn, actor, plan.table, record_id),
                     label=plan.entity.label)
        now, at = core.now()
        self._emit(conn, at, cascade.delete(conn, core.plans, core.policy, actor, plan, old, now))

    def _bulk_create(self, entity: str, rows: Any, batch_size: int) -> list[int]:
        core, actor = self.core, self.actor
        plan = core._require(actor, entity, "create")
        bulk.check_batch_size(batch_size)
        denied = core._denied(actor, plan)
        errors: list[FieldError] = []
        now, at = core.now()  # before validation: expressions see created_at
        records = bulk.validate_rows(plan, rows, actor.user_id, denied, now, errors)
        indexes = list(range(len(records)))
        if errors:  # report reference and unique problems too, then refuse
            with self._checking() as conn:
                core.check_integrity(conn, actor, plan, records, errors, rows=indexes)
        if not records:
            return []
        conn = self.connection()
        core.check_integrity(conn, actor, plan, records, errors, rows=indexes)
        if plan.autonumbers:
            autonumber.fill(conn, core.tables, plan.name, plan.autonumbers, records,
                            core.clock.local(now),
                            bulk=True)
        writer = bulk.BatchWriter(conn, core.tables.audit, self.context, plan, at)
        ids = bulk.reserve_ids(conn, plan.table, len(records))
        for start in range(0, len(records), batch_size):
            batch_ids = ids[start:start + batch_size]
            writer.write(conn, records[start:start + batch_size], batch_ids)
            core.check_scope(conn, actor, plan, batch_ids, "create")
            events.emit_batch(conn, core.event_tables, self.context, at, core.model.version,
                              outbox.BULK_CREATED, plan.name, batch_ids,
                              {"count": len(batch_ids)})
        self._after_commit.append(
            lambda: reading.refresh_statistics(core.db, plan.table, len(ids)))
        return ids


class _Borrowed:
    """The unit's open connection as a context manager that leaves it open."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sa.Connection:
        return self.conn

    def __exit__(self, *exc: Any) -> bool:
        return False
