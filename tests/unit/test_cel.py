"""CEL expressions: typed at load time, null as UNKNOWN, Loom's functions and value adaptation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.compiler import environment_for
from engine.rules import MAX_EXPRESSION_LENGTH, UNKNOWN, Environment, ExpressionError, cel_type
from engine.spec import MetadataInvalid

UTC = dt.timezone.utc

DEAL = {
    "entity": "deal", "label": "Deal",
    "fields": [
        {"name": "title", "type": "string"},
        {"name": "amount", "type": "money"},
        {"name": "probability", "type": "integer"},
        {"name": "stage", "type": "select", "options": [{"value": "lead"}, {"value": "won"}]},
        {"name": "close_date", "type": "date"},
        {"name": "tags", "type": "multiselect", "options": [{"value": "hot"}, {"value": "cold"}]},
    ],
}


def _with_rule(assert_: str, **extra) -> dict:
    return {**DEAL, "rules": [{"name": "r", "assert": assert_, "message": "m", **extra}]}


@pytest.fixture
def deal(model_from):
    return model_from(DEAL).entity("deal")


def _bind(entity, **values):
    """Bindings the way the record service makes them: nulls left out."""
    return {k: entity.field(k).type.to_cel(entity.field(k), v) for k, v in values.items()
            if v is not None}


# -- typed at load time ---------------------------------------------------------

def test_unknown_field_is_a_load_time_error_with_its_column(model_from):
    with pytest.raises(MetadataInvalid) as info:
        model_from(_with_rule("stage == 'won' && amout > 0.0"))
    (error,) = info.value.errors
    assert error.json_path == "$.rules[0].assert"
    assert "(column 19)" in error.message and "undeclared reference to 'amout'" in error.message


def test_type_mismatch_is_a_load_time_error_with_its_column(model_from):
    with pytest.raises(MetadataInvalid) as info:
        model_from(_with_rule("probability > 'high'"))
    (error,) = info.value.errors
    assert "(column 13)" in error.message
    assert "no matching overload for '_>_' applied to '(int, string)'" in error.message


def test_condition_must_be_bool(model_from):
    with pytest.raises(MetadataInvalid) as info:
        model_from(_with_rule("amount > 0.0", when="stage"))
    (error,) = info.value.errors
    assert error.json_path == "$.rules[0].when"
    assert "expression has type string, expected bool" in error.message


def test_int_literal_against_money_explains_the_fix(model_from):
    with pytest.raises(MetadataInvalid) as info:
        model_from(_with_rule("amount > 100"))
    assert "e.g. 100.0, not 100" in info.value.errors[0].message


def test_standard_columns_are_variables(model_from, deal):
    model_from(_with_rule("created_at < now() && owner != 0 && id > 0 && version >= 1"))
    env = environment_for(deal)
    for name in ("id", "created_at", "updated_at", "created_by", "updated_by", "owner", "version"):
        assert name in env.variables
    assert env.compile("updated_by == created_by", expect="bool").variables == frozenset(
        {"updated_by", "created_by"})


def test_list_results_use_field_type_signatures(model_from):
    spec = {**DEAL, "fields": DEAL["fields"][:-1] + [
        {**DEAL["fields"][-1], "default": {"expr": "['hot']"}}]}
    tags = model_from(spec).entity("deal").field("tags")
    assert tags.default_expr.result_type == "list(string)"
    assert tags.default_expr.evaluate({}) == ["hot"]


def test_environment_errors_name_the_problem():
    env = Environment({"n": "int"})
    with pytest.raises(ExpressionError, match="empty"):
        env.compile("  ")
    with pytest.raises(ExpressionError, match="longer than"):
        env.compile("n + " * MAX_EXPRESSION_LENGTH + "1")
    with pytest.raises(ExpressionError) as info:
        env.compile("n >")
    assert info.value.column == 4 and "Syntax error" in info.value.message


def test_cel_type_signatures():
    assert cel_type("list(string)") == cel_type(" list( string ) ".replace(" ", ""))
    cel_type("map(string, int)")
    with pytest.raises(KeyError, match="unknown CEL type 'money'; known: bool"):
        cel_type("money")


def test_variables_ignore_names_inside_strings():
    env = Environment({"stage": "string", "won": "bool"})
    assert env.compile("stage == 'won'").variables == frozenset({"stage"})


def test_variables_are_read_from_the_checked_tree_not_the_text():
    env = Environment({"stage": "string", "amount": "double", "tags": "list(string)",
                       "scores": "map(string, int)"})
    # A macro's own variable shadows a field of the same name.
    assert env.compile("tags.exists(stage, stage == 'x')").variables == frozenset({"tags"})
    assert env.compile("tags.exists(t, t == stage)").variables == frozenset({"tags", "stage"})
    # A map key selected with a dot, raw and triple-quoted strings, comments.
    assert env.compile("scores.amount == 1").variables == frozenset({"scores"})
    assert env.compile("r'amount' == \"\"\"stage\"\"\" // amount\n").variables == frozenset()
    assert env.compile("{stage: amount}.size() > 0").variables == frozenset({"stage", "amount"})


# -- null semantics ---------------------------------------------------------------

def test_a_null_field_makes_the_result_unknown(deal):
    rule = Environment({"amount": "double"}).compile("amount > 0.0", expect="bool")
    assert rule.evaluate(_bind(deal, amount=None)) is UNKNOWN
    assert rule.evaluate({"amount": None}) is UNKNOWN  # a None binding is unbound too
    assert rule.holds({}) is None
    assert rule.holds(_bind(deal, amount=Decimal("5.00"))) is True


def test_unknown_is_never_truthy():
    assert not UNKNOWN
    assert repr(UNKNOWN) == "UNKNOWN"


def test_runtime_errors_are_unknown_not_error_strings():
    env = Environment({"n": "int"})
    assert env.compile("10 / n").evaluate({"n": 0}) is UNKNOWN
    assert env.compile("10 / n > 1", expect="bool").holds({"n": 0}) is None
    assert env.compile("10 / n").evaluate({"n": 5}) == 2


@pytest.mark.parametrize("source, bindings, expected", [
    ("amount > 0.0 || stage == 'won'", {"stage": "won"}, True),
    ("stage == 'won' || amount > 0.0", {"stage": "won"}, True),
    ("amount > 0.0 || stage == 'won'", {"stage": "lead"}, None),
    ("amount > 0.0 && stage == 'won'", {"stage": "lead"}, False),
    ("stage == 'won' && amount > 0.0", {"stage": "lead"}, False),
    ("stage == 'won' && amount > 0.0", {"stage": "won"}, None),
])
def test_logic_short_circuits_around_unknown(deal, source, bindings, expected):
    expr = environment_for(deal).compile(source, expect="bool")
    assert expr.holds(bindings) is expected


# -- functions and value adaptation ------------------------------------------------

def test_now_is_the_current_utc_time():
    before = dt.datetime.now(UTC)
    value = Environment({}).compile("now()").evaluate({})
    after = dt.datetime.now(UTC)
    assert value.tzinfo is not None and before <= value <= after


def test_today_is_midnight_utc():
    before = dt.datetime.now(UTC).date()
    value = Environment({}).compile("today()").evaluate({})
    after = dt.datetime.now(UTC).date()
    assert value.utcoffset() == dt.timedelta(0) and value.time() == dt.time(0)
    assert before <= value.date() <= after
    assert Environment({}).compile("today() <= now()", expect="bool").holds({}) is True


def test_money_compares_with_a_double_literal(deal):
    env = environment_for(deal)
    big = env.compile("amount >= 100.0", expect="bool")
    assert big.holds(_bind(deal, amount=Decimal("100.00"))) is True
    assert big.holds(_bind(deal, amount=Decimal("99.99"))) is False
    weighted = env.compile("amount * double(probability) / 100.0", expect="double")
    assert weighted.evaluate(_bind(deal, amount=Decimal("250.00"), probability=40)) == 100.0


def test_date_compares_with_timestamps(deal):
    env = environment_for(deal)
    bindings = _bind(deal, close_date=dt.date(2024, 2, 29))
    assert env.compile("close_date == timestamp('2024-02-29T00:00:00Z')").evaluate(bindings) is True
    assert env.compile("close_date < now()", expect="bool").holds(bindings) is True
    later = env.compile("close_date + duration('24h')").evaluate(bindings)
    field = deal.field("close_date")
    assert field.type.from_cel(field, later) == dt.date(2024, 3, 1)


def test_multiselect_is_a_list_of_strings(deal):
    expr = environment_for(deal).compile("'hot' in tags && size(tags) == 2", expect="bool")
    assert expr.holds(_bind(deal, tags=["hot", "cold"])) is True
    assert expr.holds(_bind(deal, tags=["cold"])) is False
