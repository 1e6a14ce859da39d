"""Bad input: every case gives a clear, bilingual error and writes nothing."""

from __future__ import annotations

import pytest
from records_support import count

from engine.records import FilterError, RecordNotFound, ValidationFailed, VersionConflict

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


def test_a_record_must_be_an_object_and_that_is_the_only_complaint(svc, alice):
    # No "title is required" on top: there is no record to say that of.
    for values in (["title", "T"], None, "title=T"):
        with pytest.raises(ValidationFailed) as info:
            svc.create(alice, "deal", values)
        assert info.value.codes() == {None: ["type"]}
    deal = svc.create(alice, "deal", {"title": "T"})
    with pytest.raises(ValidationFailed) as info:
        svc.update(alice, "deal", deal["id"], ["title", "U"], version=1)
    assert info.value.codes() == {None: ["type"]}
    assert svc.get(alice, "deal", deal["id"])["title"] == "T"


# Values that can't be an id: past BIGINT, zero, negative, or not a number at all. Each
# must be "not found" before it reaches the database (an overflow on SQLite, a DataError
# or a type error on PostgreSQL), and must not be taken for another id (True is not 1).
BAD_IDS = [2**63, 10**30, 0, -1, "abc", "", 1.5, None, True, [1], {"id": "x"}]


def test_ids_that_cannot_exist_are_not_found_on_every_call(svc, alice, tables):
    deal = svc.create(alice, "deal", {"title": "T"})
    calls = {
        "get": lambda bad: svc.get(alice, "deal", bad),
        "history": lambda bad: svc.history(alice, "deal", bad),
        "update": lambda bad: svc.update(alice, "deal", bad, {"title": "U"}, version=1),
        "delete": lambda bad: svc.delete(alice, "deal", bad),
    }
    for name, call in calls.items():
        for bad in BAD_IDS:
            with pytest.raises(RecordNotFound):
                call(bad)
                pytest.fail(f"{name}({bad!r}) did not refuse the id")
    assert svc.get(alice, "deal", deal["id"])["title"] == "T"
    assert count(svc.db, tables.audit) == 1


def test_an_id_given_as_digits_names_the_record(svc, alice):
    deal = svc.create(alice, "deal", {"title": "T"})
    assert svc.get(alice, "deal", str(deal["id"]))["id"] == deal["id"]
    assert len(svc.history(alice, "deal", str(deal["id"]))) == 1
    assert svc.update(alice, "deal", str(deal["id"]), {"title": "U"}, version=1)["version"] == 2


@pytest.mark.parametrize("version", ["x", "1.5", 1.5, True, [1], {"v": 1}, 2**70],
                         ids=repr)
def test_a_version_that_is_not_a_whole_number_is_refused_clearly(svc, alice, version):
    deal = svc.create(alice, "deal", {"title": "T"})
    for call in (lambda: svc.update(alice, "deal", deal["id"], {"title": "U"}, version=version),
                 lambda: svc.delete(alice, "deal", deal["id"], version=version)):
        with pytest.raises(ValidationFailed) as info:
            call()
        [error] = info.value.errors
        assert error.field == "version" and error.code in ("type", "range")
        assert error.message.get("en") != error.message.get("zh-CN")
    assert svc.get(alice, "deal", deal["id"])["version"] == 1


def test_a_version_given_as_digits_is_taken_as_a_number(svc, alice):
    deal = svc.create(alice, "deal", {"title": "T"})
    assert svc.update(alice, "deal", deal["id"], {"title": "U"}, version="1")["version"] == 2
    with pytest.raises(VersionConflict, match="you had version 1, it is now 2"):
        svc.update(alice, "deal", deal["id"], {"title": "V"}, version="1")
    svc.delete(alice, "deal", deal["id"], version="2")
    with pytest.raises(RecordNotFound):
        svc.get(alice, "deal", deal["id"])


def test_delete_without_a_version_is_allowed_for_every_actor(svc, alice):
    deal = svc.create(alice, "deal", {"title": "T"})
    svc.update(alice, "deal", deal["id"], {"title": "U"}, version=1)
    svc.delete(alice, "deal", deal["id"])
    with pytest.raises(RecordNotFound):
        svc.get(alice, "deal", deal["id"])


NUL_FILTERS = [
    {"field": "title", "op": "contains", "value": "a\x00b"},
    {"field": "title", "op": "starts_with", "value": "\x00"},
    {"field": "title", "op": "eq", "value": "a\x00"},
    {"field": "title", "op": "in", "value": ["ok", "a\x00"]},
    {"field": "stage", "op": "lt", "value": "won\x00"},
    {"field": "stage", "op": "between", "value": ["a", "b\x00"]},
    {"field": "account.name", "op": "contains", "value": "\x00"},
]


def test_a_nul_character_in_a_filter_value_is_a_filter_error(svc, alice):
    svc.create(alice, "deal", {"title": "T"})
    for condition in NUL_FILTERS:
        with pytest.raises(FilterError, match="NUL"):
            svc.list(alice, "deal", filter=condition)
    assert len(svc.list(alice, "deal", filter={"field": "title", "op": "contains",
                                                "value": "T"}).rows) == 1


def test_an_offset_past_what_the_database_counts_is_a_filter_error(svc, alice):
    with pytest.raises(FilterError, match="offset"):
        svc.list(alice, "deal", offset=2**63)
    assert svc.list(alice, "deal", offset=2**63 - 1).rows == []


@pytest.mark.parametrize("rows", [None, 5, "title", b"title", {"title": "T"}], ids=repr)
def test_bulk_rows_that_are_not_a_list_of_records_are_refused_as_a_whole(svc, alice, tables, rows):
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(alice, "deal", rows)
    [error] = info.value.errors
    assert (error.field, error.code, error.row) == (None, "type", None)
    assert "rows" in error.message.get("en") and error.message.get("zh-CN")
    assert count(svc.db, tables.entity("deal")) == 0


def test_a_bulk_row_that_is_not_a_record_is_the_only_complaint_about_it(svc, alice, tables):
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(alice, "deal", [{"title": "ok"}, 1, ["title", "T"], {"title": "ok"}])
    assert [(e.row, e.field, e.code) for e in info.value.errors] == [(1, None, "type"),
                                                                       (2, None, "type")]
    assert count(svc.db, tables.entity("deal")) == 0
    # Any iterable of records will do.
    assert len(svc.bulk_create(alice, "deal", ({"title": t} for t in "ab"))) == 2
