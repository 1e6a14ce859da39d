"""The shipped roles and demo users: who sees what in the demo CRM."""

from __future__ import annotations

import pytest

from engine.access import RolePolicy, is_admin
from engine.accounts import actor_for, authenticate, list_teams
from engine.config import SHIPPED_METADATA, Config, load_model
from engine.demo.users import DEMO_PASSWORD, create_demo_users
from engine.permissions import HIDDEN, READ
from engine.records import RecordService
from engine.records.errors import RecordNotFound
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables


@pytest.fixture(scope="module")
def crm():
    return load_model(Config("sqlite://", SHIPPED_METADATA))


@pytest.fixture
def demo(database, crm):
    apply_plan(database, crm, actor="test")
    tables = build_tables(crm)
    sales_ids = create_demo_users(database, tables)
    return tables, sales_ids


def test_shipped_roles_compile(crm):
    assert set(crm.roles) == {"admin", "sales", "sales_manager", "service"}
    assert crm.roles["admin"].admin and crm.roles["sales"].label.get("zh-CN") == "销售"


def test_demo_users_log_in_with_the_demo_password_and_are_idempotent(database, demo):
    tables, sales_ids = demo
    assert create_demo_users(database, tables) == sales_ids
    for name in ("admin", "manager", "service1", "sales1", "sales8"):
        assert authenticate(database, tables, name, DEMO_PASSWORD) is not None
    teams = {t["name"]: t for t in list_teams(database, tables)}
    assert teams["East"]["members"] == ["sales1", "sales2", "sales3", "sales4"]
    assert teams["West"]["parent"] == "Sales" and teams["Sales"]["manager"] == "manager"


def test_demo_actors_get_their_roles_and_teams(database, crm, demo):
    tables, sales_ids = demo
    sales1 = actor_for(database, tables, sales_ids[0])
    manager_id = authenticate(database, tables, "manager", DEMO_PASSWORD)
    manager = actor_for(database, tables, manager_id)
    admin = actor_for(database, tables, authenticate(database, tables, "admin", DEMO_PASSWORD))
    assert sales1.roles == ("sales",) and len(sales1.team_ids) == 1
    assert manager.roles == ("sales_manager",) and len(manager.tree_team_ids) == 3
    assert is_admin(crm, admin) and not is_admin(crm, manager)


def test_salesperson_sees_no_campaign_money_and_cannot_set_probability(database, crm, demo):
    tables, sales_ids = demo
    policy = RolePolicy(crm, tables)
    sales1 = actor_for(database, tables, sales_ids[0])
    assert policy.field_access(sales1, "campaign", "budget") == HIDDEN
    assert policy.field_access(sales1, "campaign", "name") == READ
    assert not policy.can(sales1, "campaign", "update")
    assert policy.field_access(sales1, "deal", "probability") == READ
    assert not policy.can(sales1, "account", "delete") and policy.can(sales1, "deal", "delete")


def test_east_salesperson_cannot_read_west_accounts(database, crm, demo):
    tables, sales_ids = demo
    svc = RecordService(database, crm, tables, RolePolicy(crm, tables))
    east, west = (actor_for(database, tables, sales_ids[i]) for i in (0, 4))
    west_account = svc.create(west, "account", {"name": "West Co"})
    east_account = svc.create(east, "account", {"name": "East Co"})
    with pytest.raises(RecordNotFound):
        svc.get(east, "account", west_account["id"])
    assert {r["name"] for r in svc.list(east, "account").rows} == {"East Co"}
    manager = actor_for(database, tables, authenticate(database, tables, "manager", DEMO_PASSWORD))
    assert {r["name"] for r in svc.list(manager, "account").rows} == {"East Co", "West Co"}
    assert east_account["owner"] == east.user_id
