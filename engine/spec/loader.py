"""Load metadata documents from YAML or JSON, keeping the line of every path.

A document is one file's content: an ``entity``, an ``extends`` (fields and
rules added to an entity declared elsewhere, the shape the customisation layer
will store), a set of ``presets`` or a ``role`` (permissions). Sources are pluggable: anything with a
``documents()`` method returning :class:`SpecDocument` values; files now, a
database layer later.

No database, no Flask, nothing at import time.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import yaml

from engine.spec.errors import MetadataError, suggest
from engine.spec.kinds import registry

#: File endings read as metadata.
SUFFIXES = (".yaml", ".yml", ".json")
#: Most YAML nodes one file may expand to. Aliases can make a small file expand
#: exponentially ("billion laughs"); metadata never needs this many.
MAX_NODES = 200_000


@dataclass(frozen=True)
class SpecDocument:
    """One metadata document and where its parts came from."""

    kind: str
    data: dict[str, Any]
    file: str
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False)

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: tuple[str | int, ...], message: str, code: str = "invalid") -> MetadataError:
        return MetadataError(self.file, tuple(path), message, self.line_of(path), code)


class MetadataSource(Protocol):
    """Anything that yields metadata documents (files now, a database layer later)."""

    def documents(self, errors: list[MetadataError]) -> list[SpecDocument]: ...


class _LineLoader(yaml.SafeLoader):
    """SafeLoader reading plain scalars the YAML 1.2 way (see ``_RESOLVERS``).

    Duplicate keys are refused by ``_to_python``, not here.
    """

    yaml_implicit_resolvers: dict = {}


class _TooLarge(Exception):
    """The document expands to more than :data:`MAX_NODES` nodes."""


#: Plain scalars that are not text. YAML 1.1 (PyYAML's default) also reads
#: ``no``/``on`` as booleans, ``2024-01-01`` as a date object and ``0755`` as
#: octal, which would turn option values, date bounds and phone prefixes into
#: the wrong type; here those stay text, as in YAML 1.2 and JSON.
_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
)
for _tag, _pattern, _first in _RESOLVERS:
    _LineLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _to_python(loader: yaml.SafeLoader, node: yaml.Node, path: tuple[str | int, ...],
               lines: dict[tuple[str | int, ...], int], errors: list[MetadataError],
               file: str, budget: list[int] | None = None) -> Any:
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                errors.append(MetadataError(file, path, "mapping keys must be plain text",
                                            key_node.start_mark.line + 1, "yaml"))
                continue
            key = str(key)
            if key in result:
                errors.append(MetadataError(file, path + (key,), f"duplicate key {key!r}",
                                            key_node.start_mark.line + 1, "duplicate"))
                continue
            result[key] = _to_python(loader, value_node, path + (key,), lines, errors, file, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(loader, item, path + (i,), lines, errors, file, budget)
                for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _keep_first(file: str, errors: list[MetadataError]):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                errors.append(MetadataError(file, (), f"duplicate key {key!r}", None, "duplicate"))
                continue
            result[key] = value
        return result
    return hook


def _parse_json(text: str, file: str, errors: list[MetadataError]) -> tuple[Any, dict]:
    """The data comes from ``json`` (YAML 1.1 would read ``1e5`` as text); YAML adds lines."""
    duplicates: list[MetadataError] = []
    try:
        data = json.loads(text, object_pairs_hook=_keep_first(file, duplicates))
    except json.JSONDecodeError as exc:
        errors.append(MetadataError(file, (), f"invalid JSON: {exc.msg}", exc.lineno, "syntax"))
        return None, {}
    except RecursionError:
        errors.append(MetadataError(file, (), "invalid JSON: nested too deeply", None, "syntax"))
        return None, {}
    # Raw tabs can only be whitespace in valid JSON (never inside a string) and
    # YAML refuses them as indentation: spaces keep every line where it was.
    yaml_errors: list[MetadataError] = []
    _, lines = _parse_yaml(text.replace("\t", " "), file, yaml_errors)
    if any(e.code == "syntax" for e in yaml_errors):
        errors.extend(duplicates)
        return data, {}
    # The same duplicates, with their path and line.
    errors.extend(e for e in yaml_errors if e.code == "duplicate")
    return data, lines


def parse_text(text: str, file: str, errors: list[MetadataError]) -> tuple[Any, dict]:
    """Parse YAML or JSON (by the file's ending) keeping lines; append errors, never raise."""
    if file.endswith(".json"):
        return _parse_json(text, file, errors)
    return _parse_yaml(text, file, errors)


def _parse_yaml(text: str, file: str, errors: list[MetadataError]) -> tuple[Any, dict]:
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        # The reader already refuses control characters when it is built.
        loader = _LineLoader(text)
    except yaml.YAMLError as exc:
        errors.append(MetadataError(file, (), f"invalid YAML: {exc}", None, "syntax"))
        return None, lines
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        return _to_python(loader, node, (), lines, errors, file), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        context = ""
        if exc.context and exc.context_mark is not None:
            context = f"{exc.context} (line {exc.context_mark.line + 1}): "
        errors.append(MetadataError(file, (), f"invalid YAML: {context}{exc.problem or exc}", line,
                                    "syntax"))
        return None, lines
    except yaml.YAMLError as exc:
        errors.append(MetadataError(file, (), f"invalid YAML: {exc}", None, "syntax"))
        return None, lines
    except (_TooLarge, RecursionError):
        errors.append(MetadataError(file, (), "invalid YAML: the document is nested too deeply or "
                                    f"expands to more than {MAX_NODES} values (aliases?)", None,
                                    "syntax"))
        return None, lines
    except (ValueError, TypeError, OverflowError) as exc:
        # A scalar the constructor can't build (e.g. an out-of-range number).
        errors.append(MetadataError(file, (), f"invalid YAML: {exc}", None, "syntax"))
        return None, lines
    finally:
        loader.dispose()


def document_from_text(text: str, file: str, errors: list[MetadataError]) -> SpecDocument | None:
    """One document from a file's text, or ``None`` with errors appended."""
    data, lines = parse_text(text, file, errors)
    if data is None:
        if not any(e.file == file for e in errors):
            errors.append(MetadataError(file, (), "file is empty", 1, "empty"))
        return None
    if not isinstance(data, dict):
        errors.append(MetadataError(file, (), "a metadata file must be a mapping", 1, "shape"))
        return None
    kind = kind_of(data, file, errors, lines)
    return None if kind is None else SpecDocument(kind, data, file, lines)


def kind_of(data: dict[str, Any], file: str, errors: list[MetadataError],
            lines: dict[tuple[str | int, ...], int] | None = None) -> str | None:
    """The registered kind ``data`` declares by its top-level key, or ``None`` with an error
    naming the known kinds."""
    known = registry.names()
    kinds = [k for k in known if k in data]
    if len(kinds) == 1:
        return kinds[0]
    # Kinds may name others (a workflow on ``entity: deal``): the first key then tells.
    first_key = next(iter(data), None)
    if kinds and first_key in kinds:
        return first_key
    if kinds:
        errors.append(MetadataError(file, (), "a metadata document has one kind, named by its first "
                                    f"key, but this one has the keys {', '.join(kinds)} after "
                                    f"{first_key!r}; known kinds: {', '.join(known)}", 1, "kind"))
        return None
    # A key close to a kind name is most likely a typo of it (``entiy: deal``); else the
    # first key usually names the kind (``workflow: follow_up``, a kind not registered).
    keys = [str(k) for k in data]
    close = [k for k in keys if suggest(k, set(known))]
    key = (close or keys or [None])[0]
    found = f"keys: {', '.join(keys)}" if keys else "no keys"
    hint = suggest(key, set(known)) if key is not None else ""
    path: tuple[str, ...] = (key,) if key is not None else ()
    errors.append(MetadataError(file, path, f"unknown kind of document ({found}){hint}; a "
                                "metadata document has exactly one of the keys "
                                f"{', '.join(known)} (the known kinds)",
                                (lines or {}).get(path, 1), "kind"))
    return None


class FileSource:
    """Metadata files under one or more folders (recursively, sorted by path)."""

    def __init__(self, *folders: str | os.PathLike[str]) -> None:
        self.folders = [Path(f) for f in folders]

    def files(self) -> list[Path]:
        found: list[Path] = []
        for folder in self.folders:
            if folder.is_file():
                found.append(folder)
                continue
            for path in sorted(folder.rglob("*")):
                if path.suffix in SUFFIXES and path.is_file():
                    found.append(path)
        return found

    def documents(self, errors: list[MetadataError]) -> list[SpecDocument]:
        docs: list[SpecDocument] = []
        for folder in self.folders:
            if not folder.exists():
                errors.append(MetadataError(str(folder), (), "metadata folder does not exist",
                                            None, "missing"))
        for path in self.files():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(MetadataError(str(path), (), f"cannot read file: {exc}", None, "io"))
                continue
            doc = document_from_text(text, str(path), errors)
            if doc is not None:
                docs.append(doc)
        return docs


class MemorySource:
    """Documents given as Python mappings (tests, the metadata API)."""

    def __init__(self, *specs: dict[str, Any], name: str = "<memory>") -> None:
        self.specs = specs
        self.name = name

    def documents(self, errors: list[MetadataError]) -> list[SpecDocument]:
        docs = []
        for i, spec in enumerate(self.specs):
            text = json.dumps(spec, ensure_ascii=False, indent=1, default=str)
            doc = document_from_text(text, f"{self.name}[{i}].json", errors)
            if doc is not None:
                docs.append(doc)
        return docs


def load_documents(sources: Iterable[MetadataSource], errors: list[MetadataError]) -> list[SpecDocument]:
    docs: list[SpecDocument] = []
    for source in sources:
        docs.extend(source.documents(errors))
    return docs
