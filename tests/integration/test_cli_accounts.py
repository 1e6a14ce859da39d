"""`loom user|role|team|token`: accounts from the command line, with Loom's exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher
from click.testing import CliRunner

from engine.accounts import authenticate, verify_token
from engine.cli import main
from engine.config import Config, load_model
from engine.storage.db import Database
from engine.storage.tables import build_tables

DEAL = {"entity": "deal", "label": "Deal", "fields": [{"name": "title", "type": "string"}]}
SALES = {"role": "sales", "label": {"en": "Salesperson", "zh-CN": "销售"},
         "entities": {"deal": {"actions": ["read"], "scope": "team"}}}
PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from engine.accounts import passwords

    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: fast)


@pytest.fixture
def meta(tmp_path) -> Path:
    folder = tmp_path / "meta"
    folder.mkdir()
    for name, doc in (("deal.yaml", DEAL), ("sales.yaml", SALES)):
        (folder / name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def run(tmp_path, meta):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, ["--database", db_url, "--metadata", str(meta), *args],
                             input=input, catch_exceptions=False)

    invoke.db_url = db_url
    return invoke


@pytest.fixture
def migrated(run):
    assert run("migrate").exit_code == 0
    return run


def _tables_and_db(run, meta):
    model = load_model(Config(run.db_url, (meta,)))
    return Database(run.db_url), build_tables(model)


def test_user_create_with_password_from_stdin_and_role(migrated, meta):
    result = migrated("user", "create", "ann", "--password-stdin", "--role", "sales",
                      "--name", "Ann", "--email", "ann@example.com", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    db, tables = _tables_and_db(migrated, meta)
    assert authenticate(db, tables, "ann", PASSWORD) is not None
    listed = migrated("user", "list")
    assert "ann" in listed.output and "sales" in listed.output
    db.dispose()


def test_user_create_with_unknown_role_is_a_usage_error(migrated):
    result = migrated("user", "create", "ann", "--role", "saels")
    assert result.exit_code == 2 and "unknown role 'saels'; known: sales" in result.output


def test_duplicate_user_and_weak_password_are_refused(migrated):
    assert migrated("user", "create", "ann").exit_code == 0
    assert migrated("user", "create", "ann").exit_code == 3
    weak = migrated("user", "passwd", "ann", "--password-stdin", input="short\n")
    assert weak.exit_code == 3 and "at least 8" in weak.output


def test_passwd_prompts_twice(migrated, meta):
    migrated("user", "create", "ann")
    result = migrated("user", "passwd", "ann", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    db, tables = _tables_and_db(migrated, meta)
    assert authenticate(db, tables, "ann", PASSWORD) is not None
    db.dispose()


def test_deactivate_blocks_login(migrated, meta):
    migrated("user", "create", "ann", "--password", PASSWORD)
    assert migrated("user", "deactivate", "ann").exit_code == 0
    db, tables = _tables_and_db(migrated, meta)
    assert authenticate(db, tables, "ann", PASSWORD) is None
    assert "(inactive)" in migrated("user", "list").output
    assert migrated("user", "deactivate", "ghost").exit_code == 3
    db.dispose()


def test_reactivate_lets_a_deactivated_user_log_in_again(migrated, meta):
    migrated("user", "create", "ann", "--password", PASSWORD)
    migrated("user", "deactivate", "ann")
    result = migrated("user", "reactivate", "ann")
    assert result.exit_code == 0, result.output
    assert "reactivated ann" in result.output
    db, tables = _tables_and_db(migrated, meta)
    assert authenticate(db, tables, "ann", PASSWORD) is not None
    assert "(inactive)" not in migrated("user", "list").output
    assert migrated("user", "reactivate", "ghost").exit_code == 3
    db.dispose()


def test_role_list_grant_and_revoke(migrated):
    assert "Salesperson" in migrated("role", "list").output
    migrated("user", "create", "ann")
    assert migrated("role", "grant", "ann", "sales").exit_code == 0
    assert "sales" in migrated("user", "list").output
    assert migrated("role", "grant", "ann", "nope").exit_code == 2
    assert migrated("role", "revoke", "ann", "sales").exit_code == 0
    assert "sales" not in migrated("user", "list").output.split("ann", 1)[1]


def test_team_create_add_and_list(migrated):
    migrated("user", "create", "boss")
    migrated("user", "create", "ann")
    assert migrated("team", "create", "Sales", "--manager", "boss").exit_code == 0
    assert migrated("team", "create", "East", "--parent", "Sales").exit_code == 0
    assert migrated("team", "add", "East", "ann").exit_code == 0
    listed = migrated("team", "list").output
    assert "East" in listed and "parent: Sales" in listed and "members: ann" in listed
    assert migrated("team", "create", "North", "--parent", "Nowhere").exit_code == 3


def test_token_create_prints_only_the_token(migrated, meta):
    migrated("user", "create", "ann")
    result = migrated("token", "create", "ann", "--name", "ci", "--expires-days", "30")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("loom_") and "\n" not in token
    db, tables = _tables_and_db(migrated, meta)
    assert verify_token(db, tables, token) is not None
    listed = migrated("token", "list", "ann").output
    assert "ci" in listed and "active" in listed and token.split("_")[2] not in listed
    token_id = token.split("_")[1]
    assert migrated("token", "revoke", token_id).exit_code == 0
    assert verify_token(db, tables, token) is None
    assert "revoked" in migrated("token", "list", "ann").output
    assert migrated("token", "revoke", "999").exit_code == 3
    db.dispose()


def test_account_commands_before_migrate_say_so(run):
    result = run("user", "list")
    assert result.exit_code == 3 and "loom migrate" in result.output


def test_metaschema_of_roles(run):
    result = run("metaschema", "role")
    assert result.exit_code == 0 and '"team_tree"' in result.output


def test_check_reports_role_errors(run, meta):
    (meta / "bad.yaml").write_text("role: bad\nlabel: Bad\nentities:\n  dael: {actions: [read]}\n",
                                   encoding="utf-8")
    result = run("check")
    assert result.exit_code == 1 and "unknown entity 'dael'" in result.output


def test_an_account_command_where_no_database_is_says_so_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["token", "create", "sales1"])
    assert result.exit_code == 3
    assert f"no Loom database at {tmp_path / 'instance' / 'loom.db'}" in result.output
    assert "loom demo" in result.output and "migrate` first" not in result.output
    assert list(tmp_path.iterdir()) == []  # no empty instance/ folder left behind
