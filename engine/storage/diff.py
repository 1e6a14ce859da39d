"""Plan a migration: compare the compiled model with the live database.

1. Declared renames (``renamed_from`` on an entity or a field; never guessed)
   are carried out first, on the planning connection, inside the transaction:
   ``loom plan`` rolls them back, ``loom migrate`` keeps them. Renames are
   metadata-only on both databases, so the diff that follows sees the renamed
   tables and columns and the data stays where it is. (On PostgreSQL a plan
   with renames briefly holds the renamed tables' locks until its rollback.)
2. Alembic's ``compare_metadata`` diffs the live schema (archive tables left
   out) against :func:`engine.storage.tables.build_tables`.
3. Each difference becomes a :class:`~engine.storage.plan.Step`, classified with
   the field types (:mod:`engine.storage.classify`) and the previously applied
   model (compiled again from the specs and presets recorded in
   ``loom_schema_versions``; without it, SQL types alone decide and tightened
   constraints go unseen).

Reads the database (and renames, see 1); never drops or converts anything:
the steps' ``run`` callables do that when :func:`engine.storage.migrate.apply_plan`
calls them.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.compiler import compile_documents
from engine.compiler_fields import thaw
from engine.model import CompiledModel, Entity, Field
from engine.spec import MemorySource
from engine.spec.errors import MetadataInvalid
from engine.storage import archive, steps, versions
from engine.storage.classify import TableDiff, classify_table
from engine.storage.plan import Plan, Step
from engine.storage.steps import Runner
from engine.storage.tables import is_link

#: Leftovers of an interrupted SQLite batch copy; never Loom tables.
ALEMBIC_TEMP_PREFIX = "_alembic_tmp_"


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "table" and name is not None:
        return not (archive.is_archive(name) or name.startswith(ALEMBIC_TEMP_PREFIX))
    return True


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

    def __init__(self, runner: Runner) -> None:
        self.r = runner
        self.conn = runner.conn
        self.model = runner.model
        self.target = runner.target
        applied = versions.latest(self.conn)
        self.old = previous_model(applied, self.model)
        self.plan = Plan(self.model.version, applied["version"] if applied else None,
                         self.conn.dialect.name)
        #: current table -> entity name in the old model; (table, column) -> old column.
        self.old_entity: dict[str, str] = {}
        self.old_column: dict[tuple[str, str], str] = {}
        self.entity_by_table = {e.table_name: e for e in self.model.entities.values()}
        self.link_by_table = {e.link_table_name(f): (e, f) for e in self.model.entities.values()
                              for f in e.fields if is_link(f)}

    # -- entry -------------------------------------------------------------
    def build(self) -> Plan:
        self._renames()
        with warnings.catch_warnings():
            # Trap: Alembic sorts the target tables with MetaData.sorted_tables, which
            # warns about relation cycles (deal.contract <-> contract.deal); new tables
            # of a cycle get their foreign keys last (steps.create_table).
            warnings.filterwarnings("ignore", message="Cannot correctly sort tables",
                                    category=sa.exc.SAWarning)
            diffs = compare_metadata(MigrationContext.configure(
                self.conn, opts={"compare_type": True, "include_name": _include_name}),
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
    def _renames(self) -> None:
        inspector = sa.inspect(self.conn)
        tables = set(inspector.get_table_names())
        for entity in self.model.entities.values():
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
        for entity in self.model.entities.values():
            if entity.table_name in tables:
                self._field_renames(entity, tables)

    def _field_renames(self, entity: Entity, tables: set[str]) -> None:
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
            if self.model.entity(entity).has_field(field):
                self.plan.notes.append(
                    f"run `loom restore {entity}.{field}` to bring back {row['row_count']} "
                    f"archived values")


def build_plan(runner: Runner) -> Plan:
    """Plan (and carry out the renames of) a migration on ``runner``'s connection."""
    return Planner(runner).build()

