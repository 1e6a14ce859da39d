"""Plan values, type-widening and tightening rules, without a database."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

import engine.storage
from engine.storage.classify import sql_widens
from engine.storage.constraints import tightened
from engine.storage.plan import MigrationRefused, Plan, Step

#: ``type_name == "relation"``, ``type_name in ("user", ...)``: branching on a type's name.
TYPE_NAME_BRANCH = re.compile(r"type_name\s*[!=]=\s*['\"]|['\"]\s*[!=]=\s*\w+\.type_name"
                              r"|type_name\s+(not\s+)?in\s*[(\[{]")


def _plan(*steps: Step, problems=()) -> Plan:
    return Plan("new", "old", "sqlite", list(steps), list(problems))


def test_plan_text_marks_each_step_safe_or_destructive():
    plan = _plan(Step("add_field", "deal", "notes", "add field deal.notes (text)"),
                 Step("drop_field", "deal", "old", "drop field deal.old (archived: 3 values)",
                      destructive=True))
    lines = plan.text().splitlines()
    assert any(line.split() == ["safe", "add", "field", "deal.notes", "(text)"] for line in lines)
    assert any(line.strip().startswith("DESTRUCTIVE  drop field deal.old") for line in lines)
    assert plan.has_destructive and not plan.is_empty


def test_destructive_plan_is_refused_without_permission_and_names_the_steps():
    plan = _plan(Step("drop_field", "deal", "old", "drop field deal.old", destructive=True))
    refusal = MigrationRefused.for_plan(plan, allow_destructive=False)
    assert refusal is not None and "drop field deal.old" in str(refusal)
    assert MigrationRefused.for_plan(plan, allow_destructive=True) is None


def test_problems_refuse_even_with_permission():
    plan = _plan(Step("retype", "deal", "code", "retype deal.code",
                      problems=["2 of 3 values would fail"]), problems=["both tables exist"])
    refusal = MigrationRefused.for_plan(plan, allow_destructive=True)
    assert refusal is not None
    assert "2 of 3 values would fail" in str(refusal) and "both tables exist" in str(refusal)


def test_empty_plan_says_a_new_version_is_recorded_when_the_hash_changed():
    assert "the new version is recorded" in _plan().text()
    assert "recorded" not in Plan("same", "same", "sqlite").text()


def test_as_dict_has_every_step_field():
    step = Step("retype", "deal", "code", "retype deal.code", preview={"failures": 1})
    data = _plan(step).as_dict()
    assert data["steps"] == [{"kind": "retype", "entity": "deal", "field": "code",
                              "destructive": False, "description": "retype deal.code",
                              "preview": {"failures": 1}, "problems": [], "notes": []}]


def test_signature_ignores_previews_but_not_destructiveness():
    a = _plan(Step("retype", "deal", "code", "x", preview={"failures": 0}))
    b = _plan(Step("retype", "deal", "code", "y", preview={"failures": 0}))
    c = _plan(Step("retype", "deal", "code", "x", destructive=True))
    assert a.signature() == b.signature() != c.signature()


def test_growing_strings_and_decimals_widen_and_shrinking_does_not():
    assert sql_widens(sa.String(100), sa.String(200))
    assert sql_widens(sa.String(100), sa.Text())
    assert not sql_widens(sa.String(200), sa.String(100))
    assert sql_widens(sa.Numeric(10, 2), sa.Numeric(12, 4))
    assert not sql_widens(sa.Numeric(10, 2), sa.Numeric(10, 4))
    assert sql_widens(sa.Integer(), sa.BigInteger())
    assert not sql_widens(sa.BigInteger(), sa.Integer())
    assert not sql_widens(sa.String(10), sa.Integer())


def test_integers_widen_into_decimals_only_with_nineteen_digits_before_the_point():
    assert sql_widens(sa.BigInteger(), sa.Numeric(21, 2))
    assert sql_widens(sa.BigInteger(), sa.Numeric())
    assert not sql_widens(sa.BigInteger(), sa.Numeric(7, 2))  # percent
    assert not sql_widens(sa.BigInteger(), sa.Numeric(18, 4))  # decimal's default
    assert sql_widens(sa.Integer(), sa.Numeric(12, 2))


def _field(model_from, **spec):
    model = model_from({"entity": "deal", "label": "Deal",
                        "fields": [{"name": "f", **spec}]})
    return model.entity("deal").field("f")


def test_tightened_names_what_the_new_field_refuses(model_from):
    options = [{"value": v, "label": v} for v in ("open", "won", "lost")]
    wide = _field(model_from, type="select", options=options)
    narrow = _field(model_from, type="select", options=options[:2])
    assert tightened(wide, narrow) == ["options removed: lost"]
    assert tightened(narrow, wide) == []
    text = _field(model_from, type="text")
    assert tightened(text, _field(model_from, type="text", max_length=9)) == \
        ["max_length unset -> 9"]
    low = _field(model_from, type="integer", min=0, max=10)
    assert tightened(low, _field(model_from, type="integer", min=1, max=10)) == ["min 0 -> 1"]
    assert tightened(low, _field(model_from, type="integer")) == []


def test_storage_never_branches_on_field_type_names():
    folder = Path(engine.storage.__file__).parent
    for path in sorted(folder.glob("*.py")):
        found = TYPE_NAME_BRANCH.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found.group(0)}; ask the field's type instead"
