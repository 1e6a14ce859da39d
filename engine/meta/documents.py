"""Pure edits of the stored metadata documents the metadata API changes.

Given the documents the model compiles from, each function returns the stored
document (kind, entity, body) that carries the change, and the path of the
caller's input inside that body (to report errors relative to what was sent).
No database, no compilation here: :mod:`engine.meta.changes` does both.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from engine.meta.errors import MetadataConflict, UnknownMetadata
from engine.model import CompiledModel, Field
from engine.storage.documents import FILE_PREFIX, document_name, file_of
from engine.spec.errors import MetadataError, MetadataInvalid

#: ``file`` of errors about the request body itself (not yet a stored document).
REQUEST_FILE = "<request>"


@dataclass(frozen=True)
class Edit:
    """The stored document after a change, and where the caller's part sits in it."""

    kind: str
    entity: str
    body: dict[str, Any]
    #: Path of the request's content inside ``body`` (``("fields", 3)`` for a field).
    prefix: tuple[str | int, ...] = ()

    @property
    def name(self) -> str:
        return document_name(self.kind, self.entity)

    @property
    def file(self) -> str:
        return file_of(self.name)


def _require_mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MetadataInvalid([MetadataError(REQUEST_FILE, (), f"{what} must be a JSON object",
                                             None, "shape")])
    return copy.deepcopy(value)


def _entity(model: CompiledModel, name: str):
    if not isinstance(name, str) or not model.has_entity(name):
        raise UnknownMetadata(f"unknown entity {name!r}")
    return model.entity(name)


def is_stored(source_file: str) -> bool:
    """True when metadata came from ``loom_metadata`` rather than a file."""
    return source_file.startswith(FILE_PREFIX)


def new_entity(model: CompiledModel, spec: Any) -> Edit:
    """The stored entity document declaring ``spec`` (an entity document, as in a YAML file)."""
    body = _require_mapping(spec, "an entity document")
    name = body.get("entity")
    if not isinstance(name, str):
        raise MetadataInvalid([MetadataError(REQUEST_FILE, ("entity",),
                                             "an entity document needs the key 'entity' (its name)",
                                             None, "required")])
    if model.has_entity(name):
        raise MetadataConflict(f"entity {name!r} already exists (declared in "
                               f"{model.entity(name).source.file})")
    return Edit("entity", name, body)


def added_field(model: CompiledModel, stored: dict[str, dict[str, Any]], entity: str,
                field_spec: Any) -> Edit:
    """The stored document with ``field_spec`` appended to ``entity``'s fields.

    An entity created through the API gets the field in its own document; an
    entity declared in a file gets it in its ``extends`` document.
    """
    compiled = _entity(model, entity)
    field = _require_mapping(field_spec, "a field")
    name = field.get("name")
    if isinstance(name, str) and compiled.has_field(name):
        raise MetadataConflict(f"field {entity}.{name} already exists (declared in "
                               f"{compiled.field(name).source.file})")
    if is_stored(compiled.source.file):
        kind = "entity"
        body = copy.deepcopy(stored[document_name("entity", entity)])
    else:
        kind = "extends"
        body = copy.deepcopy(stored.get(document_name("extends", entity))
                             or {"extends": entity, "fields": []})
    fields = body.setdefault("fields", [])
    fields.append(field)
    return Edit(kind, entity, body, ("fields", len(fields) - 1))


def changed_field(model: CompiledModel, stored: dict[str, dict[str, Any]], entity: str,
                  field_name: str, changes: Any) -> Edit:
    """The stored document with ``changes`` merged into field ``entity.field_name``.

    Keys set to ``null`` are removed. A field declared in a file is refused
    (:class:`MetadataConflict` naming the file): change it there.
    """
    compiled = _entity(model, entity)
    if not compiled.has_field(field_name):
        raise UnknownMetadata(f"unknown field {entity}.{field_name}")
    changes = _require_mapping(changes, "the changes")
    field: Field = compiled.field(field_name)
    if not is_stored(field.source.file):
        raise MetadataConflict(f"field {entity}.{field_name} is declared in {field.source.file}; "
                               "change it there (the metadata API changes only fields it added)")
    document = field.source.file[len(FILE_PREFIX):]
    kind = document.split("/", 1)[0]
    body = copy.deepcopy(stored[document])
    fields = body.get("fields", [])
    index = next(i for i, f in enumerate(fields) if f.get("name") == field_name)
    merged = dict(fields[index])
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    fields[index] = merged
    return Edit(kind, entity, body, ("fields", index))


def role_document(model: CompiledModel, name: str, spec: Any) -> Edit:
    """The stored role document ``name`` (a role document, as in a YAML file), new or
    replacing the one the metadata API stored before.

    A role declared in a file is refused (:class:`MetadataConflict` naming the file):
    change it there. The body's ``role`` key, when given, must be ``name``.
    """
    body = _require_mapping(spec, "a role document")
    given = body.setdefault("role", name)
    if given != name:
        raise MetadataInvalid([MetadataError(REQUEST_FILE, ("role",),
                                             f"the document names role {given!r}, the address "
                                             f"{name!r}", None, "shape")])
    role = model.roles.get(name)
    if role is not None and not is_stored(role.source.file):
        raise MetadataConflict(f"role {name!r} is declared in {role.source.file}; change it there "
                               "(the metadata API changes only roles it stored)")
    return Edit("role", name, body)


def relative_errors(errors: list[MetadataError], edit: Edit) -> list[MetadataError]:
    """Errors in the edited document, with paths relative to the request's content."""
    out = []
    for e in errors:
        if e.file == edit.file and tuple(e.path[:len(edit.prefix)]) == edit.prefix:
            out.append(MetadataError(REQUEST_FILE, tuple(e.path[len(edit.prefix):]), e.message,
                                     None, e.code))
        else:
            out.append(e)
    return out
