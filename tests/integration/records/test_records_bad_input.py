"""Bad input: every case gives a clear, bilingual error and writes nothing."""

from __future__ import annotations

import pytest
from records_support import count

from engine.records import ValidationFailed

CASES = [
    ("wrong type", "deal", {"title": "T", "amount": "lots"}, "amount", "type"),
    ("wrong type for a date", "deal", {"title": "T", "close_date": "next week"}, "close_date", "type"),
    ("unknown field", "deal", {"title": "T", "colour": "red"}, "colour", "unknown"),
    ("standard column", "deal", {"title": "T", "version": 7}, "version", "read_only"),
    ("computed field", "deal", {"title": "T", "weighted": "1"}, "weighted", "read_only"),
    ("autonumber", "contract", {"title": "T", "number": "CT-1"}, "number", "read_only"),
    ("out of range", "deal", {"title": "T", "probability": 101}, "probability", "max"),
    ("negative money", "deal", {"title": "T", "amount": "-1"}, "amount", "min"),
    ("too many decimals", "deal", {"title": "T", "amount": "1.234"}, "amount", "scale"),
    ("oversized string", "deal", {"title": "x" * 61}, "title", "max_length"),
    ("oversized text", "deal", {"title": "T", "notes": "x" * 100_001}, "notes", "max_length"),
    ("invalid option", "deal", {"title": "T", "stage": "maybe"}, "stage", "choice"),
    ("missing required", "deal", {"amount": "1"}, "title", "required"),
    ("empty required", "deal", {"title": ""}, "title", "required"),
    ("required_if", "deal", {"title": "T", "stage": "lost"}, "loss_reason", "required"),
    ("invalid relation id", "deal", {"title": "T", "account": 424242}, "account", "reference"),
    ("relation id of wrong shape", "deal", {"title": "T", "account": "abc"}, "account", "type"),
    ("unknown user", "contract", {"title": "T", "signer": 99}, "signer", "reference"),
    ("unknown many-to-many id", "deal", {"title": "T", "tags": [31337]}, "tags", "reference"),
    ("invalid phone", "account", {"name": "A", "phone": "call me"}, "phone", "format"),
]


@pytest.mark.parametrize("what, entity, values, field, code", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_field_error_and_nothing_written(svc, alice, tables, what,
                                                                      entity, values, field, code):
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, entity, values)
    assert info.value.codes() == {field: [code]}
    message = info.value.errors[0].message
    assert message.get("en") and message.get("zh-CN") and message.get("en") != message.get("zh-CN")
    assert count(svc.db, tables.entity(entity)) == 0
    assert count(svc.db, tables.audit) == 0 and count(svc.db, tables.outbox) == 0


def test_rule_violation_names_the_rule(svc, alice):
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, "deal", {"title": "T", "stage": "won", "amount": "0"})
    [error] = info.value.errors
    assert (error.field, error.code, error.rule) == (None, "rule", "won_needs_amount")
    assert error.message.get("zh-CN") == "赢单必须有金额"


def test_a_rule_over_two_fields_and_an_unknown_result_is_not_a_violation(svc, alice):
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, "contract", {"title": "T", "start_date": "2026-02-01",
                                       "end_date": "2026-01-01"})
    assert info.value.errors[0].rule == "ends_after_start"
    # end_date missing: the rule can't be judged, so it does not block.
    assert svc.create(alice, "contract", {"title": "T", "start_date": "2026-02-01"})["id"]


def test_every_problem_is_reported_at_once(svc, alice):
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, "deal", {"title": "x" * 61, "amount": "-5", "stage": "lost", "bogus": 1,
                                   "account": 999, "probability": "many"})
    assert info.value.codes() == {"title": ["max_length"], "amount": ["min"], "bogus": ["unknown"],
                                  "probability": ["type"], "loss_reason": ["required"],
                                  "account": ["reference"]}
    as_dict = info.value.as_dict("zh-CN")
    assert len(as_dict["errors"]) == 6 and "未保存" in as_dict["message"]


def test_unique_values_are_refused_before_the_database_complains(svc, alice, tables):
    svc.create(alice, "tag", {"name": "hot"})
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, "tag", {"name": "hot"})
    assert info.value.codes() == {"name": ["unique"]}
    assert count(svc.db, tables.entity("tag")) == 1


def test_a_record_must_be_an_object(svc, alice):
    with pytest.raises(ValidationFailed) as info:
        svc.create(alice, "deal", ["title", "T"])
    assert info.value.codes() == {None: ["type"], "title": ["required"]}
