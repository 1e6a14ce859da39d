"""Deleting a record together with the records that depend on it, in one transaction.

The record service handles the relations pointing at a deleted record itself, so
every record the delete changes gets its audit row, its outbox event and (when it
stays) a version bump. The database's ``ON DELETE`` actions stay as a safety net
only. For the record asked for and, recursively, each record deleted with it:

- ``cascade``: the dependent is deleted too, its own dependents handled the same way
  (a record reached twice, or through a cycle, is deleted once);
- ``set_null``: the dependent's field is emptied as an update would empty it: formulas
  recomputed, ``required_if`` and rules checked (a problem refuses the delete), version
  bumped, audit ``update`` with ``{field: [id, null]}``, event ``record.updated``. A
  record emptied through several relations gets one change;
- ``restrict``: a dependent that is not itself deleted refuses the delete
  (``ValidationFailed``, code ``referenced``, one error per relation).

Permissions: the actor must be allowed to ``delete`` (cascade) or ``update`` (set_null)
every dependent's entity, every dependent must be in the actor's write scope and the
conditions of the actor's role for that action must hold on it; otherwise
the whole delete is refused with ``PermissionDenied`` naming the dependent entity, and
nothing is written. Field access is not asked: emptying a relation is a consequence of
the delete, not input.

Many-to-many link rows pointing at a deleted record are removed by the database; the
deleted record's audit lists who linked to it, under the field's inverse name (else
``entity.field``) as ``[[source ids], null]``.

Everything is read (dependents locked ``FOR UPDATE`` on PostgreSQL, so nobody adds or
changes one meanwhile) and checked before anything is written; then come the updates
(executemany per entity) and the deletes (one statement per entity per step, referrers
before the records they point at); :func:`delete` returns every change as an
:class:`~engine.storage.events.Event` for the caller's unit of work to emit (audit and
outbox rows, one executemany each). The dependents' events carry ``cause: {entity,
record_id}``, the delete asked for, in their payload.

Runs in the caller's transaction: never begins, commits or rolls back, and knows
nothing of the service: plans, policy and time are passed in.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from engine.permissions import Actor, PermissionPolicy
from engine.records import audit, outbox, reading, rights
from engine.model import Text
from engine.records.errors import (OUTSIDE_SCOPE, FieldError, PermissionDenied, ValidationFailed,
                                   lower_first, text)
from engine.records.plan import EntityPlan, Referrer
from engine.records.validation import complete
from engine.storage.events import Event

#: Most ids one ``IN (...)`` list carries.
CHUNK = 500
#: Label of the "row is in the actor's scope" column (field names start with a letter).
IN_SCOPE = "_in_scope"

Node = tuple[str, int]  # (entity, record id)
#: An emptied record: (plan, id, the values to write, changes ``{name: (old, new)}``).
Update = tuple[EntityPlan, int, dict[str, Any], dict[str, tuple[Any, Any]]]
#: A written change to log: (plan, id, audit action, audit changes, version).
Change = tuple[EntityPlan, int, str, dict[str, list[Any]], int]


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def lock(conn: sa.Connection, plan: EntityPlan, record_id: Any) -> None:
    """Lock the record to delete before reading it (a no-op on SQLite, whose writer holds
    the database): a concurrent insert pointing at it then waits and fails, instead of
    being deleted by the database without an audit row."""
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        table = plan.table
        conn.execute(sa.select(table.c.id).where(table.c.id == record_id)
                     .with_for_update(of=table)).first()


def delete(conn: sa.Connection, plans: Mapping[str, EntityPlan], policy: PermissionPolicy,
           actor: Actor, plan: EntityPlan, record: dict[str, Any], now: Any) -> list[Event]:
    """Delete ``record`` (read by the caller, locked) and handle its dependents.

    ``now`` (aware UTC) is the emptied records' ``updated_at``. Returns the events of
    every record changed or deleted, for the caller's emitter.
    """
    return _Delete(conn, plans, policy, actor, plan, record).run(now)


class _Delete:
    def __init__(self, conn: sa.Connection, plans: Mapping[str, EntityPlan],
                 policy: PermissionPolicy, actor: Actor, plan: EntityPlan,
                 record: dict[str, Any]) -> None:
        self.conn, self.plans, self.policy, self.actor = conn, plans, policy, actor
        self.root: Node = (plan.name, record["id"])
        #: Records to delete, by entity then id, with their last values.
        self.doomed: dict[str, dict[int, dict[str, Any]]] = {plan.name: {record["id"]: record}}
        #: Record -> the records to delete before it (those still pointing at it).
        self.after: dict[Node, set[Node]] = {}
        #: Records to empty fields of: entity -> id -> {"version": n, "old": {name: id}}.
        self.cleared: dict[str, dict[int, dict[str, Any]]] = {}
        #: Who links to each deleted record through many-to-many fields.
        self.linked: dict[Node, dict[str, list[int]]] = {}
        self.errors: list[FieldError] = []

    def run(self, now: Any) -> list[Event]:
        self.find_cascades()
        self.check_restricts()
        self.find_set_nulls()
        updates = self.updates()
        if self.errors:
            raise ValidationFailed(self.errors)
        self.find_links()
        return self.write(updates, now)

    # -- reading and checking ------------------------------------------------
    def _select(self, plan: EntityPlan, names: Sequence[str], column: sa.Column,
                ids: Iterable[int]) -> list[dict[str, Any]]:
        """Rows of ``plan`` whose ``column`` is in ``ids``, locked, with :data:`IN_SCOPE`."""
        table = plan.table
        scope = rights.write_scope(self.policy, self.actor, plan.name, table)
        columns: list[Any] = [table.c[n] for n in names]
        if scope is not None:
            columns.append(sa.case((scope, True), else_=False).label(IN_SCOPE))
        rows = []
        for chunk in _chunks(ids):
            query = sa.select(*columns).where(column.in_(chunk)).with_for_update(of=table)
            rows.extend(dict(r) for r in self.conn.execute(query).mappings())
        return rows

    def _allowed(self, ref: Referrer, rows: list[dict[str, Any]], action: str) -> None:
        if not rows:
            return
        dep = self.plans[ref.entity]
        label = dep.entity.label
        emptied = None if action == "delete" else ref.field.label
        outside = [r for r in rows if not r.get(IN_SCOPE, True)]
        if not self.policy.can(self.actor, ref.entity, action):
            raise PermissionDenied(ref.entity, action, self._why(emptied, len(rows)), label=label)
        if outside:
            raise PermissionDenied(ref.entity, action, joined(
                OUTSIDE_SCOPE, self._why(emptied, len(outside))), label=label)
        for row in rows:  # each record as stored: the role's condition must hold on it
            record = {n: dep.from_db_value(dep.fields[n], v) for n, v in row.items()
                      if n in dep.fields}
            reason = rights.refusal(self.policy, self.actor, ref.entity, action, record,
                                    rights.within(self.policy, self.conn, self.actor, dep.table,
                                                  row["id"]))
            if reason is not None:
                raise PermissionDenied(ref.entity, action,
                                       joined(Text.of(reason), self._why(emptied, 1)), label=label)

    def _why(self, emptied: Text | None, count: int) -> Text:
        """Why the delete touches them: it deletes them, or empties their ``emptied`` field."""
        root = self.plans[self.root[0]].entity.label
        en_root = f"{lower_first(root.get('en'))} {self.root[1]}"
        zh_root = f"{root.get('zh-CN')} {self.root[1]}"
        if emptied is None:
            return text(f" (deleting {en_root} would delete {count} of them)",
                        f"（删除{zh_root}会同时删除其中 {count} 条）")
        return text(f" (deleting {en_root} would empty '{emptied.get('en')}' of {count} of them)",
                    f"（删除{zh_root}会清空其中 {count} 条的“{emptied.get('zh-CN')}”）")


    def find_cascades(self) -> None:
        """The records deleted with the root, level by level (each relation one query)."""
        frontier = {self.root[0]: [self.root[1]]}
        while frontier:
            found: dict[str, list[int]] = {}
            for entity, ids in frontier.items():
                for ref in self.plans[entity].referenced_by["cascade"]:
                    dep = self.plans[ref.entity]
                    name = ref.field.name
                    stored, links = reading.column_names(dep)
                    rows = self._select(dep, stored, dep.table.c[name], ids)
                    doomed = self.doomed.setdefault(ref.entity, {})
                    new = [r for r in rows if r["id"] not in doomed]
                    self._allowed(ref, new, "delete")
                    records = reading.to_records(dep, new, stored)
                    reading.load_links(self.conn, dep, records, links)
                    for r in records:
                        doomed[r["id"]] = r
                    found.setdefault(ref.entity, []).extend(r["id"] for r in records)
                    for r in rows:
                        self._before((ref.entity, r["id"]), (entity, r[name]))
            frontier = {e: ids for e, ids in found.items() if ids}

    def _before(self, first: Node, then: Node) -> None:
        if first != then:
            self.after.setdefault(then, set()).add(first)

    def check_restricts(self) -> None:
        """Restricting relations may only point at deleted records from deleted records."""
        for entity, records in self.doomed.items():
            for ref in self.plans[entity].referenced_by["restrict"]:
                column = ref.table.c[ref.field.name]
                doomed = self.doomed.get(ref.entity, {})
                outside: set[int] = set()
                targets: set[int] = set()
                for chunk in _chunks(records):
                    query = sa.select(ref.table.c.id, column).where(column.in_(chunk))
                    for referrer, target in self.conn.execute(query):
                        if referrer in doomed:
                            self._before((ref.entity, referrer), (entity, target))
                        else:
                            outside.add(referrer)
                            targets.add(target)
                if outside:
                    self.errors.append(self._referenced(ref, entity, len(outside), targets))

    def _referenced(self, ref: Referrer, entity: str, count: int, targets: set[int]) -> FieldError:
        which, field = self.plans[ref.entity].entity.label, ref.field.label
        what = f"{count} {lower_first(which.get('en'))} record(s)"
        en_field, zh_field = f"'{field.get('en')}'", f"“{field.get('zh-CN')}”"
        if entity == self.root[0] and targets == {self.root[1]}:
            return FieldError(None, "referenced", text(
                f"{what} still refer to it through {en_field}; change or delete them first",
                f"仍有 {count} 条{which.get('zh-CN')}记录通过{zh_field}引用它，请先修改或删除这些记录"))
        ids = ", ".join(map(str, sorted(targets)))
        target = self.plans[entity].entity.label
        return FieldError(None, "referenced", text(
            f"{what} still refer through {en_field} to {lower_first(target.get('en'))} {ids}, "
            "which deleting it would delete too; change or delete them first",
            f"仍有 {count} 条{which.get('zh-CN')}记录通过{zh_field}引用将被一并删除的"
            f"{target.get('zh-CN')} {ids}，请先修改或删除这些记录"))

    def find_set_nulls(self) -> None:
        """Records that stay but point at a deleted one through a ``set_null`` relation."""
        for entity, records in self.doomed.items():
            for ref in self.plans[entity].referenced_by["set_null"]:
                dep = self.plans[ref.entity]
                f = ref.field
                doomed = self.doomed.get(ref.entity, {})
                names = {"id", "version", f.name} | (rights.condition_names(
                    self.policy, self.actor, ref.entity, "update") & set(dep.table.c.keys()))
                rows = [r for r in self._select(dep, sorted(names), dep.table.c[f.name],
                                                records) if r["id"] not in doomed]
                self._allowed(ref, rows, "update")
                cleared = self.cleared.setdefault(ref.entity, {})
                for r in rows:
                    entry = cleared.setdefault(r["id"], {"version": r["version"], "old": {}})
                    entry["old"][f.name] = dep.from_db_value(f, r[f.name])

    def updates(self) -> list[Update]:
        """(plan, id, new record values, changes) of each emptied record; problems to errors."""
        out = []
        for entity, entries in self.cleared.items():
            plan = self.plans[entity]
            names = {n for entry in entries.values() for n in entry["old"]}
            # Unless an expression reads an emptied field or may require it, no need for
            # the records: the change is known.
            if not names & plan.cel_names and not any(plan.fields[n].required_if for n in names):
                for record_id, entry in entries.items():
                    changes = {n: (old, None) for n, old in entry["old"].items()}
                    out.append((plan, record_id, {n: None for n in changes}, changes))
                continue
            stored, links = reading.column_names(plan)
            table = plan.table
            for chunk in _chunks(entries):
                query = sa.select(*(table.c[n] for n in stored)).where(table.c.id.in_(chunk))
                olds = reading.to_records(plan, self.conn.execute(query).mappings(), stored)
                reading.load_links(self.conn, plan, olds, links)
                for old in olds:
                    emptied = entries[old["id"]]["old"]
                    record = {**old, **dict.fromkeys(emptied)}
                    errors: list[FieldError] = []
                    complete(plan, record, errors, [])
                    self.errors += [_dependent_error(plan, old["id"], emptied, e) for e in errors]
                    written = [*emptied, *(f.name for f in plan.formulas)]
                    changes = {n: (old.get(n), record.get(n)) for n in written
                               if record.get(n) != old.get(n)}
                    out.append((plan, old["id"], {n: record.get(n) for n in written}, changes))
        return out

    def find_links(self) -> None:
        """Who links to each deleted record (their link rows go with it)."""
        for entity, records in self.doomed.items():
            for linker in self.plans[entity].linked_by:
                f, link = linker.field, linker.link
                key = f.inverse.name if f.inverse else f"{linker.entity}.{f.name}"
                for chunk in _chunks(records):
                    query = (sa.select(link.c.target_id, link.c.source_id)
                             .where(link.c.target_id.in_(chunk)).order_by(link.c.source_id))
                    for target, source in self.conn.execute(query):
                        linked = self.linked.setdefault((entity, target), {})
                        linked.setdefault(key, []).append(source)

    def steps(self) -> Iterator[list[Node]]:
        """The deleted records in steps, each after the records still pointing at it."""
        waiting = {(e, i): set(self.after.get((e, i), ())) for e, ids in self.doomed.items()
                   for i in ids}
        while waiting:
            ready = [n for n, first in waiting.items() if not first]
            # A cycle: the rest in one step; the database's cascades delete whatever one
            # statement leaves for another (every record has its audit row already).
            step = ready or list(waiting)
            for node in step:
                del waiting[node]
            done = set(step)
            for first in waiting.values():
                first -= done
            yield sorted(step, key=lambda n: n == self.root)

    # -- writing --------------------------------------------------------------
    def write(self, updates: list[Update], now: Any) -> list[Event]:
        """The changes in order (emptied records, then deleted ones); their events."""
        cause = {"entity": self.root[0], "record_id": self.root[1]}
        out = []
        for plan, record_id, action, changes, number in [*self.write_updates(updates, now),
                                                         *self.write_deletes()]:
            event = outbox.DELETED if action == audit.DELETE else outbox.UPDATED
            extra = {"cause": cause} if (plan.name, record_id) != self.root else None
            out.append(Event(plan.name, record_id, action, event, changes, number, extra))
        return out

    def write_updates(self, updates: list[Update], now: Any) -> Iterator[Change]:
        user = self.actor.user_id
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for plan, record_id, values, changes in updates:
            version = self.cleared[plan.name][record_id]["version"] + 1
            names = tuple(n for n in values if n in plan.table.c)
            params = {"W_id": record_id, "V_updated_by": user, "V_version": version,
                      "V_updated_at": plan.to_db_value(plan.fields["updated_at"], now)}
            params.update((f"V_{n}", plan.to_db_value(plan.fields[n], values[n])) for n in names)
            groups.setdefault((plan.name, names), []).append(params)
            yield plan, record_id, audit.UPDATE, audit.diff(plan, changes), version
        for (entity, names), rows in groups.items():
            table = self.plans[entity].table
            # Upper-case bind names never clash with a column's (names are lower case).
            values = {n: sa.bindparam(f"V_{n}", type_=table.c[n].type)
                      for n in (*names, "updated_at", "updated_by", "version")}
            self.conn.execute(sa.update(table).where(table.c.id == sa.bindparam("W_id"))
                              .values(values), rows)

    def write_deletes(self) -> Iterator[Change]:
        for step in self.steps():
            by_entity: dict[str, list[int]] = {}
            for entity, record_id in step:
                by_entity.setdefault(entity, []).append(record_id)
                plan, old = self.plans[entity], self.doomed[entity][record_id]
                changes = audit.snapshot(plan, old, deleted=True)
                for key, sources in self.linked.get((entity, record_id), {}).items():
                    changes.setdefault(key, [sources, None])
                yield plan, record_id, audit.DELETE, changes, old["version"]
            for entity, ids in by_entity.items():
                table = self.plans[entity].table
                for chunk in _chunks(ids):
                    self.conn.execute(sa.delete(table).where(table.c.id.in_(chunk)))


def _dependent_error(plan: EntityPlan, record_id: int, emptied: dict[str, Any],
                     error: FieldError) -> FieldError:
    """A problem of an emptied dependent, told as a problem of the delete."""
    def label(name: str | None, lang: str) -> str:
        f = plan.fields.get(name) if name else None
        return f.label.get(lang) if f is not None else str(name)

    entity = plan.entity.label
    en_fields = ", ".join(f"'{label(n, 'en')}'" for n in emptied)
    zh_fields = "、".join(f"“{label(n, 'zh-CN')}”" for n in emptied)
    en_field = f"{label(error.field, 'en')} " if error.field else ""
    zh_field = f"{label(error.field, 'zh-CN')}" if error.field else ""
    return FieldError(None, error.code, text(
        f"deleting it would empty {en_fields} of {lower_first(entity.get('en'))} {record_id}, "
        f"and then: {en_field}{error.message.get('en')}",
        f"删除它会清空{entity.get('zh-CN')} {record_id} 的{zh_fields}，之后：{zh_field}"
        f"{error.message.get('zh-CN')}"),
        rule=error.rule)


def joined(*parts: Text) -> Text:
    """Bilingual texts one after the other."""
    return text("".join(p.get("en") for p in parts), "".join(p.get("zh-CN") for p in parts))
