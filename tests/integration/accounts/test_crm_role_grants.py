"""The CRM's role grants: public pools, names read through, conditional rights, follows.

Runs the shipped CRM with the demo users on every backend; records are made by the
system actor, then read and written as the demo people.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.access import RolePolicy
from engine.accounts import actor_for, authenticate
from engine.config import SHIPPED_METADATA, Config, load_model
from engine.demo.users import DEMO_PASSWORD, create_demo_users
from engine.permissions import Actor
from engine.records import RecordService
from engine.records.errors import PermissionDenied, RecordNotFound
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables

SYSTEM = Actor.system()
CLOSED = dt.datetime(2026, 3, 1, 10, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def crm():
    return load_model(Config("sqlite://", SHIPPED_METADATA))


@pytest.fixture
def world(database, crm):
    """(service, actors by username, pools by name) of a migrated CRM with the demo users."""
    apply_plan(database, crm, actor="test")
    tables = build_tables(crm)
    create_demo_users(database, tables)
    svc = RecordService(database, crm, tables, RolePolicy(crm, tables))
    people = {name: actor_for(database, tables, authenticate(database, tables, name, DEMO_PASSWORD))
              for name in ("sales1", "sales5", "manager", "service1")}
    pools = {name: svc.create(SYSTEM, "customer_pool", {"name": name, "open_to": roles})["id"]
             for name, roles in (("east", ["sales", "sales_manager"]), ("north", ["sales_manager"]),
                                 ("national", []))}
    return svc, people, pools


def _account(svc, name, owner, pool=None):
    return svc.create(SYSTEM, "account", {"name": name, "owner": owner, "pool": pool})


def _names(svc, actor, entity="account"):
    return {r["name"] for r in svc.list(actor, entity, limit=100).rows}


# -- the public pool -------------------------------------------------------------


def test_salesperson_sees_the_customers_of_the_pools_open_to_their_role(world):
    svc, who, pools = world
    for pool in pools:
        _account(svc, f"in {pool}", None, pools[pool])
    _account(svc, "nowhere", None)  # no owner and no pool: nobody but admins
    _account(svc, "owned by sales5", who["sales5"].user_id, pools["east"])
    assert _names(svc, who["sales1"]) == {"in east", "in national"}
    assert _names(svc, who["manager"]) == {"in east", "in north", "in national", "owned by sales5"}
    assert svc.list(who["sales1"], "account", with_total=True).total == 2
    assert "nowhere" in _names(svc, SYSTEM)


def test_a_pool_customer_opens_for_a_salesperson_but_stays_read_only(world):
    svc, who, pools = world
    pooled = _account(svc, "in east", None, pools["east"])
    north = _account(svc, "in north", None, pools["north"])
    sales1 = who["sales1"]
    assert svc.get(sales1, "account", pooled["id"])["name"] == "in east"
    with pytest.raises(RecordNotFound):
        svc.get(sales1, "account", north["id"])
    with pytest.raises(PermissionDenied, match="public pool"):
        svc.update(sales1, "account", pooled["id"], {"name": "mine now"}, version=1)
    with pytest.raises(PermissionDenied, match="outside your own scope"):
        svc.create(sales1, "account", {"name": "dropped in", "owner": None, "pool": pools["east"]})
    assert svc.get(SYSTEM, "account", pooled["id"])["name"] == "in east"
    assert _names(svc, SYSTEM) == {"in east", "in north"}


def test_releasing_an_own_customer_into_a_pool_is_refused(world):
    svc, who, pools = world
    sales1 = who["sales1"]
    mine = svc.create(sales1, "account", {"name": "mine", "pool": pools["east"]})
    with pytest.raises(PermissionDenied, match="outside your own scope"):
        svc.update(sales1, "account", mine["id"], {"owner": None}, version=mine["version"])
    assert svc.get(SYSTEM, "account", mine["id"])["owner"] == sales1.user_id


# -- names read through a record one may read --------------------------------------


def test_own_deal_gives_the_name_of_another_teams_customer_and_nothing_more(world):
    svc, who, _ = world
    sales1, sales5 = who["sales1"], who["sales5"]
    theirs = _account(svc, "West Co", sales5.user_id)
    # The customer changed hands after the deal was made (or a manager linked it).
    deal = svc.create(SYSTEM, "deal", {"title": "Ours", "account": theirs["id"],
                                       "owner": sales1.user_id})
    got = svc.get(sales1, "deal", deal["id"], expand=("account",))
    assert got["_expand"]["account"] == {"id": theirs["id"], "_display": "West Co",
                                         "_name_only": True}
    listed = svc.list(sales1, "deal", expand=("account",)).rows
    assert listed[0]["_expand"]["account"]["_display"] == "West Co"
    with pytest.raises(RecordNotFound):
        svc.get(sales1, "account", theirs["id"])


def test_a_readable_customer_expands_in_full_and_others_deals_give_no_names(world):
    svc, who, _ = world
    sales1, sales5 = who["sales1"], who["sales5"]
    ours = svc.create(sales1, "account", {"name": "East Co"})
    deal = svc.create(sales1, "deal", {"title": "Ours", "account": ours["id"]})
    expanded = svc.get(sales1, "deal", deal["id"], expand=("account",))["_expand"]["account"]
    assert expanded["name"] == "East Co" and "_name_only" not in expanded
    theirs = _account(svc, "West Co", sales5.user_id)
    svc.create(sales5, "deal", {"title": "Theirs", "account": theirs["id"]})
    assert [r["title"] for r in svc.list(sales1, "deal", expand=("account",)).rows] == ["Ours"]


# -- conditional rights ------------------------------------------------------------


def _won_deal_with_contract(svc, owner):
    account = _account(svc, "Buyer", owner.user_id)
    deal = svc.create(owner, "deal", {"title": "Big", "account": account["id"], "amount": "5000",
                                      "stage": "won", "closed_at": CLOSED})
    contract = svc.create(owner, "contract", {"title": "C-1", "account": account["id"],
                                              "deal": deal["id"], "amount": "5000",
                                              "start_date": "2026-03-01",
                                              "end_date": "2027-02-28"})
    return deal, contract


def test_salesperson_may_not_delete_or_change_a_won_deal(world):
    svc, who, _ = world
    sales1 = who["sales1"]
    deal, contract = _won_deal_with_contract(svc, sales1)
    with pytest.raises(PermissionDenied, match=r"only when stage != 'won'") as refused:
        svc.delete(sales1, "deal", deal["id"])
    assert refused.value.action == "delete"
    with pytest.raises(PermissionDenied, match=r"may not update deal records like this one"):
        svc.update(sales1, "deal", deal["id"], {"next_step": "upsell"}, version=deal["version"])
    stored = svc.get(SYSTEM, "deal", deal["id"])
    assert stored["version"] == deal["version"] and stored["next_step"] is None
    assert svc.get(SYSTEM, "contract", contract["id"])["deal"] == deal["id"]
    assert svc.history(SYSTEM, "deal", deal["id"])[-1]["action"] == "create"


def test_salesperson_may_win_an_open_deal_and_delete_a_lost_one(world):
    svc, who, _ = world
    sales1 = who["sales1"]
    account = _account(svc, "Buyer", sales1.user_id)
    deal = svc.create(sales1, "deal", {"title": "Open", "account": account["id"]})
    won = svc.update(sales1, "deal", deal["id"], {"stage": "won", "amount": "10",
                                                 "closed_at": CLOSED}, version=deal["version"])
    assert won["stage"] == "won"
    lost = svc.create(sales1, "deal", {"title": "Gone", "account": account["id"], "stage": "lost",
                                       "closed_at": CLOSED, "loss_reason": "price"})
    svc.delete(sales1, "deal", lost["id"])
    with pytest.raises(RecordNotFound):
        svc.get(SYSTEM, "deal", lost["id"])


def test_manager_may_correct_a_won_deal_but_not_delete_it(world):
    svc, who, _ = world
    deal, _ = _won_deal_with_contract(svc, who["sales1"])
    manager = who["manager"]
    changed = svc.update(manager, "deal", deal["id"], {"next_step": "renewal"},
                         version=deal["version"])
    assert changed["next_step"] == "renewal"
    with pytest.raises(PermissionDenied, match="only when stage != 'won'"):
        svc.delete(manager, "deal", deal["id"])


# -- values that follow another field ----------------------------------------------


def test_probability_follows_the_stage_for_a_salesperson_who_may_not_set_it(world):
    svc, who, _ = world
    sales1 = who["sales1"]
    account = _account(svc, "Buyer", sales1.user_id)
    deal = svc.create(sales1, "deal", {"title": "Moving", "account": account["id"]})
    assert deal["probability"] == 10
    moved = svc.update(sales1, "deal", deal["id"], {"stage": "proposal", "amount": "100"},
                       version=deal["version"])
    assert moved["probability"] == 50 and "_warnings" not in moved
    won = svc.update(sales1, "deal", deal["id"], {"stage": "won", "closed_at": CLOSED},
                     version=moved["version"])
    assert won["probability"] == 100 and "_warnings" not in won
    history = svc.history(SYSTEM, "deal", deal["id"])
    assert history[-1]["changes"]["probability"] == ["50.00", "100.00"]


def test_a_probability_set_in_the_same_change_wins_and_other_changes_keep_it(world):
    svc, who, _ = world
    manager = who["manager"]
    account = _account(svc, "Buyer", who["sales1"].user_id)
    deal = svc.create(manager, "deal", {"title": "Judged", "account": account["id"]})
    judged = svc.update(manager, "deal", deal["id"], {"stage": "negotiation", "amount": "100",
                                                     "probability": "60"}, version=1)
    assert judged["probability"] == 60
    kept = svc.update(manager, "deal", deal["id"], {"next_step": "call"}, version=2)
    assert kept["probability"] == 60
    # Posting the stored value back (as a form does) is no choice: the stage still leads.
    moved = svc.update(manager, "deal", deal["id"], {"stage": "qualified", "probability": "60"},
                       version=3)
    assert moved["probability"] == 25


# -- conditions in cascades ----------------------------------------------------------

FOLDER = {"entity": "folder", "label": "Folder", "fields": [{"name": "name", "type": "string"}]}
NOTE = {"entity": "note", "label": "Note", "fields": [
    {"name": "text", "type": "string"}, {"name": "locked", "type": "boolean"},
    {"name": "folder", "type": "relation", "target": "folder", "on_delete": "cascade"}]}
TICKET = {"entity": "ticket", "label": "Ticket", "fields": [
    {"name": "status", "type": "select", "options": [{"value": "open"}, {"value": "closed"}]},
    {"name": "folder", "type": "relation", "target": "folder", "on_delete": "set_null"}]}
CLERK = {"role": "clerk", "label": "Clerk", "entities": {
    "folder": {"actions": ["read", "delete"], "scope": "all"},
    "note": {"actions": ["read", "delete"], "scope": "all",
             "conditions": {"delete": "!locked"}},
    "ticket": {"actions": ["read", "update"], "scope": "all",
               "conditions": {"update": "status != 'closed'"}}}}


@pytest.fixture
def filing(database):
    from engine.accounts import create_user
    from tests.conftest import compile_specs

    model = compile_specs(FOLDER, NOTE, TICKET, CLERK)
    apply_plan(database, model, actor="test")
    tables = build_tables(model)
    clerk = actor_for(database, tables, create_user(database, tables, "clerk", roles=("clerk",)))
    return RecordService(database, model, tables, RolePolicy(model, tables)), clerk


def test_a_cascade_is_refused_when_a_dependent_fails_its_condition(filing):
    svc, clerk = filing
    folder = svc.create(SYSTEM, "folder", {"name": "F"})["id"]
    locked = svc.create(SYSTEM, "note", {"text": "keep", "locked": True, "folder": folder})["id"]
    with pytest.raises(PermissionDenied, match=r"delete note records.*only when !locked.*"
                                               r"deleting folder"):
        svc.delete(clerk, "folder", folder)
    assert svc.get(SYSTEM, "note", locked)["folder"] == folder
    svc.update(SYSTEM, "note", locked, {"locked": False}, version=None)
    svc.delete(clerk, "folder", folder)
    with pytest.raises(RecordNotFound):
        svc.get(SYSTEM, "note", locked)


def test_emptying_a_closed_ticket_is_refused_by_its_update_condition(filing):
    svc, clerk = filing
    folder = svc.create(SYSTEM, "folder", {"name": "F"})["id"]
    ticket = svc.create(SYSTEM, "ticket", {"status": "closed", "folder": folder})["id"]
    with pytest.raises(PermissionDenied, match="only when status != 'closed'"):
        svc.delete(clerk, "folder", folder)
    assert svc.get(SYSTEM, "ticket", ticket)["folder"] == folder
    svc.update(SYSTEM, "ticket", ticket, {"status": "open"}, version=None)
    svc.delete(clerk, "folder", folder)
    assert svc.get(SYSTEM, "ticket", ticket)["folder"] is None


def test_within_asks_the_database_whether_a_record_is_in_a_team_scope(world, database):
    from engine.records import rights

    svc, people, _ = world
    manager, sales1, service1 = people["manager"], people["sales1"], people["service1"]
    mates = _account(svc, "A team mate's customer", sales1.user_id)
    stranger = _account(svc, "Someone else's customer", service1.user_id)
    table = svc.tables.entity("account")
    with database.read() as conn:
        in_tree = rights.within(svc.policy, conn, manager, table, mates["id"])
        outside = rights.within(svc.policy, conn, manager, table, stranger["id"])
        assert in_tree("team_tree") and not outside("team_tree")
        assert not in_tree("own") and not outside("own")
