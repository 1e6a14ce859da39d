"""What every read and write of the record service shares: plans, permissions, checks.

:class:`RecordCore` is the base of :class:`~engine.records.service.RecordService`; the
read functions (:mod:`.reads`) and the unit of work (:mod:`.unit`) take one as their
argument, so neither imports the service. It holds no transaction and no per-call
state: the service's constructor sets its attributes once.

No Flask; never begins a transaction except in :meth:`RecordCore.writing`.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from engine.clock import Clock
from engine.filters import FilterCompiler
from engine.model import CompiledModel
from engine.permissions import HIDDEN, WRITE, Actor, PermissionPolicy
from engine.records import integrity, reading, rights
from engine.records.errors import (OUTSIDE_SCOPE, FieldError, PermissionDenied, ValidationFailed,
                                   text)
from engine.records.fastinsert import GuardedCreate
from engine.records.plan import EntityPlan
from engine.storage import versions
from engine.storage.db import Database
from engine.storage.events import EventTables
from engine.storage.tables import ModelTables


def _error_order(error: FieldError) -> int:
    return -1 if error.row is None else error.row


def integrity_failed(exc: sa.exc.IntegrityError) -> ValidationFailed:
    """A constraint race (a unique value or a reference taken meanwhile) as a user error."""
    return ValidationFailed([FieldError(None, "integrity", text(
        "the change conflicts with other records (a unique value or a reference); "
        "nothing was saved", "该修改与其他记录冲突（唯一值或引用），未保存任何内容"))])


class RecordCore:
    """The state and checks shared by reads and writes of one compiled model."""

    db: Database
    model: CompiledModel
    tables: ModelTables
    policy: PermissionPolicy
    clock: Clock
    plans: dict[str, EntityPlan]
    _columns: dict[str, list[str]]
    _guarded: dict[tuple[str, tuple[str, ...]], GuardedCreate]

    def plan(self, entity: str) -> EntityPlan:
        if entity not in self.plans:
            self.model.entity(entity)  # raises KeyError naming the known entities
        return self.plans[entity]

    @property
    def approval_entities(self) -> frozenset[str]:
        """Entities some workflow may start an approval on (their updates check its locks).

        Read from the compiled workflows as data (actions of kind ``start_approval``
        name their entity); computed once per model.
        """
        cached = getattr(self, "_approval_entities", None)
        if cached is None or cached[0] is not self.model:
            try:
                workflows = self.model.part("workflows").values()
            except KeyError:
                workflows = ()
            found = frozenset(w.entity for w in workflows
                              for a in w.actions if a.kind == "start_approval")
            cached = (self.model, found)
            self._approval_entities = cached
        return cached[1]

    @property
    def event_tables(self) -> EventTables:
        return EventTables(self.tables.audit, self.tables.outbox)

    def _require(self, actor: Actor, entity: str, action: str) -> EntityPlan:
        plan = self.plan(entity)
        if not self.policy.can(actor, entity, action):
            raise PermissionDenied(entity, action, label=plan.entity.label)
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
            raise integrity_failed(exc) from exc

    def check_scope(self, conn: sa.Connection, actor: Actor, plan: EntityPlan, ids: list[int],
                    action: str) -> None:
        """The written records must stay within what the actor may change."""
        scope = rights.write_scope(self.policy, actor, plan.name, plan.table)
        if scope is None or not ids:
            return
        seen = conn.execute(sa.select(sa.func.count()).select_from(plan.table)
                            .where(plan.table.c.id.in_(ids), scope)).scalar_one()
        if seen != len(ids):
            raise PermissionDenied(plan.name, action, OUTSIDE_SCOPE, label=plan.entity.label)

    def check_integrity(self, conn: sa.Connection, actor: Actor, plan: EntityPlan,
                        records: list[dict[str, Any]], errors: list[FieldError], *,
                        exclude_id: int | None = None, names: set[str] | None = None,
                        rows: list[int] | None = None) -> None:
        """References and unique values of ``records`` (only ``names`` when given).

        Raises :class:`ValidationFailed` with these problems and ``errors`` (the
        validation's, so the caller sees every problem at once) if there are any.
        """
        owners = rights.owners(self.policy, actor, plan.name, plan.table, self.tables.users)
        errors = errors + integrity.check_references(
            conn, plan, records, self.policy_scope(actor), skip_owner=actor.user_id, names=names,
            rows=rows, owners=owners)
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
