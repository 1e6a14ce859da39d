"""Bulk owner transfer and delete: engine use cases, one transaction per batch."""

from __future__ import annotations

import pytest
from records_support import ALICE, BOB, count, rows

from engine.records import (Cause, PermissionDenied, RecordNotFound, RecordService,
                            ValidationFailed)
from engine.records import bulk_actions
from engine.records.unit import Unit


class OwnRecordsOnly:
    """Alice sees (and so may change) only the accounts named "Mine ..."."""

    def can(self, actor, entity, action):
        return True

    def scope(self, actor, entity, table):
        if actor.user_id == ALICE and entity == "account":
            return table.c.name.like("Mine%")
        return None

    def field_access(self, actor, entity, field):
        return "write"


def _units(monkeypatch):
    opened = []
    real = Unit.__enter__

    def counting(self):
        opened.append(self)
        return real(self)

    monkeypatch.setattr(Unit, "__enter__", counting)
    return opened


def test_transfer_changes_every_record_in_one_transaction_per_batch(svc, alice, tables,
                                                                     monkeypatch):
    ids = svc.bulk_create(alice, "account", [{"name": f"A{i}"} for i in range(5)])
    opened = _units(monkeypatch)
    result = bulk_actions.transfer_owner(svc, alice, "account", ids, BOB, batch_size=2)
    assert result.done == tuple(ids) and result.failed == ()
    assert len(opened) == 3  # 2 + 2 + 1
    assert {r["owner"] for r in rows(svc.db, tables.entity("account"))} == {BOB}
    updates = rows(svc.db, tables.audit, tables.audit.c.action == "update")
    assert [u["changes"] for u in updates] == [{"owner": [ALICE, BOB]}] * 5
    assert {(u["cause_kind"], u["cause_id"]) for u in updates} == {
        ("transfer", updates[0]["cause_id"])}


def test_transfer_reports_each_record_it_may_not_change_and_does_the_rest(database, crm_model,
                                                                          tables, alice, bob):
    svc = RecordService(database, crm_model, tables, OwnRecordsOnly())
    mine = svc.bulk_create(alice, "account", [{"name": "Mine 1"}, {"name": "Mine 2"}])
    [theirs] = svc.bulk_create(bob, "account", [{"name": "Theirs"}])
    result = bulk_actions.transfer_owner(svc, alice, "account", [mine[0], theirs, 10**12, mine[1]],
                                         BOB)
    assert result.done == tuple(mine)
    assert [(i, type(e)) for i, e in result.failed] == [(theirs, RecordNotFound),
                                                        (10**12, RecordNotFound)]
    owners = {r["id"]: r["owner"] for r in rows(database, tables.entity("account"))}
    assert owners == {mine[0]: BOB, mine[1]: BOB, theirs: BOB}
    assert count(database, tables.audit, tables.audit.c.action == "update") == 2


def test_transfer_to_a_user_who_does_not_exist_changes_nothing(svc, alice, tables):
    ids = svc.bulk_create(alice, "account", [{"name": "A"}, {"name": "B"}])
    result = bulk_actions.transfer_owner(svc, alice, "account", ids, 424242)
    assert result.done == ()
    assert all(isinstance(e, ValidationFailed) for _, e in result.failed)
    assert {r["owner"] for r in rows(svc.db, tables.entity("account"))} == {ALICE}
    assert count(svc.db, tables.audit, tables.audit.c.action == "update") == 0


def test_delete_many_reports_a_restricted_record_and_deletes_the_rest(svc, alice, tables):
    ids = svc.bulk_create(alice, "account", [{"name": "A"}, {"name": "B"}, {"name": "C"}])
    svc.create(alice, "deal", {"title": "Keeps B", "account": ids[1]})
    result = bulk_actions.delete_many(svc, alice, "account", ids,
                                      cause=Cause.merge(5, "duplicates"))
    assert result.done == (ids[0], ids[2])
    [(refused, error)] = result.failed
    assert refused == ids[1] and error.errors[0].code == "referenced"
    assert [r["id"] for r in rows(svc.db, tables.entity("account"))] == [ids[1]]
    deletes = rows(svc.db, tables.outbox, tables.outbox.c.event == "record.deleted")
    assert [(d["record_id"], d["cause_kind"]) for d in deletes] == [(ids[0], "merge"),
                                                                    (ids[2], "merge")]


def test_a_failure_that_is_not_about_one_record_keeps_earlier_batches_only(svc, alice, tables,
                                                                           monkeypatch):
    ids = svc.bulk_create(alice, "account", [{"name": f"A{i}"} for i in range(4)])
    real = Unit._delete
    calls = []

    def failing_third(self, *args):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return real(self, *args)

    monkeypatch.setattr(Unit, "_delete", failing_third)
    with pytest.raises(RuntimeError):
        bulk_actions.delete_many(svc, alice, "account", ids, batch_size=2)
    # The first batch was committed; the second, whose first record failed, wrote nothing.
    assert [r["id"] for r in rows(svc.db, tables.entity("account"))] == ids[2:]
    assert count(svc.db, tables.outbox, tables.outbox.c.event == "record.deleted") == 2


def test_bulk_actions_check_the_entity_permission_per_record(database, crm_model, tables, alice):
    class NoDeletes(OwnRecordsOnly):
        def can(self, actor, entity, action):
            return action != "delete"

    svc = RecordService(database, crm_model, tables, NoDeletes())
    ids = svc.bulk_create(alice, "account", [{"name": "Mine"}])
    result = bulk_actions.delete_many(svc, alice, "account", ids)
    assert result.done == () and isinstance(result.failed[0][1], PermissionDenied)
    assert count(database, tables.entity("account")) == 1


@pytest.mark.parametrize("size", [0, -1, True, "10"])
def test_a_bad_batch_size_is_refused_before_anything_is_written(svc, alice, tables, size):
    ids = svc.bulk_create(alice, "account", [{"name": "A"}])
    with pytest.raises(ValueError, match="batch_size"):
        bulk_actions.delete_many(svc, alice, "account", ids, batch_size=size)
    assert count(svc.db, tables.entity("account")) == 1
