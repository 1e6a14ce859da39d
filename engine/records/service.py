"""The record service: the only write path, and the permission-checked read path.

Every write runs validate -> rules -> permissions -> store -> audit -> outbox, all in
ONE transaction (``db.write()``) that also checks the model version. Forms, the REST
API, imports, the seeder and workflow actions all call this class, so none of it can
be skipped by a side door.

A plain create (no autonumber, no many-to-many values, no record scope on the entity
or its references) is stored by one guarded statement instead
(:class:`~engine.records.fastinsert.GuardedCreate`): the row goes in only if the model
version is current and each referenced row exists, with its audit and outbox rows;
on PostgreSQL that is a single statement with no BEGIN/COMMIT around it, on SQLite
three statements in one transaction. When the guard or the database refuses, nothing
is stored and the ordinary path runs, whose checks name the problem.

Choices (where the issue left room):

- ``update`` takes a keyword-only ``version`` with no default: pass the version you
  read. ``version=None`` ("last write wins") is accepted from the system actor only.
  An update that changes nothing writes nothing (no version bump, audit or event).
- ``delete`` takes ``version=None`` from every actor (deleting needs no merge); a
  given version must still be current, as for ``update``.
- A version is an int (an integral string such as ``"3"`` is taken as 3); anything
  else is a ``ValidationFailed`` on ``version``. A record id is an int or integral
  string from 1 to 2**63-1; anything else names no record (``RecordNotFound``).
- Warnings (rules with ``severity: warning``) come back in the returned record under
  ``_warnings`` (a list of :class:`FieldError`), only when there are some.
- ``expand=("account",)`` adds ``record["_expand"]["account"]``: the related record's
  visible fields plus ``_display`` (a list of them for many-to-many; users give id,
  username, display_name). The field itself keeps the id.
- ``delete`` handles the records that point at the deleted one itself (cascade,
  set_null, restrict, each change audited with its event), refusing the whole delete
  if the actor may not delete or update one of them: see :mod:`.cascade`.
- The record scope of the policy also applies to related records (ids you can't see
  are "missing" when linked, filtered out of dotted filters and expansions), and a
  write whose result would fall outside the actor's scope is refused.

No Flask here; the web layer maps :mod:`.errors` to responses.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.fields.reference import MAX_ID
from engine.filters import (FilterCompiler, FilterError, decode_cursor, encode_cursor, keyset_after,
                            order_by)
from engine.model import CompiledModel
from engine.permissions import HIDDEN, WRITE, Actor, AllowAll, PermissionPolicy
from engine.records import aggregate as grouping
from engine.records import (audit, autonumber, bulk, cascade, expansion, fastinsert, integrity,
                            outbox, reading)
from engine.records.errors import (FieldError, PermissionDenied, RecordNotFound, ValidationFailed,
                                   VersionConflict, text)
from engine.records.plan import EntityPlan, build_plan
from engine.records.validation import record_id as record_id_of
from engine.records.validation import validate_create, validate_update, version_of
from engine.storage import versions
from engine.storage.db import Database
from engine.storage.tables import SCHEMA_VERSIONS, ModelTables, build_tables

#: Largest page :meth:`RecordService.list` returns; page through more with ``after``.
MAX_LIMIT = 1000


def _error_order(error: FieldError) -> int:
    return -1 if error.row is None else error.row


@dataclass(frozen=True)
class Page:
    """One page of records; ``next_after`` is the cursor of the next page (None at the end)."""

    rows: list[dict[str, Any]]
    total: int | None
    next_after: str | None


class RecordService:
    """Create, update, delete, read and list records of one compiled model.

    >>> svc = RecordService(db, model)                                    # doctest: +SKIP
    >>> deal = svc.create(actor, "deal", {"title": "Big one", "amount": "1000"})  # doctest: +SKIP
    >>> svc.update(actor, "deal", deal["id"], {"stage": "won"}, version=deal["version"])  # doctest: +SKIP
    """

    def __init__(self, db: Database, model: CompiledModel, tables: ModelTables | None = None,
                 permissions: PermissionPolicy | None = None, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        """``clock`` (:mod:`engine.clock`) gives the time of each write (``created_at``,
        ``updated_at``, audit, autonumber dates), of the day-based filters, and of CEL's
        ``now()`` and ``today()`` in defaults, formulas and rules; its zone says where
        the organisation's days start."""
        self.db = db
        self.model = model
        self.tables = tables or build_tables(model)
        self.policy: PermissionPolicy = permissions or AllowAll()
        self.clock = clock
        self.plans = {name: build_plan(model.entities, self.tables, name, clock)
                      for name in model.entities}
        #: Columns a create writes (all but ``id``), per entity.
        self._columns = {name: [c.name for c in plan.table.columns if c.name != "id"]
                         for name, plan in self.plans.items()}
        self._guarded: dict[tuple[str, tuple[str, ...]], fastinsert.GuardedCreate] = {}

    # -- helpers -----------------------------------------------------------
    def plan(self, entity: str) -> EntityPlan:
        if entity not in self.plans:
            self.model.entity(entity)  # raises KeyError naming the known entities
        return self.plans[entity]

    def _require(self, actor: Actor, entity: str, action: str) -> EntityPlan:
        plan = self.plan(entity)
        if not self.policy.can(actor, entity, action):
            raise PermissionDenied(entity, action)
        return plan

    def _denied(self, actor: Actor, plan: EntityPlan) -> dict[str, str]:
        """Names the actor may not write, with their access (``read`` or ``hidden``)."""
        access = self.policy.field_access
        return {n: a for n in plan.fields if (a := access(actor, plan.name, n)) != WRITE}

    @staticmethod
    def _hidden(denied: dict[str, str]) -> set[str]:
        return {n for n, a in denied.items() if a == HIDDEN}

    def _scope(self, actor: Actor, entity: str) -> Any:
        return self.policy.scope(actor, entity, self.tables.entity(entity))

    def _filters(self, actor: Actor) -> FilterCompiler:
        def visible(entity: str, field: str) -> bool:
            return (self.policy.can(actor, entity, "read")
                    and self.policy.field_access(actor, entity, field) != HIDDEN)

        return FilterCompiler(self.model, self.tables, visible=visible,
                              related_scope=self.policy_scope(actor), clock=self.clock)

    def now(self) -> tuple[dt.datetime, dt.datetime]:
        """(aware UTC now, the same as naive UTC for the database)."""
        now = self.clock.now().astimezone(dt.timezone.utc)
        return now, now.replace(tzinfo=None)

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A write transaction with the model-version guard; constraint races become errors."""
        try:
            with self.db.write() as conn:
                versions.ensure_current(conn, self.model)
                yield conn
        except sa.exc.IntegrityError as exc:
            raise ValidationFailed([FieldError(None, "integrity", text(
                "the change conflicts with other records (a unique value or a reference); "
                "nothing was saved", "该修改与其他记录冲突（唯一值或引用），未保存任何内容"))]) from exc

    def check_scope(self, conn: sa.Connection, actor: Actor, plan: EntityPlan, ids: list[int],
                    action: str) -> None:
        """The written records must stay within what the actor may see."""
        scope = self._scope(actor, plan.name)
        if scope is None or not ids:
            return
        seen = conn.execute(sa.select(sa.func.count()).select_from(plan.table)
                            .where(plan.table.c.id.in_(ids), scope)).scalar_one()
        if seen != len(ids):
            raise PermissionDenied(plan.name, action, " outside your own scope")

    def check_integrity(self, conn: sa.Connection, actor: Actor, plan: EntityPlan,
                        records: list[dict[str, Any]], errors: list[FieldError], *,
                        exclude_id: int | None = None, names: set[str] | None = None,
                        rows: list[int] | None = None) -> None:
        """References and unique values of ``records`` (only ``names`` when given).

        Raises :class:`ValidationFailed` with these problems and ``errors`` (the
        validation's, so the caller sees every problem at once) if there are any.
        """
        errors = errors + integrity.check_references(
            conn, plan, records, self.policy_scope(actor), skip_owner=actor.user_id, names=names,
            rows=rows)
        errors += integrity.check_unique(conn, plan, records, names=names, exclude_id=exclude_id,
                                         rows=rows)
        if errors:
            raise ValidationFailed(sorted(errors, key=_error_order) if rows else errors)

    def policy_scope(self, actor: Actor) -> Callable[[str, sa.Table], Any]:
        return lambda entity, table: self.policy.scope(actor, entity, table)

    @staticmethod
    def db_values(plan: EntityPlan, record: dict[str, Any], names: Any) -> dict[str, Any]:
        return {n: plan.to_db_value(plan.fields[n], record.get(n)) for n in names}

    def _result(self, plan: EntityPlan, record: dict[str, Any], denied: dict[str, str],
                warnings: list[FieldError]) -> dict[str, Any]:
        stored, links = reading.column_names(plan, self._hidden(denied))
        out = {n: record.get(n) for n in stored}
        out.update((n, record.get(n) or []) for n in links)
        if warnings:
            out["_warnings"] = warnings
        return out

    def _write_events(self, conn: sa.Connection, actor: Actor, plan: EntityPlan, at: dt.datetime,
                      record_id: int, action: str, event: str, changes: dict[str, list[Any]],
                      version: int) -> None:
        conn.execute(sa.insert(self.tables.audit),
                     audit.row(at, actor.user_id, plan.name, record_id, action, changes))
        conn.execute(sa.insert(self.tables.outbox), outbox.event(
            at, event, plan.name, actor.user_id, self.model.version,
            {"version": version, "changes": changes}, record_id=record_id))

    # -- writes ------------------------------------------------------------
    def create(self, actor: Actor, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        """Create one record; returns it with id, version and standard columns."""
        plan = self._require(actor, entity, "create")
        denied = self._denied(actor, plan)
        errors: list[FieldError] = []
        warnings: list[FieldError] = []
        now, at = self.now()  # before validation: expressions see created_at
        record = validate_create(plan, values, owner=actor.user_id, denied=denied, errors=errors,
                                 warnings=warnings, now=now)
        if errors:
            with self.db.read() as conn:
                self.check_integrity(conn, actor, plan, [record], errors)
        elif self._create_guarded(actor, plan, record, at):
            return self._result(plan, record, denied, warnings)
        with self.writing() as conn:
            self.check_integrity(conn, actor, plan, [record], errors)
            if plan.autonumbers:
                autonumber.fill(conn, self.tables, plan.name, plan.autonumbers, [record], now,
                                bulk=False)
            result = conn.execute(sa.insert(plan.table),
                                  self.db_values(plan, record, self._columns[plan.name]))
            record["id"] = record_id = result.inserted_primary_key[0]
            for f, link in plan.links:
                reading.write_links(conn, link, [{"source_id": record_id, "target_id": t}
                                                 for t in record.get(f.name) or ()])
            self.check_scope(conn, actor, plan, [record_id], "create")
            self._write_events(conn, actor, plan, at, record_id, audit.CREATE, outbox.CREATED,
                               audit.snapshot(plan, record), 1)
        return self._result(plan, record, denied, warnings)

    def _create_guarded(self, actor: Actor, plan: EntityPlan, record: dict[str, Any],
                        at: dt.datetime) -> bool:
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
        policy = self.policy
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
        statement = self._guarded.get(key)
        if statement is None:
            statement = self._guarded[key] = fastinsert.GuardedCreate(
                self.db.engine.dialect, plan.table, self._columns[plan.name],
                versions.system_table(SCHEMA_VERSIONS),
                [(r.field.name, r.target) for r in checked], self.tables.audit,
                self.tables.outbox)
        changes = audit.snapshot(plan, record)
        row = self.db_values(plan, record, statement.columns)
        references = {r.field.name: record[r.field.name] for r in checked}
        audit_row = audit.row(at, actor.user_id, plan.name, None, audit.CREATE, changes)
        outbox_row = outbox.event(at, outbox.CREATED, plan.name, actor.user_id,
                                  self.model.version, {"version": 1, "changes": changes})
        try:
            with (self.db.autocommit() if statement.one_statement else self.db.write()) as conn:
                record_id = statement.run(conn, self.model.version, row, references,
                                          audit_row, outbox_row)
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

    def _current(self, conn: sa.Connection, actor: Actor, plan: EntityPlan, record_id: Any,
                 version: int | None) -> dict[str, Any]:
        """The stored record (``record_id`` and ``version`` already checked)."""
        stored, links = reading.column_names(plan)
        old = reading.fetch_one(conn, plan, record_id, self._scope(actor, plan.name), stored, links)
        if old is None:
            raise RecordNotFound(plan.name, record_id)
        if version is not None and old["version"] != version:
            raise VersionConflict(plan.name, record_id, version, old["version"])
        return old

    def _stale(self, conn: sa.Connection, plan: EntityPlan, record_id: int, version: int | None):
        actual = conn.execute(sa.select(plan.table.c.version)
                              .where(plan.table.c.id == record_id)).scalar()
        return VersionConflict(plan.name, record_id, version, actual)

    def update(self, actor: Actor, entity: str, record_id: int, values: dict[str, Any], *,
               version: int | None) -> dict[str, Any]:
        """Change fields of one record; ``version`` is the version you read (see module doc)."""
        plan = self._require(actor, entity, "update")
        record_id = record_id_of(entity, record_id)
        version = version_of(version)
        if version is None and not actor.is_system:
            raise ValidationFailed([FieldError("version", "required", text(
                "the version you read is required to save a change",
                "保存修改需要提供您读取到的版本号"))])
        denied = self._denied(actor, plan)
        errors: list[FieldError] = []
        warnings: list[FieldError] = []
        with self.writing() as conn:
            old = self._current(conn, actor, plan, record_id, version)
            record, changes = validate_update(plan, old, values, denied=denied, errors=errors,
                                              warnings=warnings)
            self.check_integrity(conn, actor, plan, [record], errors, exclude_id=record_id,
                                 names=set(changes))
            if not changes:
                return self._result(plan, old, denied, warnings)
            now, at = self.now()
            record.update(updated_at=now, updated_by=actor.user_id, version=old["version"] + 1)
            columns = [n for n in changes if n in plan.table.c]
            table = plan.table
            result = conn.execute(
                sa.update(table).where(table.c.id == record_id, table.c.version == old["version"])
                .values(self.db_values(plan, record, [*columns, "updated_at", "updated_by",
                                                      "version"])))
            if result.rowcount != 1:
                raise self._stale(conn, plan, record_id, old["version"])
            for f, link in plan.links:
                if f.name in changes:
                    reading.write_links(conn, link, [{"source_id": record_id, "target_id": t}
                                                     for t in record.get(f.name) or ()],
                                        clear=[record_id])
            self.check_scope(conn, actor, plan, [record_id], "update")
            self._write_events(conn, actor, plan, at, record_id, audit.UPDATE, outbox.UPDATED,
                               audit.diff(plan, changes), record["version"])
        return self._result(plan, record, denied, warnings)

    def delete(self, actor: Actor, entity: str, record_id: int, *, version: int | None = None) -> None:
        """Delete one record; a given ``version`` must still be current.

        ``version=None`` is allowed for every actor (unlike :meth:`update`): the delete
        then happens whatever changed since the record was read. Pass the version you
        read to refuse the delete (``VersionConflict``) when someone changed it since.

        Records pointing at it are handled first, in the same transaction, each with
        its audit row and event (see :mod:`.cascade`): ``cascade`` deletes them,
        ``set_null`` empties their field, ``restrict`` refuses the delete
        (``ValidationFailed``, code ``referenced``). ``PermissionDenied`` when the actor
        may not delete or update every such record.
        """
        plan = self._require(actor, entity, "delete")
        record_id = record_id_of(entity, record_id)
        version = version_of(version)
        with self.writing() as conn:
            cascade.lock(conn, plan, record_id)
            old = self._current(conn, actor, plan, record_id, version)
            cascade.delete(self, conn, actor, plan, old)

    def bulk_create(self, actor: Actor, entity: str, rows: list[dict[str, Any]], *,
                    batch_size: int = 1000) -> list[int]:
        """Create many records in one transaction; returns their ids in input order.

        Same checks as :meth:`create`; any invalid row refuses the whole call, with
        every problem listed by row index (``FieldError.row``). One outbox event
        ``records.created`` per batch; rule warnings are not reported.
        """
        plan = self._require(actor, entity, "create")
        ids = bulk.create_many(self, actor, plan, rows, batch_size, self._denied(actor, plan))
        reading.refresh_statistics(self.db, plan.table, len(ids))
        return ids

    # -- reads -------------------------------------------------------------
    def get(self, actor: Actor, entity: str, record_id: int, *,
            expand: tuple[str, ...] = ()) -> dict[str, Any]:
        """One record the actor may see, hidden fields removed; RecordNotFound otherwise."""
        plan = self._require(actor, entity, "read")
        hidden = self._hidden(self._denied(actor, plan))
        targets = self._expansions(actor, plan, expand, hidden)
        record_id = record_id_of(entity, record_id)
        stored, links = reading.column_names(plan, hidden)
        with self.db.reads() as conn:
            record = reading.fetch_one(conn, plan, record_id, self._scope(actor, entity),
                                       stored, links)
            if record is None:
                raise RecordNotFound(entity, record_id)
            self._expand(conn, actor, [record], targets)
        return record

    def history(self, actor: Actor, entity: str, record_id: int) -> list[dict[str, Any]]:
        """The record's audit trail (who, when, action, changes), oldest first.

        Needs ``read``; a scoped actor sees the history of records in scope only (so not
        of deleted ones); hidden fields are left out of ``changes``.
        """
        plan = self._require(actor, entity, "read")
        hidden = self._hidden(self._denied(actor, plan))
        record_id = record_id_of(entity, record_id)
        scope = self._scope(actor, entity)
        with self.db.reads() as conn:
            query = sa.select(plan.table.c.id).where(plan.table.c.id == record_id)
            exists = conn.execute(query.where(scope) if scope is not None else query).first()
            if exists is None and scope is not None:
                raise RecordNotFound(entity, record_id)
            entries = audit.history(conn, self.tables.audit, entity, record_id)
        if not entries and exists is None:
            raise RecordNotFound(entity, record_id)
        for entry in entries:
            entry["changes"] = {k: v for k, v in entry["changes"].items() if k not in hidden}
        return entries

    def aggregate(self, actor: Actor, entity: str, *, group_by: Any = (),
                  metrics: Any = grouping.DEFAULT_METRICS, filters: Any = None, sort: Any = (),
                  limit: int | None = None) -> grouping.Groups:
        """Grouped figures in one SQL GROUP BY, within the actor's scope (see :mod:`.aggregate`).

        >>> svc.aggregate(actor, "deal", group_by=["stage", "close_date:month"],   # doctest: +SKIP
        ...               metrics=["count", "sum:amount"]).rows[0]
        {'stage': 'won', 'close_date_month': '2026-03-01', 'count': 2, 'sum_amount': '1500.00'}
        """
        plan = self._require(actor, entity, "read")
        compiler = self._filters(actor)
        query = grouping.build(plan, compiler, where=compiler.where(entity, filters),
                               scope=self._scope(actor, entity), group_by=group_by,
                               metrics=metrics, sort=sort, limit=limit, dialect=self.db.dialect)
        with self.db.reads() as conn:
            return grouping.run(conn, plan, query)

    # -- expansion and JSON --------------------------------------------------
    def _expansions(self, actor: Actor, plan: EntityPlan, names: Any,
                    hidden: set[str]) -> list[expansion.Expansion]:
        return expansion.expansions(plan, names, hidden, self.tables.users,
                                    lambda entity: self.policy.can(actor, entity, "read"))

    def _expand(self, conn: sa.Connection, actor: Actor, records: list[dict[str, Any]],
                wanted: list[expansion.Expansion]) -> None:
        expansion.expand(conn, records, wanted, plans=self.plans, users=self.tables.users,
                         scope=lambda entity: self._scope(actor, entity),
                         hidden=lambda target: self._hidden(self._denied(actor, target)))

    def to_json(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """A record from this service in its JSON form (each field type's ``to_json``)."""
        self.plan(entity)
        return expansion.record_json(self.plans, entity, record)

    # Defined last: inside the class body, ``list`` names this method from here on.
    def list(self, actor: Actor, entity: str, *, filter: Any = None, sort: Any = (),
             limit: int = 50, offset: int = 0, after: str | None = None, with_total: bool = False,
             expand: tuple[str, ...] = (), fields: Any = None) -> Page:
        """A page of records matching ``filter`` (see :mod:`engine.filters`).

        ``after`` is the ``next_after`` of the previous page (keyset paging, stable under
        inserts); ``offset`` skips rows. ``fields`` limits the returned fields.
        """
        plan = self._require(actor, entity, "read")
        hidden = self._hidden(self._denied(actor, plan))
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise FilterError([f"limit must be a whole number from 1 to {MAX_LIMIT}"])
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_ID:
            raise FilterError([f"offset must be a whole number from 0 to {MAX_ID}"])
        compiler = self._filters(actor)
        where = compiler.where(entity, filter)
        keys = compiler.sort(entity, sort)
        wanted = None
        if fields is not None:
            wanted, problems = list(fields), []
            for name in wanted:
                compiler.field(plan.entity, name, problems)
            if problems:
                raise FilterError(problems)
        targets = self._expansions(actor, plan, expand, hidden)
        stored, links = reading.column_names(plan, hidden, wanted)
        table = plan.table
        scope = self._scope(actor, entity)
        conditions = [c for c in (where, scope) if c is not None]
        read = list(dict.fromkeys([*stored, *(k.name for k in keys)]))
        query = sa.select(*(table.c[n] for n in read)).where(*conditions)
        if after is not None:
            query = query.where(keyset_after(keys, decode_cursor(keys, after), self.db.dialect))
        query = query.order_by(*order_by(keys)).limit(limit + 1).offset(offset)
        with self.db.reads() as conn:
            rows = reading.to_records(plan, conn.execute(query).mappings(), read)
            more = len(rows) > limit
            rows = rows[:limit]
            next_after = encode_cursor(keys, rows[-1]) if more else None
            total = None
            if with_total:
                total = conn.execute(sa.select(sa.func.count()).select_from(table)
                                     .where(*conditions)).scalar_one()
            reading.load_links(conn, plan, rows, links)
            self._expand(conn, actor, rows, targets)
        extra = set(read) - set(stored)
        if extra:
            for row in rows:
                for name in extra:
                    del row[name]
        return Page(rows, total, next_after)
