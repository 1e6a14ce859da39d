"""Workflow documents compile against the shipped CRM's entities: every mistake is a
`loom check` error with its file and JSON path, and a compiled trigger matches exactly
the record events it names. No database, no Redis."""

from __future__ import annotations

import pytest

from engine.automation.spec import Trigger
from engine.compiler import compile_documents
from engine.config import PROJECT_ROOT
from engine.spec import FileSource, MemorySource, MetadataInvalid

SCHEMAS = PROJECT_ROOT / "schemas"
WORKFLOWS = PROJECT_ROOT / "workflows"
#: The file name MemorySource gives the first workflow document below.
FILE = "wf[0].json"


def _workflow(**changes) -> dict:
    """A valid workflow on deal; ``changes`` replace its keys (None removes one)."""
    doc = {"workflow": "touch", "label": {"en": "Touch", "zh-CN": "跟进"}, "entity": "deal",
           "trigger": {"type": "created"}, "actions": [{"set_fields": {"next_step": "call"}}]}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def _compile(*workflows: dict):
    """The shipped entities and roles plus ``workflows`` (files wf[0].json, wf[1].json...)."""
    errors: list = []
    docs = FileSource(SCHEMAS).documents(errors) + MemorySource(*workflows, name="wf").documents(errors)
    return compile_documents(docs, errors)


def _errors(*workflows: dict) -> list[tuple[str, str, str]]:
    """(file, JSON path, message) of every error; the shipped entities have none."""
    with pytest.raises(MetadataInvalid) as info:
        _compile(*workflows)
    errors = info.value.errors
    assert all(e.file.startswith("wf[") and e.line is not None for e in errors), errors
    return [(e.file, e.json_path, e.message) for e in errors]


def _only_error(*workflows: dict) -> tuple[str, str, str]:
    (error,) = _errors(*workflows)
    return error


def _compiled(*workflows: dict) -> dict:
    return dict(_compile(*workflows).part("workflows"))


def test_the_base_workflow_of_these_tests_compiles():
    (workflow,) = _compiled(_workflow()).values()
    assert (workflow.name, workflow.entity, workflow.actor, workflow.max_attempts) == (
        "touch", "deal", "system", 3)


# -- the metaschema --------------------------------------------------------------

def test_unknown_trigger_type_is_reported_with_path():
    file, path, message = _only_error(_workflow(trigger={"type": "sometimes"}))
    assert (file, path) == (FILE, "$.trigger.type")
    assert "'sometimes' is not one of" in message and "field_changed" in message


def test_unknown_action_kind_is_reported_with_path():
    file, path, message = _only_error(_workflow(actions=[{"frobnicate": {"x": 1}}]))
    assert (file, path) == (FILE, "$.actions[0]")
    assert "'frobnicate' is not one of" in message and "set_fields" in message


# -- triggers ----------------------------------------------------------------------

def test_a_trigger_key_its_type_does_not_take_is_an_error():
    file, path, message = _only_error(_workflow(trigger={"type": "created", "cron": "0 2 * * *"}))
    assert (file, path) == (FILE, "$.trigger.cron")
    assert message == "a created trigger takes no 'cron' (its keys: filter)"


@pytest.mark.parametrize("cron", ["61 * * * *", "0 2 * *  * *", "every day at two"])
def test_a_bad_cron_string_is_reported_on_the_cron(cron):
    file, path, message = _only_error(_workflow(trigger={"type": "schedule", "cron": cron}))
    assert (file, path) == (FILE, "$.trigger.cron")
    assert message.startswith(f"{cron!r} is not a valid five-field cron string")


def test_a_good_cron_string_compiles():
    (workflow,) = _compiled(_workflow(trigger={"type": "schedule", "cron": "0 2 * * 1-5"})).values()
    assert workflow.trigger.cron == "0 2 * * 1-5" and workflow.trigger.is_due


def test_a_date_trigger_on_a_field_that_is_not_a_date_is_an_error():
    trigger = {"type": "date", "field": "title", "before": {"days": 1}}
    assert _only_error(_workflow(trigger=trigger)) == (
        FILE, "$.trigger.field", "field 'title' is not a date or datetime field")


def test_a_date_trigger_on_a_date_field_compiles_with_its_offset():
    trigger = {"type": "date", "field": "expected_close_date", "before": {"days": 1, "hours": 2}}
    (workflow,) = _compiled(_workflow(trigger=trigger)).values()
    assert workflow.trigger.offset.total_seconds() == -(26 * 3600)


def _inactivity(days_from: str) -> dict:
    return _workflow(entity="account", actions=[{"set_fields": {"notes": "idle"}}],
                     trigger={"type": "inactivity", "field": "last_followup_at",
                              "days_from": days_from})


def test_inactivity_days_from_a_field_that_is_not_a_whole_number_is_an_error():
    assert _only_error(_inactivity("pool.name")) == (
        FILE, "$.trigger.days_from", "'pool.name' is not a whole-number field")


def test_inactivity_days_from_an_integer_field_of_a_related_record_compiles():
    (workflow,) = _compiled(_inactivity("pool.return_after_days")).values()
    assert workflow.trigger.days_from == ("pool", "return_after_days")


# -- conditions and values ---------------------------------------------------------

def test_a_cel_type_error_in_the_condition_is_reported_with_its_column():
    file, path, message = _only_error(_workflow(condition="record.amount > 'lots'"))
    assert (file, path) == (FILE, "$.condition")
    assert message.startswith("CEL error (column ") and "no matching overload" in message


def test_a_condition_must_be_a_bool():
    file, path, message = _only_error(_workflow(condition="record.title"))
    assert (file, path) == (FILE, "$.condition") and message.startswith("CEL error")


def test_a_condition_over_record_old_actor_now_and_today_compiles():
    condition = ("record.stage != old.stage && actor.id > 0 && record.created_at < now()"
                 " && record.expected_close_date >= today()")
    (workflow,) = _compiled(_workflow(condition=condition)).values()
    assert workflow.condition is not None


def test_an_unknown_field_in_set_fields_is_an_error():
    file, path, message = _only_error(_workflow(actions=[{"set_fields": {"nope": 1}}]))
    assert (file, path) == (FILE, "$.actions[0].set_fields.nope")
    assert message.startswith("unknown field 'nope' of 'deal'")


def test_an_unknown_field_in_create_record_is_an_error_with_a_suggestion():
    action = {"create_record": {"entity": "contract", "values": {"titel": "x"}}}
    file, path, message = _only_error(_workflow(actions=[action]))
    assert (file, path) == (FILE, "$.actions[0].create_record.values.titel")
    assert message.startswith("unknown field 'titel' of 'contract' (did you mean 'title'?)")


@pytest.mark.parametrize("field, value, reason", [
    ("stage", "flying", "'flying' is not one of"),
    ("amount", "lots", "must be a number"),
])
def test_a_literal_that_does_not_fit_its_field_is_an_error(field, value, reason):
    file, path, message = _only_error(_workflow(actions=[{"set_fields": {field: value}}]))
    assert (file, path) == (FILE, f"$.actions[0].set_fields.{field}")
    assert message.startswith(f"{value!r} doesn't fit field {field!r} of 'deal'") and reason in message


def test_a_cel_value_of_the_wrong_type_is_an_error():
    action = {"set_fields": {"amount": {"expr": "record.title"}}}
    file, path, message = _only_error(_workflow(actions=[action]))
    assert (file, path) == (FILE, "$.actions[0].set_fields.amount.expr")
    assert message.startswith("CEL error")


# -- actions -------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://example.com/hook", "example.com/hook", "javascript:alert(1)"])
def test_a_webhook_url_that_is_not_http_is_an_error(url):
    file, path, message = _only_error(_workflow(actions=[{"webhook": {"url": url}}]))
    assert (file, path, message) == (FILE, "$.actions[0].webhook.url",
                                     f"{url!r} is not an http(s) URL")


def test_a_webhook_with_an_https_url_compiles_with_its_defaults():
    (workflow,) = _compiled(_workflow(actions=[{"webhook": {"url": "https://erp.example/h"}}])).values()
    args = workflow.actions[0].args
    assert (args.url, args.timeout, args.retries, args.secret_env) == (
        "https://erp.example/h", 5.0, 3, None)


def test_update_related_whose_via_does_not_link_the_entities_is_an_error():
    action = {"update_related": {"entity": "contact", "via": "account", "set": {"title": "x"}}}
    file, path, message = _only_error(_workflow(actions=[action]))
    assert (file, path) == (FILE, "$.actions[0].update_related.via")
    assert message == "neither contact.account points at 'deal' nor deal.account at 'contact'"


def test_update_related_compiles_in_both_directions():
    children = {"update_related": {"entity": "deal", "via": "account",
                                   "set": {"next_step": "call"}}}
    parent = {"update_related": {"entity": "account", "via": "account",
                                 "set": {"notes": "deal changed"}}}
    (on_account,) = _compiled(_workflow(workflow="a", entity="account",
                                        actions=[children])).values()
    (on_deal,) = _compiled(_workflow(actions=[parent])).values()
    assert on_account.actions[0].args.mode == "children"
    assert on_deal.actions[0].args.mode == "parent"


def test_run_workflow_naming_an_unknown_workflow_is_an_error():
    file, path, message = _only_error(_workflow(actions=[{"run_workflow": {"workflow": "ghost"}}]))
    assert (file, path, message) == (FILE, "$.actions[0].run_workflow.workflow",
                                     "unknown workflow 'ghost'")


def test_run_workflow_naming_a_workflow_of_another_file_compiles():
    caller = _workflow(actions=[{"run_workflow": {"workflow": "other"}}])
    assert set(_compiled(caller, _workflow(workflow="other"))) == {"touch", "other"}


# -- the actor ---------------------------------------------------------------------

def test_the_caller_actor_on_a_workflow_that_is_not_manual_is_an_error():
    assert _only_error(_workflow(actor="caller")) == (
        FILE, "$.actor", "only a manual workflow acts as its caller")


def test_a_manual_workflow_acts_as_its_caller_by_default():
    (workflow,) = _compiled(_workflow(trigger={"type": "manual"})).values()
    assert workflow.actor == "caller"


# -- trigger matching --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["created", "updated", "deleted"])
def test_a_record_trigger_matches_its_own_event_only(kind):
    trigger = Trigger(type=kind)
    for event in ("created", "updated", "deleted"):
        assert trigger.matches_event(event, {"stage": ["lead", "won"]}) is (event == kind)


def _field_changed(**trigger) -> Trigger:
    (workflow,) = _compiled(_workflow(trigger={"type": "field_changed", "field": "stage",
                                               **trigger})).values()
    return workflow.trigger


def test_field_changed_matches_a_change_of_its_field_on_create_and_update():
    trigger = _field_changed()
    assert trigger.matches_event("updated", {"stage": ["lead", "qualified"]})
    assert trigger.matches_event("created", {"stage": [None, "lead"]})
    assert not trigger.matches_event("updated", {"amount": ["1", "2"]})
    assert not trigger.matches_event("deleted", {"stage": ["lead", None]})


def test_field_changed_with_from_and_to_lists_matches_only_those_values():
    trigger = _field_changed(**{"from": ["proposal", "negotiation"], "to": "won"})
    assert (trigger.from_values, trigger.to_values) == (("proposal", "negotiation"), ("won",))
    assert trigger.matches_event("updated", {"stage": ["negotiation", "won"]})
    assert trigger.matches_event("updated", {"stage": ["proposal", "won"]})
    assert not trigger.matches_event("updated", {"stage": ["lead", "won"]})
    assert not trigger.matches_event("updated", {"stage": ["proposal", "lost"]})


def test_field_changed_from_or_to_a_value_that_is_not_an_option_is_an_error():
    file, path, message = _only_error(_workflow(trigger={"type": "field_changed",
                                                         "field": "stage", "to": ["wonn"]}))
    assert (file, path) == (FILE, "$.trigger.to") and message.startswith("'wonn' is not an option")


# -- the shipped workflows ---------------------------------------------------------

def test_the_shipped_workflows_compile_with_the_shipped_entities():
    errors: list = []
    docs = FileSource(SCHEMAS, WORKFLOWS).documents(errors)
    workflows = dict(compile_documents(docs, errors).part("workflows"))
    files = sorted(p.stem for p in WORKFLOWS.glob("*.yaml"))
    assert sorted(workflows) == files and files
    assert workflows["won_deal_contract"].trigger.to_values == ("won",)
    assert workflows["lead_conversion"].actor == "caller"
    assert [a.kind for a in workflows["contract_renewal"].actions] == [
        "set_fields", "create_record", "notify"]
