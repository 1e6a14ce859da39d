"""Computed values: checked like input before they are stored, and computed from the
whole record, standard columns included, already on create."""

from __future__ import annotations

import datetime as dt

import pytest
from records_support import ALICE, BOB, compile_crm, count, install

from engine.clock import SimulatedClock
from engine.fields import FieldValueError
from engine.fields.computed import AutonumberType
from engine.records import Actor, RecordService, ValidationFailed

NOW = dt.datetime(2026, 5, 4, 8, 30, tzinfo=dt.timezone.utc)

MEMO = {
    "entity": "memo", "label": {"en": "Memo", "zh-CN": "备忘"},
    "fields": [
        {"name": "body", "type": "string"},
        {"name": "echo", "type": "formula", "returns": "string", "expr": "body + body"},
        {"name": "big", "type": "formula", "returns": "money",
         "expr": "body == 'huge' ? 1e30 : 1.0"},
        {"name": "made_at", "type": "formula", "returns": "datetime", "expr": "created_at"},
        {"name": "changed_at", "type": "formula", "returns": "datetime", "expr": "updated_at"},
        {"name": "made_by", "type": "formula", "returns": "integer", "expr": "created_by"},
        {"name": "changed_by", "type": "formula", "returns": "integer", "expr": "updated_by"},
        {"name": "owned_by", "type": "formula", "returns": "integer", "expr": "owner"},
        {"name": "seen_version", "type": "formula", "returns": "integer", "expr": "version"},
        {"name": "seen_id", "type": "formula", "returns": "integer", "expr": "id"},
        {"name": "due", "type": "datetime",
         "default": {"expr": "created_at + duration('24h')"}},
    ],
    "rules": [
        {"name": "not_by_bob", "assert": "created_by != 2",
         "message": {"en": "Bob may not write memos", "zh-CN": "Bob 不能写备忘"}},
    ],
}


@pytest.fixture(scope="module")
def memo_model():
    return compile_crm(MEMO)


@pytest.fixture
def memo_tables(database, memo_model):
    return install(database, memo_model)


@pytest.fixture
def memos(database, memo_model, memo_tables):
    return RecordService(database, memo_model, memo_tables, clock=SimulatedClock(NOW))


def assert_refused(info, field, code, row=None):
    [error] = info.value.errors
    assert (error.field, error.code, error.row) == (field, code, row)
    assert error.message.get("en") != error.message.get("zh-CN")
    return error


def test_a_formula_string_too_long_for_its_column_is_refused_on_every_write(memos, alice,
                                                                           memo_tables):
    long = "x" * 200  # fits the body (255), but the formula doubles it
    with pytest.raises(ValidationFailed) as info:
        memos.create(alice, "memo", {"body": long})
    error = assert_refused(info, "echo", "max_length")
    assert "255" in error.message.get("en") and "255" in error.message.get("zh-CN")
    memo = memos.create(alice, "memo", {"body": "x"})
    with pytest.raises(ValidationFailed) as info:
        memos.update(alice, "memo", memo["id"], {"body": long}, version=1)
    assert_refused(info, "echo", "max_length")
    with pytest.raises(ValidationFailed) as info:
        memos.bulk_create(alice, "memo", [{"body": "ok"}, {"body": long}])
    assert_refused(info, "echo", "max_length", row=1)
    assert count(memos.db, memo_tables.entity("memo")) == 1
    assert memos.get(alice, "memo", memo["id"])["echo"] == "xx"


def test_a_formula_amount_too_large_for_its_column_is_refused(memos, alice, memo_tables):
    with pytest.raises(ValidationFailed) as info:
        memos.create(alice, "memo", {"body": "huge"})
    assert_refused(info, "big", "precision")
    with pytest.raises(ValidationFailed) as info:
        memos.bulk_create(alice, "memo", [{"body": "huge"}])
    assert_refused(info, "big", "precision", row=0)
    assert count(memos.db, memo_tables.entity("memo")) == 0


def test_expressions_see_the_standard_columns_of_a_new_record(memos, alice):
    memo = memos.create(alice, "memo", {"body": "hi"})
    assert memo["created_at"] == memo["made_at"] == memo["changed_at"] == NOW
    assert memo["made_by"] == memo["changed_by"] == memo["owned_by"] == ALICE
    assert memo["seen_version"] == 1 and memo["due"] == NOW + dt.timedelta(days=1)
    assert memo["seen_id"] is None  # not known before the insert
    assert memos.get(alice, "memo", memo["id"])["made_at"] == NOW
    given = memos.create(alice, "memo", {"body": "hi", "owner": BOB})
    assert given["owned_by"] == BOB and given["made_by"] == ALICE


def test_bulk_rows_see_the_standard_columns_too(memos, alice):
    ids = memos.bulk_create(alice, "memo", [{"body": "a"}, {"body": "b", "owner": BOB}])
    rows = memos.list(alice, "memo", sort=["id"]).rows
    assert [r["id"] for r in rows] == ids
    assert [(r["made_at"], r["made_by"], r["owned_by"], r["seen_version"]) for r in rows] == [
        (NOW, ALICE, ALICE, 1), (NOW, ALICE, BOB, 1)]
    assert all(r["due"] == NOW + dt.timedelta(days=1) and r["seen_id"] is None for r in rows)


def test_an_update_sees_the_stored_standard_columns(database, memo_model, memo_tables, alice):
    memo = RecordService(database, memo_model, memo_tables, clock=SimulatedClock(NOW)).create(
        alice, "memo", {"body": "a"})
    later = RecordService(database, memo_model, memo_tables,
                          clock=SimulatedClock(NOW + dt.timedelta(hours=1)))
    updated = later.update(alice, "memo", memo["id"], {"body": "b"}, version=1)
    assert updated["seen_id"] == memo["id"] and updated["made_at"] == NOW
    assert updated["made_by"] == updated["owned_by"] == ALICE
    # updated_at, updated_by and version as stored before this change.
    assert (updated["changed_at"], updated["changed_by"], updated["seen_version"]) == (NOW, ALICE, 1)
    assert updated["updated_at"] == NOW + dt.timedelta(hours=1) and updated["version"] == 2


def test_a_rule_over_created_by_holds_on_create_as_on_update(memos, alice, bob, memo_tables):
    with pytest.raises(ValidationFailed) as info:
        memos.create(bob, "memo", {"body": "hi"})
    assert [(e.rule, e.code) for e in info.value.errors] == [("not_by_bob", "rule")]
    with pytest.raises(ValidationFailed) as info:
        memos.bulk_create(bob, "memo", [{"body": "hi"}])
    assert [(e.rule, e.row) for e in info.value.errors] == [("not_by_bob", 0)]
    assert count(memos.db, memo_tables.entity("memo")) == 0
    assert memos.create(alice, "memo", {"body": "hi"})["made_by"] == ALICE


def test_autonumbers_go_through_their_type_check(svc, alice, tables, monkeypatch):
    def refuse(self, field, value):
        yield FieldValueError("too_long", f"{value} is too long", f"{value} 太长")

    monkeypatch.setattr(AutonumberType, "check", refuse)
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, "contract", {"title": "C"})
    assert_refused(info, "number", "too_long")
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(alice, "contract", [{"title": "A"}, {"title": "B"}])
    assert [(e.field, e.code, e.row) for e in info.value.errors] == [
        ("number", "too_long", 0), ("number", "too_long", 1)]
    assert count(svc.db, tables.entity("contract")) == 0
    monkeypatch.undo()
    # The refused numbers were rolled back with their transaction: no gap.
    assert svc.create(alice, "contract", {"title": "C"})["number"].endswith("-00001")


def test_the_system_actor_creates_with_no_user_bound(database, memo_model, memo_tables):
    memos = RecordService(database, memo_model, memo_tables, clock=SimulatedClock(NOW))
    memo = memos.create(Actor.system(), "memo", {"body": "hi"})
    assert memo["made_by"] is None and memo["made_at"] == NOW
