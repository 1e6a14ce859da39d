"""The permission hook: every call path asks the policy (actions, record scope, field access)."""

from __future__ import annotations

import pytest
from records_support import ALICE, BOB, count

from engine.permissions import HIDDEN, READ, WRITE, Actor, AllowAll, PermissionPolicy
from engine.records import (FilterError, PermissionDenied, RecordNotFound, RecordService,
                            ValidationFailed)


class SalesPolicy:
    """Sales see their own records; only managers see ``account.secret``, change ``tier``,
    write tags or delete accounts."""

    def can(self, actor, entity, action):
        manager = "manager" in actor.roles
        if entity == "tag" and action != "read":
            return manager
        return manager or (entity, action) != ("account", "delete")

    def scope(self, actor, entity, table):
        if "manager" in actor.roles or entity == "tag":
            return None
        return table.c.owner == actor.user_id

    def field_access(self, actor, entity, field):
        if "manager" in actor.roles or entity != "account":
            return WRITE
        return {"secret": HIDDEN, "tier": READ}.get(field, WRITE)


@pytest.fixture
def policed(database, crm_model, tables):
    return RecordService(database, crm_model, tables, SalesPolicy())


@pytest.fixture
def boss():
    return Actor(BOB, roles=("manager",))


@pytest.fixture
def accounts(policed, alice, bob):
    mine = policed.create(alice, "account", {"name": "Mine", "region": "emea"})
    theirs = policed.create(bob, "account", {"name": "Theirs", "region": "emea"})
    return mine, theirs


def test_the_default_policy_allows_everything():
    assert isinstance(AllowAll(), PermissionPolicy) and isinstance(SalesPolicy(), PermissionPolicy)
    assert AllowAll().field_access(Actor(1), "deal", "amount") == WRITE


def test_actions_the_policy_refuses_raise_permission_denied(policed, alice, boss, accounts, tables):
    with pytest.raises(PermissionDenied, match="you may not delete account"):
        policed.delete(alice, "account", accounts[0]["id"])
    with pytest.raises(PermissionDenied):
        policed.create(alice, "tag", {"name": "x"})
    with pytest.raises(PermissionDenied):
        policed.bulk_create(alice, "tag", [{"name": "x"}])
    assert count(policed.db, tables.entity("tag")) == 0
    assert policed.create(boss, "tag", {"name": "x"})["name"] == "x"


def test_records_out_of_scope_are_invisible_on_every_path(policed, alice, accounts):
    mine, theirs = accounts
    with pytest.raises(RecordNotFound):
        policed.get(alice, "account", theirs["id"])
    page = policed.list(alice, "account", with_total=True)
    assert [r["name"] for r in page.rows] == ["Mine"] and page.total == 1
    with pytest.raises(RecordNotFound):
        policed.update(alice, "account", theirs["id"], {"name": "x"}, version=1)
    with pytest.raises(RecordNotFound):
        policed.history(alice, "account", theirs["id"])
    assert policed.history(alice, "account", mine["id"])[0]["action"] == "create"


def test_delete_out_of_scope_is_not_found(policed, alice, bob):
    theirs = policed.create(bob, "deal", {"title": "theirs"})
    with pytest.raises(RecordNotFound):
        policed.delete(alice, "deal", theirs["id"])
    policed.delete(bob, "deal", theirs["id"])


def test_giving_a_record_to_someone_out_of_scope_is_an_error_on_the_owner_field(
        policed, alice, tables):
    with pytest.raises(ValidationFailed) as info:
        policed.create(alice, "deal", {"title": "gift", "owner": BOB})
    assert info.value.codes() == {"owner": ["assignable"]}
    assert "bob can't be given this record" in str(info.value)
    with pytest.raises(ValidationFailed) as info:
        policed.bulk_create(alice, "deal", [{"title": "a"}, {"title": "gift", "owner": BOB}])
    assert [(e.field, e.code, e.row) for e in info.value.errors] == [("owner", "assignable", 1)]
    mine = policed.create(alice, "deal", {"title": "mine"})
    with pytest.raises(ValidationFailed) as info:
        policed.update(alice, "deal", mine["id"], {"owner": BOB}, version=1)
    assert info.value.codes() == {"owner": ["assignable"]}
    with pytest.raises(ValidationFailed) as info:  # an unknown user stays a bad reference
        policed.update(alice, "deal", mine["id"], {"owner": 424242}, version=1)
    assert info.value.codes() == {"owner": ["reference"]}
    assert [r["title"] for r in policed.list(alice, "deal").rows] == ["mine"]
    assert count(policed.db, tables.outbox) == 1


def test_linking_a_record_out_of_scope_is_an_invalid_reference(policed, alice, accounts):
    with pytest.raises(ValidationFailed) as info:
        policed.create(alice, "deal", {"title": "T", "account": accounts[1]["id"]})
    assert info.value.codes() == {"account": ["reference"]}


def test_hidden_fields_are_removed_from_results_and_history(policed, alice, boss, accounts):
    mine = accounts[0]
    policed.update(boss, "account", mine["id"], {"secret": "s3cret"}, version=1)
    record = policed.get(alice, "account", mine["id"])
    assert "secret" not in record and "secret" in policed.get(boss, "account", mine["id"])
    assert all("secret" not in r for r in policed.list(alice, "account").rows)
    changes = [h["changes"] for h in policed.history(alice, "account", mine["id"])]
    assert all("secret" not in c for c in changes)
    assert "secret" in policed.history(boss, "account", mine["id"])[1]["changes"]


def test_hidden_and_read_only_fields_are_refused_in_input(policed, alice, tables):
    with pytest.raises(ValidationFailed) as info:
        policed.create(alice, "account", {"name": "A", "secret": "x", "tier": "A"})
    assert info.value.codes() == {"secret": ["unknown"], "tier": ["read_only"]}
    assert "secret" not in info.value.errors[0].message.get().split("known:")[1]
    with pytest.raises(ValidationFailed):
        policed.bulk_create(alice, "account", [{"name": "B", "tier": "A"}])
    assert count(policed.db, tables.entity("account")) == 0


def test_hidden_fields_are_refused_in_filters_sorts_fields_and_expansions(policed, alice, accounts):
    for kwargs in ({"filter": {"field": "secret", "op": "eq", "value": "x"}},
                   {"sort": ["secret"]}, {"fields": ["secret"]}):
        with pytest.raises(FilterError, match="unknown field 'secret'"):
            policed.list(alice, "account", **kwargs)
    with pytest.raises(FilterError, match="unknown field 'secret' of 'account'"):
        policed.list(alice, "deal", filter={"field": "account.secret", "op": "is_null", "value": True})


def test_expansions_and_dotted_filters_respect_the_related_scope(policed, alice, boss, accounts):
    mine, theirs = accounts
    deal = policed.create(boss, "deal", {"title": "shared", "account": theirs["id"],
                                         "owner": ALICE})
    got = policed.get(alice, "deal", deal["id"], expand=("account",))
    assert got["account"] == theirs["id"] and got["_expand"]["account"] is None
    page = policed.list(alice, "deal", filter={"field": "account.region", "op": "eq",
                                               "value": "emea"})
    assert page.rows == []
    expanded = policed.get(boss, "deal", deal["id"], expand=("account",))["_expand"]["account"]
    assert expanded["name"] == "Theirs" and expanded["secret"] is None
    policed.update(boss, "deal", deal["id"], {"account": mine["id"]}, version=1)
    mine_expanded = policed.get(alice, "deal", deal["id"], expand=("account",))["_expand"]["account"]
    assert mine_expanded["name"] == "Mine" and "secret" not in mine_expanded
