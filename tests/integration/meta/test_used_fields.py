"""A field still used by a rule, formula, condition, view or role can't be dropped or renamed:
the change is refused with every user listed, and nothing in the database changes."""

from __future__ import annotations

import pytest
from meta_crm import DEAL

from engine.meta import add_field, change_field
from engine.spec.errors import MetadataInvalid
from engine.storage.migrate import apply_plan

SALES = {"role": "sales", "label": "Sales",
         "entities": {"deal": {"actions": ["read"], "fields": {"amount": "read"}}}}


def _deal_using_amount() -> dict:
    return {**DEAL, "rules": [{"name": "positive", "assert": "amount > 0.0", "message": "> 0"}],
            "list_view": {"columns": ["title", "amount"]}}


def test_dropping_a_field_still_used_is_refused_listing_its_users(crm):
    crm.write("deal", _deal_using_amount())
    crm.write("sales", SALES)
    apply_plan(crm.db, crm.load(), actor="setup")
    dropped = _deal_using_amount()
    dropped["fields"] = [f for f in DEAL["fields"] if f["name"] != "amount"]
    crm.write("deal", dropped)
    with pytest.raises(MetadataInvalid) as info:
        crm.load()  # what `loom check`, `loom plan` and `loom migrate` compile first
    (error,) = info.value.errors
    assert "field 'amount' of entity 'deal' does not exist" in error.message
    assert "3 places use it" in error.message
    for user in ("rule 'positive' (assert)", "list view columns", "field grant (read) (role 'sales'",
                 "$.rules[0].assert", "$.entities.deal.fields.amount"):
        assert user in error.message
    assert "amount" in crm.columns("deal")  # nothing was planned, nothing dropped


def test_renaming_an_api_field_still_used_is_refused_listing_its_users(crm):
    add_field(crm.db, crm.files, "deal", {"name": "code", "type": "string"}, actor="admin")
    crm.write("deal", {**DEAL, "rules": [{"name": "coded", "assert": "code != ''",
                                         "message": "code"}]})
    crm.write("sales", {**SALES, "entities": {"deal": {"actions": ["read"],
                                                       "fields": {"code": "hidden"}}}})
    apply_plan(crm.db, crm.load(), actor="setup")
    before = crm.stored()
    with pytest.raises(MetadataInvalid) as info:
        change_field(crm.db, crm.files, "deal", "code", {"name": "ref", "renamed_from": "code"},
                     actor="admin")
    (error,) = info.value.errors
    assert "field 'code' of entity 'deal' was renamed to 'ref'" in error.message
    assert "rule 'coded' (assert)" in error.message and "role 'sales'" in error.message
    assert crm.stored() == before and "code" in crm.columns("deal")
    assert [u.description for u in crm.load().users_of("deal", "code")] == [
        "rule 'coded' (assert)", "field grant (hidden)"]


def test_a_field_used_by_a_stored_document_is_refused_when_planned_not_only_when_checked(crm):
    # The files alone compile without `amount` (a check without the database passes), but
    # the model every process plans and serves includes what the metadata API stored.
    add_field(crm.db, crm.files, "deal", {"name": "doubled", "type": "formula", "returns": "decimal",
                                          "expr": "amount * 2.0"}, actor="admin")
    crm.write("deal", {**DEAL, "fields": [f for f in DEAL["fields"] if f["name"] != "amount"]})
    from engine.compiler import compile_model

    assert compile_model([crm.files]).entity("deal").field_names == ("title", "account")
    with pytest.raises(MetadataInvalid) as info:
        crm.load()
    (error,) = info.value.errors
    assert error.file == "db:extends/deal" and error.json_path == "$.fields[0].expr"
    assert "undeclared reference to 'amount'" in error.message
    assert "amount" in crm.columns("deal")
