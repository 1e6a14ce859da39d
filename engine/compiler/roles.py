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

from engine.model import STANDARD_COLUMNS, Entity, EntityGrant, Role, Source, Text
from engine.spec.errors import MetadataError
from engine.spec.loader import SpecDocument
from engine.spec.metaschema import suggest

#: Scope of a grant that names none: the actor's own records only.
DEFAULT_SCOPE = "own"


def compile_roles(docs: Iterable[SpecDocument], entities: Mapping[str, Entity],
                  declared: set[str], broken: set[str],
                  errors: list[MetadataError]) -> dict[str, Role]:
    """Every valid role of ``docs`` by name; problems are appended to ``errors``.

    ``declared`` are all entity names (compiled or not); ``broken`` those already
    refused with an error, which references stay quiet about.
    """
    roles: dict[str, Role] = {}
    for doc in sorted(docs, key=lambda d: d.file):
        name = doc.data["role"]
        if name in roles:
            errors.append(doc.error(("role",), f"role {name!r} is already declared in "
                                    f"{roles[name].source.file}", "duplicate"))
            continue
        before = len(errors)
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
            _check_fields(doc, path, entities.get(entity), data, errors)
            grants[entity] = _grant(data)
        if len(errors) > before:
            continue
        roles[name] = Role(
            name=name, label=Text.of(doc.data["label"]), source=Source(doc.file, (), 1),
            description=Text.of(doc.data["description"]) if "description" in doc.data else None,
            admin=bool(doc.data.get("admin", False)),
            default=_grant(default) if default is not None else None,
            entities=MappingProxyType(dict(sorted(grants.items()))))
    return dict(sorted(roles.items()))


def _check_fields(doc: SpecDocument, path: tuple[str, ...], entity: Entity | None,
                  data: dict[str, Any], errors: list[MetadataError]) -> None:
    if entity is None:  # declared but refused: its fields are unknown, stay quiet
        return
    known = set(entity.field_names) | set(STANDARD_COLUMNS)
    for field in data.get("fields", {}):
        if field not in known:
            errors.append(doc.error(path + ("fields", field),
                                    f"unknown field {field!r} of entity {entity.name!r}"
                                    f"{suggest(field, known)}; known: {', '.join(sorted(known))}",
                                    "reference"))


def _grant(data: dict[str, Any]) -> EntityGrant:
    return EntityGrant(actions=frozenset(data.get("actions", ())),
                       scope=data.get("scope", DEFAULT_SCOPE),
                       fields=MappingProxyType(dict(sorted(data.get("fields", {}).items()))))
