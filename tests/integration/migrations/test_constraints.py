"""Plans that must look at stored values: integers into narrow decimals, tighter constraints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.storage.migrate import MigrationRefused
from engine.storage.tables import AUDIT, OUTBOX
from engine.storage.versions import system_table

TITLE = {"name": "title", "type": "string", "required": True}
STAGES = [{"value": v, "label": v.title()} for v in ("open", "won", "lost")]


def deal(*fields):
    return {"entity": "deal", "label": "Deal", "fields": [TITLE, *fields]}


def with_rows(mig, field, *values):
    """Deals holding ``values`` in ``field`` (migrated first); the model."""
    model = mig.model(deal(field))
    mig.apply(model)
    mig.insert(model, "deal", *[{"title": f"d{i}", field["name"]: v}
                                for i, v in enumerate(values)])
    return model


def rows_of(mig, name):
    table = system_table(name)
    with mig.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]


# -- integers into decimals --------------------------------------------------------
def test_integer_into_a_narrow_percent_is_a_retype_that_counts_overflows(mig):
    base = mig.model(deal({"name": "small", "type": "integer"}, {"name": "big", "type": "integer"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "small": 5, "big": 5},
               {"title": "b", "small": 12, "big": 1234567})
    model = mig.model(deal({"name": "small", "type": "percent"},
                           {"name": "big", "type": "percent"}))
    steps = {s.field: s for s in mig.plan(model).steps}
    assert steps["small"].kind == steps["big"].kind == "retype"
    assert steps["small"].preview["failures"] == 0 and not steps["small"].problems
    assert steps["big"].preview["failures"] == 1 and "1234567" in steps["big"].description
    with pytest.raises(MigrationRefused, match="1 of 2 existing values would fail"):
        mig.apply(model, allow_destructive=True)

    lenient = mig.model(deal({"name": "small", "type": "percent"},
                             {"name": "big", "type": "percent",
                              "convert": {"on_failure": "set_null"}}))
    mig.apply(lenient, allow_destructive=True)
    assert {k: Decimal(str(v)) for k, v in mig.column("deal", "small").items()} == \
        {1: 5, 2: 12}
    assert mig.column("deal", "big")[2] is None
    assert mig.plan(lenient).is_empty


def test_integer_into_a_decimal_with_nineteen_digits_widens(mig):
    with_rows(mig, {"name": "amount", "type": "integer"}, 2**63 - 1)
    model = mig.model(deal({"name": "amount", "type": "decimal", "precision": 21, "scale": 2}))
    (step,) = mig.plan(model).steps
    assert step.kind == "widen"
    mig.apply(model)
    assert mig.plan(model).is_empty


# -- tighter constraints ---------------------------------------------------------------
TIGHTENINGS = {
    "option removed": ({"name": "stage", "type": "select", "options": STAGES},
                       {"options": STAGES[:2]}, ["open", "lost", None], 1),
    "multiselect option removed": (
        {"name": "tags", "type": "multiselect", "options": STAGES},
        {"options": STAGES[1:]}, [["won"], ["open", "won"], ["open"]], 2),
    "text max_length": ({"name": "notes", "type": "text"}, {"max_length": 5},
                        ["short", "too long"], 1),
    "pattern": ({"name": "code", "type": "string"}, {"pattern": "^[A-Z]+$"},
                ["ABC", "abc", "X1"], 2),
    "min raised": ({"name": "prio", "type": "integer", "min": 0}, {"min": 3}, [1, 3, 5], 1),
    "max lowered": ({"name": "due", "type": "date"}, {"max": "2030-01-01"},
                    [dt.date(2024, 1, 1), dt.date(2031, 1, 1)], 1),
}


@pytest.mark.parametrize("case", sorted(TIGHTENINGS))
def test_a_tighter_constraint_is_planned_with_a_preview_and_refused(mig, case):
    field, change, stored, failures = TIGHTENINGS[case]
    with_rows(mig, field, *stored)
    model = mig.model(deal({**field, **change}))
    plan = mig.plan(model)
    (step,) = plan.steps
    assert (step.kind, step.preview["failures"], step.destructive) == ("tighten", failures, False)
    assert any("break the new constraint" in p for p in plan.problems)
    with pytest.raises(MigrationRefused, match="break the new constraint"):
        mig.apply(model, allow_destructive=True)


def test_a_tighter_constraint_nothing_breaks_is_a_safe_note(mig):
    with_rows(mig, {"name": "stage", "type": "select", "options": STAGES}, "open", "won")
    model = mig.model(deal({"name": "stage", "type": "select", "options": STAGES[:2]}))
    plan = mig.plan(model)
    (step,) = plan.steps
    assert (step.kind, step.destructive, step.problems) == ("tighten", False, [])
    assert "options removed: lost" in step.description and "all pass" in step.description
    mig.apply(model)
    assert mig.plan(model).is_empty


def test_a_looser_constraint_plans_nothing(mig):
    with_rows(mig, {"name": "stage", "type": "select", "options": STAGES[:2]}, "open")
    assert mig.plan(mig.model(deal({"name": "stage", "type": "select",
                                    "options": STAGES}))).is_empty


def test_on_failure_set_null_clears_what_breaks_and_audits_it(mig):
    stage = {"name": "stage", "type": "select", "options": STAGES}
    with_rows(mig, stage, "open", "lost", None)
    model = mig.model(deal({**stage, "options": STAGES[:2],
                            "convert": {"on_failure": "set_null"}}))
    plan = mig.plan(model)
    assert plan.has_destructive and not plan.problems
    with pytest.raises(MigrationRefused, match="destructive"):
        mig.apply(model)
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "stage") == {1: "open", 2: None, 3: None}
    assert mig.column("deal", "version") == {1: 1, 2: 2, 3: 1}
    (audit,) = rows_of(mig, AUDIT)
    assert (audit["record_id"], audit["action"], audit["changes"]) == \
        (2, "update", {"stage": ["lost", None]})
    (event,) = rows_of(mig, OUTBOX)
    assert event["payload"] == {"version": 2, "changes": {"stage": ["lost", None]},
                                "cause": {"tighten": "deal.stage"}}
    assert mig.plan(model).is_empty


def test_on_failure_default_writes_the_default_over_what_breaks(mig):
    notes = {"name": "notes", "type": "text"}
    with_rows(mig, notes, "short", "far too long")
    model = mig.model(deal({**notes, "max_length": 5, "default": "-",
                            "convert": {"on_failure": "default"}}))
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "notes") == {1: "short", 2: "-"}


def test_a_bigger_column_with_a_new_pattern_checks_every_value(mig):
    with_rows(mig, {"name": "code", "type": "string", "max_length": 10}, "ABC", "abc")
    plan = mig.plan(mig.model(deal({"name": "code", "type": "string", "max_length": 20,
                                    "pattern": "^[A-Z]+$"})))
    (step,) = plan.steps
    assert step.kind == "retype" and step.preview["failures"] == 1 and plan.problems
