"""RolePolicy decisions without a database: union of roles, scopes as SQL, field access."""

from __future__ import annotations

from engine.access import RolePolicy, is_admin
from engine.compiler import compile_documents
from engine.permissions import HIDDEN, READ, WRITE, Actor, PermissionPolicy
from engine.spec import MemorySource
from engine.storage.tables import build_tables

DEAL = {"entity": "deal", "label": "Deal", "fields": [
    {"name": "title", "type": "string"}, {"name": "margin", "type": "integer"},
    {"name": "probability", "type": "integer"}]}
ROLES = (
    {"role": "sales", "label": "S", "entities": {"deal": {
        "actions": ["read", "update"], "scope": "own",
        "fields": {"margin": "hidden", "probability": "read"}}}},
    {"role": "analyst", "label": "A", "entities": {"deal": {
        "actions": ["read"], "scope": "team", "fields": {"margin": "read"}}}},
    {"role": "boss", "label": "B", "admin": True},
)


def _policy():
    model = compile_documents(MemorySource(DEAL, *ROLES).documents([]), [])
    return model, RolePolicy(model, build_tables(model))


def _sql(expr) -> str:
    return str(expr.compile(compile_kwargs={"literal_binds": True}))


def test_policy_implements_the_protocol():
    assert isinstance(_policy()[1], PermissionPolicy)


def test_actions_are_the_union_of_roles():
    _, policy = _policy()
    assert policy.can(Actor(1, roles=("sales",)), "deal", "update")
    assert not policy.can(Actor(1, roles=("analyst",)), "deal", "update")
    assert not policy.can(Actor(1, roles=("sales",)), "deal", "delete")
    assert not policy.can(Actor(1), "deal", "read")
    assert not policy.can(Actor(1, roles=("unknown",)), "deal", "read")


def test_field_access_is_the_most_open_of_granting_roles():
    _, policy = _policy()
    sales, both = Actor(1, roles=("sales",)), Actor(1, roles=("analyst", "sales"))
    assert policy.field_access(sales, "deal", "margin") == HIDDEN
    assert policy.field_access(both, "deal", "margin") == READ
    # A read-only role never makes a field writable that the writing role keeps read-only.
    assert policy.field_access(both, "deal", "probability") == READ
    assert policy.field_access(Actor(1, roles=("analyst",)), "deal", "title") == READ
    assert policy.field_access(Actor(1, roles=("analyst",)), "deal", "margin") == READ
    assert policy.field_access(sales, "deal", "title") == WRITE
    assert policy.field_access(Actor(1), "deal", "title") == HIDDEN


def test_scopes_become_owner_conditions():
    model, policy = _policy()
    table = build_tables(model).entity("deal")
    assert _sql(policy.scope(Actor(7, roles=("sales",)), "deal", table)) == "deal.owner = 7"
    team = _sql(policy.scope(Actor(7, roles=("analyst", "sales"), team_ids=(3,)), "deal", table))
    assert "deal.owner = 7 OR deal.owner IN" in team and "team_id IN (3)" in team
    assert _sql(policy.scope(Actor(7), "deal", table)) == "false"


def test_admin_and_system_are_unrestricted():
    model, policy = _policy()
    table = build_tables(model).entity("deal")
    for actor in (Actor(1, roles=("boss",)), Actor.system()):
        assert policy.can(actor, "deal", "delete") and policy.scope(actor, "deal", table) is None
        assert policy.field_access(actor, "deal", "margin") == WRITE
        assert is_admin(model, actor)


def _conditional():
    careful = {"role": "careful", "label": "C", "entities": {"deal": {
        "actions": ["read", "update", "delete"], "scope": "own",
        "conditions": {"delete": "probability < 50", "update": "title != 'frozen'"}}}}
    bold = {"role": "bold", "label": "B", "entities": {"deal": {
        "actions": ["read", "delete"], "scope": "all"}}}
    model = compile_documents(MemorySource(DEAL, careful, bold).documents([]), [])
    return RolePolicy(model, build_tables(model))


def test_a_condition_refuses_a_record_unless_another_role_allows_it():
    policy = _conditional()
    careful, both = Actor(1, roles=("careful",)), Actor(1, roles=("bold", "careful"))
    likely = {"owner": 1, "title": "x", "probability": 80}
    assert "only when probability < 50" in policy.refusal(careful, "deal", "delete",
                                                          likely).get("en")
    assert policy.refusal(careful, "deal", "delete", {**likely, "probability": 10}) is None
    assert policy.refusal(both, "deal", "delete", likely) is None
    assert policy.refusal(careful, "deal", "update", {**likely, "title": "frozen"})
    assert policy.condition_names(careful, "deal", "delete") == {"owner", "probability"}


def test_an_unknown_condition_refuses_and_an_owner_less_record_needs_scope_all():
    policy = _conditional()
    careful, both = Actor(1, roles=("careful",)), Actor(1, roles=("bold", "careful"))
    assert policy.refusal(careful, "deal", "delete", {"owner": 1, "title": "x"})  # null: unknown
    assert "public pool" in policy.refusal(careful, "deal", "update", {"owner": None}).get("en")
    assert policy.refusal(both, "deal", "delete", {"owner": None}) is None
    assert policy.refusal(Actor.system(), "deal", "delete", {"owner": None}) is None


def _narrow_and_wide():
    wide = {"role": "wide", "label": "W", "entities": {"deal": {
        "actions": ["read", "update"], "scope": "all", "conditions": {"update": "title != 'won'"}}}}
    narrow = {"role": "narrow", "label": "N", "entities": {"deal": {
        "actions": ["read", "update"], "scope": "team"}}}
    model = compile_documents(MemorySource(DEAL, wide, narrow).documents([]), [])
    return RolePolicy(model, build_tables(model))


def test_a_narrower_role_lifts_a_condition_only_on_the_records_in_its_own_scope():
    policy = _narrow_and_wide()
    actor = Actor(1, roles=("wide", "narrow"), team_ids=(7,))
    won = {"owner": 99, "title": "won"}
    # Another team's won deal: only the wide role reaches it, and its condition refuses.
    assert "only when title != 'won'" in policy.refusal(actor, "deal", "update", won,
                                                        lambda scope: False).get("en")
    assert policy.refusal(actor, "deal", "update", won) is not None  # no answer: not covered
    # A team mate's won deal: the team role covers it, without a condition.
    assert policy.refusal(actor, "deal", "update", won, lambda scope: scope == "team") is None
    # One's own record is in every scope.
    assert policy.refusal(actor, "deal", "update", {**won, "owner": 1}) is None
