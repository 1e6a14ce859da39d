"""Compile ``kind: role`` documents into frozen :class:`~engine.model.Role` values.

The metaschema already refused unknown keys, actions, scopes and access levels;
here every reference is checked against the compiled entities: an unknown entity,
an unknown field (standard columns are allowed), a ``pool`` whose field is not a
relation or whose ``roles`` is not a list of strings of the pool, a ``read_through``
name that is not a relation, a ``conditions`` expression that does not compile to a
bool against the entity's fields (or is given for an action the grant lacks), and a
role declared twice are errors with file, JSON path and line. The role's ``default``
grant names no entity, so it takes none of ``pool``, ``read_through`` or
``conditions``. Roles are not part of the model version.

Pure: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from engine.compiler.fields import STANDARD_VARIABLES
from engine.model import (STANDARD_COLUMNS, Entity, EntityGrant, PoolGrant, Role, Source, Text,
                          Use)
from engine.rules import Environment, Expression, ExpressionError
from engine.spec.errors import MetadataError
from engine.spec.kinds import CompileInput
from engine.spec.loader import SpecDocument
from engine.spec.metaschema import suggest

#: Scope of a grant that names none: the actor's own records only.
DEFAULT_SCOPE = "own"
#: Grant keys that speak of one entity's fields, so not allowed in a role's ``default``.
ENTITY_ONLY_KEYS = ("pool", "read_through", "conditions")
#: CEL type of a field listing role names (a multiselect), for ``pool.roles``.
ROLE_LIST_TYPE = "list(string)"


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
        for key in ENTITY_ONLY_KEYS:
            if default is not None and key in default:
                errors.append(doc.error(("default", key), f"{key!r} speaks of one entity's fields:"
                                        " give it under 'entities', not in 'default'", "key"))
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
            target = entities.get(entity)
            _check_fields(doc, path, entity, target, (declared_fields or {}).get(entity), data,
                          errors, step, name)
            if step is not None and len(step.missing) > missing_before:
                errors_seen = True
            if target is None:  # declared but refused: stay quiet about the rest
                continue
            grant = grants[entity] = _grant(
                data, pool=_pool(doc, path, target, entities, data, errors),
                read_through=_read_through(doc, path, target, data, errors),
                conditions=_conditions(doc, path, target, data, errors))
            if step is not None:
                _grant_uses(step, doc, path, name, target, grant)
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


def _pool(doc: SpecDocument, path: tuple[str, ...], entity: Entity, entities: Mapping[str, Entity],
          data: dict[str, Any], errors: list[MetadataError]) -> PoolGrant | None:
    """``pool: {field, roles}``: a stored relation to the pool entity and its role list."""
    spec = data.get("pool")
    if spec is None:
        return None
    name, where = spec["field"], path + ("pool",)
    relations = {f.name: f for f in entity.fields if f.target is not None and f.stored}
    if name not in relations:
        errors.append(doc.error(where + ("field",), f"pool field {name!r} is not a relation of "
                                f"entity {entity.name!r}{suggest(name, set(relations))}; known: "
                                f"{', '.join(sorted(relations)) or 'none'}", "reference"))
        return None
    target = relations[name].target
    pool = entities.get(target or "")
    if pool is None:  # the target's own error is reported
        return None
    roles = spec.get("roles")
    if roles is not None:
        lists = {f.name for f in pool.fields
                 if f.stored and f.type.cel_type(f) == ROLE_LIST_TYPE}
        if roles not in lists:
            errors.append(doc.error(where + ("roles",), f"pool roles {roles!r} is not a stored "
                                    f"list of strings (a multiselect) of entity {pool.name!r}"
                                    f"{suggest(roles, lists)}; known: "
                                    f"{', '.join(sorted(lists)) or 'none'}", "reference"))
            return None
    if "read" not in data.get("actions", ()):
        errors.append(doc.error(where, "a pool grant needs the action 'read'", "invalid"))
        return None
    return PoolGrant(field=name, target=pool.name, roles=roles)


def _read_through(doc: SpecDocument, path: tuple[str, ...], entity: Entity, data: dict[str, Any],
                  errors: list[MetadataError]) -> frozenset[str]:
    """``read_through: [relation, ...]``: relations (one or many) of the entity."""
    names = data.get("read_through", ())
    relations = {f.name for f in entity.fields if f.target is not None}
    for i, name in enumerate(names):
        if name not in relations:
            errors.append(doc.error(path + ("read_through", i), f"{name!r} is not a relation of "
                                    f"entity {entity.name!r}{suggest(name, relations)}; known: "
                                    f"{', '.join(sorted(relations)) or 'none'}", "reference"))
    return frozenset(names)


def environment(entity: Entity) -> Environment:
    """The CEL environment of ``entity``'s records (fields and standard columns)."""
    variables: dict[str, str] = dict(STANDARD_VARIABLES)
    variables.update({f.name: f.type.cel_type(f) for f in entity.fields})
    return Environment(variables)


def _conditions(doc: SpecDocument, path: tuple[str, ...], entity: Entity, data: dict[str, Any],
                errors: list[MetadataError]) -> dict[str, Expression]:
    """``conditions: {update|delete: CEL}`` typed as bool against the entity's fields."""
    specs = data.get("conditions") or {}
    out: dict[str, Expression] = {}
    env = environment(entity) if specs else None
    for action, source in specs.items():
        where = path + ("conditions", action)
        if action not in data.get("actions", ()):
            errors.append(doc.error(where, f"a condition for {action!r}, but the grant does not "
                                    f"give {action!r}", "invalid"))
            continue
        try:
            compiled = env.compile(source, expect="bool")  # type: ignore[union-attr]
        except ExpressionError as exc:
            column = f" (column {exc.column})" if exc.column else ""
            errors.append(doc.error(where, f"CEL error{column}: {exc.message}", "expression"))
            continue
        # The engine judges a condition on the stored row (cascades read only its
        # columns): a many-to-many field lives in a link table, not on the row.
        linked = sorted(n for n in compiled.variables
                        if entity.has_field(n) and not entity.field(n).stored)
        if linked:
            errors.append(doc.error(where, f"a condition reads only fields stored on the record; "
                                    f"{', '.join(map(repr, linked))} "
                                    f"{'is a many-to-many field' if len(linked) == 1 else 'are many-to-many fields'}",
                                    "expression"))
            continue
        out[action] = compiled
    return out


def _grant_uses(step: CompileInput, doc: SpecDocument, path: tuple[str, ...], role: str,
                entity: Entity, grant: EntityGrant) -> None:
    """Record the fields a grant's conditions, pool and read-through relations read."""
    for action, condition in sorted(grant.conditions.items()):
        for name in sorted(n for n in condition.variables if entity.has_field(n)):
            step.use(entity.name, name, _use(doc, path + ("conditions", action), role,
                                             f"condition for {action}"))
    for name in sorted(grant.read_through):
        step.use(entity.name, name, _use(doc, path + ("read_through",), role, "names read through"))
    if grant.pool is not None:
        step.use(entity.name, grant.pool.field, _use(doc, path + ("pool", "field"), role,
                                                     "public pool"))
        if grant.pool.roles is not None:
            step.use(grant.pool.target, grant.pool.roles, _use(doc, path + ("pool", "roles"), role,
                                                               "public pool's roles"))


def _grant(data: dict[str, Any], *, pool: PoolGrant | None = None,
           read_through: frozenset[str] = frozenset(),
           conditions: Mapping[str, Expression] | None = None) -> EntityGrant:
    return EntityGrant(actions=frozenset(data.get("actions", ())),
                       scope=data.get("scope", DEFAULT_SCOPE),
                       fields=MappingProxyType(dict(sorted(data.get("fields", {}).items()))),
                       pool=pool, read_through=read_through,
                       conditions=MappingProxyType(dict(sorted((conditions or {}).items()))))
