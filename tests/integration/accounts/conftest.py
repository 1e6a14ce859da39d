"""Fixtures for accounts and access: a small CRM with roles, migrated on every backend.

Teams: "Sales" (managed by ``boss``) with "East" (``east1``, ``east2``) and "West"
(``west1``) below it; ``agent`` has the service role, ``root`` the admin role.
"""

from __future__ import annotations

import pytest
from accounts_support import PASSWORD, compile_world

from engine.accounts import actor_for, add_member, create_team, create_user
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables


@pytest.fixture(scope="session")
def world_model():
    return compile_world()


@pytest.fixture
def tables(database, world_model):
    apply_plan(database, world_model, actor="test")
    return build_tables(world_model)


@pytest.fixture
def people(database, tables):
    """username -> user id, with teams set up."""
    ids = {}
    for name, roles in (("root", ("admin",)), ("boss", ("sales_manager",)), ("east1", ("sales",)),
                        ("east2", ("sales",)), ("west1", ("sales",)), ("agent", ("service",)),
                        ("nobody", ())):
        ids[name] = create_user(database, tables, name, password=PASSWORD, roles=roles)
    create_team(database, tables, "Sales", manager="boss")
    create_team(database, tables, "East", parent="Sales")
    create_team(database, tables, "West", parent="Sales")
    for team, member in (("East", "east1"), ("East", "east2"), ("West", "west1")):
        add_member(database, tables, team, member)
    return ids


@pytest.fixture
def actors(database, tables, people):
    """username -> Actor built from the database."""
    return {name: actor_for(database, tables, uid) for name, uid in people.items()}




@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Hash with cheap argon2id parameters (the production parameters are tested separately)."""
    from argon2 import PasswordHasher

    from engine.accounts import passwords

    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: fast)
