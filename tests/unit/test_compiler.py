"""The compiler: presets, frozen model, stable version, inverses, extensions, names, renames."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from engine.compiler import compile_documents, compile_model
from engine.compiler.names import MAX_IDENTIFIER, default_inverse_name
from engine.describe import describe_entity, describe_model
from engine.spec import FileSource, MemorySource, MetadataInvalid
from engine.spec import metaschema as load_metaschema
from engine.storage.tables import build_tables

GOOD = Path(__file__).resolve().parent.parent / "fixtures" / "good"


def _good_specs() -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(GOOD.glob("*.yaml"))]


def _compile(*specs):
    errors: list = []
    return compile_documents(MemorySource(*specs).documents(errors), errors)


def _errors(*specs):
    with pytest.raises(MetadataInvalid) as info:
        _compile(*specs)
    return info.value.errors


@pytest.fixture(scope="module")
def model():
    return compile_model([FileSource(GOOD)])


def _entity(name: str, *fields: dict, **extra) -> dict:
    return {"entity": name, "label": name.title(), "fields": list(fields), **extra}


# -- presets ---------------------------------------------------------------------

def test_preset_keys_are_merged_and_field_keys_win(model):
    title = model.entity("deal").field("title")
    assert title.preset == "name" and title.type_name == "string"
    assert title.required and title.max_length == 200  # from the preset
    assert title.label.get("zh-CN") == "商机名称"  # the field's own label wins
    amount = model.entity("deal").field("amount")
    assert amount.currency == "CNY" and amount.min == Decimal("0.00")
    assert model.entity("deal").field("probability").default == Decimal("10.00")


def test_preset_without_type_takes_the_fields_type(model):
    ref = model.entity("account").field("external_ref")
    assert ref.type_name == "string" and ref.read_only and ref.max_length == 40
    assert ref.help.get("en") == "Filled by integrations."


def test_preset_pattern_applies(model):
    mobile = model.entity("contact").field("mobile")
    assert mobile.pattern == r"^1[3-9]\d{9}$" and mobile.type_name == "phone"


def test_a_broken_preset_is_reported_once_not_at_every_use():
    errors = _errors({"presets": {"p": {"type": "moneyy"}}},
                     _entity("ticket", {"name": "a", "preset": "p"}, {"name": "b", "preset": "p"}))
    assert [e.json_path for e in errors] == ["$.presets.p.type"]


def test_preset_keys_must_apply_to_the_preset_type():
    errors = _errors({"presets": {"p": {"type": "integer", "max_length": 3}}})
    assert [(e.json_path, e.code) for e in errors] == [("$.presets.p.max_length", "key")]


def test_presets_are_declared_once():
    errors = _errors({"presets": {"p": {"type": "integer"}}}, {"presets": {"p": {"type": "text"}}})
    assert "preset 'p' is already declared" in errors[0].message


# -- the model is frozen and versioned ------------------------------------------

def test_model_is_frozen(model):
    deal = model.entity("deal")
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.version = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        deal.field("amount").required = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.entities["x"] = deal  # type: ignore[index]
    with pytest.raises(TypeError):
        model.entity("account").list_view["page_size"] = 5  # type: ignore[index]
    assert isinstance(model.entity("account").list_view["columns"], tuple)
    with pytest.raises(TypeError):
        model.entity("contact").form_layout["sections"][0]["fields"] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        model.presets["name"].values["type"] = "text"  # type: ignore[index]
    assert isinstance(deal.fields, tuple) and isinstance(deal.rules, tuple)


def test_model_does_not_share_state_with_the_input():
    specs = _good_specs()
    model = _compile(*specs)
    account = specs[0]
    assert account["entity"] == "account"
    account["fields"][0]["label"] = "changed"
    account["list_view"]["columns"].append("phone")
    assert model.specs["account"]["fields"][0]["label"] != "changed"
    assert "phone" not in model.entity("account").list_view["columns"]


def test_version_is_stable_across_file_order():
    specs = _good_specs()
    extension = {"extends": "deal", "fields": [{"name": "source", "type": "string"}]}
    other = {"extends": "deal", "fields": [{"name": "region", "type": "string"}]}
    first = _compile(*specs, extension, other)
    second = _compile(other, *reversed(specs), extension)
    assert first.version == second.version and len(first.version) == 16
    assert first.entity("deal").field_names == second.entity("deal").field_names


def test_a_label_changes_the_revision_but_not_the_schema_version():
    specs = _good_specs()
    before = _compile(*specs)
    specs[0]["label"] = {"en": "Customer", "zh-CN": "客户"}
    after = _compile(*specs)
    assert after.version == before.version
    assert after.revision != before.revision and len(after.revision) == 16


def test_version_changes_with_a_preset():
    specs = _good_specs()
    before = _compile(*specs).version
    specs[-1]["presets"]["name"]["max_length"] = 150
    assert _compile(*specs).version != before


def test_specs_keep_the_metadata_as_written(model):
    spec = model.specs["deal"]
    assert spec["fields"][0] == {"name": "title", "preset": "name",
                                 "label": {"en": "Deal name", "zh-CN": "商机名称"}}
    json.dumps(dict(model.specs))  # stored as JSON with each applied version


# -- relations and inverses ----------------------------------------------------

def test_inverses_are_generated(model):
    account = model.entity("account")
    assert [(i.name, i.entity, i.field) for i in account.inverses] == [
        ("contacts", "contact", "account"), ("deals", "deal", "account")]
    (default,) = model.entity("contact").inverses  # deal.contact declares none
    assert (default.name, default.entity, default.field) == ("deal", "deal", "contact")
    assert default.label.get("zh-CN") == "商机"  # the plural label of the listing entity
    assert model.entity("deal").inverses == ()


def test_default_inverse_names():
    assert default_inverse_name("contact", "account", "account") == "contact"
    assert default_inverse_name("deal", "partner", "account") == "deal_partner"


def test_default_inverse_name_must_be_a_valid_identifier():
    long_entity = "e" * 40
    errors = _errors(_entity("account", {"name": "name", "type": "string"}),
                     _entity(long_entity, {"name": "f" * 30, "type": "relation", "target": "account"}))
    (error,) = errors
    assert error.json_path == "$.fields[0]" and "give the field `inverse: {name: ...}`" in error.message


def test_many_to_many_inverse_only_when_declared(model):
    assert "contacts" not in [i.name for i in model.entity("contact").inverses]
    declared = _compile(
        _entity("tag", {"name": "label", "type": "string"}),
        _entity("note", {"name": "tags", "type": "many_to_many", "target": "tag",
                         "inverse": {"name": "notes"}}))
    assert [i.name for i in declared.entity("tag").inverses] == ["notes"]


def test_relation_defaults(model):
    deal = model.entity("deal")
    assert deal.field("account").on_delete == "restrict"  # required
    assert deal.field("contact").on_delete == "set_null"
    assert deal.field("account").indexed  # relations are indexed without asking
    assert model.entity("account").field("code").unique  # autonumbers are unique


# -- extensions ------------------------------------------------------------------

def test_extends_adds_fields_rules_and_indexes():
    model = _compile(*_good_specs(), {
        "extends": "deal",
        "fields": [{"name": "region", "type": "select", "options": [{"value": "east"}]}],
        "rules": [{"name": "east_needs_amount", "when": "region == 'east'",
                   "assert": "amount > 0.0", "message": "East needs an amount"}],
        "indexes": [{"fields": ["region", "stage"]}],
    })
    deal = model.entity("deal")
    assert deal.field_names[-1] == "region"
    assert [r.name for r in deal.rules] == ["won_needs_amount", "east_needs_amount"]
    assert [i.name for i in deal.indexes] == ["ix_deal_stage_expected_close", "ix_deal_region_stage"]
    assert [f["name"] for f in model.specs["deal"]["fields"]][-1] == "region"


def test_extension_field_clash_is_reported_in_the_extension():
    errors = _errors(*_good_specs(), {"extends": "deal", "fields": [{"name": "stage", "type": "text"}]})
    (error,) = errors
    assert error.file.endswith("[4].json") and error.json_path == "$.fields[0].name"


# -- defaults, display, labels, bounds -------------------------------------------

def test_defaults_and_display_field(model):
    account = model.entity("account")
    assert account.display_field == "name"
    assert model.entity("contact").display_field == "full_name"  # first string field
    assert account.field("level").default == "b"
    assert model.entity("contact").field("is_primary").default is False
    assert model.entity("deal").field("next_step").default_expr.source == "'call ' + title"


def test_labels_default_to_the_humanized_name(model):
    assert model.entity("contact").field("is_primary").label.get("zh-CN") == "Is primary"


def test_date_bounds_are_dates(model):
    import datetime as dt

    assert model.entity("account").field("founded").min == dt.date(1900, 1, 1)
    errors = _errors(_entity("t", {"name": "d", "type": "date", "min": "2024-01-02",
                                   "max": "2024-01-01"}))
    assert errors[0].json_path == "$.fields[0].min" and "greater than max" in errors[0].message


def test_datetime_bounds_are_utc():
    at = _compile(_entity("t", {"name": "at", "type": "datetime",
                                "min": "2024-01-01T08:00:00+08:00"})).entity("t").field("at")
    assert at.min.isoformat() == "2024-01-01T00:00:00+00:00"


def test_bounds_do_not_apply_to_text():
    (error,) = _errors(_entity("t", {"name": "s", "type": "string", "min": 1}))
    assert error.json_path == "$.fields[0].min" and error.code == "key"


def test_convert_and_renamed_from_are_kept(model):
    f = _compile(_entity("t", {"name": "hours", "type": "integer", "default": 0,
                               "renamed_from": ["duration", "time_spent"],
                               "convert": {"on_failure": "default"}})).entity("t").field("hours")
    assert f.renamed_from == ("duration", "time_spent")
    assert f.convert["on_failure"] == "default"
    with pytest.raises(TypeError):
        f.convert["on_failure"] = "refuse"  # type: ignore[index]


def test_two_fields_may_not_claim_the_same_old_name():
    (error,) = _errors(_entity("t", {"name": "a", "type": "string", "renamed_from": "x"},
                               {"name": "b", "type": "string", "renamed_from": "x"}))
    assert error.json_path == "$.fields[1].renamed_from" and "both renamed from 'x'" in error.message


def test_entity_renames_are_checked():
    errors = _errors(_entity("a", {"name": "s", "type": "string"}, renamed_from="b"),
                     _entity("b", {"name": "s", "type": "string"}),
                     _entity("c", {"name": "s", "type": "string"}, renamed_from="old"),
                     _entity("d", {"name": "s", "type": "string"}, renamed_from="old"))
    messages = sorted(e.message for e in errors)
    assert messages == ["entities 'c' and 'd' are both renamed from 'old'",
                        "renamed_from 'b' names an entity that still exists"]


def test_every_error_of_a_file_is_reported():
    errors = _errors(_entity("t", {"name": "a", "type": "moneyy"},
                             {"name": "b", "type": "select"},
                             {"name": "c", "type": "integer", "default": "x"},
                             list_view={"columns": ["zzz"]}))
    # The list view is checked against the declared names (a field that failed stays quiet).
    assert [e.json_path for e in errors] == ["$.fields[0].type", "$.fields[1]", "$.fields[2].default",
                                             "$.list_view.columns[0]"]


def test_a_field_that_failed_is_not_reported_again_by_expressions():
    (error,) = _errors(_entity("t", {"name": "a", "type": "moneyy"},
                               {"name": "b", "type": "integer", "visible_if": "a > 1"},
                               rules=[{"name": "r", "assert": "a == 2", "message": "m"}]))
    assert error.json_path == "$.fields[0].type"


# -- index and table names -------------------------------------------------------

def test_index_names_never_collide(database):
    model = _compile(
        _entity("account", {"name": "name", "type": "string", "indexed": True},
                {"name": "code", "type": "string", "unique": True},
                indexes=[{"fields": ["name"]}, {"fields": ["code"], "unique": True},
                         {"fields": ["owner"]}, {"fields": ["name", "code"], "name": "by_name_code"}]),
        _entity("x" * 60, {"name": "y" * 60, "type": "string"}, {"name": "z" * 60, "type": "string"},
                indexes=[{"fields": ["y" * 60, "z" * 60]}, {"fields": ["z" * 60, "y" * 60]}]))
    names = [i.name for e in model.entities.values() for i in e.indexes]
    assert len(set(names)) == len(names) and all(len(n) <= MAX_IDENTIFIER for n in names)
    assert "ix_account_name" not in names  # the column index of `name` has that name
    assert "by_name_code" in names
    build_tables(model).metadata.create_all(database.engine)


def test_a_declared_index_name_must_be_free():
    (error,) = _errors(_entity("a", {"name": "s", "type": "string", "indexed": True}),
                       _entity("b", {"name": "s", "type": "string"},
                               indexes=[{"name": "ix_a_s", "fields": ["s"]}]))
    assert error.json_path == "$.indexes[0].name" and "the index of a.s" in error.message


def test_an_index_is_declared_once_and_only_over_columns():
    errors = _errors(_entity("t", {"name": "s", "type": "string"}, {"name": "j", "type": "json"},
                             {"name": "m", "type": "many_to_many", "target": "t"},
                             indexes=[{"fields": ["s"]}, {"fields": ["s"]}, {"fields": ["j"]},
                                      {"fields": ["m"]}, {"fields": ["s", "s"]}]))
    assert [(e.json_path, e.code) for e in errors] == [
        ("$.indexes[1].fields", "duplicate"), ("$.indexes[2].fields[0]", "invalid"),
        ("$.indexes[3].fields[0]", "invalid"), ("$.indexes[4].fields[1]", "duplicate")]


def test_link_table_names_fit_in_an_identifier():
    (error,) = _errors(_entity("a" * 40, {"name": "b" * 30, "type": "many_to_many",
                                          "target": "a" * 40}))
    assert "link table name" in error.message and error.json_path == "$.fields[0].name"


# -- expanded view -----------------------------------------------------------------

def test_describe_entity_expands_every_key(model):
    described = describe_entity(model.entity("deal"), lang="zh-CN")
    json.dumps(described, ensure_ascii=False)
    assert described["label"] == "商机"
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["title"]["required"] is True and fields["title"]["preset"] == "name"
    assert fields["title"]["max_length"] == 200 and fields["title"]["label"] == "商机名称"
    assert fields["probability"]["default"] == "10.00"
    assert fields["account"]["on_delete"] == "restrict" and fields["account"]["indexed"] is True
    assert fields["weighted"]["expr"] == "amount * probability / 100.0"
    assert fields["contacts"]["column_type"] is None and fields["contacts"]["stored"] is False
    assert fields["stage"]["options"][0] == {"value": "lead", "label": "lead",
                                            "labels": {"en": "lead", "zh-CN": "lead"}, "color": None}
    assert described["rules"][0]["when"] == "stage == 'won'"
    schema_keys = set(load_metaschema("entity")["$defs"]["field"]["properties"]) - {"help"}
    assert schema_keys <= set(fields["title"]) | {"help"}
    assert len({tuple(f) for f in described["fields"]}) == 1  # every field lists every key


def test_describe_model_is_json(model):
    described = describe_model(model)
    text = json.dumps(described, ensure_ascii=False)
    assert described["version"] == model.version and sorted(described["entities"]) == [
        "account", "contact", "deal"]
    assert described["presets"]["phone_cn"]["pattern"] == r"^1[3-9]\d{9}$"
    assert "contacts" in text


def _deal_with_probability(default):
    return {"entity": "deal", "label": "Deal", "fields": [
        {"name": "stage", "type": "select", "options": [{"value": "lead"}, {"value": "won"}]},
        {"name": "probability", "type": "percent", "default": default}]}


def test_a_computed_default_compiles_the_fields_it_follows():
    deal = _deal_with_probability({"expr": "stage == 'won' ? 100.0 : 10.0", "follows": ["stage"]})
    field = compile_documents(MemorySource(deal).documents([]), []).entity("deal").field(
        "probability")
    assert field.follows == ("stage",) and field.default_expr is not None


@pytest.mark.parametrize("follows, path", [
    (["stag"], "$.fields[1].default.follows[0]"),
    (["probability"], "$.fields[1].default.follows[0]"),
    ("stage", "$.fields[1].default.follows"),
])
def test_a_default_following_an_unknown_field_is_reported_with_its_path(follows, path):
    deal = _deal_with_probability({"expr": "10.0", "follows": follows})
    errors: list = []
    with pytest.raises(MetadataInvalid) as info:
        compile_documents(MemorySource(deal).documents(errors), errors)
    assert [e.json_path for e in info.value.errors] == [path]
