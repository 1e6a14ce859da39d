"""Loading metadata files: YAML and JSON, lines of every path, and every way a file can be bad."""

from __future__ import annotations

import pytest

from engine.spec import FileSource, MemorySource
from engine.spec.loader import MAX_NODES, document_from_text, load_documents, parse_text


def _parse(text: str, name: str = "t.yaml"):
    errors: list = []
    data, lines = parse_text(text, name, errors)
    return data, lines, errors


def test_plain_scalars_are_read_the_yaml_1_2_way():
    data, _, errors = _parse("a: no\nb: on\nc: 2024-01-01\nd: 0755\ne: 1e5\nf: 1.5\n"
                             "g: ~\nh: true\ni: 12\nj: -3\nk: Yes\n")
    assert errors == []
    assert data == {"a": "no", "b": "on", "c": "2024-01-01", "d": "0755", "e": 100000.0,
                    "f": 1.5, "g": None, "h": True, "i": 12, "j": -3, "k": "Yes"}


def test_lines_are_kept_for_every_path():
    text = "entity: t\nlabel: T\nfields:\n  - name: a\n    type: string\n  - {name: b, type: text}\n"
    errors: list = []
    doc = document_from_text(text, "t.yaml", errors)
    assert errors == [] and doc.kind == "entity"
    assert doc.line_of(("fields", 0, "type")) == 5
    assert doc.line_of(("fields", 1, "type")) == 6
    assert doc.line_of(("fields", 1, "nope", 3)) == 6  # nearest ancestor
    assert doc.error(("fields", 0), "x").line == 4


def test_json_is_read_by_json_and_gets_lines_even_with_tabs():
    text = '{\n\t"entity": "t",\n\t"fields": [\n\t\t{"name": "a", "min": 1e5}\n\t]\n}'
    data, lines, errors = _parse(text, "t.json")
    assert errors == [] and data["fields"][0]["min"] == 100000.0
    assert lines[("fields", 0, "min")] == 4


def test_duplicate_keys_are_reported_with_path_and_line():
    data, _, errors = _parse("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert data == {"a": 1, "b": {"c": 1}}  # the first one is kept
    assert [(e.json_path, e.line, e.code) for e in errors] == [("$.b.c", 4, "duplicate")]
    _, _, json_errors = _parse('{"a": 1,\n "a": 2}', "t.json")
    assert [(e.json_path, e.line) for e in json_errors] == [("$.a", 2)]


@pytest.mark.parametrize("text, message", [
    ("a: [1\n", "invalid YAML: while parsing a flow sequence (line 1)"),
    ("a: 1\n---\nb: 2\n", "invalid YAML: expected a single document"),
    ("a: !!python/object:os.system x\n", "could not determine a constructor"),
    ("a: \x07\n", "special characters are not allowed"),
    ("a: !!float x\n", "invalid YAML"),
    ("a: &x [*x]\n", f"more than {MAX_NODES} values"),
    ("[" * 3000 + "]" * 3000, "nested too deeply"),
])
def test_bad_yaml_is_one_error_never_a_traceback(text, message):
    data, _, errors = _parse(text)
    assert data is None
    (error,) = errors
    assert message in error.message and error.code == "syntax"


def test_an_alias_bomb_is_refused_quickly():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    data, _, errors = _parse("\n".join(levels) + "\n")
    assert data is None and f"more than {MAX_NODES} values" in errors[0].message


def test_malformed_json_names_the_line():
    data, _, errors = _parse('{\n  "a": 1,\n}\n', "t.json")
    assert data is None
    assert [(e.line, e.code) for e in errors] == [(3, "syntax")]
    assert errors[0].message.startswith("invalid JSON: ")


@pytest.mark.parametrize("text, message", [
    ("", "file is empty"),
    ("# only a comment\n", "file is empty"),
    ("- a\n- b\n", "must be a mapping"),
    ("label: x\n", "unknown kind of document (keys: label); a metadata document has exactly one "
                    "of the keys entity, extends, presets, role, workflow (the known kinds)"),
    ("label: a\nentity: a\npresets: {}\n", "has the keys entity, presets after 'label'; known kinds: entity, extends"),
    ("? [1]\n: 2\nentity: a\n", "mapping keys must be plain text"),
])
def test_document_shape_errors(text, message):
    errors: list = []
    document_from_text(text, "t.yaml", errors)
    assert any(message in e.message for e in errors), errors


def test_file_source_reads_folders_recursively_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.yaml").write_text("entity: z\n", encoding="utf-8")
    (tmp_path / "a.yml").write_text("entity: a\n", encoding="utf-8")
    (tmp_path / "c.json").write_text('{"presets": {}}', encoding="utf-8")
    (tmp_path / "notes.md").write_text("not metadata", encoding="utf-8")
    source = FileSource(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in source.files()] == ["a.yml", "b/z.yaml", "c.json"]
    errors: list = []
    assert [d.kind for d in source.documents(errors)] == ["entity", "entity", "presets"]
    assert errors == []
    assert [d.data["entity"] for d in FileSource(tmp_path / "a.yml").documents([])] == ["a"]


def test_unreadable_and_missing_files_are_errors(tmp_path):
    (tmp_path / "bad.yaml").write_bytes(b"entity: \xff\xfe\n")
    errors: list = []
    docs = load_documents([FileSource(tmp_path, tmp_path / "missing")], errors)
    assert docs == []
    messages = sorted(e.message for e in errors)
    assert messages[0].startswith("cannot read file") and messages[1] == "metadata folder does not exist"


def test_memory_source_names_each_document():
    errors: list = []
    docs = MemorySource({"entity": "a"}, {"presets": {}}, name="<api>").documents(errors)
    assert [d.file for d in docs] == ["<api>[0].json", "<api>[1].json"]
    assert docs[0].line_of(("entity",)) == 2
