"""Days in the organisation's time zone, on every backend: CEL ``today()``, whole-day
filters and date buckets around midnight and a month's end in Asia/Shanghai (UTC+8).

2026-01-31T16:30Z is 2026-02-01 00:30 in Shanghai: February there, January in UTC.
"""

from __future__ import annotations

import datetime as dt

import pytest
from records_support import ALICE, install

from engine.clock import SimulatedClock, zone
from engine.permissions import Actor
from engine.records import RecordService, ValidationFailed
from tests.conftest import compile_specs

UTC = dt.timezone.utc
SHANGHAI = zone("Asia/Shanghai")
#: Feb 1, 00:30 in Shanghai; still Jan 31 in UTC.
JUST_AFTER_MIDNIGHT = dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC)

CALL = {
    "entity": "call", "label": "Call",
    "fields": [
        {"name": "title", "type": "string", "required": True},
        {"name": "at", "type": "datetime"},
        {"name": "day", "type": "date", "default": {"expr": "today()"}},
        {"name": "noted_at", "type": "datetime", "default": {"expr": "now()"}},
        {"name": "follow_up", "type": "date"},
        {"name": "stage", "type": "select", "options": [{"value": "open"}, {"value": "done"}]},
        {"name": "stage_day", "type": "date", "default": {"expr": "today()", "follows": ["stage"]}},
    ],
    "rules": [{"name": "follow_up_not_past", "assert": "follow_up >= today()",
               "message": "the follow-up must not be in the past"}],
}


TICKET = {"entity": "ticket", "label": "Ticket",
          "fields": [{"name": "number", "type": "autonumber", "format": "T-{YYYY}{MM}{DD}-{seq:3}"}]}


@pytest.fixture(scope="module")
def model():
    return compile_specs(CALL, TICKET)


@pytest.fixture
def tables(database, model):
    return install(database, model)


@pytest.fixture
def alice():
    return Actor(ALICE, roles=("sales",))


def service(database, model, tables, at=JUST_AFTER_MIDNIGHT, tz=SHANGHAI):
    return RecordService(database, model, tables, clock=SimulatedClock(at, zone=tz))


def test_cel_now_and_today_read_the_services_clock_and_zone(database, model, tables, alice):
    shanghai = service(database, model, tables)
    call = shanghai.create(alice, "call", {"title": "a"})
    assert call["noted_at"] == JUST_AFTER_MIDNIGHT
    assert call["day"] == dt.date(2026, 2, 1)  # today() in Shanghai, not Jan 31 (UTC)
    utc = service(database, model, tables, tz=UTC)
    assert utc.create(alice, "call", {"title": "b"})["day"] == dt.date(2026, 1, 31)


def test_a_simulated_clock_moves_cel_now_with_it(database, model, tables, alice):
    clock = SimulatedClock(JUST_AFTER_MIDNIGHT, zone=SHANGHAI)
    svc = RecordService(database, model, tables, clock=clock)
    clock.advance(days=30)
    call = svc.create(alice, "call", {"title": "a"})
    assert call["noted_at"] == JUST_AFTER_MIDNIGHT + dt.timedelta(days=30)
    assert call["day"] == dt.date(2026, 3, 3) and call["created_at"] == call["noted_at"]


def test_a_rule_on_today_uses_the_organisations_day(database, model, tables, alice):
    shanghai = service(database, model, tables)
    with pytest.raises(ValidationFailed, match="must not be in the past"):
        shanghai.create(alice, "call", {"title": "a", "follow_up": "2026-01-31"})
    assert shanghai.create(alice, "call", {"title": "b", "follow_up": "2026-02-01"})["id"]
    # The same instant in UTC is still Jan 31, so Jan 31 is not in the past there.
    utc = service(database, model, tables, tz=UTC)
    assert utc.create(alice, "call", {"title": "c", "follow_up": "2026-01-31"})["id"]


def _calls(svc, alice, *instants):
    svc.bulk_create(alice, "call", [{"title": f"c{i}", "at": at.isoformat()}
                                    for i, at in enumerate(instants)])


EDGES = (dt.datetime(2026, 1, 31, 15, 59, 59, tzinfo=UTC),  # Jan 31 23:59:59 in Shanghai
         dt.datetime(2026, 1, 31, 16, 0, tzinfo=UTC),       # Feb 1 00:00
         JUST_AFTER_MIDNIGHT,                                 # Feb 1 00:30
         dt.datetime(2026, 2, 1, 15, 59, 59, tzinfo=UTC),   # Feb 1 23:59:59
         dt.datetime(2026, 2, 1, 16, 0, tzinfo=UTC))        # Feb 2 00:00


def _titles(svc, alice, condition):
    return sorted(r["title"] for r in svc.list(alice, "call", filter=condition, limit=100).rows)


def test_the_today_filter_is_the_day_in_the_organisations_zone(database, model, tables, alice):
    svc = service(database, model, tables)
    _calls(svc, alice, *EDGES)
    assert _titles(svc, alice, {"field": "at", "op": "today", "value": True}) == ["c1", "c2", "c3"]
    assert _titles(svc, alice, {"field": "at", "op": "within_next_days", "value": 0}) == \
        ["c1", "c2", "c3"]
    assert _titles(svc, alice, {"field": "at", "op": "older_than_days", "value": 0}) == ["c0"]
    assert _titles(svc, alice, {"field": "day", "op": "today", "value": True}) == \
        ["c0", "c1", "c2", "c3", "c4"]  # their default day is today in Shanghai: Feb 1
    utc = service(database, model, tables, tz=UTC)
    assert _titles(utc, alice, {"field": "at", "op": "today", "value": True}) == ["c0", "c1", "c2"]


def test_the_today_filter_takes_true_only(database, model, tables, alice):
    svc = service(database, model, tables)
    with pytest.raises(Exception, match="today takes true"):
        svc.list(alice, "call", filter={"field": "at", "op": "today", "value": "yes"})


def _buckets(svc, alice, bucket):
    rows = svc.aggregate(alice, "call", group_by=[f"at:{bucket}"], metrics=["count"]).rows
    return {r[f"at_{bucket}"]: r["count"] for r in rows}


def test_date_buckets_are_days_in_the_organisations_zone(database, model, tables, alice):
    svc = service(database, model, tables)
    new_year = dt.datetime(2025, 12, 31, 16, 30, tzinfo=UTC)  # 2026-01-01 00:30 in Shanghai
    _calls(svc, alice, *EDGES, new_year)
    assert _buckets(svc, alice, "month") == {"2026-01-01": 2, "2026-02-01": 4}
    assert _buckets(svc, alice, "day") == {"2026-01-01": 1, "2026-01-31": 1, "2026-02-01": 3,
                                           "2026-02-02": 1}
    assert _buckets(svc, alice, "year") == {"2026-01-01": 6}
    assert _buckets(svc, alice, "quarter") == {"2026-01-01": 6}
    # 2026-02-01 is a Sunday: its week starts on Monday Jan 26; Feb 2 starts the next one.
    assert _buckets(svc, alice, "week") == {"2025-12-29": 1, "2026-01-26": 4, "2026-02-02": 1}
    utc = service(database, model, tables, tz=UTC)
    assert _buckets(utc, alice, "month") == {"2025-12-01": 1, "2026-01-01": 3, "2026-02-01": 2}


def test_date_fields_are_not_shifted_by_the_zone(database, model, tables, alice):
    svc = service(database, model, tables)
    _calls(svc, alice, JUST_AFTER_MIDNIGHT)
    rows = svc.aggregate(alice, "call", group_by=["day:month"], metrics=["count"]).rows
    assert rows == [{"day_month": "2026-02-01", "count": 1}]


def test_autonumber_dates_are_the_organisations_day(database, model, tables, alice):
    shanghai = service(database, model, tables).create(alice, "ticket", {})
    utc = service(database, model, tables, tz=UTC).create(alice, "ticket", {})
    assert shanghai["number"] == "T-20260201-001"  # 00:30 on Feb 1 in Shanghai
    assert utc["number"] == "T-20260131-001"       # the same instant is still Jan 31 in UTC


def test_a_default_that_follows_a_field_reads_the_services_clock_on_update(database, model, tables,
                                                                          alice):
    shanghai = service(database, model, tables)
    call = shanghai.create(alice, "call", {"title": "a", "stage": "open"})
    assert call["stage_day"] == dt.date(2026, 2, 1)
    later = service(database, model, tables, at=JUST_AFTER_MIDNIGHT + dt.timedelta(days=3))
    moved = later.update(alice, "call", call["id"], {"stage": "done"}, version=call["version"])
    assert moved["stage_day"] == dt.date(2026, 2, 4)  # the simulated day, not the system's
