"""Bulk actions on chosen records: owner transfer and delete, as engine use cases.

The list page (and later the API or a workflow) hands over the ids; each batch of
:data:`BATCH_SIZE` records is ONE unit of work (one transaction, audit and outbox rows
carrying the unit's cause). Within a batch each record runs in a savepoint
(:meth:`~engine.records.unit.Unit.attempt`): a record the actor may not change (not
found or out of scope, no permission, a rule or restriction refusing, a version changed
meanwhile) is reported with its error and the others are done. An owner transfer takes
each batch through :func:`~engine.records.batch_update.update_many` (the same checks,
set-based SQL) and falls back to one savepoint per record when the batch can't be
written as a whole. A user who selected 40
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
from engine.records.batch_update import update_many
from engine.records.errors import RecordError
from engine.records.service import RecordService
from engine.records.unit import Unit
from engine.storage.events import Cause

#: Records per transaction of a bulk action.
BATCH_SIZE = 200

#: Called after each committed batch with the number of records done and the refusals so far.
Progress = Callable[[int, "list[tuple[Any, RecordError]]"], None]


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
                   batch_size: int = BATCH_SIZE, quiet: bool = False,
                   progress: Progress | None = None) -> BulkResult:
    """Give each record of ``ids`` the owner ``owner``, as ``actor`` (each update checked
    as a single one: permissions, field access to ``owner``, rules, scope).

    ``cause`` defaults to a transfer job with a fresh id; ``quiet`` asks the outbox's
    consumers for no notifications; ``progress(done, failed)`` is called after each
    committed batch with the counts so far and the refusals so far.

    >>> transfer_owner(svc, alice, "account", [3, 4, 9], bob.user_id).done  # doctest: +SKIP
    (3, 4, 9)
    """
    def change(unit: Unit, record_id: Any) -> None:
        record = unit.get(entity, record_id)
        unit.update(entity, record_id, {"owner": owner}, version=record["version"])

    def change_all(unit: Unit, batch: list[Any]) -> tuple[list[Any], list[Any]]:
        return update_many(unit, entity, batch, {"owner": owner})

    return _each(service, actor, ids, change, cause or Cause.transfer(job_id()), depth,
                 batch_size, batch=change_all, quiet=quiet, progress=progress)


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
          batch_size: int, *,
          batch: Callable[[Unit, list[Any]], tuple[list[Any], list[Any]]] | None = None,
          quiet: bool = False, progress: Progress | None = None) -> BulkResult:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number")
    ids = list(dict.fromkeys(ids))
    done: list[Any] = []
    failed: list[tuple[Any, RecordError]] = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        with service.unit(actor, cause=cause, depth=depth, quiet=quiet) as unit:
            batch_done, batch_failed = _batch(unit, chunk, act, batch)
        done += batch_done  # only once the batch is committed
        failed += batch_failed
        if progress is not None:
            progress(len(done), failed)
    return BulkResult(tuple(done), tuple(failed))


def _batch(unit: Unit, chunk: list[Any], act: Callable[[Unit, Any], None],
           batch: Callable[[Unit, list[Any]], tuple[list[Any], list[Any]]] | None
           ) -> tuple[list[Any], list[tuple[Any, RecordError]]]:
    """The batch as a whole if ``batch`` can write it, else one savepoint per record."""
    if batch is not None:
        try:
            with unit.attempt():
                return batch(unit, chunk)
        except RecordError:
            pass  # undone: one by one below, where each record gets its own answer
    done, failed = [], []
    for record_id in chunk:
        try:
            with unit.attempt():
                act(unit, record_id)
        except RecordError as error:
            failed.append((record_id, error))
        else:
            done.append(record_id)
    return done, failed
