"""loom plan / loom migrate: every step kind, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.storage import steps as step_functions
from engine.storage.migrate import MigrationRefused
from engine.storage.tables import SYSTEM_TABLES
from engine.storage.versions import ModelOutdated, ensure_current, latest


def entity(name, *fields, **extra):
    return {"entity": name, "label": name.title(), "fields": list(fields), **extra}


ACCOUNT = entity("account", {"name": "name", "type": "string", "required": True})
TITLE = {"name": "title", "type": "string", "required": True}


def deal(*fields, **extra):
    return entity("deal", TITLE, *fields, **extra)


def kinds(plan):
    return [(s.kind, s.entity, s.field) for s in plan.steps]


def test_first_migrate_creates_system_tables_and_entities_and_records_version(mig):
    model = mig.model(ACCOUNT, deal({"name": "tags", "type": "many_to_many", "target": "account"}))
    plan = mig.plan(model)
    assert not plan.problems and not plan.has_destructive
    assert {("add_entity", "account", None), ("add_entity", "deal", None),
            ("add_link", "deal", "tags")} <= set(kinds(plan))
    mig.apply(model, actor="alice")
    assert set(SYSTEM_TABLES) | {"account", "deal", "deal__tags"} <= mig.tables()
    with mig.db.read() as conn:
        row = latest(conn)
        ensure_current(conn, model)
    assert row["version"] == model.version and row["actor"] == "alice"
    assert "add entity deal" in row["plan"]


def test_same_model_again_plans_nothing_and_records_nothing(mig):
    model = mig.model(ACCOUNT)
    mig.apply(model)
    plan = mig.apply(model)
    assert plan.is_empty
    with mig.db.read() as conn:
        count = conn.execute(sa.text("select count(*) from loom_schema_versions")).scalar()
    assert count == 1


def test_label_edit_records_a_new_version_with_an_empty_plan(mig):
    mig.apply(mig.model(ACCOUNT))
    relabelled = mig.model({**ACCOUNT, "label": "Customer"})
    plan = mig.apply(relabelled)
    assert plan.is_empty
    with mig.db.read() as conn:
        assert latest(conn)["version"] == relabelled.version


def test_stale_model_guard_raises_after_another_model_is_applied(mig):
    first = mig.model(ACCOUNT)
    mig.apply(first)
    second = mig.model(ACCOUNT, deal())
    mig.apply(second)
    with mig.db.read() as conn:
        ensure_current(conn, second)
        with pytest.raises(ModelOutdated):
            ensure_current(conn, first)


def test_add_optional_field_is_safe(mig):
    mig.apply(mig.model(deal()))
    mig.insert(mig.model(deal()), "deal", {"title": "a"})
    model = mig.model(deal({"name": "notes", "type": "text"}))
    plan = mig.plan(model)
    assert kinds(plan) == [("add_field", "deal", "notes")]
    assert not plan.has_destructive
    mig.apply(model)
    assert mig.column("deal", "notes") == {1: None}


def test_required_field_without_default_is_refused_on_a_table_with_rows(mig):
    base = mig.model(deal())
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a"})
    model = mig.model(deal({"name": "prio", "type": "integer", "required": True}))
    plan = mig.plan(model)
    assert plan.problems and "need a value" in plan.problems[0]
    with pytest.raises(MigrationRefused, match="need a value"):
        mig.apply(model)
    assert "prio" not in mig.columns("deal")


def test_required_field_with_default_fills_existing_rows(mig):
    base = mig.model(deal())
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a"}, {"title": "b"})
    model = mig.model(deal({"name": "prio", "type": "integer", "required": True, "default": 3}))
    mig.apply(model)
    assert mig.column("deal", "prio") == {1: 3, 2: 3}
    with mig.db.read() as conn:
        nullable = {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns("deal")}
    assert nullable["prio"] is False


def test_required_field_on_an_empty_table_needs_no_default(mig):
    mig.apply(mig.model(deal()))
    model = mig.model(deal({"name": "prio", "type": "integer", "required": True}))
    assert not mig.plan(model).problems
    mig.apply(model)
    assert "prio" in mig.columns("deal")


def test_declared_field_rename_keeps_the_data(mig):
    base = mig.model(deal({"name": "amount", "type": "integer", "indexed": True}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "amount": 5}, {"title": "b", "amount": 7})
    model = mig.model(deal({"name": "total", "type": "integer", "indexed": True,
                            "renamed_from": "amount"}))
    plan = mig.plan(model)
    assert "rename deal.amount -> deal.total" in plan.text()
    assert not plan.has_destructive
    mig.apply(model)
    assert mig.column("deal", "total") == {1: 5, 2: 7}
    assert "amount" not in mig.columns("deal")
    assert mig.plan(model).is_empty


def test_undeclared_rename_is_a_drop_and_an_add(mig):
    base = mig.model(deal({"name": "amount", "type": "integer"}))
    mig.apply(base)
    plan = mig.plan(mig.model(deal({"name": "total", "type": "integer"})))
    assert {("drop_field", "deal", "amount"), ("add_field", "deal", "total")} == set(kinds(plan))
    assert plan.has_destructive


def test_declared_entity_rename_keeps_rows_relations_and_links(mig):
    tags = {"name": "tags", "type": "many_to_many", "target": "account"}
    rel = {"name": "account", "type": "relation", "target": "account"}
    base = mig.model(ACCOUNT, deal(rel, tags))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"})
    mig.insert(base, "deal", {"title": "a", "account": 1})
    with mig.db.write() as conn:
        conn.execute(sa.text("insert into deal__tags (source_id, target_id) values (1, 1)"))
    model = mig.model(ACCOUNT, entity("opportunity", TITLE, rel, tags, renamed_from="deal"))
    plan = mig.plan(model)
    assert "rename entity deal -> opportunity" in plan.text()
    assert not plan.has_destructive and not plan.problems
    mig.apply(model)
    assert mig.column("opportunity", "account") == {1: 1}
    assert "deal" not in mig.tables() and "opportunity__tags" in mig.tables()
    with mig.db.read() as conn:
        assert conn.execute(sa.text("select count(*) from opportunity__tags")).scalar() == 1
    assert mig.plan(model).is_empty


def test_widening_needs_no_preview_and_keeps_values(mig):
    base = mig.model(deal({"name": "amount", "type": "integer"},
                          {"name": "day", "type": "date"},
                          {"name": "code", "type": "string", "max_length": 10}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "amount": 5, "day": dt.date(2024, 3, 9),
                              "code": "abc"})
    # decimal(23, 4) keeps 19 digits before the point: every BIGINT fits.
    model = mig.model(deal({"name": "amount", "type": "decimal", "precision": 23},
                           {"name": "day", "type": "datetime"},
                           {"name": "code", "type": "string", "max_length": 40}))
    plan = mig.plan(model)
    assert sorted(s.kind for s in plan.steps) == ["widen", "widen", "widen"]
    assert not plan.has_destructive
    mig.apply(model)
    assert Decimal(str(mig.column("deal", "amount")[1])) == 5
    assert str(mig.column("deal", "day")[1]).startswith("2024-03-09")
    assert mig.column("deal", "code") == {1: "abc"}
    assert mig.plan(model).is_empty


def test_retype_preview_counts_failures_and_refuses(mig):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "12"}, {"title": "b", "code": "x1"},
               {"title": "c", "code": "oops"}, {"title": "d"})
    model = mig.model(deal({"name": "code", "type": "integer"}))
    plan = mig.plan(model)
    (step,) = plan.steps
    assert step.kind == "retype"
    assert step.preview["values"] == 3 and step.preview["failures"] == 2
    assert "'x1'" in step.description and plan.problems
    with pytest.raises(MigrationRefused, match="2 of 3 existing values would fail"):
        mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "code") == {1: "12", 2: "x1", 3: "oops", 4: None}


def test_on_failure_set_null_lets_the_retype_through(mig):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "12"}, {"title": "b", "code": "x1"})
    model = mig.model(deal({"name": "code", "type": "integer",
                            "convert": {"on_failure": "set_null"}}))
    plan = mig.plan(model)
    assert plan.has_destructive and not plan.problems
    with pytest.raises(MigrationRefused, match="destructive"):
        mig.apply(model)
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "code") == {1: 12, 2: None}
    assert mig.plan(model).is_empty


def test_on_failure_default_writes_the_default(mig):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "12"}, {"title": "b", "code": "x1"})
    model = mig.model(deal({"name": "code", "type": "integer", "default": 0,
                            "convert": {"on_failure": "default"}}))
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "code") == {1: 12, 2: 0}


def test_shrinking_a_string_is_a_retype_that_fails_long_values(mig):
    base = mig.model(deal({"name": "code", "type": "string", "max_length": 20}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "short"}, {"title": "b", "code": "x" * 15})
    plan = mig.plan(mig.model(deal({"name": "code", "type": "string", "max_length": 10})))
    (step,) = plan.steps
    assert step.kind == "retype" and step.preview["failures"] == 1


def test_type_change_the_database_cannot_see_is_previewed(mig):
    base = mig.model(deal({"name": "contact", "type": "string", "max_length": 254}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "contact": " a@b.co "}, {"title": "b", "contact": "nope"})
    model = mig.model(deal({"name": "contact", "type": "email",
                            "convert": {"on_failure": "set_null"}}))
    plan = mig.plan(model)
    (step,) = plan.steps
    assert step.kind == "retype" and step.preview["failures"] == 1
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "contact") == {1: "a@b.co", 2: None}


def test_drop_is_refused_then_archived_restored_and_purged(mig):
    notes = {"name": "notes", "type": "text"}
    base = mig.model(deal(notes))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "notes": "keep me"}, {"title": "b"})
    dropped = mig.model(deal())
    plan = mig.plan(dropped)
    (step,) = plan.steps
    assert step.kind == "drop_field" and step.destructive
    assert "archived: 1 values" in step.description
    with pytest.raises(MigrationRefused, match="destructive"):
        mig.apply(dropped)
    assert "notes" in mig.columns("deal")
    mig.apply(dropped, allow_destructive=True)
    assert "notes" not in mig.columns("deal")
    (archived,) = mig.list_archives()
    assert (archived["entity"], archived["field"], archived["row_count"],
            archived["status"]) == ("deal", "notes", 1, "archived")

    back = mig.model(deal(notes))
    plan = mig.plan(back)
    assert "run `loom restore deal.notes` to bring back 1 archived values" in plan.text()
    mig.apply(back)
    assert mig.restore(back, "deal", "notes") == 1
    assert mig.column("deal", "notes") == {1: "keep me", 2: None}
    assert mig.column("deal", "version")[1] == 2
    assert mig.list_archives()[0]["status"] == "restored"
    assert "loom restore" not in mig.plan(back).text()

    assert mig.purge("deal", "notes") == 1
    assert archived["archive_table"] not in mig.tables()
    assert mig.list_archives()[0]["status"] == "purged"


@pytest.fixture
def tagged(mig):
    """Account 1 and deal 1 linked through the many-to-many ``deal.tags``; the model."""
    base = mig.model(ACCOUNT, deal({"name": "tags", "type": "many_to_many",
                                    "target": "account"}))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"})
    mig.insert(base, "deal", {"title": "a"})
    with mig.db.write() as conn:
        conn.execute(sa.text("insert into deal__tags (source_id, target_id) values (1, 1)"))
    return base


def test_drop_entity_and_link_are_archived(mig, tagged):
    model = mig.model(ACCOUNT)
    plan = mig.plan(model)
    assert set(kinds(plan)) == {("drop_link", "deal", "tags"), ("drop_entity", "deal", None)}
    mig.apply(model, allow_destructive=True)
    assert {"deal", "deal__tags"}.isdisjoint(mig.tables())
    archived = {(a["entity"], a["field"]): a for a in mig.list_archives()}
    assert archived[("deal", None)]["row_count"] == 1
    assert archived[("deal", "tags")]["row_count"] == 1
    assert mig.column("account", "name") == {1: "acme"}


def test_many_to_many_links_come_back_on_restore(mig, tagged):
    mig.apply(mig.model(ACCOUNT, deal()), allow_destructive=True)
    mig.apply(tagged)
    assert mig.restore(tagged, "deal", "tags") == 1
    with mig.db.read() as conn:
        assert conn.execute(sa.text("select source_id, target_id from deal__tags")).all() == \
            [(1, 1)]


def test_indexes_and_uniques_are_planned_and_duplicates_refused(mig):
    code = {"name": "code", "type": "string"}
    base = mig.model(deal(code))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "x"}, {"title": "b", "code": "x"})
    indexed = mig.model(deal({**code, "indexed": True}))
    assert kinds(mig.plan(indexed)) == [("add_index", "deal", "code")]
    mig.apply(indexed)
    unique = mig.model(deal({**code, "unique": True}))
    plan = mig.plan(unique)
    assert plan.problems and "shared by more than one record" in plan.problems[0]
    with mig.db.write() as conn:
        conn.execute(sa.text("update deal set code = 'y' where id = 2"))
    mig.apply(unique)
    assert mig.plan(unique).is_empty
    composite = mig.model(deal(code, indexes=[{"fields": ["title", "code"], "unique": True}]))
    mig.apply(composite)
    assert mig.plan(composite).is_empty


def test_making_a_field_required_fills_empty_records_with_the_default(mig):
    base = mig.model(deal({"name": "prio", "type": "integer"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "prio": 1}, {"title": "b"})
    refused = mig.model(deal({"name": "prio", "type": "integer", "required": True}))
    assert "1 records have no value" in mig.plan(refused).problems[0]
    model = mig.model(deal({"name": "prio", "type": "integer", "required": True, "default": 5}))
    mig.apply(model)
    assert mig.column("deal", "prio") == {1: 1, 2: 5}
    optional = mig.model(deal({"name": "prio", "type": "integer"}))
    assert kinds(mig.plan(optional)) == [("alter_field", "deal", "prio")]
    mig.apply(optional)


def test_relation_on_delete_change_keeps_values(mig):
    rel = {"name": "account", "type": "relation", "target": "account"}
    base = mig.model(ACCOUNT, deal(rel))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"})
    mig.insert(base, "deal", {"title": "a", "account": 1})
    model = mig.model(ACCOUNT, deal({**rel, "on_delete": "cascade"}))
    assert kinds(mig.plan(model)) == [("alter_relation", "deal", "account")]
    mig.apply(model)
    assert mig.column("deal", "account") == {1: 1}
    assert mig.plan(model).is_empty
    with mig.db.write() as conn:
        conn.execute(sa.text("delete from account where id = 1"))
    assert mig.column("deal", "account") == {}


def test_sqlite_recreate_does_not_fire_on_delete_actions(sqlite_mig):
    mig = sqlite_mig
    rel = {"name": "account", "type": "relation", "target": "account", "on_delete": "cascade"}
    base = mig.model(ACCOUNT, deal(rel))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"})
    mig.insert(base, "deal", {"title": "a", "account": 1})
    # Making account.name optional recreates the account table on SQLite.
    mig.apply(mig.model(entity("account", {"name": "name", "type": "string"}), deal(rel)))
    assert mig.column("deal", "account") == {1: 1}
    with mig.db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_failing_migration_leaves_schema_and_data_unchanged(mig, monkeypatch):
    base = mig.model(deal({"name": "notes", "type": "text"}, {"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "notes": "n", "code": "1"})
    schema, data = mig.schema(), mig.dump()
    # A rename, a drop, an add, then a retype that fails after changing the column.
    model = mig.model(entity("deal", {**TITLE, "name": "headline", "renamed_from": "title"},
                             {"name": "code", "type": "integer"},
                             {"name": "extra", "type": "text"}))
    calls = []
    real = step_functions.change_type

    def failing(*args, **kwargs):
        calls.append(1)
        real(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(step_functions, "change_type", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        mig.apply(model, allow_destructive=True)
    assert calls
    assert mig.schema() == schema
    assert mig.dump() == data


def test_a_plan_made_before_the_data_changed_is_refused(mig):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "12"})
    model = mig.model(deal({"name": "code", "type": "integer",
                            "convert": {"on_failure": "set_null"}}))
    plan = mig.plan(model)
    assert not plan.has_destructive
    mig.insert(base, "deal", {"title": "b", "code": "x"})
    with pytest.raises(MigrationRefused, match="changed since"):
        mig.apply(model, plan, allow_destructive=True)
    assert mig.column("deal", "code") == {1: "12", 2: "x"}


def test_plan_as_dict_lists_steps(mig):
    plan = mig.plan(mig.model(ACCOUNT))
    data = plan.as_dict()
    assert data["model_version"] == plan.model_version
    assert {"kind": "add_entity", "entity": "account"}.items() <= data["steps"][-1].items()


def test_relation_and_many_to_many_fields_are_added_to_an_existing_entity(mig):
    base = mig.model(ACCOUNT, deal())
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"})
    mig.insert(base, "deal", {"title": "a"})
    model = mig.model(ACCOUNT, deal({"name": "account", "type": "relation", "target": "account"},
                                    {"name": "tags", "type": "many_to_many",
                                     "target": "account"},
                                    {"name": "code", "type": "string", "unique": True}))
    plan = mig.plan(model)
    assert set(kinds(plan)) == {("add_field", "deal", "account"), ("add_link", "deal", "tags"),
                                ("add_field", "deal", "code")}
    mig.apply(model)
    assert mig.plan(model).is_empty
    with mig.db.write() as conn:
        conn.execute(sa.text("update deal set account = 1"))
        conn.execute(sa.text("delete from account"))  # on_delete set_null
    assert mig.column("deal", "account") == {1: None}


def test_integer_turned_relation_refuses_values_pointing_nowhere(mig):
    base = mig.model(ACCOUNT, deal({"name": "account", "type": "integer"}))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"})
    mig.insert(base, "deal", {"title": "a", "account": 1}, {"title": "b", "account": 99})
    relation = {"name": "account", "type": "relation", "target": "account"}
    plan = mig.plan(mig.model(ACCOUNT, deal(relation)))
    assert any("1 values point at no account record" in p for p in plan.problems)
    model = mig.model(ACCOUNT, deal({**relation, "convert": {"on_failure": "set_null"}}))
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "account") == {1: 1, 2: None}
    assert mig.plan(model).is_empty


def test_relation_cycles_are_created_and_kept(mig):
    model = mig.model(
        entity("account", {"name": "name", "type": "string"},
               {"name": "main_deal", "type": "relation", "target": "deal"}),
        deal({"name": "account", "type": "relation", "target": "account"}))
    mig.apply(model)
    mig.insert(model, "account", {"name": "acme"})
    mig.insert(model, "deal", {"title": "a", "account": 1})
    with mig.db.write() as conn:
        conn.execute(sa.text("update account set main_deal = 1"))
    assert mig.plan(model).is_empty
    with mig.db.read() as conn:
        fks = {fk["referred_table"] for fk in sa.inspect(conn).get_foreign_keys("account")}
    assert "deal" in fks
