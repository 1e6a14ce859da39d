"""Reading records: rows to Python values, many-to-many values and expansions.

Every read turns database values into Python values through the field types
(``from_db``: decimals, aware UTC datetimes) and fetches related data in one query
per field per page, never one per record. Permission decisions are the service's;
these functions get the scope conditions and the names to return.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from engine.records.plan import EntityPlan

#: Most ids one ``IN (...)`` list carries when loading links or expansions.
CHUNK = 500
#: Columns of ``loom_users`` an expanded user carries.
USER_COLUMNS = ("id", "username", "display_name")


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
    converters = [(n, plan.from_db[n]) for n in names]
    out = []
    for row in rows:
        record = {}
        for name, convert in converters:
            value = row[name]
            record[name] = convert(value) if convert is not None and value is not None else value
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
