"""The published metaschema: valid Draft 2020-12, in step with what the compiler accepts."""

from __future__ import annotations

import json

import jsonschema
import pytest

from engine.compiler import COMMON_FIELD_KEYS, compile_documents
from engine.fields import registry
from engine.spec import MemorySource, MetadataInvalid, metaschema, validate_document
from engine.spec.kinds import registry as kinds
from engine.spec.loader import SpecDocument

KINDS = kinds.names()

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("kind", KINDS)
def test_metaschema_is_a_valid_draft_2020_12_schema(kind):
    schema = metaschema(kind)
    assert schema["$schema"] == DRAFT_2020_12
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_the_three_metaschemas_share_one_set_of_definitions():
    entity = metaschema("entity")["$defs"]
    assert metaschema("extends")["$defs"] == entity
    assert metaschema("presets")["$defs"] == entity


def _objects(node, path="$"):
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}[{i}]")


@pytest.mark.parametrize("kind", KINDS)
def test_every_object_refuses_unknown_keys(kind):
    # A typo must be an error, never a key silently ignored.
    for path, node in _objects(metaschema(kind)):
        if "properties" in node:
            assert node.get("additionalProperties") is False, path


def test_field_keys_are_exactly_what_the_compiler_accepts():
    declared = set(metaschema("entity")["$defs"]["field"]["properties"])
    accepted = set(COMMON_FIELD_KEYS).union(*(t.keys for t in registry.all()))
    assert declared == accepted


def test_preset_keys_are_field_keys_without_identity():
    preset = metaschema("presets")["properties"]["presets"]["additionalProperties"]["properties"]
    field = metaschema("entity")["$defs"]["field"]["properties"]
    assert set(field) - set(preset) == {"name", "preset", "renamed_from"}
    for key in preset:
        assert preset[key] == field[key], key


def test_extension_keys_are_entity_keys():
    extends = set(metaschema("extends")["properties"]) - {"extends"}
    assert extends == {"fields", "rules", "indexes"}
    assert extends <= set(metaschema("entity")["properties"])


def test_formula_returns_are_registered_types():
    returns = metaschema("entity")["$defs"]["field"]["properties"]["returns"]["enum"]
    assert set(returns) <= set(registry.names())


def test_every_key_of_the_metaschema_compiles():
    """A spec using every entity, field, rule, index and view key is accepted."""
    presets = {"presets": {"money_cny": {
        "type": "money", "label": {"en": "Amount", "zh-CN": "金额"}, "help": "In yuan",
        "required": False, "unique": False, "indexed": True, "read_only": False, "default": 0,
        "min": 0, "max": "1000000", "precision": 12, "scale": 2, "currency": "CNY",
        "visible_if": "true", "required_if": "false", "read_only_if": "false",
        "convert": {"on_failure": "set_null"}}}}
    entity = {
        "entity": "deal", "label": "Deal", "plural_label": {"en": "Deals", "zh-CN": "商机"},
        "description": "Opportunities", "display_field": "title", "renamed_from": ["opportunity"],
        "fields": [
            {"name": "title", "type": "string", "min_length": 1, "max_length": 80,
             "pattern": "^[^<>]*$", "renamed_from": "name"},
            {"name": "amount", "preset": "money_cny"},
            {"name": "stage", "type": "select",
             "options": [{"value": "lead", "label": "Lead", "color": "gray"}, {"value": "won"}],
             "transitions": {"won": []}},
            {"name": "account", "type": "relation", "target": "deal", "on_delete": "set_null",
             "inverse": {"name": "children", "label": "Children"}},
            {"name": "peers", "type": "many_to_many", "target": "deal",
             "inverse": {"name": "peer_of"}},
            {"name": "open_to", "type": "multiselect", "options": [{"value": "seller"}]},
            {"name": "number", "type": "autonumber", "format": "D-{YY}{MM}{DD}-{seq:4}"},
            {"name": "weighted", "type": "formula", "expr": "amount * 0.5", "returns": "decimal",
             "precision": 10, "scale": 3},
        ],
        "indexes": [{"name": "ix_deal_by_stage", "fields": ["stage", "title"], "unique": False}],
        "rules": [{"name": "won_amount", "when": "stage == 'won'", "assert": "amount > 0.0",
                   "message": {"en": "Amount needed", "zh-CN": "需要金额"}, "severity": "warning"}],
        "list_view": {"columns": ["title", "stage"], "sort": ["-created_at"], "filters": ["stage"],
                      "page_size": 50, "search": ["title"],
                      "board": {"field": "stage", "sum": ["amount"], "card": ["owner"]}},
        "form_layout": {"sections": [{"title": "Main", "columns": 2, "fields": ["title", "stage"]}]},
    }
    extension = {"extends": "deal", "fields": [{"name": "note", "type": "text"}],
                 "rules": [{"name": "note_short", "assert": "size(note) < 500", "message": "m"}],
                 "indexes": [{"fields": ["account", "stage"]}]}
    role = {"role": "seller", "label": "Seller", "description": "Sells", "admin": False,
            "default": {"actions": ["read"], "scope": "all"},
            "entities": {"deal": {"actions": ["read", "update", "delete"], "scope": "own",
                                  "fields": {"amount": "read"},
                                  "pool": {"field": "account", "roles": "open_to"},
                                  "read_through": ["peers"],
                                  "conditions": {"update": "stage != 'won'",
                                                 "delete": "stage != 'won'"}}}}
    visit = {"entity": "visit", "label": "Visit", "fields": [
        {"name": "due_at", "type": "datetime"}, {"name": "days", "type": "integer"},
        {"name": "parent", "type": "relation", "target": "visit"}]}
    workflows = _every_workflow_key()
    used = (_keys(presets) | _keys(entity) | _keys(extension) | _keys(role) | _keys(visit)
            | set().union(*(_keys(w) for w in workflows)))
    model = compile_documents(MemorySource(presets, entity, extension, role, visit, *workflows)
                              .documents([]), [])
    assert len(model.part("workflows")) == len(workflows)
    assert model.entity("deal").rules[0].severity == "warning"
    declared = set().union(*(_property_names(metaschema(kind)) for kind in KINDS))
    assert declared <= used, sorted(declared - used)


def _every_workflow_key() -> list[dict]:
    """Workflow documents that between them use every key of the workflow metaschema."""
    act = [{"set_fields": {"title": "x"}}]
    return [
        {"workflow": "w1", "label": {"en": "W", "zh-CN": "流程"}, "description": "d",
         "entity": "deal", "active": True, "actor": {"user": "admin"}, "max_attempts": 2,
         "trigger": {"type": "field_changed", "field": "stage", "from": "lead", "to": ["won"]},
         "condition": "record.stage == 'won'", "actions": act},
        {"workflow": "w2", "label": "W", "entity": "visit", "actor": "owner", "actions": act[:0] or
         [{"set_fields": {"days": 1}}],
         "trigger": {"type": "date", "field": "due_at", "before": {"minutes": 30, "hours": 1,
                                                                   "days": 0},
                     "filter": [{"field": "days", "op": "gt", "value": 0}]}},
        {"workflow": "w3", "label": "W", "entity": "visit", "actions": [{"set_fields": {"days": 2}}],
         "trigger": {"type": "date", "field": "due_at", "after": {"days": 1}}},
        {"workflow": "w4", "label": "W", "entity": "visit", "actions": [{"set_fields": {"days": 3}}],
         "trigger": {"type": "inactivity", "related": "visit", "via": "parent", "days": 9}},
        {"workflow": "w5", "label": "W", "entity": "visit", "actions": [{"set_fields": {"days": 4}}],
         "trigger": {"type": "inactivity", "field": "due_at", "days_from": "parent.days"}},
        {"workflow": "w6", "label": "W", "entity": "deal", "actions": act,
         "trigger": {"type": "schedule", "cron": "0 2 * * *"}},
        {"workflow": "w7", "label": "W", "entity": "deal", "actions": act, "actor": "caller",
         "trigger": {"type": "manual", "label": "Go", "roles": ["seller"],
                     "visible_if": "record.stage != 'won'", "bulk": True}},
    ]


def _property_names(node) -> set[str]:
    """Every key a metadata file may write, anywhere in a metaschema."""
    found: set[str] = set()
    if isinstance(node, dict):
        found |= set(node.get("properties", {}))
        for value in node.values():
            found |= _property_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _property_names(value)
    return found


def _keys(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            found |= _keys(value)
    elif isinstance(node, list):
        for value in node:
            found |= _keys(value)
    return found


def _document(data: dict, kind: str = "entity") -> SpecDocument:
    return SpecDocument(kind, data, "t.yaml", {("fields", 0): 5, ("fields", 0, "lable"): 7})


def test_unknown_key_is_reported_at_the_key_with_a_suggestion():
    doc = _document({"entity": "t", "label": "T", "fields": [
        {"name": "a", "type": "string", "lable": "A", "zzz": 1}]})
    errors = validate_document(doc)
    assert [(e.json_path, e.line) for e in errors] == [("$.fields[0].lable", 7), ("$.fields[0].zzz", 5)]
    assert "unknown key 'lable' (did you mean 'label'?); known: convert," in errors[0].message
    assert "did you mean" not in errors[1].message


def test_invalid_identifier_message():
    errors = validate_document(_document({"entity": "Deal", "label": "D", "fields": [
        {"name": "a", "type": "string"}]}))
    assert [e.message for e in errors] == ["'Deal' is not a valid identifier (lower case letter, "
                                           "then lower case letters, digits or _; at most 63 characters)"]


def test_a_label_must_be_text_or_languages():
    errors = validate_document(_document({"entity": "t", "label": {"fr": "T"}, "fields": [
        {"name": "a", "type": "string"}]}))
    assert len(errors) == 1 and errors[0].json_path.startswith("$.label")


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="known: entity, extends, presets, role, workflow"):
        metaschema("report")


def test_metaschema_is_json_serialisable_for_editors():
    for kind in KINDS:
        assert json.loads(json.dumps(metaschema(kind))) == metaschema(kind)


def test_a_document_refused_by_the_metaschema_is_not_compiled_further():
    with pytest.raises(MetadataInvalid) as info:
        compile_documents(MemorySource({"entity": "t", "label": "T", "fields": [
            {"name": "a", "type": "moneyy", "lable": "x"}]}).documents([]), [])
    # Only the schema error: the unknown type would be a guess about a refused document.
    assert [e.json_path for e in info.value.errors] == ["$.fields[0].lable"]


def test_an_option_colour_outside_the_palette_is_refused_naming_the_palette():
    spec = {"entity": "memo", "label": "Memo", "fields": [{"name": "mood", "type": "select", "options": [
        {"value": "calm", "color": "green"}, {"value": "angry", "color": "magenta"}]}]}
    with pytest.raises(MetadataInvalid) as caught:
        compile_documents(MemorySource(spec).documents([]))
    [error] = caught.value.errors
    assert error.path == ("fields", 0, "options", 1, "color")
    assert "magenta" in error.message and "teal" in error.message
