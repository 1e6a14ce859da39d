"""Document kinds are one registry: a registered kind is loaded, checked, compiled into the
model and printed by `loom metaschema`; unknown kinds are errors naming the known ones."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.compiler import compile_documents
from engine.config import SHIPPED_METADATA, Config
from engine.model import Source, Use
from engine.spec import FileSource, MemorySource, MetadataInvalid
from engine.spec.kinds import DocumentKind, registry

CHECKLIST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "required": ["checklist", "entity", "items"], "additionalProperties": False,
    "properties": {"checklist": {"type": "string"}, "entity": {"type": "string"},
                   "items": {"type": "array", "items": {"type": "string"}}},
}
TICKET = {"entity": "ticket", "label": "Ticket",
          "fields": [{"name": "title", "type": "string"}, {"name": "body", "type": "text"}]}


def compile_checklists(step):
    """A plug-in's compile step: each checklist names fields of an entity (the entity step
    provides every entity's declared field names, also of one that failed to compile)."""
    result = {}
    for doc in step.documents:
        entity, ok = doc.data["entity"], True
        for i, name in enumerate(doc.data["items"]):
            use = Use(doc.kind, doc.data["checklist"], Source(doc.file, ("items", i)), "checklist item")
            if name in step.built["declared_fields"].get(entity, ()):
                step.use(entity, name, use)
            else:
                ok = False
                step.unknown_field(entity, name, use,
                                   doc.error(("items", i), f"unknown field {name!r}"))
        if ok:
            result[doc.data["checklist"]] = tuple(doc.data["items"])
    return MappingProxyType(result)


@pytest.fixture
def checklist_kind(tmp_path):
    schema = tmp_path / "checklist.schema.json"
    schema.write_text(json.dumps(CHECKLIST_SCHEMA), encoding="utf-8")
    kind = registry.register(DocumentKind("checklist", "fields to review", compile=compile_checklists,
                                          place="checklists", after=("entity",), schema=schema))
    yield kind
    registry.unregister("checklist")


def _compile(*specs):
    errors: list = []
    return compile_documents(MemorySource(*specs).documents(errors), errors)


def test_registering_a_kind_is_all_it_takes_to_load_check_compile_and_print_it(checklist_kind, tmp_path):
    model = _compile(TICKET, {"checklist": "triage", "entity": "ticket", "items": ["title", "body"]})
    assert model.part("checklists") == {"triage": ("title", "body")}
    assert [u.owner for u in model.users_of("ticket", "body")] == ["triage"]
    # Checked against its metaschema, with the path.
    with pytest.raises(MetadataInvalid) as info:
        _compile(TICKET, {"checklist": "triage", "entity": "ticket", "items": "title"})
    assert [e.json_path for e in info.value.errors] == ["$.items"]
    # Read from files, and printed by `loom metaschema`.
    folder = tmp_path / "meta"
    folder.mkdir()
    (folder / "triage.yaml").write_text("checklist: triage\nentity: ticket\nitems: [title]\n")
    (folder / "ticket.json").write_text(json.dumps(TICKET))
    errors: list = []
    assert compile_documents(FileSource(folder).documents(errors), errors).part("checklists")
    printed = CliRunner().invoke(main, ["metaschema", "checklist"])
    assert printed.exit_code == 0 and json.loads(printed.output) == CHECKLIST_SCHEMA


def test_a_plug_in_kind_joins_the_list_of_users_of_a_missing_field(checklist_kind):
    with pytest.raises(MetadataInvalid) as info:
        _compile({**TICKET, "list_view": {"columns": ["state"]}},
                 {"checklist": "triage", "entity": "ticket", "items": ["state"]})
    (error,) = info.value.errors
    assert "2 places use it" in error.message and "checklist 'triage'" in error.message


def test_failed_registry_lookups_name_the_known_kinds():
    with pytest.raises(KeyError, match="unknown document kind 'workflw'; known: entity, extends, "
                                       "presets, role"):
        registry.get("workflw")
    with pytest.raises(KeyError, match="unknown model part 'reports'; known: entities, presets, roles"):
        _compile(TICKET).part("reports")


def test_a_kind_must_be_registered_after_the_kinds_it_reads():
    with pytest.raises(ValueError, match="names unknown kind 'report'"):
        registry.register(DocumentKind("dashboard", "d", compile=compile_checklists,
                                       after=("report",)))
    assert "dashboard" not in registry


def test_a_document_of_an_unknown_kind_is_a_check_error_naming_the_known_kinds(tmp_path):
    (tmp_path / "follow_up.yaml").write_text("report: follow_up\nlabel: Follow up\n")
    (tmp_path / "typo.yaml").write_text("label: Deal\nentiy: deal\n")
    result = CliRunner().invoke(main, ["--metadata", str(tmp_path), "check", "--json"])
    assert result.exit_code == 1
    errors = {e["file"].rsplit("/", 1)[-1]: e for e in json.loads(result.output)["errors"]}
    assert errors["follow_up.yaml"]["path"] == "$.report"
    assert "known kinds" in errors["follow_up.yaml"]["message"]
    assert "entity, extends, presets, role, workflow" in errors["follow_up.yaml"]["message"]
    assert errors["typo.yaml"]["path"] == "$.entiy" and errors["typo.yaml"]["line"] == 2
    assert "did you mean 'entity'?" in errors["typo.yaml"]["message"]


def test_stored_kinds_come_from_the_registry():
    assert registry.stored_names() == ("entity", "extends", "role")  # roles: PUT /api/v1/meta/roles
    assert registry.owner_of("extends").name == "entity"


def test_processes_read_schemas_workflows_and_report_defs_by_default(monkeypatch):
    monkeypatch.delenv("LOOM_METADATA_DIRS", raising=False)
    assert [d.name for d in Config.from_env().metadata_dirs] == ["schemas", "workflows", "report_defs"]
    # Their README.md files are not metadata.
    assert not any(p.suffix == ".md" for p in FileSource(*SHIPPED_METADATA).files())


def test_a_missing_default_folder_is_skipped_but_a_named_one_is_an_error(monkeypatch, tmp_path):
    import engine.config as config

    monkeypatch.delenv("LOOM_METADATA_DIRS", raising=False)
    monkeypatch.setattr(config, "SHIPPED_METADATA", (*SHIPPED_METADATA[:1], tmp_path / "absent"))
    assert Config.from_env().metadata_dirs == SHIPPED_METADATA[:1]
    errors: list = []
    FileSource(tmp_path / "absent").documents(errors)
    assert [e.message for e in errors] == ["metadata folder does not exist"]
