"""The browser's CEL evaluator judges conditions exactly as the Python engine does.

Every ``visible_if`` / ``required_if`` / ``read_only_if`` of the shipped schemas, and a
hand-written table (nulls, decimals, dates, ``in`` lists, ``size``, string methods,
link-table lists, JSON), is judged by the engine for several records, with the
record service's own input path (``read_input`` then the field types' ``to_cel``).
``tests/js/parity.mjs`` then judges the same cases with the vendored evaluator
(web/static/vendor/loom-cel) and the results must match case by case.

The hand-written table is also committed as ``tests/js/cel_golden.json`` for the
node test runner (``node --test tests/js/``); regenerate it with
``python -m tests.unit.test_cel_parity --write`` (from the repository root) after
changing it here.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.compiler import compile_documents, compile_model, environment_for
from engine.filters import STANDARD_FIELDS
from engine.records.plan import build_entity_plan
from engine.records.validation import read_input
from engine.spec import FileSource, MemorySource
from engine.storage.tables import build_tables

REPO = Path(__file__).resolve().parents[2]

PARITY_SCRIPT = REPO / "tests" / "js" / "parity.mjs"
GOLDEN = REPO / "tests" / "js" / "cel_golden.json"
CONDITIONS = ("visible_if", "required_if", "read_only_if")
#: Records judged per shipped expression at most (the product of candidate values is cut here).
MAX_RECORDS_PER_EXPRESSION = 64
#: Seconds node may take to judge every case.
NODE_TIMEOUT = 60

PROBE = {
    "entity": "probe", "label": "Probe",
    "fields": [
        {"name": "title", "type": "string"},
        {"name": "notes", "type": "text"},
        {"name": "email", "type": "email"},
        {"name": "stage", "type": "select",
         "options": [{"value": "lead"}, {"value": "won"}, {"value": "lost"}]},
        {"name": "tags", "type": "multiselect",
         "options": [{"value": "hot"}, {"value": "cold"}, {"value": "vip"}]},
        {"name": "amount", "type": "money"},
        {"name": "ratio", "type": "percent"},
        {"name": "qty", "type": "integer"},
        {"name": "done", "type": "boolean"},
        {"name": "close_date", "type": "date"},
        {"name": "due_at", "type": "datetime"},
        {"name": "account", "type": "relation", "target": "probe"},
        {"name": "members", "type": "many_to_many", "target": "probe"},
        {"name": "data", "type": "json"},
    ],
}

# (expression, [record values as the API or a form sends them, ...])
HAND_CASES: list[tuple[str, list[dict[str, Any]]]] = [
    ("stage == 'won'", [{"stage": "won"}, {"stage": "lost"}, {"stage": None}, {"stage": ""}]),
    ("stage != 'won'", [{"stage": "won"}, {"stage": None}]),
    ("stage in ['won', 'lost']", [{"stage": "won"}, {"stage": "lead"}, {}]),
    ("!(stage in ['won'])", [{"stage": "lead"}, {}]),
    ("amount > 1000.0", [{"amount": "999.99"}, {"amount": "1000.01"}, {"amount": "1,500"},
                         {"amount": 1000}, {"amount": None}, {"amount": "lots"}]),
    ("amount >= 0.0 && ratio < 0.5", [{"amount": "0", "ratio": "0.25"}, {"amount": "0"},
                                      {"ratio": "0.75"}]),
    ("ratio * 2.0 > 1.0", [{"ratio": "0.6"}, {"ratio": "0.4"}]),
    ("qty >= 3 && done", [{"qty": 3, "done": True}, {"qty": "3", "done": "yes"},
                          {"qty": 2, "done": True}, {"qty": 5}, {"done": False}]),
    ("done || amount > 10.0", [{"done": True}, {"done": False, "amount": "11"}, {"done": False},
                               {"amount": "11"}]),
    ("amount > 10.0 || done", [{"done": True}, {"done": False}, {}]),
    ("!done", [{"done": False}, {"done": ""}, {"done": "on"}, {}]),
    ("qty > 2 ? stage == 'won' : false", [{"qty": 3, "stage": "won"}, {"qty": 1}, {"qty": 3}]),
    ("qty / 0 > 1", [{"qty": 4}]),
    ("amount / 0.0 > 1.0", [{"amount": "4"}]),
    ("int(amount) > 2", [{"amount": "3.9"}, {"amount": "2.5"}]),
    ("double(qty) > 2.5", [{"qty": 3}, {"qty": 2}]),
    ("string(qty) == '3'", [{"qty": 3}, {"qty": "+3"}]),
    ("size(tags) > 1", [{"tags": ["hot", "vip"]}, {"tags": ["hot"]}, {"tags": []},
                        {"tags": "hot, cold"}, {}]),
    ("'vip' in tags", [{"tags": ["vip"]}, {"tags": ["hot", "cold"]}, {"tags": []}]),
    ("tags.exists(t, t.startsWith('c'))", [{"tags": ["hot", "cold"]}, {"tags": ["hot"]}]),
    ("tags.all(t, t != 'vip')", [{"tags": ["hot", "cold"]}, {"tags": ["vip"]}, {}]),
    ("tags == ['hot', 'cold']", [{"tags": ["hot", "cold"]}, {"tags": ["cold", "hot"]},
                                 {"tags": ["hot", "cold", "hot"]}]),
    ("size(members) == 0", [{"members": []}, {"members": None}, {}, {"members": [3]}]),
    ("members == [1, 2]", [{"members": [2, 1]}, {"members": [1, 2, 2]}, {"members": ["1", "2"]}]),
    ("2 in members", [{"members": [1, 2]}, {"members": [3]}]),
    ("account == 5", [{"account": 5}, {"account": "5"}, {"account": 6}, {}]),
    ("account in [1, 2, 3]", [{"account": 2}, {"account": 9}]),
    ("title.startsWith('Ac')", [{"title": "Acme"}, {"title": "acme"}, {"title": ""}, {}]),
    ("title.endsWith('me')", [{"title": "Acme"}, {"title": "Ac"}]),
    ("title.contains('cm')", [{"title": "Acme"}, {"title": "Ace"}]),
    ("title.matches('^A.*e$')", [{"title": "Acme"}, {"title": "Acm"}]),
    ("title.matches('[0-9]{3}')", [{"title": "no 123"}, {"title": "12"}]),
    ("size(title) > 3", [{"title": "Acme"}, {"title": "销售部"}, {"title": "  "}]),
    ("title == '销售'", [{"title": "销售"}, {"title": "sales"}]),
    ("size(notes) < 5 || notes.contains('!')", [{"notes": "hey!!!"}, {"notes": "hi"},
                                                {"notes": "hello"}]),
    ("email.endsWith('@example.com')", [{"email": "a@example.com"}, {"email": "a@b.org"}]),
    ("close_date < timestamp('2025-01-01T00:00:00Z')", [{"close_date": "2024-12-31"},
                                                        {"close_date": "2025-01-01"}, {}]),
    ("close_date.getFullYear() == 2024 && close_date.getMonth() == 11",
     [{"close_date": "2024-12-31"}, {"close_date": "2024-11-30"}]),
    ("close_date.getDayOfWeek() == 2", [{"close_date": "2024-12-31"}, {"close_date": "2025-01-01"}]),
    ("close_date.getDate() == 31", [{"close_date": "2024-12-31"}, {"close_date": "2024-12-30"}]),
    ("due_at > close_date", [{"due_at": "2024-12-31T23:30:00-02:00", "close_date": "2025-01-01"},
                             {"due_at": "2024-12-31T23:30:00Z", "close_date": "2025-01-01"},
                             {"due_at": "2025-01-01T00:00:01", "close_date": "2025-01-01"}]),
    ("due_at.getHours() == 1", [{"due_at": "2024-12-31T23:30:00-02:00"},
                                {"due_at": "2024-12-31T01:00:00"}]),
    ("due_at - close_date > duration('12h')",
     [{"due_at": "2025-01-01T13:00:00Z", "close_date": "2025-01-01"},
      {"due_at": "2025-01-01T11:00:00Z", "close_date": "2025-01-01"}]),
    ("close_date < today()", [{"close_date": "2000-01-01"}, {"close_date": "2999-12-31"}, {}]),
    ("due_at < now()", [{"due_at": "2000-01-01T00:00:00Z"}, {"due_at": "2999-12-31T00:00:00Z"}]),
    ("data.kind == 'x'", [{"data": {"kind": "x"}}, {"data": {"kind": "y"}}, {"data": {}}, {}]),
    ("data.n == 1", [{"data": {"n": 1}}, {"data": {"n": 2}}]),
    ("stage == 'won' && amount > 0.0 && 'hot' in tags",
     [{"stage": "won", "amount": "1", "tags": ["hot"]}, {"stage": "won", "amount": "1"},
      {"stage": "lead", "tags": ["hot"]}]),
]


def _field(entity, name):
    return entity.field(name) if entity.has_field(name) else STANDARD_FIELDS[name]


def _descriptor(f) -> dict[str, Any]:
    """The form's ``fields`` entry of ``f`` (see web/static/loom/conditions.js)."""
    out: dict[str, Any] = {"cel_type": f.type.cel_type(f)}
    if not f.stored:
        out["many"] = True
    return out


class Judge:
    """Judges expressions of one entity the way the record service binds a record."""

    def __init__(self, model, entity_name: str) -> None:
        self.entity = model.entity(entity_name)
        self.plan = build_entity_plan(model.entities, build_tables(model), entity_name)

    def bindings(self, values: dict[str, Any]) -> dict[str, Any]:
        errors: list = []
        inputs = {n: v for n, v in values.items() if n in self.plan.inputs}
        record = read_input(self.plan, inputs, {}, errors)
        for name, raw in values.items():  # standard columns and computed fields: as stored
            if name not in inputs and raw not in (None, "", []):
                f = _field(self.entity, name)
                record[name] = f.type.coerce(f, raw)
        out = {}
        for name, value in record.items():
            if value is not None:
                convert = self.plan.to_cel.get(name) or (lambda v: v)
                out[name] = convert(value)
        return out

    def case(self, case_id: str, expr, values: dict[str, Any]) -> dict[str, Any]:
        names = sorted(expr.variables)
        return {
            "id": case_id,
            "expression": expr.source,
            "fields": {n: _descriptor(_field(self.entity, n)) for n in names},
            "values": {n: values[n] for n in names if n in values},
            "expected": expr.holds(self.bindings(values)),
        }


def _probe_model():
    errors: list = []
    return compile_documents(MemorySource(PROBE).documents(errors), errors)


def hand_cases() -> list[dict[str, Any]]:
    model = _probe_model()
    judge = Judge(model, "probe")
    env = environment_for(judge.entity)
    cases = []
    for number, (source, records) in enumerate(HAND_CASES):
        expr = env.compile(source, expect="bool")
        for row, values in enumerate(records):
            cases.append(judge.case(f"hand#{number}.{row}: {source}", expr, values))
    return cases


def _candidates(f) -> list[Any]:
    """A few values of ``f`` (null first), as the API or a form sends them."""
    cel = f.type.cel_type(f)
    options = list(f.option_values)
    if cel == "list(string)" and options:
        return [None, [], options[:1], options[:2]]
    if options:
        return [None, *options]
    return {
        "bool": [None, True, False],
        "int": [None, 1, 7],
        "double": [None, "0", "12.5"],
        "string": [None, "", "Acme"],
        "timestamp": [None, "2000-01-01", "2999-12-31"],
        "list(int)": [None, [], [1, 2]],
        "list(string)": [None, [], ["a"]],
    }.get(cel, [None])


def schema_cases() -> list[dict[str, Any]]:
    model = compile_model([FileSource(REPO / "schemas")])
    cases = []
    for entity_name in sorted(model.entities):
        judge = Judge(model, entity_name)
        for f in judge.entity.fields:
            for kind in CONDITIONS:
                expr = getattr(f, kind)
                if expr is None:
                    continue
                names = sorted(expr.variables)
                pools = [_candidates(_field(judge.entity, n)) for n in names]
                records = itertools.islice(itertools.product(*pools), MAX_RECORDS_PER_EXPRESSION)
                for row, combo in enumerate(records):
                    values = {n: v for n, v in zip(names, combo) if v is not None}
                    cases.append(judge.case(f"{entity_name}.{f.name}.{kind}#{row}", expr, values))
    return cases


def _node_results(cases: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"cases": cases}, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([shutil.which("node"), str(PARITY_SCRIPT), str(path)], capture_output=True,
                          text=True, timeout=NODE_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    return {r["id"]: r["holds"] for r in json.loads(done.stdout)["results"]}


def _mismatches(cases, results) -> list[str]:
    return [f"{c['id']} with {c['values']}: python {c['expected']}, js {results.get(c['id'])}"
            for c in cases if results.get(c["id"], "missing") != c["expected"]]


needs_node = pytest.mark.skipif(shutil.which("node") is None,
                                reason="node is not installed (CI has node; install Node 20)")


def test_shipped_schemas_have_conditions_to_compare():
    cases = schema_cases()
    assert len({c["expression"] for c in cases}) >= 5
    assert {c["expected"] for c in cases} == {True, False, None}


@needs_node
def test_browser_judges_every_shipped_condition_like_the_engine(tmp_path):
    cases = schema_cases()
    assert _mismatches(cases, _node_results(cases, tmp_path)) == []


@needs_node
def test_browser_judges_hand_written_cases_like_the_engine(tmp_path):
    cases = hand_cases()
    assert _mismatches(cases, _node_results(cases, tmp_path)) == []


def test_unbound_fields_make_conditions_unknown_in_the_table():
    by_id = {c["id"]: c["expected"] for c in hand_cases()}
    assert by_id["hand#0.2: stage == 'won'"] is None
    assert by_id["hand#0.3: stage == 'won'"] is None  # an empty string is no value
    assert by_id["hand#9.0: amount > 10.0 || done"] is True  # || absorbs the unknown side
    assert by_id["hand#22.1: size(members) == 0"] is True  # an empty link list is []


def test_committed_golden_table_matches_the_engine():
    committed = json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]
    assert committed == hand_cases(), (
        "tests/js/cel_golden.json is stale: run `python -m tests.unit.test_cel_parity --write`")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        GOLDEN.write_text(json.dumps({"cases": hand_cases()}, ensure_ascii=False, indent=1) + "\n",
                          encoding="utf-8")
        print(f"wrote {GOLDEN}")
    else:
        sys.exit("usage: python -m tests.unit.test_cel_parity --write")
