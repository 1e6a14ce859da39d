"""The record service: the only write path, and the permission-checked read path.

Every write runs validate -> rules -> permissions -> store -> audit -> outbox inside a
unit of work (:meth:`RecordService.unit`, :mod:`.unit`): ONE transaction (``db.write()``)
that also checks the model version, for one write or several, each audit and outbox row
carrying the unit's write context (actor, cause, depth, quiet). Forms, the REST API,
imports, the seeder and workflow actions all call this class, so none of it can be
skipped by a side door. ``create``, ``update``, ``delete`` and ``bulk_create`` are
one-write units; the reads live in :mod:`.reads`, the shared checks in :mod:`.core`.

A lone plain create (no autonumber, no many-to-many values, no record scope on the entity
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

from typing import Any

from engine.model import CompiledModel
from engine.permissions import Actor, AllowAll, PermissionPolicy
from engine.records import aggregate as grouping
from engine.records import expansion, fastinsert, reads
from engine.records.core import RecordCore
from engine.clock import SYSTEM_CLOCK, Clock
from engine.records.plan import build_entity_plan
from engine.records.reads import MAX_LIMIT, Page
from engine.records.unit import Unit
from engine.storage.db import Database
from engine.storage.events import DEFAULT_CAUSE, Cause, WriteContext
from engine.storage.tables import ModelTables, build_tables

__all__ = ["MAX_LIMIT", "Page", "RecordService"]


class RecordService(RecordCore):
    """Create, update, delete, read and list records of one compiled model.

    >>> svc = RecordService(db, model)                                    # doctest: +SKIP
    >>> deal = svc.create(actor, "deal", {"title": "Big one", "amount": "1000"})  # doctest: +SKIP
    >>> svc.update(actor, "deal", deal["id"], {"stage": "won"}, version=deal["version"])  # doctest: +SKIP
    >>> with svc.unit(actor, cause=Cause.import_(4, "leads.csv")) as unit:  # doctest: +SKIP
    ...     account = unit.create("account", {"name": "ACME"})
    ...     unit.create("deal", {"title": "First", "account": account["id"]})
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
        self.plans = {name: build_entity_plan(model.entities, self.tables, name, clock)
                      for name in model.entities}
        #: Columns a create writes (all but ``id``), per entity.
        self._columns = {name: [c.name for c in plan.table.columns if c.name != "id"]
                         for name, plan in self.plans.items()}
        self._guarded: dict[tuple[str, tuple[str, ...]], fastinsert.GuardedCreate] = {}

    # -- the unit of work ------------------------------------------------------
    def unit(self, actor: Actor, *, cause: Cause | None = None, depth: int = 0,
             quiet: bool = False) -> Unit:
        """A unit of work: its writes share ONE transaction, committed at the end of the
        ``with`` block, and every audit and outbox row carries ``cause`` (a user's request
        by default), ``depth`` (automated steps that led here) and ``quiet`` (no
        notifications). A failure anywhere writes nothing. See :mod:`.unit`."""
        return Unit(self, WriteContext(actor, cause or DEFAULT_CAUSE, depth, quiet))

    def _single(self, actor: Actor, cause: Cause | None) -> Unit:
        context = WriteContext(actor) if cause is None else WriteContext(actor, cause)
        return Unit(self, context, single=True)

    # -- writes: one-write units ------------------------------------------------
    def create(self, actor: Actor, entity: str, values: dict[str, Any], *,
               cause: Cause | None = None) -> dict[str, Any]:
        """Create one record; returns it with id, version and standard columns."""
        with self._single(actor, cause) as unit:
            return unit.create(entity, values)

    def update(self, actor: Actor, entity: str, record_id: int, values: dict[str, Any], *,
               version: int | None, cause: Cause | None = None) -> dict[str, Any]:
        """Change fields of one record; ``version`` is the version you read (see module doc)."""
        with self._single(actor, cause) as unit:
            return unit.update(entity, record_id, values, version=version)

    def delete(self, actor: Actor, entity: str, record_id: int, *, version: int | None = None,
               cause: Cause | None = None) -> None:
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
        with self._single(actor, cause) as unit:
            unit.delete(entity, record_id, version=version)

    def bulk_create(self, actor: Actor, entity: str, rows: list[dict[str, Any]], *,
                    batch_size: int = 1000, cause: Cause | None = None) -> list[int]:
        """Create many records in one transaction; returns their ids in input order.

        Same checks as :meth:`create`; any invalid row refuses the whole call, with
        every problem listed by row index (``FieldError.row``). One outbox event
        ``records.created`` per batch; rule warnings are not reported.
        """
        with self._single(actor, cause) as unit:
            return unit.bulk_create(entity, rows, batch_size=batch_size)

    # -- reads (see :mod:`.reads`) ---------------------------------------------
    def get(self, actor: Actor, entity: str, record_id: int, *,
            expand: tuple[str, ...] = ()) -> dict[str, Any]:
        """One record the actor may see, hidden fields removed; RecordNotFound otherwise."""
        return reads.get(self, actor, entity, record_id, expand=expand)

    def history(self, actor: Actor, entity: str, record_id: int) -> list[dict[str, Any]]:
        """The record's audit trail (who, when, action, cause, depth, changes), oldest first.

        Needs ``read``; a scoped actor sees the history of records in scope only (so not
        of deleted ones); hidden fields are left out of ``changes``.
        """
        return reads.history(self, actor, entity, record_id)

    def aggregate(self, actor: Actor, entity: str, *, group_by: Any = (),
                  metrics: Any = grouping.DEFAULT_METRICS, filters: Any = None, sort: Any = (),
                  limit: int | None = None) -> grouping.Groups:
        """Grouped figures in one SQL GROUP BY, within the actor's scope (see :mod:`.aggregate`).

        >>> svc.aggregate(actor, "deal", group_by=["stage", "close_date:month"],   # doctest: +SKIP
        ...               metrics=["count", "sum:amount"]).rows[0]
        {'stage': 'won', 'close_date_month': '2026-03-01', 'count': 2, 'sum_amount': '1500.00'}
        """
        return reads.aggregate(self, actor, entity, group_by=group_by, metrics=metrics,
                               filters=filters, sort=sort, limit=limit)

    def to_json(self, entity: str, record: dict[str, Any],
                lang: str | None = None) -> dict[str, Any]:
        """A record from this service in its JSON form (each field type's ``to_json``);
        the messages of ``_warnings`` in ``lang`` (``None``: ``{en, zh-CN}``)."""
        self.plan(entity)
        return expansion.record_json(self.plans, entity, record, lang)

    # Defined last: inside the class body, ``list`` names this method from here on.
    def list(self, actor: Actor, entity: str, *, filter: Any = None, sort: Any = (),
             limit: int = 50, offset: int = 0, after: str | None = None, with_total: bool = False,
             expand: tuple[str, ...] = (), fields: Any = None) -> Page:
        """A page of records matching ``filter`` (see :mod:`engine.filters`).

        ``after`` is the ``next_after`` of the previous page (keyset paging, stable under
        inserts); ``offset`` skips rows. ``fields`` limits the returned fields.
        """
        return reads.list_records(self, actor, entity, filter=filter, sort=sort, limit=limit,
                                  offset=offset, after=after, with_total=with_total,
                                  expand=expand, fields=fields)
