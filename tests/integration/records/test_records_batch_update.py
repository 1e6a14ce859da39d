"""The batched update behind the owner transfer: the same rows and answers as one
update per record, and the fall back to one savepoint per record when the database
must decide."""

from __future__ import annotations

import pytest
from records_support import ALICE, BOB, rows

from engine.records import Cause, batch_update, bulk_actions


def _trail(svc, tables, record_id):
    """The audit row and outbox event of the last change of account ``record_id``,
    without what differs between two writes (ids, times)."""
    [audit] = rows(svc.db, tables.audit, tables.audit.c.record_id == record_id,
                   tables.audit.c.action == "update")
    [event] = rows(svc.db, tables.outbox, tables.outbox.c.record_id == record_id,
                   tables.outbox.c.event == "record.updated")
    drop = {"id", "at", "created_at", "record_id"}
    return ({k: v for k, v in audit.items() if k not in drop},
            {k: v for k, v in event.items() if k not in drop})


def test_a_batch_writes_the_same_audit_and_outbox_rows_as_single_updates(svc, alice, tables):
    batched, single = svc.bulk_create(alice, "account", [{"name": "B"}, {"name": "S"}])
    cause = Cause.transfer("job-1", "alice → bob")
    with svc.unit(alice, cause=cause, quiet=True) as unit:
        done, failed = batch_update.update_many(unit, "account", [batched], {"owner": BOB})
    assert (done, failed) == ([batched], [])
    with svc.unit(alice, cause=cause, quiet=True) as unit:
        record = unit.get("account", single)
        unit.update("account", single, {"owner": BOB}, version=record["version"])
    assert _trail(svc, tables, batched) == _trail(svc, tables, single)
    audit, event = _trail(svc, tables, batched)
    assert audit["changes"] == {"owner": [ALICE, BOB]} and event["quiet"] is True
    assert event["payload"] == {"version": 2, "changes": {"owner": [ALICE, BOB]}}
    stored = {r["id"]: r for r in rows(svc.db, tables.entity("account"))}
    assert stored[batched]["version"] == stored[single]["version"] == 2
    assert stored[batched]["updated_by"] == ALICE


def test_a_record_the_database_refuses_sends_the_batch_back_to_one_by_one(svc, alice, tables,
                                                                          monkeypatch):
    [first, second] = svc.bulk_create(alice, "account", [{"name": "A"}, {"name": "B"}])
    with pytest.raises(batch_update.BatchRetry):
        with svc.unit(alice) as unit:  # the same record twice: its version moves under it
            with unit.attempt():
                batch_update.update_many(unit, "account", [first, first, second],
                                         {"owner": BOB})
    assert {r["owner"] for r in rows(svc.db, tables.entity("account"))} == {ALICE}

    calls = []

    def refusing(unit, entity, ids, values):
        calls.append(list(ids))
        raise batch_update.BatchRetry("the database must decide")

    monkeypatch.setattr(bulk_actions, "update_many", refusing)
    result = bulk_actions.transfer_owner(svc, alice, "account", [first, second], BOB)
    assert calls == [[first, second]]
    assert result.done == (first, second) and result.failed == ()
    assert {r["owner"] for r in rows(svc.db, tables.entity("account"))} == {BOB}
    assert len(rows(svc.db, tables.audit, tables.audit.c.action == "update")) == 2


def test_unchanged_records_count_as_done_without_an_audit_row(svc, alice, tables):
    ids = svc.bulk_create(alice, "account", [{"name": "A"}, {"name": "B"}])
    result = bulk_actions.transfer_owner(svc, alice, "account", ids, ALICE)
    assert result.done == tuple(ids) and result.failed == ()
    assert rows(svc.db, tables.audit, tables.audit.c.action == "update") == []
