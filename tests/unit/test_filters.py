"""Structured filters compile to bound SQLAlchemy expressions, or name every problem."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.dialects import sqlite

from engine.clock import SimulatedClock
from engine.compiler import compile_documents
from engine.filters import (ALL_OPERATORS, STANDARD_FIELDS, FilterCompiler, FilterError,
                            decode_cursor, encode_cursor, keyset_after, kind_of)
from engine.spec import MemorySource
from engine.storage.tables import build_tables

ACCOUNT = {"entity": "account", "label": "Account", "fields": [
    {"name": "name", "type": "string"},
    {"name": "region", "type": "select", "options": [{"value": "emea"}, {"value": "apac"}]},
]}
DEAL = {"entity": "deal", "label": "Deal", "fields": [
    {"name": "title", "type": "string"},
    {"name": "amount", "type": "money"},
    {"name": "stage", "type": "select", "options": [{"value": "won"}, {"value": "lost"}]},
    {"name": "close_date", "type": "date"},
    {"name": "done", "type": "boolean"},
    {"name": "extra", "type": "json"},
    {"name": "account", "type": "relation", "target": "account"},
    {"name": "accounts", "type": "many_to_many", "target": "account"},
]}
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def compiler():
    errors: list = []
    model = compile_documents(MemorySource(ACCOUNT, DEAL).documents(errors), errors)
    return FilterCompiler(model, build_tables(model), clock=SimulatedClock(NOW))


def sql(clause) -> tuple[str, dict]:
    compiled = clause.compile(dialect=sqlite.dialect())
    return str(compiled), compiled.params


def test_values_are_coerced_by_the_field_type_and_bound_as_parameters(compiler):
    text, params = sql(compiler.where("deal", [
        {"field": "amount", "op": "gt", "value": "1,000.5"},
        {"field": "close_date", "op": "gte", "value": "2024-01-01"},
        {"field": "title", "op": "eq", "value": "x' OR 1=1 --"}]))
    assert "x' OR" not in text and "1=1" not in text
    assert sorted(map(str, params.values())) == sorted(["1000.50", "2024-01-01", "x' OR 1=1 --"])


def test_a_list_means_and_and_nesting_compiles(compiler):
    text, _ = sql(compiler.where("deal", {"or": [
        {"field": "stage", "op": "eq", "value": "won"},
        {"not": {"and": [{"field": "done", "op": "eq", "value": "true"},
                         {"field": "id", "op": "in", "value": ["1", 2]}]}}]}))
    assert " OR " in text and "NOT" in text and "IN" in text


def test_empty_filters_mean_no_condition(compiler):
    assert compiler.where("deal", None) is None and compiler.where("deal", []) is None


def test_ne_and_not_in_also_match_empty_values(compiler):
    text, _ = sql(compiler.where("deal", {"field": "stage", "op": "ne", "value": "won"}))
    assert "deal.stage IS NULL" in text


def test_relative_dates_are_whole_days_of_the_clock(compiler):
    _, params = sql(compiler.where("deal", {"field": "close_date", "op": "older_than_days",
                                            "value": 10}))
    assert list(params.values()) == [dt.date(2026, 2, 28)]
    _, params = sql(compiler.where("deal", {"field": "created_at", "op": "within_next_days",
                                            "value": 1}))
    # from the start of today to the end of tomorrow (UTC: the clock's zone)
    assert sorted(params.values()) == [dt.datetime(2026, 3, 10), dt.datetime(2026, 3, 12)]


def test_dotted_paths_filter_through_the_related_table(compiler):
    text, params = sql(compiler.where("deal", {"field": "account.region", "op": "eq",
                                               "value": "emea"}))
    assert "deal.account IN (SELECT account.id" in text and list(params.values()) == ["emea"]
    text, _ = sql(compiler.where("deal", {"field": "accounts.name", "op": "contains", "value": "a"}))
    assert "deal__accounts" in text


def test_every_problem_is_reported_with_its_path(compiler):
    with pytest.raises(FilterError) as info:
        compiler.where("deal", [{"field": "nope", "op": "eq", "value": 1},
                                {"field": "title", "op": "contains", "value": "fine"},
                                {"field": "stage", "op": "eq", "value": "maybe"},
                                {"field": "close_date", "op": "eq", "value": "soon"}])
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("$.and[0].field: unknown field 'nope' of 'deal'; known: id,")
    assert "'maybe' is not one of: won, lost" in problems[1]
    assert "$.and[3].value" in problems[2] and "date" in problems[2]


def test_operators_depend_on_the_kind_of_field(compiler):
    assert kind_of(STANDARD_FIELDS["created_at"]) == "timestamp"
    with pytest.raises(FilterError, match="operator not valid 'gt' for 'extra'; known: is_null"):
        compiler.where("deal", {"field": "extra", "op": "gt", "value": 1})
    with pytest.raises(FilterError, match="unknown operator 'regex'"):
        compiler.where("deal", {"field": "title", "op": "regex", "value": "."})
    assert {"eq", "between", "older_than_days", "contains", "is_null"} <= set(ALL_OPERATORS)


def test_limits_bound_the_size_of_a_filter(compiler):
    with pytest.raises(FilterError, match="at most 200 conditions"):
        compiler.where("deal", [{"field": "id", "op": "eq", "value": i} for i in range(201)])
    deep: dict = {"field": "id", "op": "eq", "value": 1}
    for _ in range(12):
        deep = {"not": deep}
    with pytest.raises(FilterError, match="nest at most"):
        compiler.where("deal", deep)


def test_sort_appends_id_and_refuses_unknown_or_unsortable_fields(compiler):
    keys = compiler.sort("deal", ["-close_date", "title"])
    assert [(k.name, k.desc) for k in keys] == [("close_date", True), ("title", False), ("id", False)]
    assert [(k.name, k.desc) for k in compiler.sort("deal", "-amount")] == [("amount", True),
                                                                          ("id", True)]
    with pytest.raises(FilterError) as info:
        compiler.sort("deal", ["-nope", "accounts", 3])
    assert len(info.value.problems) == 3


def test_cursor_round_trips_and_builds_a_keyset_condition(compiler):
    keys = compiler.sort("deal", ["-close_date"])
    cursor = encode_cursor(keys, {"close_date": dt.date(2024, 5, 1), "id": 7})
    assert decode_cursor(keys, cursor) == [dt.date(2024, 5, 1), 7]
    # SQLite sorts NULLs last when descending, PostgreSQL first: the condition follows.
    assert sql(keyset_after(keys, [dt.date(2024, 5, 1), 7], "sqlite"))[0] == (
        "deal.close_date < ? OR deal.close_date IS NULL OR deal.close_date = ? AND deal.id < ?")
    assert sql(keyset_after(keys, [dt.date(2024, 5, 1), 7], "postgresql"))[0] == (
        "deal.close_date < ? OR deal.close_date = ? AND deal.id < ?")


def test_keyset_after_a_null_value(compiler):
    keys = compiler.sort("deal", ["-close_date"])
    assert sql(keyset_after(keys, [None, 7], "sqlite"))[0] == (
        "deal.close_date IS NULL AND deal.id < ?")
    assert sql(keyset_after(keys, [None, 7], "postgresql"))[0] == (
        "deal.close_date IS NOT NULL OR deal.close_date IS NULL AND deal.id < ?")


@pytest.mark.parametrize("condition", [
    {"field": "title", "op": "contains", "value": "a\x00"},
    {"field": "title", "op": "starts_with", "value": "\x00"},
    {"field": "title", "op": "eq", "value": "a\x00"},
    {"field": "title", "op": "not_in", "value": ["a", "b\x00"]},
    {"field": "stage", "op": "gte", "value": "won\x00"},
    {"field": "account.name", "op": "starts_with", "value": "x\x00"},
], ids=lambda c: c["op"])
def test_a_nul_character_in_a_value_is_refused_before_any_sql(compiler, condition):
    # PostgreSQL can't hold NUL in text: it would fail in the driver as a DataError.
    with pytest.raises(FilterError) as info:
        compiler.where("deal", [condition])
    [problem] = info.value.problems
    assert "NUL" in problem and condition["field"] in problem


def test_a_cursor_holding_a_nul_character_is_invalid(compiler):
    keys = compiler.sort("deal", ["stage"])
    cursor = encode_cursor(keys, {"stage": "won\x00", "id": 7})
    with pytest.raises(FilterError, match="invalid cursor"):
        decode_cursor(keys, cursor)
    assert decode_cursor(keys, encode_cursor(keys, {"stage": "won", "id": 7})) == ["won", 7]
