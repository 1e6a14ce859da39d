"""Compiling ``kind: role`` documents: grants, defaults, and every mistake reported."""

from __future__ import annotations

import pytest

from engine.compiler import compile_documents
from engine.spec import MemorySource, MetadataInvalid, metaschema

ACCOUNT = {"entity": "account", "label": "Account", "fields": [
    {"name": "name", "type": "string"}, {"name": "credit_limit", "type": "integer"}]}
SALES = {"role": "sales", "label": {"en": "Sales", "zh-CN": "销售"},
         "default": {"actions": ["read"]},
         "entities": {"account": {"actions": ["create", "read"], "scope": "team",
                                  "fields": {"credit_limit": "hidden", "owner": "read"}}}}


def _compile(*docs):
    errors: list = []
    return compile_documents(MemorySource(*docs).documents(errors), errors)


def _errors(*docs):
    with pytest.raises(MetadataInvalid) as info:
        _compile(*docs)
    return info.value.errors


def test_role_compiles_to_frozen_grants():
    role = _compile(ACCOUNT, SALES).roles["sales"]
    grant = role.entities["account"]
    assert grant.actions == frozenset({"create", "read"}) and grant.scope == "team"
    assert dict(grant.fields) == {"credit_limit": "hidden", "owner": "read"}
    assert role.label.get("zh-CN") == "销售" and not role.admin
    with pytest.raises(TypeError):
        grant.fields["name"] = "read"  # type: ignore[index]


def test_default_grant_applies_to_unlisted_entities_with_own_scope():
    role = _compile(ACCOUNT, SALES).roles["sales"]
    assert role.grant("contact") == role.default
    assert role.default.scope == "own" and role.default.actions == frozenset({"read"})


def test_roles_do_not_change_the_model_version():
    assert _compile(ACCOUNT).version == _compile(ACCOUNT, SALES).version


def test_admin_role_needs_no_entities():
    role = _compile(ACCOUNT, {"role": "admin", "label": "Admin", "admin": True}).roles["admin"]
    assert role.admin and role.grant("account") is None


def test_unknown_entity_and_field_are_reported_together():
    bad = {"role": "r", "label": "R", "entities": {
        "acount": {"actions": ["read"]},
        "account": {"actions": ["read"], "fields": {"credit": "hidden"}}}}
    errors = _errors(ACCOUNT, bad)
    assert sorted(e.json_path for e in errors) == ["$.entities.account.fields.credit",
                                                   "$.entities.acount"]
    assert any("did you mean 'account'" in e.message for e in errors)


@pytest.mark.parametrize("grant, path", [
    ({"actions": ["erase"]}, "$.entities.account.actions[0]"),
    ({"actions": ["read"], "scope": "world"}, "$.entities.account.scope"),
    ({"actions": ["read"], "fields": {"name": "write"}}, "$.entities.account.fields.name"),
    ({"actions": ["read"], "scopes": "own"}, "$.entities.account.scopes"),
])
def test_unknown_action_scope_access_or_key_is_reported_with_its_path(grant, path):
    errors = _errors(ACCOUNT, {"role": "r", "label": "R", "entities": {"account": grant}})
    assert [e.json_path for e in errors] == [path]


def test_duplicate_role_is_reported():
    errors = _errors(ACCOUNT, SALES, dict(SALES))
    assert len(errors) == 1 and "already declared" in errors[0].message


def test_reference_to_a_broken_entity_is_not_reported_twice():
    broken = {"entity": "account", "label": "Account",
              "fields": [{"name": "credit_limit", "type": "nope"}]}
    errors = _errors(broken, SALES)
    assert len(errors) == 1 and "nope" in errors[0].message


def test_grant_of_a_field_a_broken_entity_does_not_declare_is_reported():
    # The entity failed (a bad type), but its declared names are known: a grant of a
    # field it never declares is a mistake of its own.
    broken = {"entity": "account", "label": "Account", "fields": [{"name": "x", "type": "nope"}]}
    errors = _errors(broken, SALES)
    assert [e.json_path for e in errors] == ["$.fields[0].type", "$.entities.account.fields.credit_limit"]


def test_role_metaschema_is_published():
    schema = metaschema("role")
    assert schema["required"] == ["role", "label"]
    assert schema["$defs"]["grant"]["properties"]["scope"]["enum"] == ["own", "team", "team_tree", "all"]


def test_grant_on_an_entity_the_metaschema_refused_is_not_reported_again():
    refused = {"entity": "account", "label": "Account", "fields": [{"name": "name", "typ": "string"}]}
    errors = _errors(refused, SALES)
    assert [e.json_path for e in errors] == ["$.fields[0].typ"]


# -- pools, names read through, conditions ---------------------------------------

POOL = {"entity": "pool", "label": "Pool", "fields": [
    {"name": "name", "type": "string"}, {"name": "label_text", "type": "string"},
    {"name": "open_to", "type": "multiselect", "options": [{"value": "sales"}]}]}
CUSTOMER = {"entity": "customer", "label": "Customer", "fields": [
    {"name": "name", "type": "string"},
    {"name": "stage", "type": "select", "options": [{"value": "open"}, {"value": "won"}]},
    {"name": "pool", "type": "relation", "target": "pool"},
    {"name": "peers", "type": "many_to_many", "target": "customer"}]}


def _role(grant, default=None):
    role = {"role": "r", "label": "R", "entities": {"customer": grant}}
    if default is not None:
        role["default"] = default
    return role


def test_pool_read_through_and_conditions_compile_to_the_grant():
    grant = _compile(POOL, CUSTOMER, _role({
        "actions": ["read", "update", "delete"], "pool": {"field": "pool", "roles": "open_to"},
        "read_through": ["pool", "peers"], "conditions": {"delete": "stage != 'won'"}})
    ).roles["r"].entities["customer"]
    assert (grant.pool.field, grant.pool.target, grant.pool.roles) == ("pool", "pool", "open_to")
    assert grant.read_through == frozenset({"pool", "peers"})
    condition = grant.conditions["delete"]
    assert condition.holds({"stage": "open"}) and not condition.holds({"stage": "won"})
    assert condition.holds({}) is None  # unknown: the policy counts it as not holding


@pytest.mark.parametrize("grant, path, words", [
    ({"actions": ["read"], "pool": {"field": "name"}}, "$.entities.customer.pool.field",
     "not a relation"),
    ({"actions": ["read"], "pool": {"field": "pool", "roles": "label_text"}},
     "$.entities.customer.pool.roles", "not a stored list of strings"),
    ({"actions": ["update"], "pool": {"field": "pool"}}, "$.entities.customer.pool",
     "needs the action 'read'"),
    ({"actions": ["read"], "read_through": ["name"]}, "$.entities.customer.read_through[0]",
     "'name' is not a relation"),
    ({"actions": ["read", "delete"], "conditions": {"delete": "stage == 1"}},
     "$.entities.customer.conditions.delete", "CEL error"),
    ({"actions": ["read", "delete"], "conditions": {"delete": "stag != 'won'"}},
     "$.entities.customer.conditions.delete", "CEL error"),
    ({"actions": ["read", "delete"], "conditions": {"delete": "stage"}},
     "$.entities.customer.conditions.delete", "expected bool"),
    ({"actions": ["read"], "conditions": {"update": "stage != 'won'"}},
     "$.entities.customer.conditions.update", "does not give 'update'"),
    ({"actions": ["read", "delete"], "conditions": {"delete": "size(peers) == 0"}},
     "$.entities.customer.conditions.delete", "'peers' is a many-to-many field"),
    ({"actions": ["read"], "conditions": {"erase": "true"}},
     "$.entities.customer.conditions.erase", ""),
])
def test_a_bad_pool_name_or_condition_is_reported_with_file_and_path(grant, path, words):
    errors = _errors(POOL, CUSTOMER, _role(grant))
    assert [e.json_path for e in errors] == [path]
    assert words in errors[0].message and errors[0].file


def test_entity_only_keys_are_refused_in_the_default_grant():
    errors = _errors(POOL, CUSTOMER, _role({"actions": ["read"]},
                                           default={"actions": ["read"], "read_through": ["x"]}))
    assert [e.json_path for e in errors] == ["$.default.read_through"]
