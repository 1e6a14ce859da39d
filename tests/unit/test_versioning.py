"""The schema version covers what shapes tables and stored values; the revision covers every
document. A label or layout change must never refuse writers; a type change must."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.compiler import compile_documents
from engine.spec import MemorySource

GOOD = Path(__file__).resolve().parent.parent / "fixtures" / "good"
ROLE = {"role": "clerk", "label": "Clerk", "entities": {"account": {"actions": ["read"]}}}


def _specs() -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(GOOD.glob("*.yaml"))]


def _compile(*docs):
    errors: list = []
    return compile_documents(MemorySource(*docs).documents(errors), errors)


def _account(specs: list[dict]) -> dict:
    return next(s for s in specs if s.get("entity") == "account")


def _field(spec: dict, name: str) -> dict:
    return next(f for f in spec["fields"] if f["name"] == name)


def _relabel_entity(spec):
    spec["label"] = {"en": "Customer", "zh-CN": "顾客"}
    spec["plural_label"] = "Customers"
    spec["description"] = "Who buys"


def _relayout(spec):
    spec["list_view"]["columns"] = ["name", "code"]
    spec["form_layout"] = {"sections": [{"title": "Main", "fields": ["name", "code"]}]}


def _relabel_field(spec):
    _field(spec, "name")["label"] = {"en": "Legal name", "zh-CN": "法定名称"}
    _field(spec, "name")["help"] = "As registered"


def _recolour_option(spec):
    option = _field(spec, "level")["options"][0]
    option["color"], option["label"] = "blue", "A+"


PRESENTATION = [_relabel_entity, _relayout, _relabel_field, _recolour_option]


@pytest.mark.parametrize("change", PRESENTATION, ids=lambda f: f.__name__.strip("_"))
def test_a_presentation_change_keeps_the_schema_version_and_changes_the_revision(change):
    specs = _specs()
    before = _compile(*specs)
    change(_account(specs))
    after = _compile(*specs)
    assert after.version == before.version
    assert after.revision != before.revision


def _retype(spec):
    _field(spec, "employees")["type"] = "decimal"


def _lengthen(spec):
    _field(spec, "notes")["max_length"] = 4000


def _new_option_value(spec):
    _field(spec, "level")["options"].append({"value": "d", "label": "D"})


def _require(spec):
    _field(spec, "website")["required"] = True


def _add_field(spec):
    spec["fields"].append({"name": "region", "type": "string"})


@pytest.mark.parametrize("change", [_retype, _lengthen, _new_option_value, _require, _add_field],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_storage_change_changes_the_schema_version_and_the_revision(change):
    specs = _specs()
    before = _compile(*specs)
    change(_account(specs))
    after = _compile(*specs)
    assert after.version != before.version
    assert after.revision != before.revision


def test_a_role_changes_only_the_revision():
    specs = _specs()
    before = _compile(*specs, ROLE)
    granted = {**ROLE, "entities": {"account": {"actions": ["read", "update"]}}}
    after = _compile(*specs, granted)
    assert after.version == before.version == _compile(*specs).version
    assert after.revision != before.revision != _compile(*specs).revision


def test_the_revision_does_not_depend_on_document_order():
    specs = _specs()
    assert _compile(*specs, ROLE).revision == _compile(ROLE, *reversed(specs)).revision
