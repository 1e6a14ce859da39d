"""The metadata API's use cases: create an entity, add a field, change a field.

Each is one function that, inside one migration transaction (PostgreSQL: with
``loom_schema_versions`` locked, so two changes never interleave):

1. compiles the current sources (the metadata files plus the documents stored in
   ``loom_metadata``) and refuses (:class:`MetadataConflict`) when that is not
   the applied model, so a change never carries unmigrated file edits along;
2. edits one stored document (:mod:`engine.meta.documents`) and compiles again,
   raising ``MetadataInvalid`` with every error (paths relative to the request);
3. plans the migration like ``loom plan``, limited to the entities whose
   spec the edit changed (their tables, link tables and ``renamed_from``
   tables; see :mod:`engine.storage.diff`), with the model of step 1 as the
   applied one; a plan with problems, or destructive steps without
   ``allow_destructive``, is refused with ``MigrationRefused`` (which carries
   the plan); with ``dry_run`` the plan is returned instead and the
   transaction is rolled back;
4. runs the steps, checks the references of the tables they changed
   (SQLite), stores the document, records the schema version (when the plan has
   steps or the version changed) and the new revision with a copy of the stored
   documents (:mod:`engine.storage.revisions`), then commits.

A failure anywhere rolls everything back: schema, data and the stored document.
No Flask; nothing at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.meta import documents
from engine.meta.compiled import compile_cached, file_documents
from engine.meta.documents import Edit
from engine.meta.errors import MetadataConflict
from engine.model import CompiledModel
from engine.spec import MetadataSource, SpecDocument
from engine.storage.documents import save_document, stored_rows, to_document
from engine.spec.errors import MetadataError, MetadataInvalid
from engine.storage import revisions, versions
from engine.storage.db import Database
from engine.storage.diff import build_plan, changed_entities, scope_of
from engine.storage.migrate import (
    check_foreign_keys,
    migration_connection,
    referencing_tables,
    run_steps,
)
from engine.storage.plan import Plan
from engine.storage.steps import Runner
from engine.storage.tables import build_tables


@dataclass(frozen=True)
class MetadataChange:
    """What a metadata use case did (or, with ``dry_run``, would do)."""

    model: CompiledModel
    plan: Plan
    applied: bool
    #: The stored document that carries the change: ``db:extends/deal``.
    document: str

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def revision(self) -> str:
        return self.model.revision

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "revision": self.revision, "applied": self.applied,
                "document": self.document,
                "plan": [s.as_dict() for s in self.plan.steps], "plan_text": self.plan.text(),
                "problems": self.plan.problems, "notes": self.plan.as_dict()["notes"]}


def _compile(docs: list[SpecDocument], errors: list[MetadataError]) -> CompiledModel:
    return compile_cached(docs, errors)


def _current(conn: sa.Connection, files: MetadataSource, stored: list[SpecDocument],
             errors: list[MetadataError]) -> tuple[list[SpecDocument], CompiledModel]:
    """The file documents and the model of files + stored documents; it must be the applied one.

    ``errors`` are the ones found reading ``stored``.
    """
    file_docs = file_documents(files, errors)
    model = _compile(file_docs + stored, errors)
    applied = versions.applied_version(conn)
    if applied is None:
        raise MetadataConflict("the database has no Loom schema yet; run `loom migrate` first")
    if applied != model.version:
        raise MetadataConflict(
            f"the metadata files and stored documents compile to model {model.version} but the "
            f"database is at {applied}; run `loom plan` and `loom migrate` before changing "
            "metadata through the API")
    return file_docs, model


def _changed(file_docs: list[SpecDocument], stored: list[SpecDocument],
             edit: Edit) -> CompiledModel:
    """The model with ``edit`` in place of (or added to) the stored documents."""
    errors: list[MetadataError] = []
    stored = [d for d in stored if d.file != edit.file]
    stored.append(SpecDocument(edit.kind, edit.body, edit.file))
    # In the order a reload reads them (by name), so the reload finds this model cached.
    docs = file_docs + sorted(stored, key=lambda d: d.file)
    try:
        return _compile(docs, errors)
    except MetadataInvalid as exc:
        raise MetadataInvalid(documents.relative_errors(exc.errors, edit)) from None


def _change(db: Database, files: MetadataSource, make_edit: Callable[..., Edit], *, actor: str,
            dry_run: bool, allow_destructive: bool, clock: Clock) -> MetadataChange:
    """Steps 1-4 of the module docstring for the edit ``make_edit(model, stored)`` returns."""
    with migration_connection(db, write=not dry_run, check_references=False) as conn:
        rows = stored_rows(conn)
        errors: list[MetadataError] = []
        stored_docs = [d for d in (to_document(r["name"], r["body"], errors) for r in rows)
                       if d is not None]
        file_docs, current = _current(conn, files, stored_docs, errors)
        edit = make_edit(current, {row["name"]: row["body"] for row in rows})
        model = _changed(file_docs, stored_docs, edit)
        runner = Runner(conn, model, build_tables(model), clock=clock)
        # The applied model is ``current`` (same version, so the same specs).
        plan = build_plan(runner, old=current,
                          scope=scope_of(model, changed_entities(current, model)))
        if dry_run:
            for step in plan.steps:
                step.run = None
            return MetadataChange(model, plan, False, edit.file)
        run_steps(runner, plan, allow_destructive)
        if conn.dialect.name == "sqlite":
            check_foreign_keys(conn, referencing_tables(plan, runner))
        # After the steps: the first change may have created loom_metadata itself.
        save_document(conn, edit.kind, edit.entity, edit.body, actor, clock=clock)
        # A change that leaves the schema version alone (a label, a role) records no
        # schema version, so no writer is refused; the revision makes processes reload.
        if plan.steps or model.version != current.version:
            versions.record_version(conn, model, plan.text(), actor, clock=clock)
        revisions.record_revision(conn, model, author=actor, origin=revisions.ORIGIN_API,
                                  changed=[edit.name], clock=clock)
    for step in plan.steps:
        step.run = None
    return MetadataChange(model, plan, True, edit.file)


def put_role(db: Database, files: MetadataSource, name: str, spec: Any, *, actor: str,
             dry_run: bool = False, allow_destructive: bool = False,
             clock: Clock = SYSTEM_CLOCK) -> MetadataChange:
    """Store role ``name`` (a role document, as in a YAML file), new or replacing the one
    stored before. No table changes, so no writer is refused; every process reloads it at
    its next check (a new revision).

    >>> put_role(db, files, "auditor", {"label": "Auditor",
    ...          "default": {"actions": ["read"], "scope": "all"}}, actor="admin")  # doctest: +SKIP
    """
    return _change(db, files, lambda model, stored: documents.role_document(model, name, spec),
                   actor=actor, dry_run=dry_run, allow_destructive=allow_destructive,
                   clock=clock)


def warm_up(db: Database, model: CompiledModel) -> None:
    """Plan, read-only, a change that changes nothing (one entity's table against itself).

    A process's first plan compiles the planner's reflection queries (about 0.1 s on
    PostgreSQL); a web process calls this once after loading its model, so the first
    change made through it doesn't pay for that. Nothing is written, and nothing is
    planned unless ``model`` is the applied one.
    """
    if not model.entities:
        return
    entity = min(model.entities)
    with migration_connection(db, write=False) as conn:
        if versions.applied_version(conn) != model.version:
            return  # files edited but not migrated: planning could try their renames
        build_plan(Runner(conn, model, build_tables(model)), old=model,
                   scope=scope_of(model, {entity}))


def create_entity(db: Database, files: MetadataSource, spec: Any, *, actor: str,
                  dry_run: bool = False, allow_destructive: bool = False,
                  clock: Clock = SYSTEM_CLOCK) -> MetadataChange:
    """Declare a new entity (``spec`` is an entity document, as in a YAML file) and create its table.

    >>> create_entity(db, FileSource("schemas"), {"entity": "ticket", "label": "Ticket",
    ...               "fields": [{"name": "title", "type": "text"}]}, actor="admin")  # doctest: +SKIP
    """
    return _change(db, files, lambda model, stored: documents.new_entity(model, spec),
                   actor=actor, dry_run=dry_run, allow_destructive=allow_destructive,
                   clock=clock)


def add_field(db: Database, files: MetadataSource, entity: str, field_spec: Any, *, actor: str,
              dry_run: bool = False, allow_destructive: bool = False,
              clock: Clock = SYSTEM_CLOCK) -> MetadataChange:
    """Add a field to ``entity``; to an entity declared in a file, through its ``extends`` document.

    >>> add_field(db, files, "deal", {"name": "priority", "type": "integer", "default": 0},
    ...           actor="admin")                                             # doctest: +SKIP
    """
    return _change(db, files,
                   lambda model, stored: documents.added_field(model, stored, entity, field_spec),
                   actor=actor, dry_run=dry_run, allow_destructive=allow_destructive,
                   clock=clock)


def change_field(db: Database, files: MetadataSource, entity: str, field: str, changes: Any, *,
                 actor: str, dry_run: bool = False,
                 allow_destructive: bool = False, clock: Clock = SYSTEM_CLOCK) -> MetadataChange:
    """Change keys of a field the metadata API added (``null`` removes a key).

    >>> change_field(db, files, "deal", "priority", {"max": 5}, actor="admin")  # doctest: +SKIP
    """
    return _change(db, files,
                   lambda model, stored: documents.changed_field(model, stored, entity, field,
                                                                 changes),
                   actor=actor, dry_run=dry_run, allow_destructive=allow_destructive,
                   clock=clock)
