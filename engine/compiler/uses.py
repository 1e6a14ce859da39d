"""What uses what: the "used by" index of the compiled model, and names used but missing.

Every compiled expression (rules' ``when`` / ``assert``, formulas, computed
defaults, ``visible_if`` / ``required_if`` / ``read_only_if``) and every reference
(relation targets, inverse listings, the display field, indexes, list view and
form layout names; role grants record theirs in :mod:`engine.compiler.roles`)
is recorded as a :class:`~engine.model.Use` of the entity or field it reads, so
``model.users_of("deal", "stage")`` answers what a drop or rename would break.
The fields an expression reads come from its checked syntax tree
(:mod:`engine.rules.references`).

A reference to a field that does not exist is reported by every compile step
through ``CompileInput.unknown_field``; :func:`report_missing` turns them into
errors once every kind compiled: one use gives its own error, several uses of
one name (a field dropped or renamed while still used) give one error listing
every user, and a name a field declares in ``renamed_from`` says so.

Pure: no database, no Flask.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from engine.compiler.fields import EXPRESSION_ROLES, Item
from engine.model import Entity, Source, Use
from engine.spec.errors import MetadataError
from engine.spec.kinds import CompileInput
from engine.spec.loader import SpecDocument

#: Path below a field's own path of each of its expressions (as written).
_EXPRESSION_PATHS = MappingProxyType({
    "expr": ("expr",), "default_expr": ("default", "expr"), "visible_if": ("visible_if",),
    "required_if": ("required_if",), "read_only_if": ("read_only_if",)})


def expression_use(item: Item, attribute: str, owner: str) -> Use:
    """The use an expression of the field of ``item`` makes (``attribute``: ``expr``...)."""
    path = item.path + _EXPRESSION_PATHS[attribute]
    return Use(item.doc.kind, owner, Source(item.doc.file, path, item.doc.line_of(path)),
               f"{EXPRESSION_ROLES[attribute]} of field {item.data['name']!r}")


def rule_use(item: Item, part: str, owner: str) -> Use:
    """The use the ``when`` or ``assert`` of the rule of ``item`` makes."""
    path = item.path + (part,)
    return Use(item.doc.kind, owner, Source(item.doc.file, path, item.doc.line_of(path)),
               f"rule {item.data['name']!r} ({part})")


def doc_use(doc: SpecDocument, path: tuple[str | int, ...], owner: str, description: str) -> Use:
    return Use(doc.kind, owner, Source(doc.file, path, doc.line_of(path)), description)


def view_description(path: tuple[str | int, ...]) -> str:
    """``("list_view", "columns", 2)`` -> ``list view columns``."""
    if path[0] == "display_field":
        return "display field"
    if path[0] == "form_layout":
        return f"form layout section {path[2]}"
    if path[1] == "board":
        return f"list view board {path[2]}"
    return f"list view {path[1]}"


def entity_uses(step: CompileInput, entity: Entity, entities: Mapping[str, Entity],
                docs: Mapping[str, SpecDocument], rules: Iterable[Item],
                indexes: Iterable[Item]) -> None:
    """Record every use the compiled ``entity`` makes (``rules`` / ``indexes``: its items,
    aligned with ``entity.rules`` / ``entity.indexes``)."""
    name = entity.name
    main = docs[entity.source.file]

    def at(source: Source, sub: tuple[str | int, ...]) -> Source:
        doc = docs.get(source.file)
        path = source.path + sub
        return Source(source.file, path, doc.line_of(path) if doc else source.line)

    def kind(source: Source) -> str:
        return docs[source.file].kind if source.file in docs else main.kind

    for f in entity.fields:
        for attribute, sub in _EXPRESSION_PATHS.items():
            expr = getattr(f, attribute)
            if expr is None:
                continue
            where = at(f.source, sub)
            for variable in sorted(expr.variables):
                step.use(name, variable, Use(kind(f.source), name, where,
                                             f"{EXPRESSION_ROLES[attribute]} of field {f.name!r}"))
        for i, followed in enumerate(f.follows or ()):
            step.use(name, followed, Use(kind(f.source), name, at(f.source, ("default", "follows", i)),
                                         f"default of field {f.name!r} (follows)"))
        if f.target is not None:
            step.use(f.target, None, Use(kind(f.source), name, at(f.source, ("target",)),
                                         f"relation field {name}.{f.name}"))
    for inverse in entity.inverses:  # listings other entities' relations give this one
        source = at(entities[inverse.entity].field(inverse.field).source, ("inverse",))
        step.use(inverse.entity, inverse.field,
                 Use(kind(source), name, source, f"listing {inverse.name!r} on {name}"))
    for rule, item in zip(entity.rules, rules):
        for part, expr in (("when", rule.when), ("assert", rule.assert_)):
            if expr is not None:
                for variable in sorted(expr.variables):
                    step.use(name, variable, rule_use(item, part, name))
    for index, item in zip(entity.indexes, indexes):
        for i, field in enumerate(index.fields):
            step.use(name, field, Use(item.doc.kind, name, at(item.source, ("fields", i)),
                                      f"index {index.name!r}"))
    data = main.data
    step.use(name, entity.display_field,
             doc_use(main, ("display_field",) if "display_field" in data else (), name,
                     "display field" if "display_field" in data else "display field (default)"))
    for path, field in view_names(data):
        if path[0] != "display_field":
            step.use(name, field, doc_use(main, path, name, view_description(path)))


def view_names(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(path, field name) of every name the views of an entity document give."""
    names: list[tuple[tuple[str | int, ...], str]] = []
    if "display_field" in data:
        names.append((("display_field",), data["display_field"]))
    view = data.get("list_view", {})
    for key in ("columns", "filters", "search"):
        names.extend((("list_view", key, i), n) for i, n in enumerate(view.get(key, [])))
    names.extend((("list_view", "sort", i), n.lstrip("-"))
                 for i, n in enumerate(view.get("sort", [])))
    board = view.get("board") or {}
    if "field" in board:
        names.append((("list_view", "board", "field"), board["field"]))
    for key in ("sum", "card"):
        names.extend((("list_view", "board", key, i), n) for i, n in enumerate(board.get(key, [])))
    for s, section in enumerate(data.get("form_layout", {}).get("sections", [])):
        names.extend((("form_layout", "sections", s, "fields", i), n)
                     for i, n in enumerate(section["fields"]))
    return names


UsesIndex = Mapping[tuple[str, str | None], tuple[Use, ...]]


def uses_index(uses: list[tuple[str, str | None, Use]]) -> UsesIndex:
    """The frozen ``CompiledModel.uses``: each key's uses in file, line and path order."""
    grouped: dict[tuple[str, str | None], list[Use]] = defaultdict(list)
    for entity, field, use in uses:
        grouped[entity, field].append(use)
    keys = sorted(grouped, key=lambda key: (key[0], key[1] or ""))
    return MappingProxyType({key: tuple(sorted(set(grouped[key]), key=_order)) for key in keys})


def _order(use: Use) -> tuple[Any, ...]:
    return (use.source.file, use.source.line or 0, [str(p) for p in use.source.path], use.description)


def report_missing(missing: list[tuple[str, str, Use, MetadataError]],
                   renames: Mapping[str, Mapping[str, str]], errors: list[MetadataError]) -> None:
    """Errors for references to fields that don't exist (see the module docstring).

    ``renames`` maps an entity to ``{old name: new name}`` from its fields' ``renamed_from``.
    """
    grouped: dict[tuple[str, str], list[tuple[Use, MetadataError]]] = defaultdict(list)
    for entity, name, use, error in missing:
        grouped[entity, name].append((use, error))
    for (entity, name), found in sorted(grouped.items()):
        found.sort(key=lambda pair: _order(pair[0]))
        renamed_to = renames.get(entity, {}).get(name)
        if renamed_to is None and len(found) == 1:
            errors.append(found[0][1])
            continue
        users = "; ".join(str(use) for use, _ in found)
        if renamed_to is not None:
            message = (f"field {name!r} of entity {entity!r} was renamed to {renamed_to!r} "
                       f"(renamed_from) but is still used by: {users}; use the new name")
        else:
            message = (f"field {name!r} of entity {entity!r} does not exist (dropped, renamed or "
                       f"misspelt?) but {len(found)} places use it: {users}")
        errors.append(dataclasses.replace(found[0][1], message=message, code="used"))
