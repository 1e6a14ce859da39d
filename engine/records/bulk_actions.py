"""Bulk actions on chosen records: owner transfer and delete, as engine use cases.

The list page (and later the API or a workflow) hands over the ids; each batch of
:data:`BATCH_SIZE` records is ONE unit of work (one transaction, audit and outbox rows
carrying the unit's cause). Within a batch each record runs in a savepoint
(:meth:`~engine.records.unit.Unit.attempt`): a record the actor may not change (not
found or out of scope, no permission, a rule or restriction refusing, a version changed
meanwhile) is reported with its error and the others are done. A user who selected 40
rows wants the 38 allowed ones changed: per record, not all-or-nothing.

An error that is not about one record (the model changed under the process, the
database went away) ends the call: the batches before it are committed, its own batch
writes nothing.

No Flask; the web layer turns :class:`BulkResult` into messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from engine.permissions import Actor
from engine.records.errors import RecordError
from engine.records.service import RecordService
from engine.records.unit import Unit
from engine.storage.events import Cause

#: Records per transaction of a bulk action.
BATCH_SIZE = 200


@dataclass(frozen=True)
class BulkResult:
    """Ids done, and ``(id, error)`` of each record refused, in the order given."""

    done: tuple[int, ...]
    failed: tuple[tuple[int, RecordError], ...]


def job_id() -> str:
    """A fresh id for one bulk job's cause (short, unique)."""
    return uuid.uuid4().hex[:12]


def transfer_owner(service: RecordService, actor: Actor, entity: str, ids: Iterable[Any],
                   owner: int | None, *, cause: Cause | None = None, depth: int = 0,
                   batch_size: int = BATCH_SIZE) -> BulkResult:
    """Give each record of ``ids`` the owner ``owner``, as ``actor`` (each update checked
    as a single one: permissions, field access to ``owner``, rules, scope).

    ``cause`` defaults to a transfer job with a fresh id.

    >>> transfer_owner(svc, alice, "account", [3, 4, 9], bob.user_id).done  # doctest: +SKIP
    (3, 4, 9)
    """
    def change(unit: Unit, record_id: Any) -> None:
        record = unit.get(entity, record_id)
        unit.update(entity, record_id, {"owner": owner}, version=record["version"])

    return _each(service, actor, ids, change, cause or Cause.transfer(job_id()), depth,
                 batch_size)


def delete_many(service: RecordService, actor: Actor, entity: str, ids: Iterable[Any], *,
                cause: Cause | None = None, depth: int = 0,
                batch_size: int = BATCH_SIZE) -> BulkResult:
    """Delete each record of ``ids`` with what depends on it (see :mod:`.cascade`).

    ``cause`` defaults to the user's request.
    """
    def remove(unit: Unit, record_id: Any) -> None:
        unit.delete(entity, record_id)

    return _each(service, actor, ids, remove, cause, depth, batch_size)


def _each(service: RecordService, actor: Actor, ids: Iterable[Any],
          act: Callable[[Unit, Any], None], cause: Cause | None, depth: int,
          batch_size: int) -> BulkResult:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number")
    ids = list(dict.fromkeys(ids))
    done: list[Any] = []
    failed: list[tuple[Any, RecordError]] = []
    for start in range(0, len(ids), batch_size):
        batch_done = []
        with service.unit(actor, cause=cause, depth=depth) as unit:
            for record_id in ids[start:start + batch_size]:
                try:
                    with unit.attempt():
                        act(unit, record_id)
                except RecordError as error:
                    failed.append((record_id, error))
                else:
                    batch_done.append(record_id)
        done += batch_done  # only once the batch is committed
    return BulkResult(tuple(done), tuple(failed))
