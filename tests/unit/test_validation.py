"""Validation turns input into a complete record or lists every problem, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.compiler import compile_documents
from engine.records.plan import build_entity_plan
from engine.records.validation import validate_create, validate_update
from engine.spec import MemorySource
from engine.storage.tables import build_tables

LEAD = {"entity": "lead", "label": {"en": "Lead", "zh-CN": "线索"}, "fields": [
    {"name": "name", "type": "string", "required": True, "max_length": 20},
    {"name": "source", "type": "select", "default": "web",
     "options": [{"value": "web"}, {"value": "fair"}, {"value": "referral"}]},
    {"name": "referrer", "type": "string", "required_if": "source == 'referral'"},
    {"name": "budget", "type": "money", "min": 0},
    {"name": "seats", "type": "integer", "min": 1, "default": {"expr": "2 + 3"}},
    {"name": "per_seat", "type": "formula", "returns": "money", "expr": "budget / double(seats)"},
    {"name": "summary", "type": "formula", "returns": "string",
     "expr": "name + ' ' + string(per_seat)"},
    {"name": "channels", "type": "multiselect", "options": [{"value": "a"}, {"value": "b"}]},
    {"name": "vip", "type": "boolean"},
    {"name": "status", "type": "select", "options": [{"value": "open"}, {"value": "closed"}],
     "read_only_if": "status == 'closed'"},
], "rules": [
    {"name": "big_budget_needs_seats", "when": "budget > 1000.0", "assert": "seats >= 10",
     "message": {"en": "a big budget needs 10 seats", "zh-CN": "大预算需要至少 10 个席位"}},
    {"name": "vip_check", "assert": "!vip", "severity": "warning", "message": "check VIP leads"},
]}


NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def plan():
    errors: list = []
    model = compile_documents(MemorySource(LEAD).documents(errors), errors)
    return build_entity_plan(model.entities, build_tables(model), "lead")


def create(plan, values, denied=None):
    errors, warnings = [], []
    record = validate_create(plan, values, owner=7, denied=denied or {}, errors=errors,
                             warnings=warnings, now=NOW)
    return record, errors, warnings


def codes(errors):
    return sorted((e.field or "", e.code) for e in errors)


def test_valid_input_is_coerced_and_completed(plan):
    record, errors, warnings = create(plan, {"name": "Ann", "budget": "300", "seats": "3"})
    assert errors == [] and warnings == []
    assert record["budget"] == Decimal("300.00") and record["seats"] == 3
    assert record["source"] == "web" and record["owner"] == 7 and record["version"] == 1
    assert record["per_seat"] == Decimal("100.00") and record["summary"] == "Ann 100"


def test_default_expressions_fill_missing_values_only(plan):
    assert create(plan, {"name": "A"})[0]["seats"] == 5
    assert create(plan, {"name": "A", "seats": 2})[0]["seats"] == 2


def test_empty_strings_and_lists_mean_no_value(plan):
    record, errors, _ = create(plan, {"name": "A", "budget": "", "channels": []})
    assert errors == [] and record["budget"] is None and record["channels"] is None
    assert record["per_seat"] is None and record["summary"] is None


def test_every_problem_is_collected_with_bilingual_messages(plan):
    record, errors, _ = create(plan, {"name": "x" * 21, "source": "tv", "budget": "-1", "seats": 0,
                                 "channels": ["a", "z"], "vip": "perhaps", "per_seat": 1,
                                 "phone": "1"})
    assert codes(errors) == [("budget", "min"), ("channels", "choice"), ("name", "max_length"),
                             ("per_seat", "read_only"), ("phone", "unknown"),
                             ("seats", "min"), ("source", "choice"), ("vip", "type")]
    assert all(e.message.get("zh-CN") != e.message.get("en") for e in errors)
    assert record["source"] is None  # a refused value does not fall back to the default


def test_required_and_required_if(plan):
    assert codes(create(plan, {})[1]) == [("name", "required")]
    assert codes(create(plan, {"name": "A", "source": "referral"})[1]) == [("referrer", "required")]
    assert create(plan, {"name": "A", "source": "referral", "referrer": "Bo"})[1] == []


def test_rules_block_on_error_and_report_warnings(plan):
    _, errors, _ = create(plan, {"name": "A", "budget": "5000", "seats": 2})
    assert [(e.rule, e.code) for e in errors] == [("big_budget_needs_seats", "rule")]
    assert errors[0].message.get("zh-CN") == "大预算需要至少 10 个席位"
    _, errors, warnings = create(plan, {"name": "A", "vip": True})
    assert errors == [] and [w.rule for w in warnings] == ["vip_check"]


def test_a_rule_that_cannot_be_judged_is_not_violated(plan):
    # budget unknown: ``when`` does not hold; seats invalid: ``assert`` is unknown.
    assert create(plan, {"name": "A", "seats": 2})[1] == []
    record, errors, _ = create(plan, {"name": "A", "budget": "5000", "seats": "x"})
    assert codes(errors) == [("seats", "type")] and record["seats"] is None


def test_fields_the_actor_may_not_write_are_refused(plan):
    _, errors, _ = create(plan, {"name": "A", "budget": 1, "vip": True},
                          denied={"budget": "read", "vip": "hidden"})
    assert codes(errors) == [("budget", "read_only"), ("vip", "unknown")]


def test_errors_of_a_bulk_row_carry_its_index(plan):
    errors: list = []
    validate_create(plan, {"name": ""}, owner=None, denied={}, errors=errors, warnings=[], row=4,
                    now=NOW)
    assert [(e.row, e.field) for e in errors] == [(4, "name")]
    assert errors[0].as_dict("en") == {"field": "name", "code": "required",
                                       "message": "is required", "row": 4}


def test_update_merges_recomputes_and_reports_only_changes(plan):
    old, _, _ = create(plan, {"name": "A", "budget": "100", "seats": 2})
    old.update(id=1, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    errors, warnings = [], []
    record, changes = validate_update(plan, old, {"seats": 4, "name": "A"}, denied={},
                                      errors=errors, warnings=warnings)
    assert errors == [] and record["per_seat"] == Decimal("25.00")
    assert changes == {"seats": (2, 4), "per_seat": (Decimal("50.00"), Decimal("25.00")),
                       "summary": ("A 50", "A 25")}


def test_read_only_if_is_judged_on_the_stored_record(plan):
    old, _, _ = create(plan, {"name": "A", "status": "closed"})
    errors: list = []
    validate_update(plan, old, {"status": "open"}, denied={}, errors=errors, warnings=[])
    assert codes(errors) == [("status", "read_only")]
    errors = []
    validate_update(plan, old, {"status": "closed", "name": "B"}, denied={}, errors=errors,
                    warnings=[])
    assert errors == []


STAMPED = {"entity": "memo", "label": "Memo", "fields": [
    {"name": "body", "type": "string"},
    {"name": "made_at", "type": "formula", "returns": "datetime", "expr": "created_at"},
    {"name": "made_by", "type": "formula", "returns": "integer", "expr": "created_by"},
    {"name": "seen_id", "type": "formula", "returns": "integer", "expr": "id"},
    {"name": "echo", "type": "formula", "returns": "string", "expr": "body + body"},
    {"name": "due", "type": "datetime", "default": {"expr": "updated_at + duration('1h')"}},
], "rules": [
    {"name": "not_by_bob", "assert": "created_by != 2 && owner != 2 && version == 1",
     "message": {"en": "not Bob", "zh-CN": "不是 Bob"}},
]}


@pytest.fixture(scope="module")
def stamped():
    errors: list = []
    model = compile_documents(MemorySource(STAMPED).documents(errors), errors)
    return build_entity_plan(model.entities, build_tables(model), "memo")


def test_a_new_record_is_validated_with_its_standard_columns_but_no_id(stamped):
    record, errors, _ = create(stamped, {"body": "hi"})
    assert errors == []
    assert record["created_at"] == record["updated_at"] == record["made_at"] == NOW
    assert record["created_by"] == record["updated_by"] == record["owner"] == record["made_by"] == 7
    assert record["due"] == NOW + dt.timedelta(hours=1) and record["seen_id"] is None
    errors = []
    validate_create(stamped, {"body": "hi"}, owner=2, denied={}, errors=errors, warnings=[],
                    now=NOW)
    assert [e.rule for e in errors] == ["not_by_bob"]
    assert [e.rule for e in create(stamped, {"body": "hi", "owner": 2})[1]] == ["not_by_bob"]


def test_a_computed_value_that_breaks_its_type_check_is_an_error_with_the_checks_code(stamped):
    record, errors, _ = create(stamped, {"body": "x" * 128})
    assert codes(errors) == [("echo", "max_length")] and record["echo"] is None
    assert "255" in errors[0].message.get("en") and "255" in errors[0].message.get("zh-CN")
