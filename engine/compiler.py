"""Compile metadata documents into one frozen :class:`CompiledModel`.

load -> check (metaschema) -> compile (presets merged, types resolved, references
checked, CEL typed) -> CompiledModel. Every error is collected and raised once as
:class:`MetadataInvalid`; a user never sees a traceback for a mistake in a file.

Pure: no database, no Flask, nothing at import time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field as dc_field
from types import MappingProxyType
from typing import Any, Iterable

from engine.fields import FieldValueError, registry
from engine.fields.computed import AUTONUMBER_TOKEN
from engine.model import (STANDARD_COLUMNS, CompiledModel, Entity, Field, Index, Inverse, Option,
                          Preset, Rule, Source, Text)
from engine.rules import Environment, ExpressionError
from engine.spec.errors import MetadataError, MetadataInvalid
from engine.spec.loader import MetadataSource, SpecDocument, load_documents
from engine.spec.metaschema import validate_document
from engine.spec.reserved import identifier_problem

#: Keys every field accepts whatever its type.
COMMON_FIELD_KEYS = frozenset({
    "name", "type", "preset", "label", "help", "required", "unique", "indexed", "read_only",
    "default", "visible_if", "required_if", "read_only_if", "renamed_from", "convert",
})
#: Standard columns that list views may show and sort by.
LISTABLE_STANDARD = frozenset(STANDARD_COLUMNS)


@dataclass
class _Item:
    """A spec item (field, rule, index) with the document and path it came from."""

    doc: SpecDocument
    path: tuple[str | int, ...]
    data: dict[str, Any]

    def error(self, message: str, *sub: str | int, code: str = "invalid") -> MetadataError:
        return self.doc.error(self.path + tuple(sub), message, code)

    @property
    def source(self) -> Source:
        return Source(self.doc.file, self.path, self.doc.line_of(self.path))


@dataclass
class _EntityDraft:
    doc: SpecDocument
    fields: list[_Item] = dc_field(default_factory=list)
    rules: list[_Item] = dc_field(default_factory=list)
    indexes: list[_Item] = dc_field(default_factory=list)

    @property
    def name(self) -> str:
        return self.doc.data["entity"]


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class Compiler:
    """One compilation. Use :func:`compile_model` rather than this class."""

    def __init__(self, docs: list[SpecDocument], errors: list[MetadataError]) -> None:
        self.docs = docs
        self.errors = errors
        self.presets: dict[str, Preset] = {}
        self.drafts: dict[str, _EntityDraft] = {}

    # -- entry -------------------------------------------------------------
    def run(self) -> CompiledModel | None:
        valid = []
        for doc in self.docs:
            problems = validate_document(doc)
            self.errors.extend(problems)
            if not problems:
                valid.append(doc)
        self._collect(valid)
        entities = {}
        for name, draft in self.drafts.items():
            entity = self._entity(draft)
            if entity is not None:
                entities[name] = entity
        self._cross_check(entities)
        entities = self._with_inverses(entities)
        if self.errors:
            return None
        specs = {name: self._merged_spec(draft) for name, draft in sorted(self.drafts.items())}
        version = _version(specs, {n: dict(p.values) for n, p in sorted(self.presets.items())})
        return CompiledModel(entities=MappingProxyType(dict(sorted(entities.items()))),
                             presets=MappingProxyType(dict(self.presets)), version=version,
                             specs=MappingProxyType(specs))

    # -- documents ---------------------------------------------------------
    def _collect(self, docs: list[SpecDocument]) -> None:
        for doc in docs:
            if doc.kind == "presets":
                for name, values in doc.data["presets"].items():
                    if name in self.presets:
                        self.errors.append(doc.error(("presets", name), f"preset {name!r} is already "
                                           f"declared in {self.presets[name].source.file}", "duplicate"))
                        continue
                    self.presets[name] = Preset(name, MappingProxyType(values),
                                                Source(doc.file, ("presets", name),
                                                       doc.line_of(("presets", name))))
            elif doc.kind == "entity":
                name = doc.data["entity"]
                if name in self.drafts:
                    self.errors.append(doc.error(("entity",), f"entity {name!r} is already declared "
                                       f"in {self.drafts[name].doc.file}", "duplicate"))
                    continue
                problem = identifier_problem(name, kind="entity")
                if problem:
                    self.errors.append(doc.error(("entity",), problem, "reserved"))
                    continue
                draft = _EntityDraft(doc)
                for key, bucket in (("fields", draft.fields), ("rules", draft.rules),
                                    ("indexes", draft.indexes)):
                    bucket.extend(_Item(doc, (key, i), item) for i, item in enumerate(doc.data.get(key, [])))
                self.drafts[name] = draft
        for doc in docs:
            if doc.kind != "extends":
                continue
            name = doc.data["extends"]
            if name not in self.drafts:
                self.errors.append(doc.error(("extends",), f"unknown entity {name!r}; known: "
                                   f"{', '.join(sorted(self.drafts))}", "reference"))
                continue
            draft = self.drafts[name]
            for key, bucket in (("fields", draft.fields), ("rules", draft.rules),
                                ("indexes", draft.indexes)):
                bucket.extend(_Item(doc, (key, i), item) for i, item in enumerate(doc.data.get(key, [])))

    @staticmethod
    def _merged_spec(draft: _EntityDraft) -> dict[str, Any]:
        spec = {k: v for k, v in draft.doc.data.items() if k not in ("fields", "rules", "indexes")}
        spec["fields"] = [i.data for i in draft.fields]
        if draft.rules:
            spec["rules"] = [i.data for i in draft.rules]
        if draft.indexes:
            spec["indexes"] = [i.data for i in draft.indexes]
        return spec

    # -- one entity --------------------------------------------------------
    def _entity(self, draft: _EntityDraft) -> Entity | None:
        data = draft.doc.data
        before = len(self.errors)
        fields: dict[str, Field] = {}
        items: dict[str, _Item] = {}
        for item in draft.fields:
            name = item.data["name"]
            if name in fields or name in items:
                self.errors.append(item.error(f"field {name!r} is declared twice", "name",
                                              code="duplicate"))
                continue
            problem = identifier_problem(name, kind="field")
            if problem:
                self.errors.append(item.error(problem, "name", code="reserved"))
                continue
            compiled = self._field(draft.name, item)
            if compiled is not None:
                fields[name] = compiled
                items[name] = item
        env = Environment({n: f.type.cel_type(f) for n, f in fields.items()}
                          | {"id": "int", "owner": "int", "version": "int"})
        for name, f in list(fields.items()):
            fields[name] = self._field_expressions(f, items[name], env)
        self._formula_cycles(fields, items)
        for name, f in list(fields.items()):
            fields[name] = self._field_default(f, items[name])
        rules = self._rules(draft, env)
        indexes = self._indexes(draft, fields)
        entity_source = Source(draft.doc.file, (), 1)
        if len(self.errors) > before:
            return None
        entity = Entity(
            name=draft.name,
            label=Text.of(data["label"]),
            plural_label=Text.of(data.get("plural_label", data["label"])),
            description=Text.of(data["description"]) if "description" in data else None,
            source=entity_source,
            fields=tuple(fields.values()),
            display_field=data.get("display_field") or self._default_display(fields),
            indexes=tuple(indexes),
            rules=tuple(rules),
            list_view=MappingProxyType(data.get("list_view", {})),
            form_layout=MappingProxyType(data.get("form_layout", {})),
            renamed_from=_as_tuple(data.get("renamed_from")),
        )
        self._views(draft, entity)
        return entity if len(self.errors) == before else None

    @staticmethod
    def _default_display(fields: dict[str, Field]) -> str:
        for f in fields.values():
            if f.type_name in ("string", "autonumber"):
                return f.name
        return "id"

    def _field(self, entity: str, item: _Item) -> Field | None:
        spec = dict(item.data)
        preset_name = spec.get("preset")
        if preset_name is not None:
            preset = self.presets.get(preset_name)
            if preset is None:
                self.errors.append(item.error(f"unknown preset {preset_name!r}; known: "
                                              f"{', '.join(sorted(self.presets)) or 'none'}",
                                              "preset", code="reference"))
                return None
            spec = {**preset.values, **spec}
        type_name = spec.get("type")
        if type_name is None:
            self.errors.append(item.error("field has no type (give 'type' or a 'preset' that has one)",
                                          code="required"))
            return None
        if type_name not in registry:
            self.errors.append(item.error(f"unknown field type {type_name!r}; known: "
                                          f"{', '.join(registry.names())}", "type", code="reference"))
            return None
        ftype = registry.get(type_name)
        allowed = COMMON_FIELD_KEYS | ftype.keys
        if ftype.numeric or type_name in ("date", "datetime"):
            allowed |= {"min", "max"}
        bad = False
        for key in sorted(set(spec) - allowed):
            where = "the preset" if key not in item.data else None
            self.errors.append(item.error(f"key {key!r} does not apply to type {type_name!r}"
                                          + (f" (it comes from {where} {preset_name!r})" if where else ""),
                                          key if key in item.data else "preset", code="key"))
            bad = True
        for key in sorted(ftype.required_keys - set(spec)):
            self.errors.append(item.error(f"type {type_name!r} needs the key {key!r}", code="required"))
            bad = True
        if bad:
            return None
        options = tuple(Option(str(o["value"]), Text.of(o.get("label"), str(o["value"])), o.get("color"))
                        for o in spec.get("options", []))
        seen: set[str] = set()
        for i, option in enumerate(options):
            if option.value in seen:
                self.errors.append(item.error(f"option {option.value!r} is listed twice",
                                              "options", i, code="duplicate"))
            seen.add(option.value)
        if spec.get("pattern"):
            try:
                re.compile(spec["pattern"])
            except re.error as exc:
                self.errors.append(item.error(f"invalid regular expression: {exc}", "pattern"))
        if "format" in spec and type_name == "autonumber":
            self._autonumber_format(item, spec["format"])
        on_delete = spec.get("on_delete")
        if type_name == "relation":
            on_delete = on_delete or ("restrict" if spec.get("required") else "set_null")
            if on_delete == "set_null" and spec.get("required"):
                self.errors.append(item.error("a required relation cannot use on_delete: set_null",
                                              "on_delete"))
        inverse = spec.get("inverse")
        compiled = Field(
            name=spec["name"], type=ftype, label=Text.of(spec.get("label"), spec["name"]),
            source=item.source, help=Text.of(spec["help"]) if "help" in spec else None,
            required=bool(spec.get("required", False)), unique=bool(spec.get("unique", False)),
            indexed=bool(spec.get("indexed", False)) or type_name in ("relation", "user"),
            read_only=bool(spec.get("read_only", False)) or ftype.computed,
            min_length=spec.get("min_length"), max_length=spec.get("max_length"),
            pattern=spec.get("pattern"), options=options, target=spec.get("target"),
            on_delete=on_delete,
            inverse=Inverse(inverse["name"], Text.of(inverse.get("label"), inverse["name"]),
                            entity, spec["name"]) if inverse else None,
            precision=spec.get("precision"), scale=spec.get("scale"), currency=spec.get("currency"),
            format=spec.get("format"), returns=spec.get("returns"),
            renamed_from=_as_tuple(spec.get("renamed_from")),
            convert=MappingProxyType(spec.get("convert", {})), preset=preset_name,
        )
        compiled = self._bounds(compiled, item, spec)
        if type_name == "autonumber":
            compiled = dataclasses.replace(compiled, unique=True)
        return compiled

    def _bounds(self, f: Field, item: _Item, spec: dict[str, Any]) -> Field:
        values = {}
        for key in ("min", "max"):
            if key in spec:
                try:
                    values[key] = f.type.coerce(f, spec[key])
                except FieldValueError as exc:
                    self.errors.append(item.error(f"{key} {exc}", key))
        if "min" in values and "max" in values and values["min"] > values["max"]:
            self.errors.append(item.error("min is greater than max", "min"))
        if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
            self.errors.append(item.error("min_length is greater than max_length", "min_length"))
        return dataclasses.replace(f, **values) if values else f

    def _autonumber_format(self, item: _Item, fmt: str) -> None:
        tokens = AUTONUMBER_TOKEN.findall(fmt)
        if not any(t[0].startswith("seq") for t in tokens):
            self.errors.append(item.error("an autonumber format needs a {seq} or {seq:N} placeholder",
                                          "format"))
        stray = re.sub(AUTONUMBER_TOKEN, "", fmt)
        if "{" in stray or "}" in stray:
            self.errors.append(item.error("unknown placeholder in format; known: {YYYY}, {YY}, {MM}, "
                                          "{DD}, {seq}, {seq:N}", "format"))

    def _compile(self, env: Environment, item: _Item, source: str, expect: str | None,
                 *path: str | int):
        try:
            return env.compile(source, expect=expect)
        except ExpressionError as exc:
            where = f" (column {exc.column})" if exc.column else ""
            self.errors.append(item.error(f"CEL error{where}: {exc.message}", *path, code="expression"))
            return None

    def _field_expressions(self, f: Field, item: _Item, env: Environment) -> Field:
        changes: dict[str, Any] = {}
        spec = item.data
        for key in ("visible_if", "required_if", "read_only_if"):
            if key in spec:
                changes[key] = self._compile(env, item, spec[key], "bool", key)
        if f.type_name == "formula" and f.returns:
            expect = registry.get(f.returns).cel_type(f)
            merged = spec.get("expr") or (self.presets[f.preset].values.get("expr") if f.preset else None)
            changes["expr"] = self._compile(env, item, merged, expect, "expr")
        default = spec.get("default", self.presets[f.preset].values.get("default") if f.preset else None)
        if isinstance(default, dict) and set(default) == {"expr"}:
            changes["default_expr"] = self._compile(env, item, default["expr"], f.type.cel_type(f),
                                                    "default", "expr")
        return dataclasses.replace(f, **{k: v for k, v in changes.items() if v is not None})

    def _field_default(self, f: Field, item: _Item) -> Field:
        default = item.data.get("default", self.presets[f.preset].values.get("default")
                                if f.preset else None)
        if default is None or (isinstance(default, dict) and set(default) == {"expr"}):
            return f
        if f.computed or f.type_name == "many_to_many":
            self.errors.append(item.error(f"a {f.type_name} field cannot have a default", "default"))
            return f
        try:
            value = f.type.coerce(f, default)
            problems = list(f.type.check(f, value))
        except FieldValueError as exc:
            problems = [exc]
        if problems:
            self.errors.append(item.error(f"default {default!r} violates its own field: "
                                          f"{problems[0].message.get()}", "default", code="default"))
            return f
        return dataclasses.replace(f, default=value)

    def _formula_cycles(self, fields: dict[str, Field], items: dict[str, _Item]) -> None:
        graph = {n: {v for v in f.expr.variables if v in fields and fields[v].type_name == "formula"}
                 for n, f in fields.items() if f.type_name == "formula" and f.expr is not None}
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(node: str) -> bool:
            if node in done:
                return False
            if node in visiting:
                return True
            visiting.add(node)
            cyclic = any(visit(n) for n in graph.get(node, ()))
            visiting.discard(node)
            done.add(node)
            return cyclic

        for node in graph:
            if node not in done and visit(node):
                self.errors.append(items[node].error("formula refers to itself through other formulas",
                                                     "expr", code="cycle"))

    def _rules(self, draft: _EntityDraft, env: Environment) -> list[Rule]:
        rules, names = [], set()
        for item in draft.rules:
            data = item.data
            if data["name"] in names:
                self.errors.append(item.error(f"rule {data['name']!r} is declared twice", "name",
                                              code="duplicate"))
                continue
            names.add(data["name"])
            check = self._compile(env, item, data["assert"], "bool", "assert")
            when = self._compile(env, item, data["when"], "bool", "when") if "when" in data else None
            if check is None or ("when" in data and when is None):
                continue
            rules.append(Rule(data["name"], check, Text.of(data["message"]), item.source, when,
                              data.get("severity", "error")))
        return rules

    def _indexes(self, draft: _EntityDraft, fields: dict[str, Field]) -> list[Index]:
        indexes = []
        for item in draft.indexes:
            names = item.data["fields"]
            ok = True
            for i, name in enumerate(names):
                if name not in fields and name not in STANDARD_COLUMNS:
                    self.errors.append(item.error(f"unknown field {name!r}; known: "
                                                  f"{', '.join(sorted(fields))}", "fields", i,
                                                  code="reference"))
                    ok = False
                elif name in fields and not fields[name].stored:
                    self.errors.append(item.error(f"field {name!r} has no column to index",
                                                  "fields", i))
                    ok = False
            if ok:
                unique = bool(item.data.get("unique", False))
                name = item.data.get("name") or ("uq" if unique else "ix") + "_" + draft.name + "_" + "_".join(names)
                indexes.append(Index(name[:63], tuple(names), unique))
        return indexes

    def _views(self, draft: _EntityDraft, entity: Entity) -> None:
        doc, data = draft.doc, draft.doc.data
        known = set(entity.field_names) | LISTABLE_STANDARD

        def need(name: str, path: tuple[str | int, ...]) -> None:
            if name not in known:
                self.errors.append(doc.error(path, f"unknown field {name!r}; known: "
                                             f"{', '.join(sorted(entity.field_names))}", "reference"))

        if "display_field" in data:
            need(data["display_field"], ("display_field",))
        view = data.get("list_view", {})
        for key in ("columns", "filters", "search"):
            for i, name in enumerate(view.get(key, [])):
                need(name, ("list_view", key, i))
        for i, name in enumerate(view.get("sort", [])):
            need(name.lstrip("-"), ("list_view", "sort", i))
        for s, section in enumerate(data.get("form_layout", {}).get("sections", [])):
            for i, name in enumerate(section["fields"]):
                need(name, ("form_layout", "sections", s, "fields", i))

    # -- across entities ---------------------------------------------------
    def _cross_check(self, entities: dict[str, Entity]) -> None:
        for entity in entities.values():
            for f in entity.fields:
                if f.target is not None and f.target not in self.drafts:
                    self.errors.append(MetadataError(
                        f.source.file, f.source.path + ("target",),
                        f"relation to unknown entity {f.target!r}; known: {', '.join(sorted(self.drafts))}",
                        f.source.line, "reference"))

    def _with_inverses(self, entities: dict[str, Entity]) -> dict[str, Entity]:
        inverses: dict[str, list[Inverse]] = {}
        for entity in entities.values():
            for f in entity.fields:
                if f.type_name != "relation" or f.target not in entities:
                    continue
                inverse = f.inverse or Inverse(
                    f"{entity.name}_{f.name}" if f.name != f.target else entity.name,
                    entity.plural_label, entity.name, f.name)
                target = entities[f.target]
                taken = {i.name for i in inverses.get(f.target, [])}
                if target.has_field(inverse.name) or inverse.name in taken:
                    self.errors.append(MetadataError(
                        f.source.file, f.source.path + ("inverse",),
                        f"inverse name {inverse.name!r} clashes with a field or inverse of "
                        f"{f.target!r}", f.source.line, "duplicate"))
                    continue
                inverses.setdefault(f.target, []).append(inverse)
        return {name: dataclasses.replace(e, inverses=tuple(inverses.get(name, ())))
                for name, e in entities.items()}


def _version(specs: dict[str, Any], presets: dict[str, Any]) -> str:
    canonical = json.dumps({"entities": specs, "presets": presets}, sort_keys=True,
                           ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def compile_documents(docs: list[SpecDocument], errors: list[MetadataError] | None = None) -> CompiledModel:
    """Compile already-loaded documents; raise :class:`MetadataInvalid` with every error."""
    errors = list(errors or [])
    model = Compiler(docs, errors).run()
    if errors or model is None:
        raise MetadataInvalid(errors or [MetadataError("<metadata>", (), "compilation failed")])
    return model


def compile_model(sources: Iterable[MetadataSource]) -> CompiledModel:
    """Load every source and compile.

    >>> from engine.spec import FileSource
    >>> model = compile_model([FileSource("schemas")])          # doctest: +SKIP
    >>> model.entity("deal").field("stage").option_values       # doctest: +SKIP
    """
    errors: list[MetadataError] = []
    docs = load_documents(sources, errors)
    return compile_documents(docs, errors)


def environment_for(entity: Entity) -> Environment:
    """A CEL environment typed by ``entity``'s fields (for workflows and reports)."""
    return Environment({f.name: f.type.cel_type(f) for f in entity.fields}
                       | {"id": "int", "owner": "int", "version": "int"})
