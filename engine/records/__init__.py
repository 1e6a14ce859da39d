"""The record service: the only write path of Loom, and its permission-checked reads.

Modules: :mod:`.service` (RecordService, the use cases), :mod:`.validation` (input ->
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

__all__ = ["MAX_LIMIT", "Actor", "AllowAll", "FieldError", "FilterError", "Page", "PermissionDenied",
           "PermissionPolicy", "RecordError", "RecordNotFound", "RecordService", "ValidationFailed",
           "VersionConflict"]
