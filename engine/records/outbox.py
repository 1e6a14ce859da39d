"""Events of committed changes, written to ``loom_outbox`` in the change's own transaction.

A rolled-back write therefore leaves no event and a committed one always has its
event: nothing is lost or invented. A dispatcher (the automation issue) reads
undelivered rows after commit and hands them to triggers and jobs.

Events:

- ``record.created`` / ``record.updated`` / ``record.deleted``: ``record_id`` set,
  ``payload = {"version": n, "changes": {field: [old, new]}}`` (the audit form); a
  record deleted or emptied because another was deleted (see :mod:`.cascade`) also has
  ``"cause": {"entity": ..., "record_id": ...}``, the delete that was asked for;
- ``records.created``: one row per batch of :meth:`RecordService.bulk_create`,
  ``record_ids`` lists the new ids in input order, ``payload = {"count": n}``; consumers
  load the records they need (a batch may hold thousands).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

CREATED, UPDATED, DELETED = "record.created", "record.updated", "record.deleted"
BULK_CREATED = "records.created"


def event(at: dt.datetime, name: str, entity: str, actor_id: int | None, model_version: str,
          payload: dict[str, Any], *, record_id: int | None = None,
          record_ids: list[int] | None = None) -> dict[str, Any]:
    """One ``loom_outbox`` row; ``at`` is naive UTC."""
    return {"created_at": at, "event": name, "entity": entity, "record_id": record_id,
            "record_ids": record_ids, "actor_id": actor_id, "model_version": model_version,
            "payload": payload}
