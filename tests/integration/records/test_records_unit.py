"""The unit of work: several writes in one transaction, with a cause on every trace."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from records_support import count, rows

from engine.records import (Cause, PermissionDenied, RecordNotFound, UnitClosed, ValidationFailed,
                            WriteContext)
from engine.records.unit import Unit
from engine.storage import events


def _traces(svc, tables):
    return count(svc.db, tables.audit), count(svc.db, tables.outbox)


def test_writes_of_a_unit_are_committed_together_each_traced_with_the_cause(svc, alice, tables):
    cause = Cause.workflow(7, "Won deal follow-up")
    with svc.unit(alice, cause=cause, depth=2, quiet=True) as unit:
        account = unit.create("account", {"name": "ACME"})
        deal = unit.create("deal", {"title": "First", "account": account["id"]})
        unit.update("deal", deal["id"], {"title": "Renamed"}, version=deal["version"])
        unit.bulk_create("tag", [{"name": "a"}, {"name": "b"}])
        # Inside the unit its own writes are visible, to it alone.
        assert unit.get("deal", deal["id"])["title"] == "Renamed"
        assert count(svc.db, tables.entity("account")) == 0
    assert svc.get(alice, "deal", deal["id"])["version"] == 2
    audit = rows(svc.db, tables.audit)
    outbox = rows(svc.db, tables.outbox)
    assert [a["action"] for a in audit] == ["create", "create", "update", "create", "create"]
    assert [e["event"] for e in outbox] == ["record.created", "record.created",
                                            "record.updated", "records.created"]
    for row in audit + outbox:
        assert (row["cause_kind"], row["cause_id"], row["cause_label"], row["depth"]) == (
            "workflow", "7", "Won deal follow-up", 2)
        assert row["actor_id"] == alice.user_id
    assert all(e["quiet"] is True for e in outbox)


def test_the_third_of_three_writes_failing_writes_nothing(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "Before"})
    before = _traces(svc, tables)
    with pytest.raises(ValidationFailed) as failed:
        with svc.unit(alice, cause=Cause.import_("run-1", "leads.csv")) as unit:
            unit.create("account", {"name": "ACME"})
            unit.update("deal", deal["id"], {"title": "Changed"}, version=deal["version"])
            unit.create("deal", {"title": "Won", "stage": "won", "amount": 0})  # a rule refuses
    assert failed.value.errors[0].rule == "won_needs_amount"
    assert count(svc.db, tables.entity("account")) == 0
    stored = svc.get(alice, "deal", deal["id"])
    assert (stored["title"], stored["version"]) == ("Before", 1)
    assert count(svc.db, tables.entity("deal")) == 1
    assert _traces(svc, tables) == before


def test_a_failed_write_whose_error_is_caught_still_writes_nothing(svc, alice, tables):
    with pytest.raises(ValidationFailed):
        with svc.unit(alice) as unit:
            unit.create("account", {"name": "ACME"})
            try:
                unit.create("account", {})  # name is required
            except ValidationFailed:
                pass
            with pytest.raises(ValidationFailed):  # and the unit refuses to go on
                unit.create("account", {"name": "Other"})
    assert count(svc.db, tables.entity("account")) == 0
    assert _traces(svc, tables) == (0, 0)


def test_an_exception_of_the_caller_rolls_the_unit_back(svc, alice, tables):
    with pytest.raises(ZeroDivisionError):
        with svc.unit(alice) as unit:
            unit.create("account", {"name": "ACME"})
            unit.bulk_create("tag", [{"name": "a"}])
            1 / 0  # noqa: B018 - the caller's own failure
    assert count(svc.db, tables.entity("account")) == 0
    assert count(svc.db, tables.entity("tag")) == 0
    assert _traces(svc, tables) == (0, 0)


def test_a_failing_delete_with_its_cascade_in_a_unit_writes_nothing(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "D"})
    contract = svc.create(alice, "contract", {"title": "C", "deal": deal["id"]})
    before = _traces(svc, tables)
    with pytest.raises(RecordNotFound):
        with svc.unit(alice) as unit:
            unit.delete("deal", deal["id"])  # empties the contract's deal
            unit.update("contract", contract["id"], {"title": "C2"}, version=2)
            unit.delete("deal", deal["id"])  # gone already: the unit fails
    assert svc.get(alice, "contract", contract["id"])["deal"] == deal["id"]
    assert _traces(svc, tables) == before


def test_attempt_undoes_only_its_own_writes_and_the_unit_goes_on(svc, alice, tables):
    with svc.unit(alice) as unit:
        unit.create("account", {"name": "Kept"})
        with pytest.raises(ValidationFailed):
            with unit.attempt():
                unit.create("account", {"name": "Undone"})
                unit.create("account", {})  # refused: the attempt's writes go
        unit.create("account", {"name": "Also kept"})
    names = sorted(r["name"] for r in rows(svc.db, tables.entity("account")))
    assert names == ["Also kept", "Kept"]
    assert _traces(svc, tables) == (2, 2)


def test_a_unique_value_taken_inside_an_attempt_is_a_validation_error(svc, alice, tables):
    with svc.unit(alice) as unit:
        unit.create("tag", {"name": "vip"})
        with pytest.raises(ValidationFailed):
            with unit.attempt():
                unit.create("tag", {"name": "vip"})
    assert count(svc.db, tables.entity("tag")) == 1


def test_a_unit_that_ended_refuses_more_writes(svc, alice):
    with svc.unit(alice) as unit:
        unit.create("account", {"name": "ACME"})
    with pytest.raises(UnitClosed):
        unit.create("account", {"name": "Late"})


def test_a_unit_checks_permissions_on_every_write(database, crm_model, tables, alice):
    from engine.records import RecordService

    class NoDeletes:
        def can(self, actor, entity, action):
            return action != "delete"

        def scope(self, actor, entity, table):
            return None

        def field_access(self, actor, entity, field):
            return "write"

    svc = RecordService(database, crm_model, tables, NoDeletes())
    with pytest.raises(PermissionDenied):
        with svc.unit(alice) as unit:
            account = unit.create("account", {"name": "ACME"})
            unit.delete("account", account["id"])
    assert count(database, tables.entity("account")) == 0


def test_single_calls_record_a_user_request_at_depth_zero_not_quiet(svc, alice, tables):
    svc.create(alice, "account", {"name": "Guarded path"})  # the one-statement create
    contract = svc.create(alice, "contract", {"title": "Autonumbered"})  # the ordinary path
    svc.update(alice, "contract", contract["id"], {"title": "T"}, version=1)
    svc.bulk_create(alice, "tag", [{"name": "x"}])
    svc.delete(alice, "contract", contract["id"])
    for row in rows(svc.db, tables.audit) + rows(svc.db, tables.outbox):
        assert (row["cause_kind"], row["cause_id"], row["cause_label"], row["depth"]) == (
            "request", None, None, 0)
    assert {e["quiet"] for e in rows(svc.db, tables.outbox)} == {False}


def test_a_single_call_may_name_its_cause(svc, alice, tables):
    svc.create(alice, "account", {"name": "Merged"}, cause=Cause.merge(3, "ACME + Acme Ltd"))
    [audit] = rows(svc.db, tables.audit)
    [event] = rows(svc.db, tables.outbox)
    assert (audit["cause_kind"], audit["cause_label"]) == ("merge", "ACME + Acme Ltd")
    assert (event["cause_kind"], event["cause_id"]) == ("merge", "3")


def test_cascaded_changes_carry_the_cause_of_the_delete(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "D"})
    contract = svc.create(alice, "contract", {"title": "C", "deal": deal["id"]})
    with svc.unit(alice, cause=Cause.workflow("w1", "Clean-up"), depth=1) as unit:
        unit.delete("deal", deal["id"])
    changed = rows(svc.db, tables.audit, tables.audit.c.entity == "contract",
                   tables.audit.c.action == "update")
    assert [(r["record_id"], r["cause_kind"], r["depth"]) for r in changed] == [
        (contract["id"], "workflow", 1)]


def test_history_gives_each_change_its_cause(svc, alice):
    deal = svc.create(alice, "deal", {"title": "D"})
    with svc.unit(alice, cause=Cause.import_("i9", "deals.csv"), depth=1) as unit:
        unit.update("deal", deal["id"], {"title": "Imported"}, version=1)
    first, second = svc.history(alice, "deal", deal["id"])
    assert (first["cause"], first["depth"]) == ({"kind": "request", "id": None, "label": None}, 0)
    assert (second["cause"], second["depth"]) == (
        {"kind": "import", "id": "i9", "label": "deals.csv"}, 1)


def test_history_of_rows_written_before_causes_has_none(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "D"})
    with svc.db.write() as conn:
        conn.execute(sa.update(tables.audit).values(cause_kind=None, depth=None))
    [entry] = svc.history(alice, "deal", deal["id"])
    assert (entry["cause"], entry["depth"]) == (None, 0)


def test_an_unknown_cause_kind_is_refused_naming_the_known_kinds():
    with pytest.raises(ValueError, match="unknown cause kind 'imprt'; known: request, workflow, "
                                         "import, merge, transfer, migration"):
        Cause("imprt")


@pytest.mark.parametrize("depth", [-1, 1.5, True, "2"])
def test_a_depth_that_is_not_a_whole_number_from_zero_is_refused(alice, depth):
    with pytest.raises((ValueError, TypeError)):
        WriteContext(alice, Cause.request(), depth)


def test_a_cause_label_longer_than_the_column_is_refused_not_cut():
    with pytest.raises(ValueError, match="at most 255"):
        Cause.workflow(1, "x" * 256)


def test_a_bad_context_opens_no_unit(svc, alice, tables):
    with pytest.raises(TypeError):
        svc.unit(alice, cause="workflow")
    assert _traces(svc, tables) == (0, 0)


def test_a_unit_that_writes_nothing_opens_no_transaction(svc, alice, monkeypatch):
    def no_transaction():
        raise AssertionError("a unit without writes must not begin a transaction")

    monkeypatch.setattr(svc, "writing", no_transaction)
    with svc.unit(alice):
        pass


def test_every_trace_of_a_unit_goes_through_the_one_emitter(svc, alice, tables, monkeypatch):
    seen = []
    real_emit = events.emit

    def spy(conn, event_tables, context, at, version, changes):
        seen.extend((context.cause.kind, c.entity, c.action) for c in changes)
        return real_emit(conn, event_tables, context, at, version, changes)

    monkeypatch.setattr(events, "emit", spy)
    with svc.unit(alice, cause=Cause.transfer("t1")) as unit:
        account = unit.create("account", {"name": "A"})
        unit.update("account", account["id"], {"name": "B"}, version=1)
        unit.delete("account", account["id"])
    assert seen == [("transfer", "account", "create"), ("transfer", "account", "update"),
                    ("transfer", "account", "delete")]


def test_unit_is_exported_with_the_service():
    import engine.records as records

    assert records.Unit is Unit and records.Cause is Cause
