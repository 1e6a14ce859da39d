"""Paging over rows tied on the sort keys: every page walk sees each record exactly once.

Many deals share a close date, a stage or a title, and updates move rows around the
table's storage, so the database's own order of tied rows is not the id order; the
sort's tie-break (``id``, left out when a key is unique and never empty) must still
make offset and keyset pages add up to the whole list.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import pytest
import sqlalchemy as sa
from records_support import ALICE

from engine.filters import FilterCompiler
from engine.records import reading
from engine.storage.tables import build_tables

DAYS = [dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3), None]
STAGES = ["lead", "won", "lost"]
SORTS = [["-close_date"], ["close_date"], ["stage"], ["-stage", "title"], ["title", "-close_date"]]
PER_PAGE = 7


@pytest.fixture
def tied(svc, system):
    """60 deals over 4 close dates (one empty), 3 stages and 5 titles; some updated."""
    rows = [{"title": f"Deal {i % 5}", "amount": str(100 + i), "owner": ALICE,
             "stage": STAGES[i % 3], "loss_reason": "price" if i % 3 == 2 else None,
             "close_date": None if DAYS[i % 4] is None else DAYS[i % 4].isoformat()}
            for i in range(60)]
    ids = svc.bulk_create(system, "deal", rows)
    for record_id in ids[::4]:  # new row versions: storage order no longer follows the id
        current = svc.get(system, "deal", record_id)
        svc.update(system, "deal", record_id, {"notes": "moved"}, version=current["version"])
    return ids


def _walk_offset(svc, actor, sort, filter=None):
    seen, offset = [], 0
    while True:
        page = svc.list(actor, "deal", sort=sort, filter=filter, limit=PER_PAGE, offset=offset)
        seen += [r["id"] for r in page.rows]
        if page.next_after is None:
            return seen
        offset += PER_PAGE


def _walk_keyset(svc, actor, sort, filter=None):
    seen, after = [], None
    while True:
        page = svc.list(actor, "deal", sort=sort, filter=filter, limit=PER_PAGE, after=after)
        seen += [r["id"] for r in page.rows]
        after = page.next_after
        if after is None:
            return seen


@pytest.mark.parametrize("sort", SORTS)
def test_offset_and_keyset_pages_cover_tied_rows_once(svc, alice, tied, sort):
    everything = [r["id"] for r in svc.list(alice, "deal", sort=sort, limit=1000).rows]
    assert sorted(everything) == sorted(tied)
    by_offset = _walk_offset(svc, alice, sort)
    by_keyset = _walk_keyset(svc, alice, sort)
    assert len(set(by_offset)) == len(by_offset) == 60
    assert by_offset == everything
    assert by_keyset == everything


@pytest.mark.parametrize("sort", SORTS)
def test_tied_rows_come_in_id_order_in_the_last_keys_direction(svc, alice, tied, sort):
    rows = svc.list(alice, "deal", sort=sort, limit=1000).rows
    names = [s.lstrip("-") for s in sort]
    desc = sort[-1].startswith("-")
    for before, after in pairwise(rows):
        if all(before[n] == after[n] for n in names):
            assert (before["id"] > after["id"]) if desc else (before["id"] < after["id"])


def test_filtered_pages_with_a_total_add_up(svc, alice, tied):
    spec = [{"field": "stage", "op": "eq", "value": "won"},
            {"field": "amount", "op": "gt", "value": "110"}]
    first = svc.list(alice, "deal", filter=spec, sort=["-close_date"], limit=PER_PAGE,
                     with_total=True)
    walked = _walk_offset(svc, alice, ["-close_date"], spec)
    expected = sum(1 for i in range(60) if STAGES[i % 3] == "won" and 100 + i > 110)
    assert first.total == len(walked) == len(set(walked)) == expected
    assert _walk_keyset(svc, alice, ["-close_date"], spec) == walked


def test_a_unique_required_key_needs_no_tie_break(database, svc, crm_model, tables, system):
    compiler = FilterCompiler(crm_model, tables)
    assert [k.name for k in compiler.sort("tag", ["-name"])] == ["name"]
    assert [k.name for k in compiler.sort("deal", ["-close_date"])] == ["close_date", "id"]
    assert [k.name for k in compiler.sort("deal", ["id", "title"])] == ["id", "title"]
    assert [k.name for k in compiler.sort("deal", [])] == ["id"]
    svc.bulk_create(system, "tag", [{"name": f"tag {i:02d}"} for i in range(23)])
    walked, after = [], None
    while True:
        page = svc.list(system, "tag", sort=["-name"], limit=5, after=after)
        walked += [r["name"] for r in page.rows]
        after = page.next_after
        if after is None:
            break
    assert walked == [f"tag {i:02d}" for i in reversed(range(23))]
    offset_walk = [r["name"] for start in range(0, 25, 5)
                   for r in svc.list(system, "tag", sort=["-name"], limit=5, offset=start).rows]
    assert offset_walk == walked


def test_a_unique_key_that_may_be_empty_keeps_the_tie_break(model_from):
    model = model_from({"entity": "item", "label": "Item",
                        "fields": [{"name": "code", "type": "string", "unique": True},
                                   {"name": "label", "type": "string", "required": True}]})
    compiler = FilterCompiler(model, build_tables(model))
    assert [k.name for k in compiler.sort("item", ["code"])] == ["code", "id"]
    assert [k.name for k in compiler.sort("item", ["-label"])] == ["label", "id"]


def test_bulk_loads_give_a_table_statistics_once_and_again_when_it_doubles(database, svc, system):
    table = svc.plan("tag").table
    few = [{"name": f"few {i:04d}"} for i in range(reading.STATISTICS_MIN_ROWS - 1)]
    rows = [{"name": f"tag {i:04d}"} for i in range(reading.STATISTICS_MIN_ROWS + 200)]
    if database.dialect != "postgresql":
        svc.bulk_create(system, "tag", rows)
        assert reading.refresh_statistics(database, table, len(rows)) is False  # no ANALYZE
        return

    def known():
        with database.read() as conn:
            return conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = "
                                        "to_regclass(:n)"), {"n": table.name}).scalar()

    svc.bulk_create(system, "tag", few)
    assert known() < 0  # too few rows to bother: never analysed
    svc.bulk_create(system, "tag", rows)
    assert known() == len(few) + len(rows)  # the first big load analyses
    svc.bulk_create(system, "tag", [{"name": f"more {i:04d}"} for i in range(1100)])
    assert known() == len(few) + len(rows)  # smaller than the table: statistics kept
    svc.bulk_create(system, "tag", [{"name": f"big {i:05d}"} for i in range(3000)])
    assert known() == len(few) + len(rows) + 1100 + 3000  # doubled it: analysed again
