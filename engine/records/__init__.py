"""The record service: the only write path of Loom, and its permission-checked reads.

Modules: :mod:`.service` (RecordService), :mod:`.unit` (the unit of work: the write
use cases in one transaction with a write context), :mod:`.reads` (get, history,
aggregate, list), :mod:`.core` (what reads and writes share), :mod:`.bulk_actions`
(owner transfer and delete of many records), :mod:`.validation` (input ->
valid record, every problem at once), :mod:`.integrity` (checks that need the
database), :mod:`.cascade` (what a delete does to the records pointing at it),
:mod:`.autonumber`, :mod:`.audit`, :mod:`.outbox`, :mod:`.bulk` (the batched create
path) and :mod:`.fastinsert` (its driver-level inserts), :mod:`.reading` (rows ->
records, links), :mod:`.expansion` (related records, JSON), :mod:`.plan` (per-entity
facts worked out once) and :mod:`.errors`. Filters live in :mod:`engine.filters`, the
permission hook in :mod:`engine.permissions`.

No Flask anywhere in this package, and nothing runs at import time.
"""

from engine.filters import FilterError
from engine.permissions import Actor, AllowAll, PermissionPolicy
from engine.records.errors import (FieldError, PermissionDenied, RecordError, RecordNotFound,
                                   ValidationFailed, VersionConflict)
from engine.records.service import MAX_LIMIT, Page, RecordService
from engine.records.unit import Unit, UnitClosed
from engine.storage.events import CAUSE_KINDS, Cause, WriteContext

__all__ = ["CAUSE_KINDS", "MAX_LIMIT", "Actor", "AllowAll", "Cause", "FieldError", "FilterError",
           "Page", "PermissionDenied", "PermissionPolicy", "RecordError", "RecordNotFound",
           "RecordService", "Unit", "UnitClosed", "ValidationFailed", "VersionConflict",
           "WriteContext"]
