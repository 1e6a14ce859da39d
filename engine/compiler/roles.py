"""Compile ``kind: role`` documents into frozen :class:`~engine.model.Role` values.

The metaschema already refused unknown keys, actions, scopes and access levels;
here every reference is checked against the compiled entities: an unknown entity,
an unknown field (standard columns are allowed) and a role declared twice are
errors with file, JSON path and line. Roles are not part of the model version.

Pure: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from engine.model import STANDARD_COLUMNS, Entity, EntityGrant, Role, Source, Text, Use
from engine.spec.errors import MetadataError
from engine.spec.kinds import CompileInput
from engine.spec.loader import SpecDocument
from engine.spec.metaschema import suggest

#: Scope of a grant that names none: the actor's own records only.
DEFAULT_SCOPE = "own"


def compile_role_documents(step: CompileInput) -> Mapping[str, Role]:
    """The compile step of ``role`` documents (see :mod:`engine.spec.kinds`): roles by name.

    Reads ``entities`` and ``declared_fields`` (every entity's declared field names,
    also of entities that failed to compile) from the entity step; records each
    grant as a use of its entity and each field grant as a use of its field.
    """
    declared_fields: Mapping[str, frozenset[str]] = step.built["declared_fields"]
    entities: Mapping[str, Entity] = step.built["entities"]
    broken = set(step.built["broken_entities"]) | (set(declared_fields) - set(entities))
    return compile_roles(step.documents, entities, set(declared_fields), broken, step.errors,
                         step=step, declared_fields=declared_fields)


def compile_roles(docs: Iterable[SpecDocument], entities: Mapping[str, Entity],
                  declared: set[str], broken: set[str],
                  errors: list[MetadataError], *, step: CompileInput | None = None,
                  declared_fields: Mapping[str, frozenset[str]] | None = None) -> dict[str, Role]:
    """Every valid role of ``docs`` by name; problems are appended to ``errors``.

    ``declared`` are all entity names (compiled or not); ``broken`` those already
    refused with an error, which references stay quiet about (but a field named in
    a grant is still checked against ``declared_fields`` of the entity).
    """
    roles: dict[str, Role] = {}
    for doc in sorted(docs, key=lambda d: d.file):
        name = doc.data["role"]
        if name in roles:
            errors.append(doc.error(("role",), f"role {name!r} is already declared in "
                                    f"{roles[name].source.file}", "duplicate"))
            continue
        before = len(errors)
        errors_seen = False
        default = doc.data.get("default")
        grants = {}
        for entity, data in doc.data.get("entities", {}).items():
            path = ("entities", entity)
            if entity not in declared:
                if entity not in broken:
                    errors.append(doc.error(path, f"unknown entity {entity!r}"
                                            f"{suggest(entity, declared)}; known: "
                                            f"{', '.join(sorted(declared)) or 'none'}", "reference"))
                continue
            if step is not None:
                step.use(entity, None, _use(doc, path, name, "grant"))
            missing_before = len(step.missing) if step is not None else 0
            _check_fields(doc, path, entity, entities.get(entity),
                          (declared_fields or {}).get(entity), data, errors, step, name)
            if step is not None and len(step.missing) > missing_before:
                errors_seen = True
            grants[entity] = _grant(data)
        if len(errors) > before or errors_seen:
            continue
        roles[name] = Role(
            name=name, label=Text.of(doc.data["label"]), source=Source(doc.file, (), 1),
            description=Text.of(doc.data["description"]) if "description" in doc.data else None,
            admin=bool(doc.data.get("admin", False)),
            default=_grant(default) if default is not None else None,
            entities=MappingProxyType(dict(sorted(grants.items()))))
    return dict(sorted(roles.items()))


def _use(doc: SpecDocument, path: tuple[str, ...], role: str, what: str) -> Use:
    return Use(doc.kind, role, Source(doc.file, path, doc.line_of(path)),
               what)


def _check_fields(doc: SpecDocument, path: tuple[str, ...], name: str, entity: Entity | None,
                  declared: frozenset[str] | None, data: dict[str, Any],
                  errors: list[MetadataError], step: CompileInput | None, role: str) -> None:
    if entity is None and declared is None:  # refused before its fields were read: stay quiet
        return
    fields = set(entity.field_names) if entity is not None else set(declared or ())
    known = fields | set(STANDARD_COLUMNS)
    for field, access in data.get("fields", {}).items():
        where = path + ("fields", field)
        if field in known:
            if step is not None:
                step.use(name, field, _use(doc, where, role, f"field grant ({access})"))
            continue
        error = doc.error(where, f"unknown field {field!r} of entity {name!r}"
                          f"{suggest(field, known)}; known: {', '.join(sorted(known))}",
                          "reference")
        if step is not None:
            step.unknown_field(name, field, _use(doc, where, role, f"field grant ({access})"), error)
        else:
            errors.append(error)


def _grant(data: dict[str, Any]) -> EntityGrant:
    return EntityGrant(actions=frozenset(data.get("actions", ())),
                       scope=data.get("scope", DEFAULT_SCOPE),
                       fields=MappingProxyType(dict(sorted(data.get("fields", {}).items()))))
