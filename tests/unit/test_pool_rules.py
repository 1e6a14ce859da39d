"""The pool's rules without a database: who a pool is open to, the pool write's checks,
the policy's claimable rows, and the filters the pages list with."""

from __future__ import annotations

import pytest

from engine.access import RolePolicy
from engine.automation.pool import CLAIM_FIELDS, RELEASE_FIELDS, Pool, PoolRefused, pool_roles
from engine.automation.pool_reads import PoolSeat, bin_filter, claimable_filter
from engine.compiler import compile_documents
from engine.model import Text
from engine.permissions import Actor
from engine.records.errors import PermissionDenied, RecordError
from engine.records.rights import CLAIM, RELEASE, PoolWrite, check_pool_result
from engine.spec import MemorySource
from engine.storage.tables import build_tables

POOL = {"entity": "customer_pool", "label": "Pool", "fields": [
    {"name": "name", "type": "string"},
    {"name": "open_to", "type": "multiselect", "options": [
        {"value": "sales", "label": "S"}, {"value": "boss", "label": "B"}]}]}
ACCOUNT = {"entity": "account", "label": "Account", "fields": [
    {"name": "name", "type": "string"},
    {"name": "pool", "type": "relation", "target": "customer_pool"}]}
ROLES = (
    {"role": "sales", "label": "S", "entities": {
        "account": {"actions": ["read", "update"], "scope": "own",
                    "pool": {"field": "pool", "roles": "open_to"}},
        "customer_pool": {"actions": ["read"], "scope": "all"}}},
    {"role": "reader", "label": "R", "entities": {
        "account": {"actions": ["read"], "scope": "all"}}},
    {"role": "boss", "label": "B", "admin": True},
)


def _model():
    return compile_documents(MemorySource(POOL, ACCOUNT, *ROLES).documents([]), [])


def _pool(open_to=(), **kw):
    values = {"id": 1, "name": "East", "active": True, "claim_cap": 2, "reclaim_block_days": 7,
              "open_to": list(open_to)}
    values.update(kw)
    return Pool.of(values)


def test_an_empty_open_to_opens_the_pool_to_every_role_with_a_pool_grant():
    assert _pool().open_to_roles({"sales"})
    assert not _pool().open_to_roles(set())


def test_a_listed_pool_is_open_to_its_roles_only():
    assert _pool(["sales"]).open_to_roles({"sales", "other"})
    assert not _pool(["sales_manager"]).open_to_roles({"sales"})


def test_only_roles_with_a_pool_grant_count():
    model = _model()
    assert pool_roles(model, Actor(1, roles=("sales", "reader", "boss"))) == {"sales"}
    assert pool_roles(model, Actor.system()) == frozenset()


def test_claimable_rows_are_owner_less_ones_in_pools_open_to_the_actor():
    model = _model()
    tables = build_tables(model)
    policy = RolePolicy(model, tables)
    table = tables.entity("account")
    sql = str(policy.claimable(Actor(1, roles=("sales",)), "account", table).compile(
        compile_kwargs={"literal_binds": True}))
    assert "owner IS NULL" in sql and "open_to" in sql and '"sales"' in sql
    assert str(policy.claimable(Actor(1, roles=("reader",)), "account", table)) == "false"
    assert policy.claimable(Actor(1, roles=("boss",)), "account", table) is None


def test_a_pool_write_names_its_kind():
    with pytest.raises(ValueError, match="unknown pool write 'steal'"):
        PoolWrite("steal", CLAIM_FIELDS)


def test_a_claim_may_write_only_the_pool_fields_and_make_the_actor_owner():
    actor = Actor(5, roles=("sales",))
    write = PoolWrite(CLAIM, CLAIM_FIELDS)
    check_pool_result("account", actor, write, {"owner": 5}, {"owner", "claimed_at"})
    with pytest.raises(PermissionDenied, match="may not change name"):
        check_pool_result("account", actor, write, {"owner": 5}, {"owner", "name"})
    with pytest.raises(PermissionDenied, match="make you the owner"):
        check_pool_result("account", actor, write, {"owner": 6}, {"owner"})


def test_a_release_must_clear_the_owner():
    write = PoolWrite(RELEASE, RELEASE_FIELDS)
    check_pool_result("account", Actor(5), write, {"owner": None}, {"owner", "returned_at"})
    with pytest.raises(PermissionDenied, match="clear the owner"):
        check_pool_result("account", Actor(5), write, {"owner": 5}, {"returned_at"})


def test_a_refusal_is_a_record_error_with_both_languages():
    error = PoolRefused("cap", Text.of({"en": "full", "zh-CN": "已满"}), 3)
    assert isinstance(error, RecordError)
    assert (error.code, error.record_id, str(error)) == ("cap", 3, "full")


def test_the_claimable_filter_leaves_out_owned_and_binned_customers():
    where = claimable_filter([3, 1], region="east", search="ACME")
    assert {"field": "owner", "op": "is_null", "value": True} in where
    assert {"field": "abandoned_at", "op": "is_null", "value": True} in where
    assert {"field": "pool", "op": "in", "value": [1, 3]} in where
    assert {"field": "name", "op": "contains", "value": "ACME"} in where
    # No pool open: a filter that matches nothing, never every customer.
    assert {"field": "id", "op": "is_null", "value": True} in claimable_filter([])
    assert {"field": "abandoned_at", "op": "is_null", "value": False} in bin_filter(4)


def test_a_seat_never_shows_negative_room():
    assert PoolSeat(_pool(claim_cap=2), 5).left == 0
