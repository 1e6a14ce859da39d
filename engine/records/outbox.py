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

Every row also carries the write context (columns ``cause_kind``, ``cause_id``,
``cause_label``, ``depth``, ``quiet``), written by the one emitter,
:mod:`engine.storage.events`.
"""

from __future__ import annotations

CREATED, UPDATED, DELETED = "record.created", "record.updated", "record.deleted"
BULK_CREATED = "records.created"
