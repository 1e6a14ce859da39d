"""Creating records: values, defaults, formulas, autonumbers, audit and outbox in one go."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from records_support import ALICE, count, rows

from engine.clock import SimulatedClock
from engine.records import RecordService, ValidationFailed
from engine.storage import events
from engine.storage.versions import ModelOutdated


def test_create_returns_the_full_record_with_standard_columns(svc, alice):
    deal = svc.create(alice, "deal", {"title": "Big one", "amount": "1200.5", "probability": "40"})
    assert deal["id"] > 0 and deal["version"] == 1
    assert deal["created_by"] == deal["updated_by"] == deal["owner"] == ALICE
    assert deal["created_at"].tzinfo is not None and deal["created_at"] == deal["updated_at"]
    assert deal["amount"] == Decimal("1200.50") and deal["probability"] == 40
    assert svc.get(alice, "deal", deal["id"]) == {k: v for k, v in deal.items() if k != "_warnings"}


def test_values_come_back_as_python_values_and_json_through_the_field_types(svc, alice):
    deal = svc.create(alice, "deal", {"title": "T", "amount": 10, "close_date": "2026-03-01"})
    stored = svc.get(alice, "deal", deal["id"])
    assert stored["close_date"] == dt.date(2026, 3, 1) and isinstance(stored["amount"], Decimal)
    as_json = svc.to_json("deal", stored)
    assert as_json["amount"] == "10.00" and as_json["close_date"] == "2026-03-01"
    assert as_json["created_at"].endswith("+00:00")


def test_defaults_literal_and_expression_fill_missing_values(svc, alice):
    deal = svc.create(alice, "deal", {"title": "T"})
    assert deal["stage"] == "lead" and deal["probability"] == 10
    today = dt.datetime.now(dt.timezone.utc).date()
    assert deal["close_date"] == today + dt.timedelta(days=30)


def test_owner_defaults_to_the_actor_and_may_be_given(svc, alice, system):
    assert svc.create(alice, "deal", {"title": "mine"})["owner"] == ALICE
    assert svc.create(system, "deal", {"title": "theirs", "owner": 2})["owner"] == 2


def test_formulas_are_computed_in_dependency_order_and_stored(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "T", "amount": "1000", "probability": 25})
    assert deal["weighted"] == Decimal("250.00")
    assert deal["weighted_label"] == "lead:250"
    [row] = rows(svc.db, tables.entity("deal"))
    assert Decimal(str(row["weighted"])) == Decimal("250") and row["weighted_label"] == "lead:250"


def test_formula_of_a_null_input_is_null(svc, alice):
    deal = svc.create(alice, "deal", {"title": "no amount"})
    assert deal["weighted"] is None and deal["weighted_label"] is None


def test_warning_rules_are_returned_and_do_not_block(svc, alice):
    deal = svc.create(alice, "deal", {"title": "T", "probability": 95})
    assert [w.rule for w in deal["_warnings"]] == ["optimistic"]
    assert svc.to_json("deal", deal)["_warnings"][0]["message"]["zh-CN"] == "概率高于 90% 很少见"


def test_create_writes_one_audit_row_and_one_outbox_event_in_the_same_transaction(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "T", "amount": "5"})
    [entry] = rows(svc.db, tables.audit)
    assert (entry["entity"], entry["record_id"], entry["action"], entry["actor_id"]) == \
        ("deal", deal["id"], "create", ALICE)
    assert entry["changes"]["amount"] == [None, "5.00"] and entry["changes"]["title"] == [None, "T"]
    [event] = rows(svc.db, tables.outbox)
    assert (event["event"], event["record_id"], event["model_version"]) == \
        ("record.created", deal["id"], svc.model.version)
    assert event["payload"]["changes"] == entry["changes"] and event["delivered_at"] is None


def test_a_refused_create_writes_nothing_not_even_an_event(svc, alice, tables):
    with pytest.raises(ValidationFailed):
        svc.create(alice, "deal", {"title": "T", "stage": "won", "amount": 0})
    assert count(svc.db, tables.entity("deal")) == 0
    assert count(svc.db, tables.audit) == 0 and count(svc.db, tables.outbox) == 0


def test_a_failure_inside_the_transaction_rolls_back_record_audit_and_event(svc, alice, tables,
                                                                             monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(events, "emit", broken)
    with pytest.raises(RuntimeError):
        svc.create(alice, "contract", {"title": "C"})
    assert count(svc.db, tables.entity("contract")) == 0 and count(svc.db, tables.outbox) == 0
    monkeypatch.undo()
    # The autonumber taken by the failed create was given back: no gap.
    assert svc.create(alice, "contract", {"title": "C"})["number"].endswith("-00001")


def test_autonumbers_are_filled_per_year_without_gaps(svc, alice, crm_model, database, tables):
    first = svc.create(alice, "contract", {"title": "A"})
    second = svc.create(alice, "contract", {"title": "B"})
    year = dt.datetime.now(dt.timezone.utc).year
    assert (first["number"], second["number"]) == (f"CT-{year}-00001", f"CT-{year}-00002")
    next_year = RecordService(database, crm_model, tables,
                              clock=SimulatedClock(dt.datetime(year + 1, 1, 1, tzinfo=dt.timezone.utc)))
    assert next_year.create(alice, "contract", {"title": "C"})["number"] == f"CT-{year + 1}-00001"


def test_many_to_many_values_are_written_to_the_link_table(svc, alice, tables):
    hot = svc.create(alice, "tag", {"name": "hot"})["id"]
    big = svc.create(alice, "tag", {"name": "big"})["id"]
    deal = svc.create(alice, "deal", {"title": "T", "tags": [big, hot, big]})
    assert deal["tags"] == sorted([hot, big])
    links = rows(svc.db, tables.link("deal", "tags"))
    assert sorted(r["target_id"] for r in links) == sorted([hot, big])
    assert svc.get(alice, "deal", deal["id"])["tags"] == sorted([hot, big])


def test_writing_with_an_outdated_model_is_refused_and_writes_nothing(svc, alice, tables):
    with svc.db.write() as conn:
        conn.execute(sa.update(tables.schema_versions).values(version="elsewhere"))
    with pytest.raises(ModelOutdated):
        svc.create(alice, "deal", {"title": "T"})
    with pytest.raises(ModelOutdated):
        svc.bulk_create(alice, "deal", [{"title": "T"}])
    assert count(svc.db, tables.entity("deal")) == 0


def test_unknown_entity_names_the_known_ones(svc, alice):
    with pytest.raises(KeyError, match="known: account, contract, deal, tag"):
        svc.create(alice, "dael", {})
