"""Model-wide names: inverse listings, index and link-table names, entity renames.

Part of :mod:`engine.compiler`; runs once every entity compiled. Errors are
appended to the list the compiler passes, never raised.

Trap: PostgreSQL keeps tables and indexes in one namespace per schema and cuts
identifiers at 63 bytes without a word, so two long names can silently become
one. Every name made here is checked against every other one and kept short.

Pure: no database, no Flask.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any, Mapping

from engine.compiler.fields import Item
from engine.model import Entity, Inverse, Source
from engine.spec.errors import MetadataError
from engine.spec.loader import SpecDocument
from engine.spec.reserved import identifier_problem

#: Longest identifier PostgreSQL keeps (it truncates longer ones).
MAX_IDENTIFIER = 63
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def source_error(docs: Mapping[str, SpecDocument], source: Source, sub: tuple[str | int, ...],
                 message: str, code: str = "invalid") -> MetadataError:
    """An error at ``sub`` below a compiled item, with the line of ``sub`` where known."""
    doc = docs.get(source.file)
    if doc is None:  # pragma: no cover - every source comes from a loaded document
        return MetadataError(source.file, source.path + sub, message, source.line, code)
    return doc.error(source.path + sub, message, code)


def default_inverse_name(entity: str, field: str, target: str) -> str:
    """The listing name a relation gives its target when it declares no ``inverse``.

    ``contact.account -> account`` lists contacts as ``contact``; any other field
    name is kept: ``deal.partner -> account`` lists them as ``deal_partner``.
    """
    return entity if field == target else f"{entity}_{field}"


def with_inverses(entities: dict[str, Entity], docs: Mapping[str, SpecDocument],
                  errors: list[MetadataError]) -> dict[str, Entity]:
    """Give each entity the listings that other entities' relations point at it.

    A relation always gets one (declared or default); a many-to-many field only
    when it declares ``inverse``.
    """
    inverses: dict[str, list[Inverse]] = {}
    for entity in (entities[n] for n in sorted(entities)):
        for f in entity.fields:
            if "inverse" not in f.type.keys or f.target not in entities:
                continue
            if f.inverse is None and not f.type.has_column:
                continue
            declared = f.inverse is not None
            inverse = f.inverse or Inverse(default_inverse_name(entity.name, f.name, f.target),
                                           entity.plural_label, entity.name, f.name)
            sub = ("inverse", "name") if declared else ()
            hint = "" if declared else (" (a default name; give the field `inverse: {name: ...}` "
                                        "to choose another)")
            target = entities[f.target]
            taken = {i.name: i for i in inverses.get(f.target, [])}
            problem = identifier_problem(inverse.name, kind="field")
            if problem is None and not _IDENTIFIER.match(inverse.name):
                problem = f"inverse name {inverse.name!r} is not a valid identifier"
            if problem is None and (target.has_field(inverse.name) or inverse.name in taken):
                other = (f"field {inverse.name!r}" if target.has_field(inverse.name) else
                         f"inverse of {taken[inverse.name].entity}.{taken[inverse.name].field}")
                problem = f"inverse name {inverse.name!r} clashes with the {other} of {f.target!r}"
            if problem:
                errors.append(source_error(docs, f.source, sub, problem + hint, "duplicate"))
                continue
            inverses.setdefault(f.target, []).append(inverse)
    return {name: dataclasses.replace(e, inverses=tuple(inverses.get(name, ())))
            for name, e in entities.items()}


def _taken_names(entities: Mapping[str, Entity]) -> dict[str, str]:
    """Relation names the tables of ``entities`` use (see ``engine.storage.tables``)."""
    taken: dict[str, str] = {}
    for e in entities.values():
        taken[e.table_name] = f"the table of {e.name!r}"
        taken[f"pk_{e.table_name}"] = f"the primary key of {e.name!r}"
        taken[f"ix_{e.table_name}_owner"] = f"the owner index of {e.name!r}"
        for f in e.fields:
            if not f.stored:
                link = e.link_table_name(f)
                taken[link] = f"the link table of {e.name}.{f.name}"
                taken[f"pk_{link}"] = f"the primary key of {link!r}"
                continue
            if f.unique:
                taken[f"uq_{e.table_name}_{f.name}"] = f"the unique constraint of {e.name}.{f.name}"
            elif f.indexed:
                taken[f"ix_{e.table_name}_{f.name}"] = f"the index of {e.name}.{f.name}"
    return taken


def _shortened(base: str, taken: Mapping[str, Any]) -> str:
    if len(base) <= MAX_IDENTIFIER and base not in taken:
        return base
    digest = hashlib.sha256(base.encode("utf-8")).hexdigest()
    for n in range(8, len(digest)):
        name = f"{base[:MAX_IDENTIFIER - n - 1]}_{digest[:n]}"
        if name not in taken:
            return name
    raise AssertionError("unreachable: a sha256 prefix repeats")  # pragma: no cover


def name_indexes(entities: dict[str, Entity], declared: Mapping[str, list[tuple[Item, str | None]]],
                 docs: Mapping[str, SpecDocument], errors: list[MetadataError]) -> dict[str, Entity]:
    """Give every declared index a name unique in the database; check link-table names.

    A declared ``name`` must be free; a generated one is shortened and suffixed
    with a hash when it is too long or already used (say a single-field index
    on a field that is already ``indexed``).
    """
    taken = _taken_names(entities)
    result = {}
    for name in sorted(entities):
        entity = entities[name]
        for f in entity.fields:
            link = entity.link_table_name(f)
            if not f.stored and len(link) > MAX_IDENTIFIER:
                errors.append(source_error(docs, f.source, ("name",),
                                           f"the link table name {link!r} is longer than "
                                           f"{MAX_IDENTIFIER} characters: shorten the entity or "
                                           "field name", "name"))
        indexes = []
        for index, (item, explicit) in zip(entity.indexes, declared.get(name, [])):
            if explicit is not None and explicit in taken:
                errors.append(item.error(f"index name {explicit!r} is already used by "
                                         f"{taken[explicit]}", "name", code="duplicate"))
                continue
            final = explicit or _shortened(index.name, taken)
            taken[final] = f"an index of {name!r}"
            indexes.append(dataclasses.replace(index, name=final))
        result[name] = dataclasses.replace(entity, indexes=tuple(indexes))
    return result


def check_entity_renames(entities: Mapping[str, Entity], drafts: Mapping[str, Any],
                         errors: list[MetadataError]) -> None:
    """An entity may not be renamed from a name that still exists or that another claims."""
    claimed: dict[str, str] = {}
    for name in sorted(entities):
        entity = entities[name]
        for old in entity.renamed_from:
            problem = None
            if old == name or old in drafts:
                problem = f"renamed_from {old!r} names an entity that still exists"
            elif old in claimed:
                problem = f"entities {claimed[old]!r} and {name!r} are both renamed from {old!r}"
            if problem:
                errors.append(drafts[name].doc.error(("renamed_from",), problem, "rename"))
            claimed.setdefault(old, name)
