"""`loom migrate` creates the account tables, also on a database migrated before they existed."""

from __future__ import annotations

import sqlalchemy as sa

from engine.storage.migrate import apply_plan, plan_migration
from engine.storage.tables import (
    CREDENTIALS,
    LOGIN_ATTEMPTS,
    TEAM_MEMBERS,
    TEAMS,
    TOKENS,
    USER_ROLES,
)

ACCOUNT_TABLES = (CREDENTIALS, USER_ROLES, TEAMS, TEAM_MEMBERS, TOKENS, LOGIN_ATTEMPTS)


def test_migrate_creates_the_account_tables(database, world_model):
    applied = apply_plan(database, world_model, actor="test")
    created = {s.entity for s in applied.steps if s.kind == "add_system_table"}
    assert set(ACCOUNT_TABLES) <= created
    with database.read() as conn:
        assert all(sa.inspect(conn).has_table(t) for t in ACCOUNT_TABLES)


def test_older_database_gets_the_missing_account_tables(database, world_model):
    apply_plan(database, world_model, actor="test")
    with database.write() as conn:  # as before the account tables existed
        for name in reversed(ACCOUNT_TABLES):
            conn.execute(sa.text(f"DROP TABLE {name}"))
    plan = plan_migration(database, world_model)
    assert sorted(s.entity for s in plan.steps) == sorted(ACCOUNT_TABLES)
    assert {s.kind for s in plan.steps} == {"add_system_table"}
    apply_plan(database, world_model, actor="test")
    assert plan_migration(database, world_model).steps == []


def test_roles_do_not_change_the_model_version(world_model):
    from accounts_support import ACCOUNT, DEAL

    from engine.compiler import compile_documents
    from engine.spec import MemorySource

    without = compile_documents(MemorySource(ACCOUNT, DEAL).documents([]), [])
    assert without.version == world_model.version and not without.roles
