"""The `loom` command line: exit codes, messages, and the check -> plan -> migrate flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from engine.cli import main

DEAL = {
    "entity": "deal",
    "label": {"en": "Deal", "zh-CN": "商机"},
    "fields": [
        {"name": "title", "type": "string", "required": True},
        {"name": "amount", "type": "money", "min": 0},
        {"name": "notes", "type": "text"},
    ],
}


def write(folder: Path, name: str, spec: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def migrate_deal_then_drop_notes(run, meta: Path, note: str) -> None:
    """Migrate DEAL, store one deal with ``note``, then migrate DEAL without its notes field."""
    write(meta, "deal.yaml", DEAL)
    assert run("migrate", metadata=meta).exit_code == 0
    engine = sa.create_engine(run.db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO deal (created_at, updated_at, version, title, notes) "
                             "VALUES ('2026-01-01', '2026-01-01', 1, 'A', ?)", (note,))
    engine.dispose()
    write(meta, "deal.yaml", {**DEAL, "fields": DEAL["fields"][:2]})
    refused = run("migrate", metadata=meta)
    assert refused.exit_code == 3
    assert "destructive" in refused.output.lower()
    assert run("migrate", "--allow-destructive", metadata=meta).exit_code == 0


@pytest.fixture
def run(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def invoke(*args: str, metadata: Path | None = None, input: str | None = None):
        base = ["--database", db_url]
        if metadata is not None:
            base += ["--metadata", str(metadata)]
        return runner.invoke(main, base + list(args), input=input, catch_exceptions=False)

    invoke.db_url = db_url
    return invoke


def test_check_accepts_the_shipped_crm(run):
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output and "entities" in result.output


def test_check_reports_every_error_with_file_line_and_path_and_exits_1(run, tmp_path):
    meta = tmp_path / "meta"
    write(meta, "deal.yaml", {**DEAL, "fields": DEAL["fields"] + [{"name": "x", "type": "moneyy"}]})
    write(meta, "lead.yaml", {"entity": "lead", "label": "Lead",
                              "fields": [{"name": "score", "type": "integer", "min": 10, "max": 1}]})
    result = run("check", metadata=meta)
    assert result.exit_code == 1
    assert "deal.yaml" in result.output and "$.fields[3].type" in result.output
    assert "unknown field type 'moneyy'" in result.output
    assert "lead.yaml" in result.output and "min is greater than max" in result.output
    assert "Traceback" not in result.output


def test_check_json_lists_errors(run, tmp_path):
    meta = tmp_path / "meta"
    write(meta, "deal.yaml", {**DEAL, "entity": "order"})
    result = run("check", "--json", metadata=meta)
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["errors"][0]["path"] == "$.entity"
    assert "reserved" in payload["errors"][0]["message"]


def test_plan_then_migrate_then_plan_is_empty(run, tmp_path):
    meta = tmp_path / "meta"
    write(meta, "deal.yaml", DEAL)
    planned = run("plan", metadata=meta)
    assert planned.exit_code == 0, planned.output
    assert "deal" in planned.output
    migrated = run("migrate", metadata=meta)
    assert migrated.exit_code == 0, migrated.output
    engine = sa.create_engine(run.db_url)
    assert "deal" in sa.inspect(engine).get_table_names()
    engine.dispose()
    again = run("plan", "--json", metadata=meta)
    assert again.exit_code == 0
    assert json.loads(again.stdout)["steps"] == []


def test_dropping_a_field_needs_allow_destructive_and_can_be_restored(run, tmp_path):
    meta = tmp_path / "meta"
    migrate_deal_then_drop_notes(run, meta, "keep me")
    listed = run("restore", "--list", metadata=meta)
    assert "notes" in listed.output
    write(meta, "deal.yaml", DEAL)
    assert run("migrate", metadata=meta).exit_code == 0
    restored = run("restore", "deal.notes", metadata=meta)
    assert restored.exit_code == 0, restored.output
    engine = sa.create_engine(run.db_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT notes FROM deal").scalar() == "keep me"
    engine.dispose()


def test_show_expanded_applies_presets(run):
    plain = run("show", "deal")
    assert plain.exit_code == 0
    expanded = run("show", "deal", "--expanded")
    assert expanded.exit_code == 0
    data = json.loads(expanded.stdout)
    assert data["name"] == "deal"
    unknown = run("show", "nosuch")
    assert unknown.exit_code == 2
    assert "unknown entity 'nosuch'" in unknown.output


def test_metaschema_prints_a_json_schema(run):
    result = run("metaschema", "entity")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["required"] == ["entity", "label", "fields"]


def test_a_record_write_with_a_stale_model_is_refused(run, tmp_path):
    from engine.config import Config, load_model
    from engine.records import Actor, RecordService
    from engine.storage.db import Database
    from engine.storage.versions import ModelOutdated

    meta = tmp_path / "meta"
    write(meta, "deal.yaml", DEAL)
    assert run("migrate", metadata=meta).exit_code == 0
    write(meta, "deal.yaml", {**DEAL, "fields": DEAL["fields"] + [{"name": "extra", "type": "integer"}]})
    newer = load_model(Config.from_env(database=run.db_url, metadata=[str(meta)]))
    db = Database(run.db_url)
    with pytest.raises(ModelOutdated, match="loom migrate"):
        RecordService(db, newer).create(Actor.system(), "deal", {"title": "x"})
    db.dispose()
    planned = run("plan", metadata=meta)
    assert "extra" in planned.output


def test_demo_checks_migrates_and_seeds(run):
    result = run("demo", "--scale", "0.01")
    assert result.exit_code == 0, result.output
    assert "seeded:" in result.output
    engine = sa.create_engine(run.db_url)
    with engine.connect() as conn:
        accounts = conn.exec_driver_sql("SELECT count(*) FROM account").scalar()
        versions = conn.exec_driver_sql("SELECT count(*) FROM loom_schema_versions").scalar()
    engine.dispose()
    assert accounts > 0
    assert versions == 1
    second = run("demo", "--scale", "0.01")
    assert second.exit_code == 0
    assert "already present" in second.output


def test_unknown_names_and_missing_archives_get_messages_not_tracebacks(run, tmp_path):
    meta = tmp_path / "meta"
    write(meta, "deal.yaml", DEAL)
    assert run("migrate", metadata=meta).exit_code == 0
    unknown = run("restore", "deal.nosuch", metadata=meta)
    assert unknown.exit_code == 2
    assert "unknown field 'nosuch'" in unknown.output
    nothing = run("restore", "deal.notes", metadata=meta)
    assert nothing.exit_code == 3
    assert "no archived values of deal.notes" in nothing.output
    assert "Traceback" not in unknown.output + nothing.output


def test_restore_purge_deletes_archived_values_for_good(run, tmp_path):
    meta = tmp_path / "meta"
    migrate_deal_then_drop_notes(run, meta, "gone soon")
    purged = run("restore", "--purge", "deal.notes", "--yes", metadata=meta)
    assert purged.exit_code == 0, purged.output
    assert "purged" in purged.output
    write(meta, "deal.yaml", DEAL)
    assert run("migrate", metadata=meta).exit_code == 0
    nothing = run("restore", "deal.notes", metadata=meta)
    assert nothing.exit_code == 3
    engine = sa.create_engine(run.db_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT notes FROM deal").scalar() is None
        tables = sa.inspect(conn).get_table_names()
    engine.dispose()
    assert not [t for t in tables if t.startswith("loom_archived_")]


def test_plan_does_not_create_a_missing_sqlite_file(tmp_path):
    target = tmp_path / "not" / "there.db"
    result = CliRunner().invoke(main, ["--database", f"sqlite:///{target}", "plan"])
    assert result.exit_code == 0, result.output
    assert "does not exist yet" in result.output
    assert "add_entity" in result.output or "deal" in result.output
    assert not target.parent.exists()


def test_seed_on_an_unmigrated_database_says_to_migrate(run):
    result = run("seed-demo", "--quiet", "--scale", "0.01")
    assert result.exit_code == 3
    assert "loom migrate" in result.output
    assert "Traceback" not in result.output


def test_seeding_twice_is_refused_with_a_message(run):
    assert run("demo", "--scale", "0.01").exit_code == 0
    again = run("seed-demo", "--quiet", "--scale", "0.01")
    assert again.exit_code == 3
    assert "refused by the record service" in again.output


def test_scale_must_be_positive(run):
    result = run("seed-demo", "--scale", "-1")
    assert result.exit_code == 2


def test_commands_write_through_the_service_with_the_role_policy(run, tmp_path):
    from engine.access import RolePolicy
    from engine.cli.common import Context

    meta = tmp_path / "meta"
    write(meta, "deal.yaml", DEAL)
    assert run("migrate", metadata=meta).exit_code == 0
    context = Context(run.db_url, (str(meta),))
    try:
        assert isinstance(context.service.policy, RolePolicy)
        assert context.service.model is context.model
    finally:
        context.runtime.close()
