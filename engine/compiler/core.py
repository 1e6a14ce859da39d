"""Compile metadata documents into one frozen :class:`CompiledModel`.

load -> check (metaschema) -> compile (presets merged, types resolved, references
checked, CEL typed) -> CompiledModel. Every error is collected and raised once as
:class:`MetadataInvalid`; a user never sees a traceback for a mistake in a file.
One mistake gives one error: a part that failed (a document refused by the
metaschema, a field whose type is unknown) is remembered as broken, and whatever
refers to it is not reported again.

Field-level work lives in :mod:`engine.compiler.fields`, model-wide naming
(inverses, index and link-table names, renames) in :mod:`engine.compiler.names`, roles in
:mod:`engine.compiler.roles`.

Pure: no database, no Flask, nothing at import time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, Iterable

from engine.compiler.fields import (COMMON_FIELD_KEYS, STANDARD_VARIABLES, FieldDraft, Item,
                                    a_type, compile_field, field_default, field_expressions,
                                    formula_cycles)
from engine.compiler.names import check_entity_renames, name_indexes, source_error, with_inverses
from engine.compiler import versioning
from engine.compiler.roles import compile_roles
from engine.fields import registry
from engine.model import (STANDARD_COLUMNS, CompiledModel, Entity, Field, Index, Preset, Rule,
                          Source, Text, freeze, thaw)
from engine.rules import Environment
from engine.spec.errors import MetadataError, MetadataInvalid
from engine.spec.loader import MetadataSource, SpecDocument, load_documents
from engine.spec.metaschema import suggest, validate_document
from engine.spec.reserved import CEL_RESERVED, identifier_problem

__all__ = ["COMMON_FIELD_KEYS", "STANDARD_VARIABLES", "Compiler", "compile_documents",
           "compile_model", "environment_for"]

#: Standard columns that list views may show and sort by.
LISTABLE_STANDARD = frozenset(STANDARD_COLUMNS)


#: How many documents the metaschema accepted are remembered (see :func:`_validate`).
VALID_KEPT = 512
_valid_lock = threading.Lock()
_valid: OrderedDict[str, None] = OrderedDict()


def _validate(doc: SpecDocument) -> list[MetadataError]:
    """``validate_document(doc)``; a document accepted before (same kind and data) is not
    checked again (jsonschema is slow, and the metadata API compiles the same documents
    over and over). Documents with errors are checked every time (errors carry lines)."""
    key = hashlib.sha256(repr((doc.kind, doc.data)).encode("utf-8")).hexdigest()
    with _valid_lock:
        if key in _valid:
            _valid.move_to_end(key)
            return []
    problems = validate_document(doc)
    if not problems:
        with _valid_lock:
            _valid[key] = None
            while len(_valid) > VALID_KEPT:
                _valid.popitem(last=False)
    return problems


@dataclasses.dataclass
class _EntityDraft:
    doc: SpecDocument
    fields: list[Item] = dataclasses.field(default_factory=list)
    rules: list[Item] = dataclasses.field(default_factory=list)
    indexes: list[Item] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        return self.doc.data["entity"]

    def add(self, doc: SpecDocument) -> None:
        for key, bucket in (("fields", self.fields), ("rules", self.rules),
                            ("indexes", self.indexes)):
            bucket.extend(Item(doc, (key, i), item) for i, item in enumerate(doc.data.get(key, [])))


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


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
        # Declared, but refused with an error already: references to them stay quiet.
        self.broken_entities: set[str] = set()
        self.broken_presets: set[str] = set()
        # Declared index names (or None) per entity, aligned with Entity.indexes.
        self.index_names: dict[str, list[tuple[Item, str | None]]] = {}

    # -- entry -------------------------------------------------------------
    def run(self) -> CompiledModel | None:
        valid = []
        for doc in self.docs:
            problems = _validate(doc)
            self.errors.extend(problems)
            if problems:
                self._remember_broken(doc)
            else:
                valid.append(doc)
        self._collect(valid)
        entities = {}
        for name in sorted(self.drafts):
            entity = self._entity(self.drafts[name])
            if entity is not None:
                entities[name] = entity
        self._cross_check(entities)
        docs = {d.file: d for d in self.docs}
        entities = with_inverses(entities, docs, self.errors)
        entities = name_indexes(entities, self.index_names, docs, self.errors)
        check_entity_renames(entities, self.drafts, self.errors)
        roles = compile_roles([d for d in valid if d.kind == "role"], entities, set(self.drafts),
                              self.broken_entities, self.errors)
        if self.errors:
            return None
        specs = {name: self._merged_spec(draft) for name, draft in sorted(self.drafts.items())}
        version = _version(specs, {n: thaw(p.values) for n, p in sorted(self.presets.items())})
        return CompiledModel(entities=MappingProxyType(dict(sorted(entities.items()))),
                             presets=MappingProxyType(dict(sorted(self.presets.items()))),
                             version=version, specs=MappingProxyType(specs),
                             roles=MappingProxyType(roles),
                             revision=versioning.revision((d.kind, d.data) for d in self.docs))

    def _remember_broken(self, doc: SpecDocument) -> None:
        if doc.kind == "entity" and isinstance(doc.data.get("entity"), str):
            self.broken_entities.add(doc.data["entity"])
        elif doc.kind == "presets" and isinstance(doc.data.get("presets"), dict):
            self.broken_presets.update(k for k in doc.data["presets"] if isinstance(k, str))

    # -- documents ---------------------------------------------------------
    def _collect(self, docs: list[SpecDocument]) -> None:
        for doc in docs:
            if doc.kind == "presets":
                for name, values in doc.data["presets"].items():
                    self._preset(doc, name, values)
            elif doc.kind == "entity":
                self._declare(doc)
        # Extensions in a fixed order whatever the file order, so the version is stable.
        extensions = sorted((d for d in docs if d.kind == "extends"), key=lambda d: _canonical(d.data))
        for doc in extensions:
            name = doc.data["extends"]
            if name in self.drafts:
                self.drafts[name].add(doc)
            elif name not in self.broken_entities:
                self.errors.append(doc.error(("extends",), f"unknown entity {name!r}"
                                             f"{suggest(name, set(self.drafts))}; known: "
                                             f"{', '.join(sorted(self.drafts)) or 'none'}", "reference"))

    def _declare(self, doc: SpecDocument) -> None:
        name = doc.data["entity"]
        if name in self.drafts:
            self.errors.append(doc.error(("entity",), f"entity {name!r} is already declared "
                                         f"in {self.drafts[name].doc.file}", "duplicate"))
            return
        problem = identifier_problem(name, kind="entity")
        if problem:
            self.errors.append(doc.error(("entity",), problem, "reserved"))
            self.broken_entities.add(name)
            return
        draft = _EntityDraft(doc)
        draft.add(doc)
        self.drafts[name] = draft

    def _preset(self, doc: SpecDocument, name: str, values: dict[str, Any]) -> None:
        path = ("presets", name)
        if name in self.presets:
            self.errors.append(doc.error(path, f"preset {name!r} is already declared in "
                                         f"{self.presets[name].source.file}", "duplicate"))
            return
        before = len(self.errors)
        type_name = values.get("type")
        if type_name is not None and type_name not in registry:
            self.errors.append(doc.error(path + ("type",), f"unknown field type {type_name!r}"
                                         f"{suggest(type_name, set(registry.names()))}; known: "
                                         f"{', '.join(registry.names())}", "reference"))
        elif type_name is not None:
            ftype = registry.get(type_name)
            for key in sorted(set(values) - COMMON_FIELD_KEYS - ftype.keys):
                self.errors.append(doc.error(path + (key,), f"key {key!r} does not apply to type "
                                             f"{type_name!r}", "key"))
            if len(self.errors) == before:
                for key, message in ftype.spec_problems(values):
                    self.errors.append(doc.error(path + (key,), message))
        if len(self.errors) > before:
            self.broken_presets.add(name)
            return
        self.presets[name] = Preset(name, freeze(values), Source(doc.file, path, doc.line_of(path)))

    @staticmethod
    def _merged_spec(draft: _EntityDraft) -> dict[str, Any]:
        data = json.loads(_canonical(draft.doc.data))  # a deep copy the model owns
        spec = {k: v for k, v in data.items() if k not in ("fields", "rules", "indexes")}
        spec["fields"] = [json.loads(_canonical(i.data)) for i in draft.fields]
        if draft.rules:
            spec["rules"] = [json.loads(_canonical(i.data)) for i in draft.rules]
        if draft.indexes:
            spec["indexes"] = [json.loads(_canonical(i.data)) for i in draft.indexes]
        return spec

    # -- one entity --------------------------------------------------------
    def _entity(self, draft: _EntityDraft) -> Entity | None:
        data = draft.doc.data
        before = len(self.errors)
        drafts: dict[str, FieldDraft] = {}
        failed: set[str] = set()
        for item in draft.fields:
            name = item.data["name"]
            if name in drafts or name in failed:
                self.errors.append(item.error(f"field {name!r} is declared twice", "name",
                                              code="duplicate"))
                continue
            problem = identifier_problem(name, kind="field")
            if problem:
                self.errors.append(item.error(problem, "name", code="reserved"))
                failed.add(name)
                continue
            compiled = compile_field(draft.name, item, self.presets, self.broken_presets, self.errors)
            if compiled is None:
                failed.add(name)
            else:
                drafts[name] = compiled
        # A field that failed is still a variable (of any type), so expressions
        # using it don't add a second error for the same mistake.
        variables = dict(STANDARD_VARIABLES)
        variables.update({n: "dyn" for n in failed
                          if n not in CEL_RESERVED and n not in STANDARD_VARIABLES})
        variables.update({n: d.field.type.cel_type(d.field) for n, d in drafts.items()})
        env = Environment(variables)
        for d in drafts.values():
            field_expressions(d, env, self.errors)
        formula_cycles(drafts, self.errors)
        for d in drafts.values():
            field_default(d, self.errors)
        fields = {n: d.field for n, d in drafts.items()}
        self._field_renames(drafts)
        rules = self._rules(draft, env)
        indexes = self._indexes(draft, fields)
        if len(self.errors) > before or failed:
            return None
        entity = Entity(
            name=draft.name,
            label=Text.of(data["label"]),
            plural_label=Text.of(data.get("plural_label", data["label"])),
            description=Text.of(data["description"]) if "description" in data else None,
            source=Source(draft.doc.file, (), 1),
            fields=tuple(fields.values()),
            display_field=data.get("display_field") or self._default_display(fields),
            indexes=tuple(indexes),
            rules=tuple(rules),
            list_view=freeze(data.get("list_view", {})),
            form_layout=freeze(data.get("form_layout", {})),
            renamed_from=_as_tuple(data.get("renamed_from")),
        )
        self._views(draft, entity)
        return entity if len(self.errors) == before else None

    @staticmethod
    def _default_display(fields: dict[str, Field]) -> str:
        for f in fields.values():
            if f.type.titles:
                return f.name
        return "id"

    def _field_renames(self, drafts: dict[str, FieldDraft]) -> None:
        claimed: dict[str, str] = {}
        for name, d in drafts.items():
            for old in d.field.renamed_from:
                if old == name or old in drafts:
                    self.errors.append(d.item.error(f"renamed_from {old!r} names a field this entity "
                                                    "still has", "renamed_from", code="rename"))
                elif old in claimed:
                    self.errors.append(d.item.error(f"fields {claimed[old]!r} and {name!r} are both "
                                                    f"renamed from {old!r}", "renamed_from",
                                                    code="rename"))
                claimed.setdefault(old, name)

    def _rules(self, draft: _EntityDraft, env: Environment) -> list[Rule]:
        rules, names = [], set()
        for item in draft.rules:
            data = item.data
            if data["name"] in names:
                self.errors.append(item.error(f"rule {data['name']!r} is declared twice", "name",
                                              code="duplicate"))
                continue
            names.add(data["name"])
            check = item.compile(env, data["assert"], "bool", self.errors, "assert")
            when = item.compile(env, data["when"], "bool", self.errors, "when") if "when" in data else None
            if check is None or ("when" in data and when is None):
                continue
            rules.append(Rule(data["name"], check, Text.of(data["message"]), item.source, when,
                              data.get("severity", "error")))
        return rules

    def _indexes(self, draft: _EntityDraft, fields: dict[str, Field]) -> list[Index]:
        indexes: list[Index] = []
        declared: list[tuple[Item, str | None]] = []
        seen: dict[tuple[tuple[str, ...], bool], int] = {}
        for item in draft.indexes:
            names = tuple(item.data["fields"])
            ok = True
            for i, name in enumerate(names):
                if name not in fields and name not in STANDARD_COLUMNS:
                    self.errors.append(item.error(f"unknown field {name!r}{suggest(name, set(fields))}; "
                                                  f"known: {', '.join(sorted(fields))}", "fields", i,
                                                  code="reference"))
                    ok = False
                elif name in fields and not (fields[name].stored and fields[name].type.indexable):
                    self.errors.append(item.error(f"{a_type(fields[name].type_name)} field can't "
                                                  "be indexed", "fields", i))
                    ok = False
                elif name in names[:i]:
                    self.errors.append(item.error(f"field {name!r} is listed twice", "fields", i,
                                                  code="duplicate"))
                    ok = False
            unique = bool(item.data.get("unique", False))
            if ok and (names, unique) in seen:
                self.errors.append(item.error(f"the same index is declared as indexes[{seen[names, unique]}]",
                                              "fields", code="duplicate"))
                ok = False
            if ok:
                seen[names, unique] = item.path[-1]  # type: ignore[assignment]
                generated = ("uq" if unique else "ix") + "_" + draft.name + "_" + "_".join(names)
                indexes.append(Index(item.data.get("name") or generated, names, unique))
                declared.append((item, item.data.get("name")))
        self.index_names[draft.name] = declared
        return indexes

    def _views(self, draft: _EntityDraft, entity: Entity) -> None:
        doc, data = draft.doc, draft.doc.data
        known = set(entity.field_names) | LISTABLE_STANDARD

        def need(name: str, path: tuple[str | int, ...]) -> None:
            if name not in known:
                self.errors.append(doc.error(path, f"unknown field {name!r}"
                                             f"{suggest(name, set(entity.field_names))}; known: "
                                             f"{', '.join(sorted(entity.field_names))}", "reference"))

        if "display_field" in data:
            need(data["display_field"], ("display_field",))
            if entity.has_field(data["display_field"]) and not entity.field(data["display_field"]).stored:
                self.errors.append(doc.error(("display_field",), "the display field must be stored "
                                             "in the entity's table"))
        view = data.get("list_view", {})
        for key in ("columns", "filters", "search"):
            for i, name in enumerate(view.get(key, [])):
                need(name, ("list_view", key, i))
        for i, name in enumerate(view.get("sort", [])):
            need(name.lstrip("-"), ("list_view", "sort", i))
        placed: set[str] = set()
        for s, section in enumerate(data.get("form_layout", {}).get("sections", [])):
            for i, name in enumerate(section["fields"]):
                path = ("form_layout", "sections", s, "fields", i)
                need(name, path)
                if name in placed:
                    self.errors.append(doc.error(path, f"field {name!r} is placed twice in the form",
                                                 "duplicate"))
                placed.add(name)

    # -- across entities ---------------------------------------------------
    def _cross_check(self, entities: dict[str, Entity]) -> None:
        docs = {d.file: d for d in self.docs}
        for entity in entities.values():
            for f in entity.fields:
                if f.target is None or f.target in self.drafts or f.target in self.broken_entities:
                    continue
                self.errors.append(source_error(
                    docs, f.source, ("target",),
                    f"relation to unknown entity {f.target!r}{suggest(f.target, set(self.drafts))}; "
                    f"known: {', '.join(sorted(self.drafts))}", "reference"))


def _version(specs: dict[str, Any], presets: dict[str, Any]) -> str:
    """The schema version: only what shapes tables or stored values (see :mod:`.versioning`)."""
    return versioning.schema_version(specs, presets)


def compile_documents(docs: list[SpecDocument], errors: list[MetadataError] | None = None) -> CompiledModel:
    """Compile already-loaded documents; raise :class:`MetadataInvalid` with every error."""
    errors = list(errors or [])
    try:
        model = Compiler(docs, errors).run()
    except RecursionError:
        # Not a mistake the user can see in one place; still never a traceback.
        errors.append(MetadataError("<metadata>", (), "metadata is nested too deeply"))
        model = None
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
    """A CEL environment typed by ``entity``'s fields and standard columns (for workflows, reports)."""
    variables: dict[str, str] = dict(STANDARD_VARIABLES)
    variables.update({f.name: f.type.cel_type(f) for f in entity.fields})
    return Environment(variables)
