"""Composite unique indexes (``indexes: [{fields: [a, b], unique: true}]``) give field errors.

On create, update and bulk_create the service finds the repeat itself (inside the call and
against the table) instead of letting the constraint fail with a generic ``integrity`` error.
"""

from __future__ import annotations

import datetime as dt

import pytest
from records_support import install, rows

from engine.records import Actor, RecordService, ValidationFailed

SEAT = {
    "entity": "seat", "label": "Seat",
    "fields": [
        {"name": "team", "type": "string"},
        {"name": "number", "type": "integer"},
        {"name": "since", "type": "date"},
        {"name": "note", "type": "string"},
    ],
    "indexes": [{"fields": ["team", "number"], "unique": True},
                {"fields": ["number", "since"], "unique": True}],
}

TEAM_NUMBER = {"en": "the combination of team, number must be unique",
               "zh-CN": "team、number 的组合必须唯一"}


@pytest.fixture
def seats(database, model_from):
    model = model_from(SEAT)
    tables = install(database, model)
    return RecordService(database, model, tables), tables.entities["seat"]


@pytest.fixture
def actor():
    return Actor(1, roles=("sales",))


def _problems(info) -> list[tuple]:
    return sorted(((e.row, e.field, e.code, e.message.get()) for e in info.value.errors),
                  key=repr)


def test_create_repeating_a_stored_combination_names_the_fields(seats, actor):
    svc, _ = seats
    svc.create(actor, "seat", {"team": "red", "number": 1})
    with pytest.raises(ValidationFailed) as info:
        svc.create(actor, "seat", {"team": "red", "number": 1})
    [error] = info.value.errors
    assert (error.field, error.code) == ("team", "unique")
    assert error.message.as_dict() == TEAM_NUMBER
    assert svc.create(actor, "seat", {"team": "blue", "number": 1})["team"] == "blue"


def test_update_into_a_stored_combination_is_refused_but_keeping_its_own_is_not(seats, actor):
    svc, _ = seats
    svc.create(actor, "seat", {"team": "red", "number": 1})
    other = svc.create(actor, "seat", {"team": "red", "number": 2})
    with pytest.raises(ValidationFailed) as info:
        svc.update(actor, "seat", other["id"], {"number": 1}, version=other["version"])
    assert info.value.codes() == {"team": ["unique"]}
    assert "team, number" in info.value.errors[0].message.get()
    kept = svc.update(actor, "seat", other["id"], {"note": "x"}, version=other["version"])
    assert (kept["team"], kept["number"], kept["note"]) == ("red", 2, "x")


def test_bulk_reports_repeats_inside_the_call_and_against_the_table_by_row(seats, actor):
    svc, table = seats
    svc.create(actor, "seat", {"team": "red", "number": 1, "since": "2026-01-05"})
    batch = [
        {"team": "blue", "number": 1},                              # 0 free
        {"team": "red", "number": 1},                               # 1 stored team+number
        {"team": "blue", "number": 1},                              # 2 repeats row 0
        {"team": "green", "number": 1, "since": "2026-01-05"},      # 3 stored number+since
        {"team": "green", "number": 2, "since": "2026-01-05"},      # 4 free
    ]
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(actor, "seat", batch, batch_size=2)
    assert _problems(info) == sorted([
        (1, "team", "unique", TEAM_NUMBER["en"]),
        (2, "team", "unique", TEAM_NUMBER["en"]),
        (3, "number", "unique", "the combination of number, since must be unique"),
    ], key=repr)
    assert len(rows(svc.db, table)) == 1


def test_bulk_rows_with_a_null_in_the_combination_never_conflict(seats, actor):
    svc, table = seats
    svc.create(actor, "seat", {"team": None, "number": 1})
    ids = svc.bulk_create(actor, "seat", [{"team": None, "number": 1}, {"number": 1},
                                          {"team": "red"}, {"team": "red"}])
    assert len(ids) == 4 and len(rows(svc.db, table)) == 5


def test_bulk_without_repeats_stores_every_row_across_chunks(seats, actor):
    svc, table = seats
    svc.create(actor, "seat", {"team": "t0", "number": 0, "since": "2026-01-01"})
    start = dt.date(2026, 1, 2)
    ids = svc.bulk_create(actor, "seat", [
        {"team": f"t{i % 3}", "number": i + 1, "since": (start + dt.timedelta(i)).isoformat()}
        for i in range(1200)], batch_size=400)
    assert len(ids) == 1200 and len(rows(svc.db, table)) == 1201


def test_bulk_finds_a_stored_combination_beyond_the_first_query_chunk(seats, actor):
    svc, _ = seats
    svc.create(actor, "seat", {"team": "x", "number": 1100})
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(actor, "seat", [{"team": "x", "number": i} for i in range(1200)])
    assert [(e.row, e.field, e.code) for e in info.value.errors] == [(1100, "team", "unique")]
