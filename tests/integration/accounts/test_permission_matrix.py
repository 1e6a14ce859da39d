"""Role scopes and field access through the record service: one team never sees another's.

East (east1, east2) and West (west1) are sales teams under "Sales", which boss
manages. Every read path (get, list, totals, filters, sorts, dotted filters,
expansions, history, aggregates) and every write path must keep West's records
and hidden fields out of East's sight.
"""

from __future__ import annotations

import pytest

from engine.access import RolePolicy, is_admin
from engine.filters import FilterError
from engine.permissions import Actor
from engine.records import RecordService
from engine.records.errors import PermissionDenied, RecordNotFound, ValidationFailed


@pytest.fixture
def svc(database, world_model, tables):
    return RecordService(database, world_model, tables, RolePolicy(world_model, tables))


@pytest.fixture
def data(svc, actors):
    """One account and one deal owned by each salesperson."""
    out = {}
    for name in ("east1", "east2", "west1"):
        actor = actors[name]
        account = svc.create(actor, "account", {"name": f"{name} Co", "region": name[:4]})
        deal = svc.create(actor, "deal", {"title": f"{name} deal", "account": account["id"],
                                          "amount": 10})
        # Hidden from salespeople: only someone else can set them.
        svc.update(Actor.system(), "account", account["id"], {"credit_limit": 100}, version=None)
        svc.update(Actor.system(), "deal", deal["id"], {"margin": 3}, version=None)
        out[name] = {"account": account["id"], "deal": deal["id"]}
    return out


def _titles(page) -> set[str]:
    return {r["title"] for r in page.rows}


def test_salesperson_lists_only_own_team_records(svc, actors, data):
    assert _titles(svc.list(actors["east1"], "deal")) == {"east1 deal", "east2 deal"}
    assert _titles(svc.list(actors["west1"], "deal")) == {"west1 deal"}


def test_total_count_is_within_scope(svc, actors, data):
    assert svc.list(actors["east1"], "deal", with_total=True).total == 2
    assert svc.list(actors["west1"], "deal", with_total=True).total == 1


def test_get_of_another_teams_record_is_not_found(svc, actors, data):
    with pytest.raises(RecordNotFound):
        svc.get(actors["east1"], "deal", data["west1"]["deal"])
    assert svc.get(actors["east1"], "deal", data["east2"]["deal"])["title"] == "east2 deal"


def test_hidden_field_is_removed_from_results(svc, actors, data):
    record = svc.get(actors["east1"], "deal", data["east1"]["deal"])
    assert "margin" not in record and record["amount"] == 10
    assert "margin" not in svc.list(actors["east1"], "deal").rows[0]


def test_filter_on_hidden_field_is_refused(svc, actors, data):
    with pytest.raises(FilterError):
        svc.list(actors["east1"], "deal", filter={"field": "margin", "op": "gt", "value": 0})


def test_sort_by_hidden_field_is_refused(svc, actors, data):
    with pytest.raises(FilterError):
        svc.list(actors["east1"], "deal", sort=["-margin"])


def test_dotted_filter_into_hidden_field_of_relation_is_refused(svc, actors, data):
    with pytest.raises(FilterError):
        svc.list(actors["east1"], "deal",
                 filter={"field": "account.credit_limit", "op": "gt", "value": 0})


def test_dotted_filter_cannot_see_into_another_teams_account(svc, actors, data):
    # West's account is out of East's scope: matching on its name must find nothing.
    page = svc.list(actors["east1"], "deal", filter={"field": "account.name", "op": "eq",
                                                     "value": "west1 Co"})
    assert page.rows == []
    boss_page = svc.list(actors["boss"], "deal", filter={"field": "account.name", "op": "eq",
                                                         "value": "west1 Co"})
    assert _titles(boss_page) == {"west1 deal"}


def test_expansion_shows_only_visible_related_records(svc, actors, data, database, tables):
    # A West deal pointing at an East account (set by the system): West may not see the account.
    cross = svc.create(actors["west1"], "deal", {"title": "cross"})
    svc.update(Actor.system(), "deal", cross["id"], {"account": data["east1"]["account"]},
               version=None)
    record = svc.get(actors["west1"], "deal", cross["id"], expand=("account",))
    assert record["_expand"]["account"] is None
    own = svc.get(actors["east1"], "deal", data["east1"]["deal"], expand=("account",))
    related = own["_expand"]["account"]
    assert related["name"] == "east1 Co" and "credit_limit" not in related


def test_update_and_delete_of_another_teams_record_are_refused(svc, actors, data):
    west_deal = svc.get(actors["west1"], "deal", data["west1"]["deal"])
    with pytest.raises(RecordNotFound):
        svc.update(actors["east1"], "deal", west_deal["id"], {"title": "mine"},
                   version=west_deal["version"])
    with pytest.raises(RecordNotFound):
        svc.delete(actors["east1"], "deal", west_deal["id"])
    assert svc.get(actors["west1"], "deal", west_deal["id"])["title"] == "west1 deal"


def test_teammate_may_update_a_team_record(svc, actors, data):
    deal = svc.get(actors["east2"], "deal", data["east1"]["deal"])
    updated = svc.update(actors["east2"], "deal", deal["id"], {"title": "shared"},
                         version=deal["version"])
    assert updated["title"] == "shared"


def test_read_only_and_hidden_fields_are_refused_in_input(svc, actors, data):
    with pytest.raises(ValidationFailed):
        svc.create(actors["east1"], "deal", {"title": "x", "probability": 50})
    with pytest.raises(ValidationFailed):
        svc.create(actors["east1"], "deal", {"title": "x", "margin": 5})


def test_history_of_another_teams_record_is_not_found(svc, actors, data):
    with pytest.raises(RecordNotFound):
        svc.history(actors["east1"], "deal", data["west1"]["deal"])
    history = svc.history(actors["east1"], "deal", data["east1"]["deal"])
    assert history and all("margin" not in e["changes"] for e in history)


def test_aggregate_counts_only_records_in_scope(svc, actors, data):
    groups = svc.aggregate(actors["east1"], "deal", metrics=["count"])
    assert groups.rows[0]["count"] == 2


def test_manager_sees_every_team_below_the_managed_one(svc, actors, data):
    assert _titles(svc.list(actors["boss"], "deal")) == {"east1 deal", "east2 deal", "west1 deal"}
    assert "margin" in svc.get(actors["boss"], "deal", data["west1"]["deal"])


def test_service_role_reads_all_accounts_but_no_deals(svc, actors, data):
    names = {r["name"] for r in svc.list(actors["agent"], "account").rows}
    assert names == {"east1 Co", "east2 Co", "west1 Co"}
    with pytest.raises(PermissionDenied):
        svc.list(actors["agent"], "deal")
    with pytest.raises(PermissionDenied):
        svc.create(actors["agent"], "account", {"name": "New"})


def test_actor_without_roles_may_do_nothing(svc, actors, data):
    with pytest.raises(PermissionDenied):
        svc.list(actors["nobody"], "account")


def test_admin_and_system_may_do_everything(svc, actors, data, world_model):
    assert svc.list(actors["root"], "deal", with_total=True).total == 3
    assert "margin" in svc.get(actors["root"], "deal", data["west1"]["deal"])
    assert is_admin(world_model, actors["root"]) and is_admin(world_model, Actor.system())
    assert not is_admin(world_model, actors["boss"]) and not is_admin(world_model, None)


def test_salesperson_may_not_delete_accounts(svc, actors, data):
    with pytest.raises(PermissionDenied):
        svc.delete(actors["east1"], "account", data["east1"]["account"])


def test_relation_to_another_teams_account_is_refused_on_write(svc, actors, data):
    with pytest.raises((ValidationFailed, RecordNotFound)):
        svc.create(actors["east1"], "deal", {"title": "steal", "account": data["west1"]["account"]})
