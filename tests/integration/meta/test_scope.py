"""Metadata API changes plan only the entities they touch, and stay as safe as ``loom plan``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from meta_crm import make_crm

from engine.meta import add_field, change_field, create_entity
from engine.storage import diff
from engine.storage.migrate import (
    MigrationError,
    MigrationRefused,
    plan_migration,
    referencing_tables,
)
from engine.storage.plan import Step
from engine.storage.steps import Runner
from engine.storage.tables import build_tables

NOTES = {"name": "notes", "type": "text"}


def _execute(crm, *sql: str) -> None:
    with crm.db.write() as conn:
        for statement in sql:
            conn.execute(sa.text(statement))


def _classified(monkeypatch) -> list[str]:
    """The tables the planner classifies from now on."""
    seen: list[str] = []
    real = diff.classify_table

    def spy(planner, name, table_diff):
        seen.append(name)
        return real(planner, name, table_diff)

    monkeypatch.setattr(diff, "classify_table", spy)
    return seen


def test_drift_on_the_touched_table_is_still_planned(crm):
    _execute(crm, "alter table deal add column stray varchar(20)")
    with pytest.raises(MigrationRefused) as refused:
        add_field(crm.db, crm.files, "deal", NOTES, actor="admin")
    steps = [(s.kind, s.entity, s.field, s.destructive) for s in refused.value.plan.steps]
    assert ("drop_field", "deal", "stray", True) in steps
    assert ("add_field", "deal", "notes", False) in steps
    assert "notes" not in crm.columns("deal") and crm.stored() == {}
    result = add_field(crm.db, crm.files, "deal", NOTES, actor="admin", allow_destructive=True)
    assert result.applied
    assert "stray" not in crm.columns("deal") and "notes" in crm.columns("deal")


def test_a_change_on_one_entity_does_not_plan_another(crm, monkeypatch):
    _execute(crm, "alter table account add column stray varchar(20)")
    seen = _classified(monkeypatch)
    result = add_field(crm.db, crm.files, "deal", NOTES, actor="admin")
    assert seen == ["deal"]
    assert [(s.kind, s.entity, s.field) for s in result.plan.steps] == [
        ("add_field", "deal", "notes")]
    assert "stray" in crm.columns("account")
    # `loom plan` still compares every table and finds the drift.
    full = plan_migration(crm.db, crm.load())
    assert [(s.kind, s.entity, s.field) for s in full.steps] == [("drop_field", "account", "stray")]


def test_a_created_entity_plans_only_its_own_tables(crm, monkeypatch):
    _execute(crm, "alter table deal add column stray varchar(20)")
    seen = _classified(monkeypatch)
    ticket = {"entity": "ticket", "label": "Ticket",
              "fields": [{"name": "subject", "type": "string"},
                         {"name": "deals", "type": "many_to_many", "target": "deal"}]}
    result = create_entity(crm.db, crm.files, ticket, actor="admin")
    assert sorted((s.kind, s.entity, s.field) for s in result.plan.steps) == [
        ("add_entity", "ticket", None), ("add_link", "ticket", "deals")]
    assert seen == []  # both tables are new: nothing existing to classify
    assert "stray" in crm.columns("deal")


def test_a_dropped_link_table_of_the_touched_entity_is_planned(crm):
    add_field(crm.db, crm.files, "deal", {"name": "peers", "type": "many_to_many",
                                          "target": "account"}, actor="admin")
    _execute(crm, "create table deal__old_peers (source_id integer, target_id integer)")
    result = add_field(crm.db, crm.files, "deal", NOTES, actor="admin", dry_run=True)
    assert ("drop_link", "deal", "old_peers") in [(s.kind, s.entity, s.field)
                                                  for s in result.plan.steps]


def test_dry_run_plan_is_the_plan_applied(crm):
    crm.insert("deal", *({"title": f"d{i}"} for i in range(3)))
    field = {"name": "priority", "type": "integer", "default": 0}
    dry = add_field(crm.db, crm.files, "deal", field, actor="admin", dry_run=True)
    applied = add_field(crm.db, crm.files, "deal", field, actor="admin")
    assert not dry.applied and applied.applied
    assert dry.version == applied.version
    assert dry.as_dict()["plan"] == applied.as_dict()["plan"]
    assert dry.plan.signature() == applied.plan.signature()
    assert dry.plan.text() == applied.plan.text()


def test_changed_field_plans_like_the_full_compare(crm):
    add_field(crm.db, crm.files, "deal", {"name": "code", "type": "string"}, actor="admin")
    crm.insert("deal", {"title": "a", "code": "12"}, {"title": "b", "code": "abc"})
    retype = {"type": "integer", "convert": {"on_failure": "set_null"}}
    narrowed = change_field(crm.db, crm.files, "deal", "code", retype, actor="admin",
                            dry_run=True)
    full = plan_migration(crm.db, narrowed.model)
    assert narrowed.plan.signature() == full.signature()
    assert [s.as_dict() for s in narrowed.plan.steps] == [s.as_dict() for s in full.steps]


def test_missing_system_table_is_created_by_a_narrowed_plan(crm):
    _execute(crm, "drop table loom_metadata")
    result = add_field(crm.db, crm.files, "deal", NOTES, actor="admin")
    assert sorted((s.kind, s.entity) for s in result.plan.steps) == [
        ("add_field", "deal"), ("add_system_table", "loom_metadata")]
    assert crm.stored() == {"extends/deal": {"extends": "deal", "fields": [NOTES]}}


def test_only_steps_that_may_write_references_are_checked(crm):
    model = crm.load()
    with crm.db.read() as conn:
        runner = Runner(conn, model, build_tables(model))

        def tables(*steps: Step) -> set[str] | None:
            return referencing_tables(diff.Plan(model.version, None, "x", list(steps)), runner)

        assert tables(Step("add_field", "deal", "title", "")) == set()
        assert tables(Step("add_index", "deal", "title", "")) == set()
        assert tables(Step("add_field", "deal", "account", "")) == {"deal"}
        assert tables(Step("retype", "account", "name", "")) == {"account"}
        assert tables(Step("add_field", "deal", "title", ""),
                      Step("drop_entity", "account", None, "")) is None


def test_sqlite_refuses_a_relation_added_to_a_table_with_broken_references(sqlite_database,
                                                                            tmp_path):
    crm = make_crm(sqlite_database, tmp_path)
    crm.insert("account", {"name": "a"})
    with crm.db.engine.connect() as conn:
        raw = conn.connection.driver_connection  # the pragma must run outside a transaction
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("insert into deal (created_at, updated_at, version, title, account) "
                    "values ('2024-01-01', '2024-01-01', 1, 'broken', 999)")
        raw.commit()
        raw.execute("PRAGMA foreign_keys=ON")
    with pytest.raises(MigrationError, match="broken references"):
        add_field(crm.db, crm.files, "deal", {"name": "partner", "type": "relation",
                                              "target": "account"}, actor="admin")
    assert "partner" not in crm.columns("deal") and crm.stored() == {}
