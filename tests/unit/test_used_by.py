"""The compiled model answers "what uses deal.stage?", and a field that is used but missing
is one `loom check` error listing every user."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.compiler import compile_documents
from engine.spec import MemorySource, MetadataInvalid

ACCOUNT = {"entity": "account", "label": "Account", "fields": [{"name": "name", "type": "string"}]}
DEAL = {
    "entity": "deal", "label": "Deal",
    "fields": [
        {"name": "title", "type": "string"},
        {"name": "stage", "type": "select", "options": [{"value": "open"}, {"value": "won"}]},
        {"name": "amount", "type": "decimal", "required_if": "stage == 'won'"},
        {"name": "probability", "type": "integer", "default": {"expr": "stage == 'won' ? 100 : 10"}},
        {"name": "weighted", "type": "formula", "returns": "decimal",
         "expr": "amount * double(probability) / 100.0"},
        {"name": "note", "type": "text", "visible_if": "title != 'stage'"},
        {"name": "account", "type": "relation", "target": "account", "inverse": {"name": "deals"}},
    ],
    "rules": [{"name": "won_needs_amount", "when": "stage == 'won'", "assert": "amount > 0.0",
               "message": "m"}],
    "indexes": [{"fields": ["stage", "title"]}],
    "list_view": {"columns": ["title", "stage"], "sort": ["-stage"]},
    "form_layout": {"sections": [{"fields": ["title", "stage"]}]},
}
SALES = {"role": "sales", "label": "Sales",
         "entities": {"deal": {"actions": ["read"], "fields": {"stage": "read"}}}}


def _compile(*specs):
    errors: list = []
    return compile_documents(MemorySource(*specs).documents(errors), errors)


def _errors(*specs):
    with pytest.raises(MetadataInvalid) as info:
        _compile(*specs)
    return info.value.errors


def test_every_expression_and_reference_records_what_it_uses():
    model = _compile(ACCOUNT, DEAL, SALES)
    users = [(u.kind, u.owner, u.description, u.as_dict()["path"])
             for u in model.users_of("deal", "stage")]
    assert users == [
        ("entity", "deal", "required_if of field 'amount'", "$.fields[2].required_if"),
        ("entity", "deal", "computed default of field 'probability'", "$.fields[3].default.expr"),
        ("entity", "deal", "rule 'won_needs_amount' (when)", "$.rules[0].when"),
        ("entity", "deal", "index 'ix_deal_stage_title'", "$.indexes[0].fields[0]"),
        ("entity", "deal", "list view columns", "$.list_view.columns[1]"),
        ("entity", "deal", "list view sort", "$.list_view.sort[0]"),
        ("entity", "deal", "form layout section 0", "$.form_layout.sections[0].fields[1]"),
        ("role", "sales", "field grant (read)", "$.entities.deal.fields.stage"),
    ]
    # A name inside a string is not a use; a formula's inputs are.
    assert [u.description for u in model.users_of("deal", "note")] == []
    assert "formula of field 'weighted'" in [u.description for u in model.users_of("deal", "amount")]
    assert [u.description for u in model.users_of("account")] == ["relation field deal.account"]
    assert [u.description for u in model.users_of("deal", "account")] == ["listing 'deals' on account"]
    assert [u.description for u in model.users_of("deal")] == ["grant"]


def test_users_of_an_unknown_field_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown field 'stag' of entity 'deal'; known: account"):
        _compile(ACCOUNT, DEAL).users_of("deal", "stag")


def test_a_dropped_field_still_used_is_one_error_listing_every_user():
    dropped = {**DEAL, "fields": [f for f in DEAL["fields"] if f["name"] != "stage"]}
    (error,) = _errors(ACCOUNT, dropped, SALES)
    assert error.message.startswith("field 'stage' of entity 'deal' does not exist (dropped, "
                                    "renamed or misspelt?) but 8 places use it: ")
    for user in ("rule 'won_needs_amount' (when)", "required_if of field 'amount'",
                 "index 'ix_deal_stage_title'", "list view sort", "form layout section 0",
                 "field grant (read)", "$.entities.deal.fields.stage"):
        assert user in error.message
    assert error.json_path == "$.fields[1].required_if"  # the first user, with its line


def test_a_renamed_field_still_used_by_its_old_name_says_so():
    renamed = {**DEAL, "fields": [{**f, "name": "phase", "renamed_from": "stage"}
                                  if f["name"] == "stage" else f for f in DEAL["fields"]],
               "indexes": [], "list_view": {"columns": ["title"]},
               "form_layout": {"sections": [{"fields": ["title"]}]}}
    (error,) = _errors(ACCOUNT, renamed)
    assert "field 'stage' of entity 'deal' was renamed to 'phase' (renamed_from) but is still " \
           "used by: " in error.message and error.message.endswith("use the new name")


def test_a_single_unknown_name_keeps_its_own_message():
    (error,) = _errors({**DEAL, "rules": [{"name": "r", "assert": "amout > 0.0", "message": "m"}]},
                       ACCOUNT)
    assert error.json_path == "$.rules[0].assert"
    assert "undeclared reference to 'amout'" in error.message


def test_loom_uses_prints_the_users(tmp_path):
    import yaml

    for name, spec in (("account", ACCOUNT), ("deal", DEAL), ("sales", SALES)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["--metadata", str(tmp_path), "uses", "deal.stage"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deal.stage is used by 8 places:")
    assert "role sales: field grant (read)" in result.output
    unknown = CliRunner().invoke(main, ["--metadata", str(tmp_path), "uses", "deal.stag"])
    assert unknown.exit_code == 2 and "known: account, amount" in unknown.output


def test_uses_in_expressions_over_several_lines_are_grouped_too():
    rules = [{"name": f"r{i}", "assert": "title != '' &&\n  stage == 'won'", "message": "m"}
             for i in range(2)]
    dropped = {**DEAL, "fields": [f for f in DEAL["fields"] if f["name"] not in ("stage", "amount",
                                                                                 "probability",
                                                                                 "weighted")],
               "rules": rules, "indexes": [], "list_view": {"columns": ["title"]},
               "form_layout": {"sections": [{"fields": ["title"]}]}}
    (error,) = _errors(ACCOUNT, dropped)
    assert "but 2 places use it: rule 'r0' (assert)" in error.message


def test_loom_uses_answers_in_json_and_for_standard_columns(tmp_path):
    import json

    import yaml

    for name, spec in (("account", ACCOUNT), ("deal", {**DEAL, "indexes": [{"fields": ["owner", "title"]}]})):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["--metadata", str(tmp_path), "uses", "deal.owner", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{
        "kind": "entity", "owner": "deal", "description": "index 'ix_deal_owner_title'",
        "file": str(tmp_path / "deal.yaml"), "line": json.loads(result.output)[0]["line"],
        "path": "$.indexes[0].fields[0]"}]
    nothing = CliRunner().invoke(main, ["--metadata", str(tmp_path), "uses", "deal.note"])
    assert nothing.output == "nothing uses deal.note\n"


def test_role_conditions_pools_names_read_through_and_follows_are_uses():
    from engine.config import SHIPPED_METADATA, Config, load_model

    model = load_model(Config("sqlite://", SHIPPED_METADATA))
    stage = {(u.kind, u.owner, u.description) for u in model.users_of("deal", "stage")}
    assert {("role", "sales", "condition for update"), ("role", "sales", "condition for delete"),
            ("entity", "deal", "default of field 'probability' (follows)")} <= stage
    pool = {(u.owner, u.description) for u in model.users_of("account", "pool")}
    assert ("sales", "public pool") in pool
    account = {(u.owner, u.description) for u in model.users_of("deal", "account")}
    assert ("sales", "names read through") in account
    assert ("sales", "public pool's roles") in {
        (u.owner, u.description) for u in model.users_of("customer_pool", "open_to")}
