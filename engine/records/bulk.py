"""The bulk-create fast path's parts: the same checks as one create, batched SQL.

The unit of work (:meth:`engine.records.unit.Unit.bulk_create`) puts every row through
the same validation (coercion, defaults, formulas, required, rules) as a create
(:func:`validate_rows`); only then does its transaction check references and unique
values for all rows at once, take autonumbers in one block per pattern, reserve the ids
(:func:`reserve_ids`, so audit rows need no RETURNING round trip) and write each batch
(:class:`BatchWriter`): the records, their links and one audit row per record; the unit
adds one ``records.created`` outbox row per batch. Any problem refuses the whole call.
Knows nothing of the service: everything it needs is passed in.

Per-row Python is kept small: converters and column lists come from the entity plan,
CEL bindings are only built when the entity has expressions.
"""

from __future__ import annotations

import json
from collections import abc
from typing import Any, Callable, Sequence

import sqlalchemy as sa

from engine.records import audit, reading
from engine.records.errors import FieldError, ValidationFailed, text
from engine.records.fastinsert import FastInsert
from engine.records.plan import EntityPlan
from engine.records.validation import validate_create
from engine.storage import events
from engine.storage.events import WriteContext


def reserve_ids(conn: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """``count`` new ids for ``table``, in ascending order, in the write transaction."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # The write transaction holds SQLite's single writer lock (BEGIN IMMEDIATE), so the
        # ids after the largest one are free; AUTOINCREMENT tables also remember deleted ones.
        last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        if table.kwargs.get("sqlite_autoincrement"):
            seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?",
                                       (table.name,)).scalar()
            last = max(last, seq or 0)
        return list(range(last + 1, last + count + 1))
    if dialect == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        query = sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
        return sorted(conn.execute(query).scalars())
    raise NotImplementedError(f"bulk_create does not know how to reserve ids on {dialect}")


def check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number")


def validate_rows(plan: EntityPlan, rows: Any, owner: int | None, denied: dict[str, str],
                  now: Any, errors: list[FieldError]) -> list[dict[str, Any]]:
    """Every row through the create validation; problems go to ``errors`` with their row."""
    return [validate_create(plan, values, owner=owner, denied=denied, errors=errors,
                            warnings=[], now=now, row=i)
            for i, values in enumerate(row_list(rows))]


def row_list(rows: Any) -> Sequence[Any]:
    """``rows`` as a list; a single record, text or a non-iterable is refused as a whole."""
    if isinstance(rows, (list, tuple)):
        return rows
    if not isinstance(rows, (str, bytes, abc.Mapping)):
        try:
            return list(rows)
        except TypeError:
            pass
    raise ValidationFailed([FieldError(None, "type", text(
        "rows must be a list of records (objects of field values)",
        "rows 必须是记录（字段值对象）的列表"))])


def json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` without its per-call set-up: the C encoder is made once (2x faster)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return json.dumps
    encoder = make(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None,
                   ": ", ", ", False, False, True)
    return lambda value: "".join(encoder(value, 0))


def _compose(first: Callable[[Any], Any] | None, then: Callable[[Any], Any] | None
             ) -> Callable[[Any], Any] | None:
    if first is None or then is None:
        return first or then
    return lambda value: then(first(value))


class BatchWriter:
    """Writes batches of validated records: the rows, their links and their audit rows."""

    def __init__(self, conn: sa.Connection, audit_table: sa.Table, context: WriteContext,
                 plan: EntityPlan, at: Any) -> None:
        user = context.actor.user_id
        self.links = plan.links
        names = [f.name for f in plan.stored] + ["owner"]
        self.records = FastInsert(conn, plan.table, {
            "created_at": at, "updated_at": at, "created_by": user, "updated_by": user,
            "version": 1}, ["id", *names])
        # The audit rows' shape comes from the one emitter; only the record varies.
        self.audit = FastInsert(conn, audit_table,
                                events.audit_constants(context, at, plan.name, audit.CREATE),
                                ["record_id", "changes"])
        # (name, Python -> driver value, Python -> JSON value) of every stored value; the
        # audit keeps the same names.
        self.columns = [(n, _compose(plan.to_db[n], self.records.processor(n)), plan.to_json[n])
                        for n in names]
        # The driver takes JSON text for the JSON column on every database.
        self.encode_changes = json_encoder()

    def write(self, conn: sa.Connection, batch: list[dict[str, Any]], ids: list[int]) -> None:
        columns, encode = self.columns, self.encode_changes
        record_prefix, audit_prefix = self.records.prefix, self.audit.prefix
        rows, entries = [], []
        links: list[list[dict[str, int]]] = [[] for _ in self.links]
        for record, record_id in zip(batch, ids):
            row = [record_id]
            append = row.append
            changes = {}
            for name, to_db, to_json in columns:
                value = record.get(name)
                if value is None:
                    append(None)
                else:
                    append(value if to_db is None else to_db(value))
                    changes[name] = (None, value if to_json is None else to_json(value))
            for (f, _), pairs in zip(self.links, links):
                targets = record.get(f.name)
                if targets:
                    changes[f.name] = (None, targets)
                    pairs.extend({"source_id": record_id, "target_id": t} for t in targets)
            rows.append(record_prefix + tuple(row))
            entries.append(audit_prefix + (record_id, encode(changes)))
        self.records.run(conn, rows)
        for (_, link), pairs in zip(self.links, links):
            reading.write_links(conn, link, pairs)
        self.audit.run(conn, entries)
