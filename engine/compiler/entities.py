"""The compile step of ``entity`` documents and their ``extends``: one frozen Entity each.

Registered as the ``entity`` kind's step in :mod:`engine.spec.kinds`. Merges each
entity's extensions, compiles its fields (:mod:`engine.compiler.fields`), rules,
indexes and views, checks relations across entities, then gives model-wide names
(:mod:`engine.compiler.names`) and records what every part uses
(:mod:`engine.compiler.uses`). One mistake gives one error: a part that failed (a
document refused by the metaschema, a field whose type is unknown) is remembered as
broken, and whatever refers to it is not reported again. A reference to a field the
entity lacks goes to the step's ``unknown_field`` collector, reported once every
kind compiled.

Pure: no database, no Flask, nothing at import time.
"""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from types import MappingProxyType
from typing import Any, Mapping

from engine.compiler.fields import (STANDARD_VARIABLES, FieldDraft, Item, a_type, compile_field,
                                    field_default, field_expressions, formula_cycles)
from engine.compiler.names import check_entity_renames, name_indexes, source_error, with_inverses
from engine.compiler.uses import (doc_use, entity_uses, expression_use, rule_use,
                                  view_description, view_names)
from engine.model import (STANDARD_COLUMNS, Entity, Field, Index, Preset, Rule, Source, Text, Use,
                          freeze)
from engine.rules import Environment
from engine.spec.errors import MetadataError, suggest
from engine.spec.kinds import CompileInput
from engine.spec.loader import SpecDocument
from engine.spec.reserved import CEL_RESERVED, identifier_problem

#: Standard columns that list views may show and sort by.
LISTABLE_STANDARD = frozenset(STANDARD_COLUMNS)


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


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)



def compile_entities(step: CompileInput) -> Mapping[str, Entity]:
    """The compile step of ``entity`` documents (with their ``extends``): entities by name.

    Provides ``specs`` (merged entity specs, for the version and ``loom show``),
    ``declared_fields`` (entity -> every field name declared, compiled or not),
    ``broken_entities`` (declared but refused with an error: stay quiet about them) and
    ``renames`` (entity -> {old field name: new}).
    """
    return _Entities(step).run()


class _Entities:
    """The entity compile step's state: drafts, broken names, declared index names."""

    def __init__(self, step: CompileInput) -> None:
        self.step = step
        self.errors = step.errors
        self.presets: Mapping[str, Preset] = step.built["presets"]
        # Declared, but refused with an error already: references to them stay quiet.
        self.broken_presets: set[str] = step.built.get("declared_presets", set()) - set(self.presets)
        self.broken_entities: set[str] = {d.data["entity"] for d in step.refused
                                          if d.kind == "entity" and isinstance(d.data.get("entity"), str)}
        self.drafts: dict[str, _EntityDraft] = {}
        # Declared index names (or None) per entity, aligned with Entity.indexes.
        self.index_names: dict[str, list[tuple[Item, str | None]]] = {}
        self.rule_items: dict[str, list[Item]] = {}
        self.docs = {d.file: d for d in step.documents + step.refused}

    def run(self) -> Mapping[str, Entity]:
        self._collect(list(self.step.documents))
        self.step.provide("declared_fields", {
            name: frozenset(i.data["name"] for i in draft.fields) for name, draft in self.drafts.items()})
        self.step.provide("renames", {
            name: {old: i.data["name"] for i in draft.fields for old in _as_tuple(i.data.get("renamed_from"))}
            for name, draft in self.drafts.items()})
        entities = {}
        for name in sorted(self.drafts):
            entity = self._entity(self.drafts[name])
            if entity is not None:
                entities[name] = entity
        self._cross_check(entities)
        docs = self.docs
        entities = with_inverses(entities, docs, self.errors)
        entities = name_indexes(entities, self.index_names, docs, self.errors)
        check_entity_renames(entities, self.drafts, self.errors)
        self.step.provide("broken_entities", frozenset(self.broken_entities))
        self.step.provide("specs", {name: self._merged_spec(draft)
                                    for name, draft in sorted(self.drafts.items())})
        for entity in entities.values():
            entity_uses(self.step, entity, entities, docs, self.rule_items.get(entity.name, []),
                        [item for item, _ in self.index_names.get(entity.name, [])])
        return MappingProxyType(dict(sorted(entities.items())))

    def _unknown(self, entity: str, name: str, use: Any, error: MetadataError) -> None:
        self.step.unknown_field(entity, name, use, error)

    # -- documents ---------------------------------------------------------
    def _collect(self, docs: list[SpecDocument]) -> None:
        for doc in docs:
            if doc.kind == "entity":
                self._declare(doc)
        # Extensions in a fixed order whatever the file order, so the version is stable.
        extensions = sorted((d for d in docs if d.kind == "extends"), key=lambda d: canonical(d.data))
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

    @staticmethod
    def _merged_spec(draft: _EntityDraft) -> dict[str, Any]:
        data = json.loads(canonical(draft.doc.data))  # a deep copy the model owns
        spec = {k: v for k, v in data.items() if k not in ("fields", "rules", "indexes")}
        spec["fields"] = [json.loads(canonical(i.data)) for i in draft.fields]
        if draft.rules:
            spec["rules"] = [json.loads(canonical(i.data)) for i in draft.rules]
        if draft.indexes:
            spec["indexes"] = [json.loads(canonical(i.data)) for i in draft.indexes]
        return spec

    # -- one entity --------------------------------------------------------
    def _entity(self, draft: _EntityDraft) -> Entity | None:
        data = draft.doc.data
        before, missing_before = len(self.errors), len(self.step.missing)
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
            field_expressions(d, env, self.errors, unknown=partial(self._unknown_in_field, d))
        formula_cycles(drafts, self.errors)
        for d in drafts.values():
            field_default(d, self.errors)
        fields = {n: d.field for n, d in drafts.items()}
        self._field_renames(drafts)
        rules = self._rules(draft, env)
        indexes = self._indexes(draft, fields, failed)
        self._views(draft, fields, failed)
        if len(self.errors) > before or failed or len(self.step.missing) > missing_before:
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
        return entity

    def _unknown_in_field(self, d: FieldDraft, attribute: str, name: str,
                          error: MetadataError) -> None:
        entity = d.item.doc.data.get("entity") or d.item.doc.data["extends"]
        self._unknown(entity, name, expression_use(d.item, attribute, entity), error)

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

            def unknown(part: str, item: Item = item) -> Any:
                return lambda name, error: self._unknown(draft.name, name,
                                                         rule_use(item, part, draft.name), error)

            check = item.compile(env, data["assert"], "bool", self.errors, "assert",
                                 unknown=unknown("assert"))
            when = item.compile(env, data["when"], "bool", self.errors, "when",
                                unknown=unknown("when")) if "when" in data else None
            if check is None or ("when" in data and when is None):
                continue
            rules.append(Rule(data["name"], check, Text.of(data["message"]), item.source, when,
                              data.get("severity", "error")))
            self.rule_items.setdefault(draft.name, []).append(item)
        return rules

    def _indexes(self, draft: _EntityDraft, fields: dict[str, Field], failed: set[str]) -> list[Index]:
        indexes: list[Index] = []
        declared: list[tuple[Item, str | None]] = []
        seen: dict[tuple[tuple[str, ...], bool], int] = {}
        for item in draft.indexes:
            names = tuple(item.data["fields"])
            ok = True
            for i, name in enumerate(names):
                if name in failed:  # its own error is reported
                    ok = False
                elif name not in fields and name not in STANDARD_COLUMNS:
                    self._unknown(draft.name, name, Use(
                        item.doc.kind, draft.name, Source(item.doc.file, item.path + ("fields", i),
                                                          item.doc.line_of(item.path + ("fields", i))),
                        f"index {item.data.get('name') or _index_name(draft.name, names, item.data)!r}"),
                        item.error(f"unknown field {name!r}{suggest(name, set(fields))}; "
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
                generated = _index_name(draft.name, names, item.data)
                indexes.append(Index(item.data.get("name") or generated, names, unique))
                declared.append((item, item.data.get("name")))
        self.index_names[draft.name] = declared
        return indexes

    def _views(self, draft: _EntityDraft, fields: dict[str, Field], failed: set[str]) -> None:
        doc, data = draft.doc, draft.doc.data
        known = set(fields) | LISTABLE_STANDARD
        placed: set[str] = set()
        for path, name in view_names(data):
            if name in failed:
                continue  # its own error is reported
            if name not in known:
                self._unknown(draft.name, name, doc_use(doc, path, draft.name, view_description(path)),
                              doc.error(path, f"unknown field {name!r}{suggest(name, set(fields))}; "
                                        f"known: {', '.join(sorted(fields))}", "reference"))
            elif path[0] == "display_field" and name in fields and not fields[name].stored:
                self.errors.append(doc.error(path, "the display field must be stored in the "
                                             "entity's table"))
            elif path[1:2] == ("board",) and path[2] != "card":
                problem = (_board_problem(path[2], fields[name]) if name in fields else
                           f"the board can't use the standard column {name!r} as its "
                           f"{'field' if path[2] == 'field' else 'totals'}")
                if problem:
                    self.errors.append(doc.error(path, problem))
            if path[0] == "form_layout":
                if name in placed:
                    self.errors.append(doc.error(path, f"field {name!r} is placed twice in the form",
                                                 "duplicate"))
                placed.add(name)

    # -- across entities ---------------------------------------------------
    def _cross_check(self, entities: dict[str, Entity]) -> None:
        docs = self.docs
        for entity in entities.values():
            for f in entity.fields:
                if f.target is None or f.target in self.drafts or f.target in self.broken_entities:
                    continue
                self.errors.append(source_error(
                    docs, f.source, ("target",),
                    f"relation to unknown entity {f.target!r}{suggest(f.target, set(self.drafts))}; "
                    f"known: {', '.join(sorted(self.drafts))}", "reference"))


def _board_problem(key: str | int, f: Field) -> str | None:
    """Why ``f`` can't play its part ``key`` (``field``, ``sum``) on a board, or None.

    The board's columns are the options of one stored field holding one value; its
    column totals are SQL sums, so they need stored numbers (not ids of relations).
    """
    value_type = f.type.result_type(f) if f.computed and hasattr(f.type, "result_type") else f.type
    if key == "field" and not (f.stored and f.options and f.type.cel_type(f) == "string"):
        return (f"the board's field {f.name!r} must be a select field (one value out of "
                f"declared options); it is a {f.type_name}")
    if key == "sum" and not (f.stored and value_type.numeric and f.type.references(f) is None):
        return (f"the board can only total number or money fields; {f.name!r} is a "
                f"{f.type_name}" + (f" returning {f.returns}" if f.returns else ""))
    return None


def _index_name(entity: str, fields: tuple[str, ...], spec: dict[str, Any]) -> str:
    """The name an index gets when it declares none (shortened later if it must be)."""
    return ("uq" if spec.get("unique") else "ix") + "_" + entity + "_" + "_".join(fields)


