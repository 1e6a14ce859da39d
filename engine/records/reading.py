"""Reading records: rows to Python values, many-to-many values and expansions.

Every read turns database values into Python values through the field types
(``from_db``: decimals, aware UTC datetimes) and fetches related data in one query
per field per page, never one per record. Permission decisions are the service's;
these functions get the scope conditions and the names to return.

:func:`refresh_statistics` keeps PostgreSQL's planner statistics of a table that a bulk
load filled: without them the planner guesses (a filtered, sorted page then reads and
sorts every matching row instead of walking the sort column's index), and autovacuum
may be off or not have run yet.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from engine.records.plan import EntityPlan
from engine.storage.db import Database

#: Most ids one ``IN (...)`` list carries when loading links or expansions.
CHUNK = 500
#: Columns of ``loom_users`` an expanded user carries.
USER_COLUMNS = ("id", "username", "display_name")
#: Fewest rows a bulk load must add before :func:`refresh_statistics` looks at the table.
STATISTICS_MIN_ROWS = 1000


def column_names(plan: EntityPlan, hidden: Iterable[str] = (), only: Iterable[str] | None = None
                 ) -> tuple[list[str], list[str]]:
    """(stored column names, many-to-many names) to read, without ``hidden`` ones."""
    hidden = set(hidden)
    wanted = None if only is None else set(only) | {"id", "version"}
    stored = [c.name for c in plan.table.columns
              if c.name not in hidden and (wanted is None or c.name in wanted)]
    links = [f.name for f, _ in plan.links
             if f.name not in hidden and (wanted is None or f.name in wanted)]
    return stored, links


def to_records(plan: EntityPlan, rows: Iterable[Mapping[str, Any]], names: Sequence[str]
               ) -> list[dict[str, Any]]:
    """Database rows -> records of Python values."""
    converters = [(n, c) for n in names if (c := plan.from_db[n]) is not None]
    out = []
    for row in rows:
        record = {name: row[name] for name in names}
        for name, convert in converters:
            value = record[name]
            if value is not None:
                record[name] = convert(value)
        out.append(record)
    return out


def fetch_one(conn: sa.Connection, plan: EntityPlan, record_id: int, scope: Any,
              names: Sequence[str], links: Sequence[str]) -> dict[str, Any] | None:
    """One record (or ``None`` if missing or out of ``scope``)."""
    table = plan.table
    query = sa.select(*(table.c[n] for n in names)).where(table.c.id == record_id)
    if scope is not None:
        query = query.where(scope)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    records = to_records(plan, [row], names)
    load_links(conn, plan, records, links)
    return records[0]


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def load_links(conn: sa.Connection, plan: EntityPlan, records: list[dict[str, Any]],
               names: Iterable[str]) -> None:
    """Fill each many-to-many field of ``records`` with its sorted target ids."""
    names = set(names)
    if not names or not records:
        return
    ids = [r["id"] for r in records]
    for f, link in plan.links:
        if f.name not in names:
            continue
        targets: dict[int, list[int]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            query = (sa.select(link.c.source_id, link.c.target_id)
                     .where(link.c.source_id.in_(chunk)).order_by(link.c.target_id))
            for source, target in conn.execute(query):
                targets[source].append(target)
        for record in records:
            record[f.name] = targets[record["id"]]


def write_links(conn: sa.Connection, link: sa.Table, pairs: list[dict[str, int]],
                clear: Sequence[int] = ()) -> None:
    """Replace the links of the ``clear`` source ids, then insert ``pairs`` (executemany)."""
    for chunk in _chunks(list(clear)):
        conn.execute(sa.delete(link).where(link.c.source_id.in_(chunk)))
    if pairs:
        conn.execute(sa.insert(link), pairs)


def related(conn: sa.Connection, target: EntityPlan, ids: Iterable[int], scope: Any,
            hidden: Iterable[str]) -> dict[int, dict[str, Any]]:
    """Records of ``target`` by id (visible columns only), plus ``_display``."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    names, _ = column_names(target, hidden)
    table = target.table
    out: dict[int, dict[str, Any]] = {}
    display = target.entity.display_field
    for chunk in _chunks(ids):
        query = sa.select(*(table.c[n] for n in names)).where(table.c.id.in_(chunk))
        if scope is not None:
            query = query.where(scope)
        for record in to_records(target, conn.execute(query).mappings(), names):
            shown = record.get(display, record["id"])
            convert = target.to_json.get(display)
            record["_display"] = "" if shown is None else str(convert(shown) if convert else shown)
            out[record["id"]] = record
    return out


def users(conn: sa.Connection, table: sa.Table, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Users by id: ``id``, ``username``, ``display_name`` and ``_display``."""
    ids = sorted(set(ids))
    out = {}
    for chunk in _chunks(ids):
        query = sa.select(*(table.c[n] for n in USER_COLUMNS)).where(table.c.id.in_(chunk))
        for row in conn.execute(query).mappings():
            out[row["id"]] = {**row, "_display": row["display_name"] or row["username"]}
    return out


def refresh_statistics(db: Database, table: sa.Table, added: int) -> bool:
    """After a committed bulk load of ``added`` rows: ``ANALYZE`` the table on PostgreSQL
    when it has no planner statistics yet or the load at least doubled it; True if it did.

    Statistics of a part of the rows serve later growth of the same kind (the planner
    scales them to the table's current size), so steady loads analyse rarely.
    """
    if db.dialect != "postgresql" or added < STATISTICS_MIN_ROWS:
        return False
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # ANALYZE: no transaction
        name = conn.dialect.identifier_preparer.format_table(table)
        known = conn.execute(sa.text("SELECT reltuples FROM pg_class "
                                     "WHERE oid = to_regclass(:name)"), {"name": name}).scalar()
        if known is None or (known >= 0 and added < known):  # -1: never analysed
            return False
        conn.exec_driver_sql(f"ANALYZE {name}")
    return True
