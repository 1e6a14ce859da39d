"""Metadata use cases: plan, apply and store in one transaction; every process compiles the same model."""

from __future__ import annotations

import pytest
from meta_crm import ACCOUNT, make_crm

from engine.config import load_model
from engine.meta import (
    MetadataConflict,
    UnknownMetadata,
    add_field,
    change_field,
    create_entity,
)
from engine.meta import changes as changes_module
from engine.spec.errors import MetadataInvalid
from engine.storage.migrate import MigrationRefused, plan_migration

TICKET = {"entity": "ticket", "label": {"en": "Ticket", "zh-CN": "工单"},
          "fields": [{"name": "subject", "type": "string", "required": True},
                     {"name": "account", "type": "relation", "target": "account"}]}


def test_created_entity_gets_its_table_its_stored_document_and_the_applied_version(crm):
    result = create_entity(crm.db, crm.files, TICKET, actor="admin")
    assert result.applied
    assert [s.kind for s in result.plan.steps] == ["add_entity"]
    assert {"subject", "account"} <= set(crm.columns("ticket"))
    assert crm.stored()["entity/ticket"] == TICKET
    reloaded = crm.load()
    assert reloaded.version == result.version
    assert reloaded.entity("ticket").source.file == "db:entity/ticket"
    assert crm.scalar("select version from loom_schema_versions order by id desc limit 1") \
        == result.version


def test_field_added_to_a_file_entity_goes_to_its_extends_document(crm):
    result = add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="admin")
    assert [(s.kind, s.field) for s in result.plan.steps] == [("add_field", "notes")]
    assert "notes" in crm.columns("deal")
    assert crm.stored() == {"extends/deal": {"extends": "deal",
                                             "fields": [{"name": "notes", "type": "text"}]}}
    reloaded = crm.load()
    assert reloaded.version == result.version
    assert reloaded.entity("deal").field("notes").source.file == "db:extends/deal"


def test_second_added_field_joins_the_same_extends_document(crm):
    add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="admin")
    result = add_field(crm.db, crm.files, "deal", {"name": "score", "type": "integer"},
                       actor="admin")
    assert [f["name"] for f in crm.stored()["extends/deal"]["fields"]] == ["notes", "score"]
    assert crm.load().version == result.version


def test_field_added_to_an_api_entity_goes_into_its_own_document(crm):
    create_entity(crm.db, crm.files, TICKET, actor="admin")
    add_field(crm.db, crm.files, "ticket", {"name": "body", "type": "text"}, actor="admin")
    stored = crm.stored()
    assert set(stored) == {"entity/ticket"}
    assert [f["name"] for f in stored["entity/ticket"]["fields"]] == ["subject", "account", "body"]


def test_loom_plan_after_api_changes_proposes_nothing(sqlite_database, tmp_path):
    # SQLite: the CLI opens the database from its URL (a test PostgreSQL schema needs options).
    crm = make_crm(sqlite_database, tmp_path)
    create_entity(crm.db, crm.files, TICKET, actor="admin")
    add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="admin")
    # The CLI's way: load_model(config) opens the database itself.
    model = load_model(crm.config)
    plan = plan_migration(crm.db, model)
    assert plan.is_empty and not plan.changes_version


def test_changing_a_field_declared_in_a_file_is_refused_naming_the_file(crm):
    with pytest.raises(MetadataConflict, match=r"deal\.amount is declared in .*deal\.yaml"):
        change_field(crm.db, crm.files, "deal", "amount", {"precision": 14}, actor="admin")


def test_changing_an_api_field_edits_its_stored_document(crm):
    add_field(crm.db, crm.files, "deal", {"name": "code", "type": "string", "max_length": 20},
              actor="admin")
    result = change_field(crm.db, crm.files, "deal", "code",
                          {"max_length": 40, "label": "Code"}, actor="admin")
    assert [s.kind for s in result.plan.steps] == ["widen"]
    assert crm.stored()["extends/deal"]["fields"] == [
        {"name": "code", "type": "string", "max_length": 40, "label": "Code"}]
    assert crm.load().version == result.version


def test_null_in_changes_removes_the_key(crm):
    add_field(crm.db, crm.files, "deal", {"name": "code", "type": "string", "label": "Code"},
              actor="admin")
    change_field(crm.db, crm.files, "deal", "code", {"label": None}, actor="admin")
    assert crm.stored()["extends/deal"]["fields"] == [{"name": "code", "type": "string"}]


def test_dry_run_returns_the_plan_and_changes_nothing(crm):
    before = crm.scalar("select count(*) from loom_schema_versions")
    result = add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"},
                       actor="admin", dry_run=True)
    assert not result.applied
    assert [s.kind for s in result.plan.steps] == ["add_field"]
    assert result.version != crm.load().version
    assert "notes" not in crm.columns("deal")
    assert crm.stored() == {}
    assert crm.scalar("select count(*) from loom_schema_versions") == before


def test_destructive_change_is_refused_without_allow_destructive(crm):
    add_field(crm.db, crm.files, "deal", {"name": "code", "type": "string"}, actor="admin")
    crm.insert("deal", {"title": "a", "code": "12"}, {"title": "b", "code": "abc"})
    retype = {"type": "integer", "convert": {"on_failure": "set_null"}}
    with pytest.raises(MigrationRefused) as refused:
        change_field(crm.db, crm.files, "deal", "code", retype, actor="admin")
    assert refused.value.plan.has_destructive
    assert crm.stored()["extends/deal"]["fields"] == [{"name": "code", "type": "string"}]
    result = change_field(crm.db, crm.files, "deal", "code", retype, actor="admin",
                          allow_destructive=True)
    assert result.plan.has_destructive
    assert crm.load().version == result.version


def test_plan_with_problems_is_refused_and_stores_nothing(crm):
    crm.insert("deal", {"title": "a"})
    with pytest.raises(MigrationRefused, match="existing records"):
        add_field(crm.db, crm.files, "deal", {"name": "code", "type": "string", "required": True},
                  actor="admin")
    assert crm.stored() == {}
    assert "code" not in crm.columns("deal")


def test_failed_apply_leaves_no_stored_document_and_no_column(crm, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(changes_module.versions, "record_version", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="admin")
    monkeypatch.undo()
    assert "notes" not in crm.columns("deal")
    assert crm.stored() == {}
    assert crm.load().version == crm.scalar(
        "select version from loom_schema_versions order by id desc limit 1")


def test_integer_field_with_default_zero_fills_a_table_with_rows(crm):
    crm.insert("deal", *({"title": f"d{i}"} for i in range(5)))
    result = add_field(crm.db, crm.files, "deal",
                       {"name": "priority", "type": "integer", "default": 0}, actor="admin")
    assert result.applied
    assert crm.scalar("select count(*) from deal where priority = 0") == 5
    crm.insert("deal", {"title": "explicitly empty", "priority": None})
    assert crm.scalar("select count(*) from deal where priority is null") == 1


def test_optional_text_field_with_a_quoted_default_fills_existing_rows(crm):
    crm.insert("deal", {"title": "old"})
    add_field(crm.db, crm.files, "deal",
              {"name": "source_note", "type": "string", "default": "it's imported"}, actor="admin")
    assert crm.scalar("select source_note from deal where title = 'old'") == "it's imported"


def test_metadata_errors_come_back_with_paths_relative_to_the_request(crm):
    with pytest.raises(MetadataInvalid) as invalid:
        add_field(crm.db, crm.files, "deal", {"name": "score", "type": "integr"}, actor="admin")
    [error] = invalid.value.errors
    assert error.file == "<request>" and error.path == ("type",)
    assert "integer" in error.message
    assert crm.stored() == {}


def test_invalid_entity_document_reports_every_error(crm):
    bad = {"entity": "ticket", "label": "Ticket",
           "fields": [{"name": "a", "type": "nope"}, {"name": "b", "type": "strin"}]}
    with pytest.raises(MetadataInvalid) as invalid:
        create_entity(crm.db, crm.files, bad, actor="admin")
    paths = {e.path for e in invalid.value.errors}
    assert paths == {("fields", 0, "type"), ("fields", 1, "type")}


def test_existing_names_conflict_and_unknown_names_are_not_found(crm):
    with pytest.raises(MetadataConflict, match="already exists"):
        create_entity(crm.db, crm.files, {**TICKET, "entity": "deal"}, actor="admin")
    with pytest.raises(MetadataConflict, match="already exists"):
        add_field(crm.db, crm.files, "deal", {"name": "title", "type": "text"}, actor="admin")
    with pytest.raises(UnknownMetadata):
        add_field(crm.db, crm.files, "nowhere", {"name": "x", "type": "text"}, actor="admin")
    with pytest.raises(UnknownMetadata):
        change_field(crm.db, crm.files, "deal", "nothing", {}, actor="admin")


def test_unmigrated_file_edits_block_api_changes(crm):
    crm.write("account", {**ACCOUNT, "fields": ACCOUNT["fields"] + [{"name": "x", "type": "text"}]})
    with pytest.raises(MetadataConflict, match="loom migrate"):
        add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="admin")


def test_reload_after_a_change_reuses_the_model_the_change_compiled(crm):
    result = add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="admin")
    assert crm.load() is result.model
