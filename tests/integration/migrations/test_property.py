"""Property: random schema edits over a database holding data never lose a value silently.

A random sequence of edits (add a field, rename it with ``renamed_from``, widen
it, retype it lossily with ``on_failure: set_null``, drop it, declare it again
and restore it) is migrated step by step. After every step each live field
holds exactly the values an independent model of the edits expects: the only
values that disappear are those of a dropped field (which the plan marks
destructive and archives) and those a lossy retype's preview counted as
failures; restore brings the dropped values back.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.storage.tables import build_tables

ROWS = 5
TYPES = ("string", "text", "integer", "decimal")
# decimal(23, 4): 19 digits before the point, so every integer fits (a plain widen).
WIDENINGS = {"string": {"type": "text"}, "integer": {"type": "decimal", "precision": 23}}
LOSSY = {"string": "integer", "text": "integer", "integer": "string"}
EDITS = ("add", "rename", "widen", "lossy", "drop", "restore")

TEXTS = st.one_of(st.from_regex(r"\A-?[0-9]{1,6}\Z"), st.text(alphabet="ab1 é", min_size=0,
                                                               max_size=8))
VALUES = {
    "string": TEXTS,
    "text": TEXTS,
    "integer": st.integers(-10**9, 10**9),
    "decimal": st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False),
}
INTEGER_TEXT = re.compile(r"\s*[-+]?\d+\s*")


def _norm(type_name: str, value: Any) -> Any:
    if value is None:
        return None
    if type_name == "decimal":
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    if type_name == "integer":
        return int(value)
    return str(value)


def _to_integer(value: Any) -> Any:
    """What a text -> integer retype with on_failure: set_null should leave."""
    if value is None or not INTEGER_TEXT.fullmatch(value):
        return None
    return int(value)


def _wipe(db) -> None:
    with db.write() as conn:
        metadata = sa.MetaData()
        metadata.reflect(conn)
        metadata.drop_all(conn)


class Scenario:
    """The expected state: field specs, their values by record id, and the archives."""

    def __init__(self, mig, data) -> None:
        self.mig = mig
        self.data = data
        self.fields: dict[str, dict[str, Any]] = {}
        self.expected: dict[str, dict[int, Any]] = {}
        self.archived: dict[str, tuple[dict[str, Any], dict[int, Any]]] = {}
        self.counter = 0
        self.ids: list[int] = []
        self.model = None

    def spec(self) -> dict[str, Any]:
        fields = [{"name": "title", "type": "string", "required": True}]
        fields += list(self.fields.values())
        return {"entity": "item", "label": "Item", "fields": fields}

    def migrate(self, *, destructive: bool):
        self.model = self.mig.model(self.spec())
        plan = self.mig.plan(self.model)
        assert not plan.problems, plan.text()
        assert plan.has_destructive == destructive, plan.text()
        self.mig.apply(self.model, allow_destructive=destructive)
        assert self.mig.plan(self.model).is_empty
        return plan

    def fresh_name(self) -> str:
        self.counter += 1
        return f"f{self.counter}"

    def fill(self, name: str) -> None:
        type_name = self.fields[name]["type"]
        values = {i: self.data.draw(st.none() | VALUES[type_name]) for i in self.ids}
        table = build_tables(self.model).entity("item")
        with self.mig.db.write() as conn:
            for record_id, value in values.items():
                conn.execute(table.update().where(table.c.id == record_id)
                             .values({name: value}))
        self.expected[name] = {i: _norm(type_name, v) for i, v in values.items()}

    def check(self) -> None:
        for name, spec in self.fields.items():
            stored = self.mig.column("item", name)
            assert {i: _norm(spec["type"], v) for i, v in stored.items()} == \
                self.expected[name], name

    # -- edits ---------------------------------------------------------------
    def add(self) -> None:
        name = self.fresh_name()
        self.fields[name] = {"name": name, "type": self.data.draw(st.sampled_from(TYPES))}
        self.migrate(destructive=False)
        self.fill(name)

    def pick(self, types=None) -> str | None:
        names = [n for n, s in self.fields.items() if types is None or s["type"] in types]
        return self.data.draw(st.sampled_from(names)) if names else None

    def rename(self) -> None:
        old = self.pick()
        if old is None:
            return
        new = self.fresh_name()
        spec = self.fields.pop(old)
        self.fields[new] = {**spec, "name": new,
                            "renamed_from": [old, *spec.get("renamed_from", [])]}
        self.expected[new] = self.expected.pop(old)
        plan = self.migrate(destructive=False)
        assert [s.kind for s in plan.steps] == ["rename_field"]

    def widen(self) -> None:
        name = self.pick(WIDENINGS)
        if name is None:
            return
        widened = WIDENINGS[self.fields[name]["type"]]
        new_type = widened["type"]
        self.fields[name] = {**self.fields[name], **widened}
        self.expected[name] = {i: _norm(new_type, v) for i, v in self.expected[name].items()}
        plan = self.migrate(destructive=False)
        assert [s.kind for s in plan.steps] == ["widen"]

    def lossy(self) -> None:
        name = self.pick(LOSSY)
        if name is None:
            return
        new_type = LOSSY[self.fields[name]["type"]]
        convert = _to_integer if new_type == "integer" else str
        before = self.expected[name]
        after = {i: None if v is None else convert(v) for i, v in before.items()}
        failures = sum(1 for i in before if before[i] is not None and after[i] is None)
        self.fields[name] = {**self.fields[name], "type": new_type,
                             "convert": {"on_failure": "set_null"}}
        self.expected[name] = after
        plan = self.migrate(destructive=failures > 0)
        (step,) = plan.steps
        assert step.kind == "retype" and step.preview["failures"] == failures

    def drop(self) -> None:
        name = self.pick()
        if name is None:
            return
        spec = self.fields.pop(name)
        values = self.expected.pop(name)
        self.archived[name] = ({"name": name, "type": spec["type"]}, values)
        plan = self.migrate(destructive=True)
        (step,) = plan.steps
        assert step.kind == "drop_field"
        assert step.preview["values"] == sum(v is not None for v in values.values())

    def restore(self) -> None:
        names = sorted(self.archived)
        if not names:
            return
        name = self.data.draw(st.sampled_from(names))
        spec, values = self.archived.pop(name)
        self.fields[name] = spec
        plan = self.migrate(destructive=False)
        kept = sum(v is not None for v in values.values())
        assert (f"loom restore item.{name}" in plan.text()) == (kept > 0)
        assert self.mig.restore(self.model, "item", name) == kept
        self.expected[name] = values

    def start(self) -> None:
        for type_name in ("string", "integer"):
            name = self.fresh_name()
            self.fields[name] = {"name": name, "type": type_name}
        self.migrate(destructive=False)
        self.ids = self.mig.insert(self.model, "item",
                                   *[{"title": f"r{i}"} for i in range(ROWS)])
        for name in list(self.fields):
            self.fill(name)


def test_random_edits_never_lose_an_undeclared_value(mig):
    examples = 25 if mig.db.dialect == "sqlite" else 8

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(data=st.data())
    def run(data) -> None:
        _wipe(mig.db)
        scenario = Scenario(mig, data)
        scenario.start()
        scenario.check()
        for edit in data.draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=6)):
            getattr(scenario, edit)()
            scenario.check()

    run()
