"""Every broken metadata file reports exactly its one mistake, with file, path and line.

Each case under ``tests/fixtures/broken/`` is a file (or a folder of files) with
one mistake, compiled together with the valid set in ``tests/fixtures/good/``.
The case declares the error it expects on its first line::

    # expect: $.fields[1].type line 7 unknown field type 'moneyy'

(JSON path, optional ``line N``, then a substring of the message.) A JSON file
can't hold a comment, so its expectation sits in ``<file>.expect`` beside it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.compiler import compile_documents, compile_model
from engine.spec import FileSource, MemorySource, MetadataInvalid
from engine.spec.loader import SUFFIXES, document_from_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"
EXPECT = re.compile(r"^# expect: (\$\S*)(?: line (\d+))? (.+)$")


@dataclass(frozen=True)
class Expectation:
    file: Path
    path: str
    line: int | None
    message: str


def _expectation(path: Path) -> Expectation | None:
    holder = path.with_name(path.name + ".expect") if path.suffix == ".json" else path
    if not holder.exists():
        return None
    first = holder.read_text(encoding="utf-8").splitlines()[:1]
    match = EXPECT.match(first[0]) if first else None
    if match is None:
        return None
    line = int(match.group(2)) if match.group(2) else None
    return Expectation(path, match.group(1), line, match.group(3))


def _case_files(case: Path) -> list[Path]:
    if case.is_dir():
        return sorted(p for p in case.rglob("*") if p.suffix in SUFFIXES)
    return [case]


def _cases() -> list[Path]:
    return sorted(p for p in BROKEN.iterdir() if p.is_dir() or p.suffix in SUFFIXES)


def _expectations(case: Path) -> list[Expectation]:
    found = [e for e in map(_expectation, _case_files(case)) if e is not None]
    assert found, f"{case.name} declares no '# expect:' line"
    return found


def _compile_errors(*sources: Path):
    with pytest.raises(MetadataInvalid) as info:
        compile_model([FileSource(GOOD, *sources)])
    return info.value.errors


def test_good_fixtures_compile():
    model = compile_model([FileSource(GOOD)])
    assert sorted(model.entities) == ["account", "contact", "deal"]


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_broken_case_reports_exactly_its_error(case: Path):
    (expected,) = _expectations(case)
    errors = _compile_errors(case)
    assert len(errors) == 1, "\n".join(map(str, errors))
    (error,) = errors
    assert Path(error.file) == expected.file
    assert error.json_path == expected.path, str(error)
    assert error.line == expected.line, str(error)
    assert expected.message in error.message, str(error)


def test_every_required_mistake_has_a_case():
    names = {p.name for p in _cases()}
    required = {
        "malformed_yaml.yaml", "malformed_json.json", "empty.yaml", "not_a_mapping.yaml",
        "no_kind.yaml", "unknown_key.yaml", "unknown_type.yaml", "unknown_preset.yaml",
        "key_not_for_type.yaml", "select_without_options.yaml", "relation_without_target.yaml",
        "formula_without_returns.yaml", "duplicate_field.yaml", "duplicate_yaml_key.yaml",
        "duplicate_entity", "reserved_entity_order.yaml", "reserved_field_select.yaml",
        "reserved_field_created_at.yaml", "upper_case_name.yaml", "system_prefix_entity.yaml",
        "double_underscore_name.yaml", "relation_to_missing_entity.yaml", "cel_syntax_error.yaml",
        "cel_unknown_field.yaml", "cel_type_mismatch.yaml", "rule_assert_not_bool.yaml",
        "default_not_an_option.yaml", "default_too_long.yaml", "default_below_min.yaml",
        "min_greater_than_max.yaml", "invalid_pattern.yaml", "autonumber_without_seq.yaml",
        "formula_cycle.yaml", "formula_returns_mismatch.yaml", "list_view_unknown_column.yaml",
        "form_layout_unknown_field.yaml", "display_field_unknown.yaml", "index_unknown_field.yaml",
        "duplicate_option.yaml", "required_relation_set_null.yaml", "inverse_name_clash.yaml",
        "extends_unknown_entity.yaml",
    }
    assert required <= names, sorted(required - names)


def test_all_broken_files_are_reported_at_once(tmp_path):
    # Every case in one folder: one MetadataInvalid carrying every expected error.
    for case in _cases():
        target = tmp_path / case.name
        if case.is_dir():
            shutil.copytree(case, target)
        else:
            shutil.copy(case, target)
    expected = sorted((e.file.name, e.path, e.line) for case in _cases()
                      for e in _expectations(case))
    errors = _compile_errors(tmp_path)
    reported = sorted((Path(e.file).name, e.json_path, e.line) for e in errors)
    assert reported == expected


def test_errors_render_with_file_line_and_path():
    errors = _compile_errors(BROKEN / "unknown_type.yaml")
    text = str(MetadataInvalid(errors))
    assert text.startswith("1 metadata error:")
    assert "unknown_type.yaml:7: $.fields[1].type: unknown field type 'moneyy'" in text
    assert errors[0].as_dict()["path"] == "$.fields[1].type"


def test_an_error_in_a_target_entity_is_not_repeated_by_relations_to_it(tmp_path):
    # contact and deal point at account; a typo in account is still one error.
    for path in GOOD.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "account.yaml":
            text = text.replace("display_field: name", "display_feld: name")
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    with pytest.raises(MetadataInvalid) as info:
        compile_model([FileSource(tmp_path)])
    (error,) = info.value.errors
    assert error.json_path == "$.display_feld"
    assert "did you mean 'display_field'?" in error.message


def test_a_missing_folder_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(MetadataInvalid) as info:
        compile_model([FileSource(tmp_path / "nowhere")])
    assert "does not exist" in info.value.errors[0].message


# -- garbage in, MetadataInvalid out ------------------------------------------

_KEYS = st.sampled_from([
    "entity", "extends", "presets", "label", "fields", "name", "type", "preset", "options",
    "value", "target", "inverse", "default", "expr", "returns", "min", "max", "rules", "assert",
    "message", "indexes", "list_view", "columns", "form_layout", "sections", "format",
    "renamed_from", "convert", "on_failure", "precision", "scale", "display_field", "when",
])
_TYPES = st.sampled_from(["string", "integer", "money", "select", "relation", "formula", "date",
                          "autonumber", "many_to_many", "json", "moneyy"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                     st.floats(allow_nan=False), st.text(max_size=12), _TYPES, _KEYS)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)), max_leaves=25)


def _field_like():
    return st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "amount", "Bad", "select"])},
                                 optional={"type": _TYPES, "options": _VALUES, "target": _VALUES,
                                           "default": _VALUES, "expr": _VALUES,
                                           "returns": _TYPES, "min": _VALUES, "max": _VALUES,
                                           "format": _VALUES, "inverse": _VALUES})


_DOCS = st.one_of(
    st.dictionaries(_KEYS, _VALUES, max_size=6),
    st.fixed_dictionaries({"entity": st.sampled_from(["ticket", "account", "order"]),
                           "label": _VALUES, "fields": st.lists(_field_like(), max_size=4)},
                          optional={"rules": _VALUES, "indexes": _VALUES,
                                    "list_view": _VALUES, "display_field": _VALUES}),
)


# Schema-valid shapes with wrong combinations, so the compiler's own checks run.
_NAMES = st.sampled_from(["a", "b", "c", "amount", "title", "account", "deal"])
_EXPRS = st.sampled_from(["a + 1", "amount * 2.0", "b", "'x'", "a > 1", "c", "title + '!'",
                          "a > 1 ||", "now()", "amount > 0.0 && a == 1", "owner == 1"])
_PLAUSIBLE_FIELD = st.fixed_dictionaries({"name": _NAMES}, optional={
    "type": _TYPES, "preset": st.sampled_from(["p", "q"]),
    "options": st.lists(st.fixed_dictionaries({"value": st.sampled_from(["x", "y", "z"])}),
                        min_size=1, max_size=3),
    "default": st.one_of(_SCALARS, st.fixed_dictionaries({"expr": _EXPRS})),
    "expr": _EXPRS, "visible_if": _EXPRS, "returns": st.sampled_from(["string", "integer", "money",
                                                                       "date", "boolean"]),
    "min": st.one_of(st.integers(-5, 5), st.sampled_from(["2024-01-01", "x", "1.005"])),
    "max": st.one_of(st.integers(-5, 5), st.sampled_from(["2023-01-01", "y"])),
    "max_length": st.integers(1, 5), "min_length": st.integers(0, 6),
    "pattern": st.sampled_from(["^a", "[", "(?P<x>"]), "target": _NAMES,
    "on_delete": st.sampled_from(["restrict", "set_null", "cascade"]), "required": st.booleans(),
    "unique": st.booleans(), "indexed": st.booleans(), "inverse": st.fixed_dictionaries({"name": _NAMES}),
    "format": st.sampled_from(["X-{seq}", "{YYYY}", "{seq:3}{seq}", "{x}"]),
    "precision": st.integers(1, 6), "scale": st.integers(0, 8), "renamed_from": _NAMES,
    "convert": st.fixed_dictionaries({"on_failure": st.sampled_from(["refuse", "default"])}),
})
_PLAUSIBLE = st.one_of(
    st.fixed_dictionaries({"entity": _NAMES, "label": st.just("L"),
                           "fields": st.lists(_PLAUSIBLE_FIELD, min_size=1, max_size=5)},
                          optional={
                              "rules": st.lists(st.fixed_dictionaries(
                                  {"name": _NAMES, "assert": _EXPRS, "message": st.just("m")},
                                  optional={"when": _EXPRS}), max_size=2),
                              "indexes": st.lists(st.fixed_dictionaries(
                                  {"fields": st.lists(_NAMES, min_size=1, max_size=2)},
                                  optional={"unique": st.booleans(), "name": _NAMES}), max_size=2),
                              "list_view": st.fixed_dictionaries({"columns": st.lists(_NAMES)}),
                              "display_field": _NAMES, "renamed_from": _NAMES}),
    st.fixed_dictionaries({"extends": _NAMES, "fields": st.lists(_PLAUSIBLE_FIELD, max_size=2)}),
    st.fixed_dictionaries({"presets": st.dictionaries(st.sampled_from(["p", "q"]), st.fixed_dictionaries(
        {}, optional={"type": _TYPES, "default": _SCALARS, "max_length": st.integers(1, 3),
                      "options": st.lists(st.fixed_dictionaries({"value": st.just("x")}),
                                          min_size=1, max_size=2)}), min_size=1)}),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PLAUSIBLE, min_size=1, max_size=4))
def test_plausible_but_wrong_specs_raise_metadata_invalid_or_compile(specs):
    try:
        model = compile_documents(MemorySource(*specs).documents([]), [])
    except MetadataInvalid as exc:
        assert exc.errors and all(e.message for e in exc.errors)
    else:
        assert model.version


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_DOCS, min_size=1, max_size=3))
def test_garbage_dicts_raise_metadata_invalid_or_compile(specs):
    try:
        compile_documents(MemorySource(*specs).documents([]), [])
    except MetadataInvalid as exc:
        assert exc.errors and all(e.message for e in exc.errors)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_garbage_text_never_raises_anything_but_metadata_invalid(text):
    errors: list = []
    for name in ("garbage.yaml", "garbage.json"):
        doc = document_from_text(text, name, errors)
        try:
            compile_documents([doc] if doc else [], errors)
        except MetadataInvalid as exc:
            assert exc.errors
