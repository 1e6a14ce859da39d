"""Plan a migration: compare the compiled model with the live database.

1. Declared renames (``renamed_from`` on an entity or a field; never guessed)
   are carried out first, on the planning connection, inside the transaction:
   ``loom plan`` rolls them back, ``loom migrate`` keeps them. Renames are
   metadata-only on both databases, so the diff that follows sees the renamed
   tables and columns and the data stays where it is. (On PostgreSQL a plan
   with renames briefly holds the renamed tables' locks until its rollback.)
2. Alembic's ``compare_metadata`` diffs the live schema (archive tables left
   out) against :func:`engine.storage.tables.build_tables`. ``loom plan`` and
   ``loom migrate`` compare every table; the metadata API limits the plan to
   the entities its change touches (:class:`Scope`): their tables, their
   many-to-many link tables (``deal__*``, also ones no longer declared), the
   tables they declare ``renamed_from``, and Loom's own tables that do not
   exist yet. Only those tables are reflected; drift on them is planned as
   always, drift elsewhere is left to ``loom plan``.
3. Each difference becomes a :class:`~engine.storage.plan.Step`, classified with
   the field types (:mod:`engine.storage.classify`) and the previously applied
   model (compiled again from the specs and presets recorded in
   ``loom_schema_versions``, unless the caller passes it: the metadata API
   has it compiled already; without it, SQL types alone decide and tightened
   constraints go unseen).

Reads the database (and renames, see 1); never drops or converts anything:
the steps' ``run`` callables do that when :func:`engine.storage.migrate.apply_plan`
calls them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.compiler import compile_documents
from engine.model import thaw
from engine.model import CompiledModel, Entity, Field
from engine.spec import MemorySource
from engine.spec.errors import MetadataInvalid
from engine.spec.reserved import SYSTEM_PREFIX
from engine.storage import archive, steps, versions
from engine.storage.classify import TableDiff, classify_table
from engine.storage.plan import Plan, Step
from engine.storage.steps import Runner
from engine.storage.tables import is_link

#: Leftovers of an interrupted SQLite batch copy; never Loom tables.
ALEMBIC_TEMP_PREFIX = "_alembic_tmp_"


#: ``old`` of :func:`build_plan` when the caller did not pass the previous model.
_READ = object()


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "table" and name is not None:
        return not (archive.is_archive(name) or name.startswith(ALEMBIC_TEMP_PREFIX))
    return True


@dataclass(frozen=True)
class Scope:
    """The tables a limited plan compares (the metadata API's): see the module docstring.

    ``tables`` are exact names; a table ``<prefix>__...`` is in scope for each of
    ``prefixes`` (link tables of the touched entities, declared or left over).
    """

    entities: frozenset[str]
    tables: frozenset[str]
    prefixes: tuple[str, ...]

    def __contains__(self, table: str) -> bool:
        return table in self.tables or table.startswith(self.prefixes)


def scope_of(model: CompiledModel, entities: set[str] | frozenset[str]) -> Scope:
    """The :class:`Scope` of ``entities`` (names in ``model``; unknown names are old tables)."""
    tables: set[str] = set()
    for name in entities:
        if model.has_entity(name):
            entity = model.entity(name)
            tables.add(entity.table_name)
            tables.update(entity.renamed_from)
            tables.update(entity.link_table_name(f) for f in entity.fields if is_link(f))
        else:
            tables.add(name)
    return Scope(frozenset(entities), frozenset(tables),
                 tuple(sorted(f"{t}__" for t in tables if "__" not in t)))


def changed_entities(old: CompiledModel, new: CompiledModel) -> set[str]:
    """Entities whose merged spec differs between ``old`` and ``new`` (added and removed too)."""
    names = set(old.specs) | set(new.specs)
    return {n for n in names if old.specs.get(n) != new.specs.get(n)}


def previous_model(applied: dict[str, Any] | None, model: CompiledModel) -> CompiledModel | None:
    """The model recorded with the applied version, compiled again (``None`` if it can't be).

    It is compiled with the presets recorded alongside; rows written before
    presets were recorded fall back to ``model``'s presets.
    """
    if not applied or not applied.get("specs"):
        return None
    specs = applied["specs"]
    docs = versions.recorded_documents(specs)
    if versions.PRESETS_KEY not in specs and model.presets:
        docs.append({"presets": {n: thaw(p.values) for n, p in model.presets.items()}})
    errors: list = []
    try:
        return compile_documents(MemorySource(*docs, name="<applied>").documents(errors), errors)
    except MetadataInvalid:
        return None


class Planner:
    """One planning pass over one connection. Use :func:`build_plan`."""

    def __init__(self, runner: Runner, old: Any = _READ, scope: Scope | None = None) -> None:
        self.r = runner
        self.conn = runner.conn
        self.model = runner.model
        self.target = runner.target
        self.scope = scope
        if old is _READ:
            applied = versions.latest(self.conn)
            self.old = previous_model(applied, self.model)
            applied_version = applied["version"] if applied else None
        else:  # the caller's applied model, whose version is the applied one
            self.old = old
            applied_version = old.version if old is not None else versions.applied_version(
                self.conn)
        self.plan = Plan(self.model.version, applied_version, self.conn.dialect.name)
        #: current table -> entity name in the old model; (table, column) -> old column.
        self.old_entity: dict[str, str] = {}
        self.old_column: dict[tuple[str, str], str] = {}
        entities = [e for e in self.model.entities.values()
                    if scope is None or e.table_name in scope]
        self.entity_by_table = {e.table_name: e for e in entities}
        self.link_by_table = {e.link_table_name(f): (e, f) for e in entities
                              for f in e.fields if is_link(f)}

    # -- entry -------------------------------------------------------------
    def build(self) -> Plan:
        existing = set(sa.inspect(self.conn).get_table_names())
        if self.scope is not None:
            # Loom's own tables join a limited plan only while missing (the first
            # metadata API change creates loom_metadata).
            missing = {t for t in self.target.metadata.tables
                       if t.startswith(SYSTEM_PREFIX) and t not in existing}
            self.scope = Scope(self.scope.entities, self.scope.tables | missing,
                               self.scope.prefixes)
        self._renames(existing)
        opts: dict[str, Any] = {"compare_type": True, "include_name": self._name_filter}
        if self.scope is not None:
            opts["include_object"] = self._object_filter
        with warnings.catch_warnings():
            # Trap: Alembic sorts the target tables with MetaData.sorted_tables, which
            # warns about relation cycles (deal.contract <-> contract.deal); new tables
            # of a cycle get their foreign keys last (steps.create_table).
            warnings.filterwarnings("ignore", message="Cannot correctly sort tables",
                                    category=sa.exc.SAWarning)
            diffs = compare_metadata(MigrationContext.configure(self.conn, opts=opts),
                                     self.target.metadata)
        added, removed, tables = self._group(diffs)
        self._added_tables(added)
        for name in sorted(set(tables) | set(self.entity_by_table)):
            if name in added or name in removed:
                continue
            classify_table(self, name, tables.get(name, TableDiff()))
        self._removed_tables(removed)
        self._notes()
        self.plan.steps.sort(key=lambda s: s.phase)
        return self.plan

    def add(self, step: Step) -> Step:
        self.plan.steps.append(step)
        return step

    def _name_filter(self, name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table" and name is not None and self.scope is not None \
                and name not in self.scope:
            return False
        return _include_name(name, type_, parent_names)

    def _object_filter(self, obj: Any, name: str | None, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        return type_ != "table" or self.scope is None or name in self.scope

    # -- the previous model ------------------------------------------------
    def old_field(self, table: str, column: str) -> Field | None:
        entity = self.old_entity_of(table)
        if entity is None:
            return None
        return self.old_field_of(entity, self.old_column.get((table, column), column))

    def old_field_of(self, entity: str, field: str) -> Field | None:
        """Field ``entity.field`` of the previous model (old names), if there was one."""
        if self.old is None or not self.old.has_entity(entity):
            return None
        old = self.old.entity(entity)
        return old.field(field) if old.has_field(field) else None

    def old_entity_of(self, table: str) -> str | None:
        return self.old_entity.get(table, table)

    def old_spec(self, entity: str | None, field: str | None) -> dict[str, Any] | None:
        if self.old is None or entity is None or entity not in self.old.specs:
            return None
        spec = dict(self.old.specs[entity])
        if field is None:
            return spec
        return next((dict(f) for f in spec.get("fields", []) if f.get("name") == field), None)

    # -- renames -----------------------------------------------------------
    def _renames(self, tables: set[str]) -> None:
        tables = set(tables)
        for entity in self.entity_by_table.values():
            name = entity.table_name
            olds = [r for r in entity.renamed_from if r in tables and r not in self.model.entities]
            if name in tables:
                if olds:
                    self.plan.general_problems.append(
                        f"entity {name} declares renamed_from {olds[0]} but both tables exist; "
                        f"drop or rename one of them first")
                continue
            if len(olds) > 1:
                self.plan.general_problems.append(
                    f"entity {name} could be renamed from {', '.join(olds)}: more than one exists")
                continue
            if olds:
                old = olds[0]
                steps.rename_table(self.r, old, name, entity_rename=True)
                tables.discard(old)
                tables.add(name)
                self.old_entity[name] = old
                self.add(Step("rename_entity", name, None, f"rename entity {old} -> {name}"))
                for f in entity.fields:
                    if not is_link(f):
                        continue
                    for candidate in (f.name, *f.renamed_from):
                        link = f"{old}__{candidate}"
                        if link in tables and entity.link_table_name(f) not in tables:
                            steps.rename_table(self.r, link, entity.link_table_name(f))
                            tables.discard(link)
                            tables.add(entity.link_table_name(f))
                            break
        for entity in self.entity_by_table.values():
            if entity.table_name in tables:
                self._field_renames(entity, tables)

    def _field_renames(self, entity: Entity, tables: set[str]) -> None:
        if not any(f.renamed_from for f in entity.fields):
            return
        table = entity.table_name
        columns = {c["name"] for c in sa.inspect(self.conn).get_columns(table)}
        for f in entity.fields:
            if not f.renamed_from:
                continue
            if f.stored:
                present, candidates = f.name in columns, columns
            else:
                present = entity.link_table_name(f) in tables
                candidates = {n.split("__", 1)[1] for n in tables if n.startswith(table + "__")}
            olds = [r for r in f.renamed_from if r in candidates and not entity.has_field(r)]
            if present:
                if olds:
                    self.plan.general_problems.append(
                        f"field {table}.{f.name} declares renamed_from {olds[0]} but both exist; "
                        "drop or rename one of them first")
                continue
            if len(olds) > 1:
                self.plan.general_problems.append(
                    f"field {table}.{f.name} could be renamed from {', '.join(olds)}: "
                    "more than one exists")
                continue
            if not olds:
                continue
            old = olds[0]
            if f.stored:
                steps.rename_column(self.r, table, old, f.name)
                self.old_column[(table, f.name)] = old
            else:
                steps.rename_table(self.r, f"{table}__{old}", entity.link_table_name(f))
                tables.add(entity.link_table_name(f))
            self.add(Step("rename_field", table, f.name, f"rename {table}.{old} -> {table}.{f.name}"))

    # -- grouping ----------------------------------------------------------
    def _group(self, diffs: list) -> tuple[dict[str, sa.Table], dict[str, sa.Table],
                                          dict[str, TableDiff]]:
        added: dict[str, sa.Table] = {}
        removed: dict[str, sa.Table] = {}
        tables: dict[str, TableDiff] = {}
        flat: list = []
        for d in diffs:
            flat.extend(d if isinstance(d, list) else [d])
        for d in flat:
            kind = d[0]
            if kind == "add_table":
                added[d[1].name] = d[1]
            elif kind == "remove_table":
                removed[d[1].name] = d[1]
        for d in flat:
            kind = d[0]
            if kind in ("add_table", "remove_table"):
                continue
            if kind in ("add_column", "remove_column"):
                diff = tables.setdefault(d[2], TableDiff())
                (diff.add_cols if kind == "add_column" else diff.drop_cols)[d[3].name] = d[3]
            elif kind == "modify_type":
                tables.setdefault(d[2], TableDiff()).types[d[3]] = (d[5], d[6])
            elif kind == "modify_nullable":
                tables.setdefault(d[2], TableDiff()).nullable[d[3]] = d[6]
            elif kind in ("add_index", "add_constraint", "remove_index", "remove_constraint",
                          "add_fk", "remove_fk"):
                item = d[1]
                name = item.table.name
                if name in added or name in removed:
                    continue
                diff = tables.setdefault(name, TableDiff())
                bucket = {"add_index": diff.add_ix, "add_constraint": diff.add_ix,
                          "remove_index": diff.drop_ix, "remove_constraint": diff.drop_ix,
                          "add_fk": diff.add_fk, "remove_fk": diff.drop_fk}[kind]
                bucket.append(item)
            # modify_default / modify_comment: Loom declares neither, nothing to do.
        return added, removed, tables

    # -- whole tables ------------------------------------------------------
    def _added_tables(self, added: dict[str, sa.Table]) -> None:
        ordered = [t for t, _ in sa.sql.ddl.sort_tables_and_constraints(
            [self.target.metadata.tables[n] for n in added]) if t is not None]
        for table in ordered:
            name = table.name
            run = partial(steps.create_table, table=table)
            if name in self.entity_by_table:
                entity = self.entity_by_table[name]
                self.add(Step("add_entity", name, None,
                              f"add entity {name} ({len(entity.fields)} fields)", run=run))
            elif name in self.link_by_table:
                entity, f = self.link_by_table[name]
                self.add(Step("add_link", entity.name, f.name,
                              f"add many-to-many field {entity.name}.{f.name} "
                              f"(link table {name})", run=run))
            else:
                self.add(Step("add_system_table", name, None, f"create system table {name}",
                              run=run))

    def _removed_tables(self, removed: dict[str, sa.Table]) -> None:
        for name in sorted(removed):
            rows = steps.values.count_rows(self.conn, name)
            old_entity = self.old_entity_of(name)
            if "__" in name and not name.startswith("loom_"):
                entity, field = name.split("__", 1)
                old = self.old_field_of(entity, field)
                spec = {"field": self.old_spec(entity, field),
                        "type": old.type_name if old is not None else None, "table": name}
                self.add(Step("drop_link", entity, field,
                              f"drop many-to-many field {entity}.{field} "
                              f"(archived: {rows} links)", destructive=True,
                              preview={"values": rows},
                              run=partial(steps.drop_table, name=name, entity=entity,
                                          field=field, spec=spec)))
            else:
                spec = {"entity": self.old_spec(old_entity, None), "table": name}
                self.add(Step("drop_entity", name, None,
                              f"drop entity {name} (archived: {rows} records)",
                              destructive=True, preview={"values": rows},
                              run=partial(steps.drop_table, name=name, entity=name, field=None,
                                          spec=spec)))

    def _notes(self) -> None:
        for (entity, field), row in sorted(archive.pending(self.conn).items(),
                                           key=lambda kv: (kv[0][0], kv[0][1] or "")):
            if field is None or not row["row_count"] or not self.model.has_entity(entity):
                continue
            if self.scope is not None and entity not in self.scope.entities:
                continue
            if self.model.entity(entity).has_field(field):
                self.plan.notes.append(
                    f"run `loom restore {entity}.{field}` to bring back {row['row_count']} "
                    f"archived values")


def build_plan(runner: Runner, *, old: Any = _READ, scope: Scope | None = None) -> Plan:
    """Plan (and carry out the renames of) a migration on ``runner``'s connection.

    ``old`` is the applied model when the caller has it (the one whose version
    ``loom_schema_versions`` holds; ``None``: there is none to compare with); by
    default it is compiled again from ``loom_schema_versions``.
    ``scope`` limits the plan to some entities (:func:`scope_of`); by default
    every table is compared.
    """
    return Planner(runner, old, scope).build()

