"""Grouped figures: one GROUP BY, answers equal to Python's, date buckets, scope and hidden fields."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from records_support import ALICE, BOB

from engine.permissions import HIDDEN, WRITE, Actor
from engine.records import FilterError, PermissionDenied, RecordService

#: (title, amount, stage, probability, close_date, account index, owner)
DEALS = [
    ("d1", "100.10", "won", 90, "2026-01-05", 0, ALICE),
    ("d2", "250.25", "won", 80, "2026-01-31", 1, BOB),
    ("d3", "0.30", "lead", 10, "2026-02-01", 0, ALICE),
    ("d4", None, "lead", 20, "2026-02-14", None, BOB),
    ("d5", "999.99", "proposal", 50, "2026-04-01", 2, ALICE),
    ("d6", "10.00", "proposal", 55, "2026-06-30", 2, BOB),
    ("d7", "1.11", "qualified", 30, "2025-12-31", 1, ALICE),
    ("d8", "42.00", "won", 70, "2026-03-29", 0, BOB),  # a Sunday
    ("d9", "7.77", "qualified", 35, None, None, ALICE),
    ("d10", "0.20", "lead", 15, "2026-03-30", 1, ALICE),  # a Monday
]


class OwnRows:
    """Sales see their own deals; ``amount`` is hidden from actors with the role ``blind``."""

    def can(self, actor, entity, action):
        return "nobody" not in actor.roles

    def scope(self, actor, entity, table):
        return None if "manager" in actor.roles else table.c.owner == actor.user_id

    def field_access(self, actor, entity, field):
        return HIDDEN if "blind" in actor.roles and field == "amount" else WRITE


@pytest.fixture
def boss():
    return Actor(BOB, roles=("manager",))


@pytest.fixture
def deals(svc, boss):
    accounts = [svc.create(boss, "account", {"name": f"A{i}"})["id"] for i in range(3)]
    made = []
    for title, amount, stage, probability, close, account, owner in DEALS:
        values = {"title": title, "amount": amount, "stage": stage, "probability": probability,
                  "close_date": close, "owner": owner,
                  "account": None if account is None else accounts[account]}
        made.append(svc.create(boss, "deal", values))
    return made


@pytest.fixture
def policed(database, crm_model, tables, deals):
    return RecordService(database, crm_model, tables, OwnRows())


def by(rows, *keys):
    return {tuple(r[k] for k in keys): r for r in rows}


def expected(records, key, metric):
    groups = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return {k: metric(v) for k, v in groups.items()}


def money(records, name="amount"):
    return [r[name] for r in records if r[name] is not None]


def test_count_sum_avg_min_max_by_stage_equal_python_answers(svc, boss, deals):
    result = svc.aggregate(boss, "deal", group_by=["stage"], metrics=[
        "count", "sum:amount", "avg:probability", "min:close_date", "max:amount",
        "count_distinct:account", ("sum", "probability"), "avg:amount"])
    rows = by(result.rows, "stage")
    assert not result.truncated and set(rows) == {(s,) for s in ("won", "lead", "proposal",
                                                                  "qualified")}
    for (stage,), row in rows.items():
        group = [d for d in deals if d["stage"] == stage]
        amounts = money(group)
        assert row["count"] == len(group)
        assert row["sum_amount"] == str(sum(amounts, Decimal("0.00")))
        assert row["max_amount"] == str(max(amounts))
        assert row["avg_amount"] == str((sum(amounts) / len(amounts)).quantize(Decimal("0.0001")))
        assert row["avg_probability"] == pytest.approx(
            sum(d["probability"] for d in group) / len(group))
        assert row["sum_probability"] == sum(d["probability"] for d in group)
        assert isinstance(row["sum_probability"], int)
        dates = [d["close_date"] for d in group if d["close_date"] is not None]
        assert row["min_close_date"] == (min(dates).isoformat() if dates else None)
        assert row["count_distinct_account"] == len({d["account"] for d in group if d["account"]})


def test_sums_keep_every_cent_on_every_database(svc, boss, deals):
    (row,) = svc.aggregate(boss, "deal", metrics=["sum:amount", "count"]).rows
    assert row == {"sum_amount": str(sum(money(deals), Decimal("0.00"))), "count": len(deals)}
    assert row["sum_amount"] == "1411.72"


def test_formula_fields_aggregate_like_their_result_type(svc, boss, deals):
    (row,) = svc.aggregate(boss, "deal", metrics=["sum:weighted"]).rows
    assert row["sum_weighted"] == str(sum(money(deals, "weighted"), Decimal("0.00")))


def test_rows_are_ordered_by_group_keys_with_empty_groups_last(svc, boss, deals):
    rows = svc.aggregate(boss, "deal", group_by=["account", "stage"]).rows
    keys = [(r["account"], r["stage"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (k[0] is None, k[0] or 0, k[1]))
    assert keys[-1][0] is None
    assert sum(r["count"] for r in rows) == len(deals)


def test_sort_by_a_metric_alias_descending(svc, boss, deals):
    rows = svc.aggregate(boss, "deal", group_by="stage", metrics=["count", "sum:amount"],
                         sort=["-sum_amount"]).rows
    sums = [Decimal(r["sum_amount"]) for r in rows]
    assert sums == sorted(sums, reverse=True)
    rows = svc.aggregate(boss, "deal", group_by="stage", sort=["-count", "-stage"]).rows
    assert [(r["stage"], r["count"]) for r in rows] == [
        ("won", 3), ("lead", 3), ("qualified", 2), ("proposal", 2)]


@pytest.mark.parametrize(("bucket", "start"), [
    ("day", lambda d: d),
    ("week", lambda d: d - dt.timedelta(days=d.weekday())),
    ("month", lambda d: d.replace(day=1)),
    ("quarter", lambda d: dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)),
    ("year", lambda d: dt.date(d.year, 1, 1)),
])
def test_date_buckets_start_at_the_iso_date_of_their_period(svc, boss, deals, bucket, start):
    rows = svc.aggregate(boss, "deal", group_by=[("close_date", bucket)],
                         metrics=["count", "sum:amount"]).rows
    name = f"close_date_{bucket}"
    got = {r[name]: (r["count"], r["sum_amount"]) for r in rows}
    want = expected(deals, lambda d: d["close_date"] and start(d["close_date"]).isoformat(),
                    lambda g: (len(g), str(sum(money(g), Decimal("0.00"))) if money(g) else None))
    assert got == want
    assert [r[name] for r in rows] == sorted(got, key=lambda k: (k is None, k or ""))


def test_weeks_start_on_monday(svc, boss, deals):
    rows = svc.aggregate(boss, "deal", group_by=["close_date:week"],
                         filters=[{"field": "title", "op": "in", "value": ["d8", "d10"]}]).rows
    assert rows == [{"close_date_week": "2026-03-23", "count": 1},
                    {"close_date_week": "2026-03-30", "count": 1}]


def test_datetime_buckets_group_by_utc_month(svc, boss, deals):
    (row,) = svc.aggregate(boss, "deal", group_by=["created_at:month"]).rows
    today = dt.datetime.now(dt.UTC).date()
    assert row == {"created_at_month": today.replace(day=1).isoformat(), "count": len(deals)}


def test_filters_use_the_list_filter_language(svc, boss, deals):
    rows = svc.aggregate(boss, "deal", group_by=["owner"], metrics=["count"],
                         filters={"and": [{"field": "amount", "op": "gte", "value": "10"},
                                          {"field": "account.name", "op": "eq", "value": "A0"}]})
    first_account = deals[0]["account"]
    want = expected([d for d in deals if d["amount"] is not None and d["amount"] >= 10
                     and d["account"] == first_account], lambda d: d["owner"], len)
    assert {r["owner"]: r["count"] for r in rows.rows} == want == {ALICE: 1, BOB: 1}


def test_the_record_scope_limits_the_rows_that_are_summed(policed, deals):
    alice = Actor(ALICE, roles=("sales",))
    (row,) = policed.aggregate(alice, "deal", metrics=["count", "sum:amount"]).rows
    mine = [d for d in deals if d["owner"] == ALICE]
    assert row == {"count": len(mine), "sum_amount": str(sum(money(mine), Decimal("0.00")))}
    rows = policed.aggregate(alice, "deal", group_by=["owner"]).rows
    assert rows == [{"owner": ALICE, "count": len(mine)}]


def test_an_actor_who_may_not_read_is_refused(policed):
    with pytest.raises(PermissionDenied):
        policed.aggregate(Actor(ALICE, roles=("nobody",)), "deal")


@pytest.mark.parametrize("ask", [
    {"group_by": ["amount"]},
    {"metrics": ["sum:amount"]},
    {"filters": [{"field": "amount", "op": "gt", "value": "1"}]},
    {"sort": ["amount"]},
])
def test_hidden_fields_are_refused_as_unknown_everywhere(policed, ask):
    blind = Actor(ALICE, roles=("blind",))
    with pytest.raises(FilterError, match="'amount'"):
        policed.aggregate(blind, "deal", **ask)


@pytest.mark.parametrize(("ask", "message"), [
    ({"metrics": ["median:amount"]}, "unknown metric 'median'; known: count, count_distinct"),
    ({"metrics": ["sum"]}, "sum needs a field"),
    ({"metrics": ["sum:title"]}, "sum needs a number field; 'title' is not one"),
    ({"metrics": ["sum:account"]}, "sum needs a number field; 'account' is not one"),
    ({"metrics": ["max:tags"]}, "can't be computed on field 'tags'"),
    ({"metrics": []}, "at least one metric"),
    ({"metrics": ["count:nope"]}, "unknown field 'nope' of 'deal'; known: id"),
    ({"group_by": ["nope"]}, "unknown field 'nope'"),
    ({"group_by": ["tags"]}, "field 'tags' can't be grouped by"),
    ({"group_by": ["close_date:fortnight"]}, ("unknown bucket 'fortnight' for 'close_date'; known: "
                                             "day, week, month, quarter, year")),
    ({"group_by": ["stage:month"]}, "'stage' is not a date, so it takes no bucket"),
    ({"group_by": [["stage"]]}, "expected 'name' or 'name:option'"),
    ({"group_by": ["stage"], "sort": ["-sum_amount"]}, "sort: unknown '-sum_amount'; known: stage"),
    ({"group_by": ["stage", "stage"]}, "the same output name is asked for twice: stage"),
    ({"limit": 0}, "limit must be a whole number"),
])
def test_bad_requests_name_the_problem(svc, ask, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(")):
        svc.aggregate(Actor(ALICE), "deal", **ask)


def test_every_problem_is_reported_at_once(svc):
    with pytest.raises(FilterError) as caught:
        svc.aggregate(Actor(ALICE), "deal", group_by=["nope", "close_date:hour"],
                      metrics=["avg:title", "p90:amount"])
    assert len(caught.value.problems) == 4


def test_a_limit_cuts_groups_and_says_so(svc, boss, deals):
    result = svc.aggregate(boss, "deal", group_by=["title"], limit=3)
    assert [r["title"] for r in result.rows] == ["d1", "d10", "d2"] and result.truncated
    assert not svc.aggregate(boss, "deal", group_by=["title"], limit=len(deals)).truncated


def test_no_rows_give_one_total_row_and_no_groups(svc, boss):
    assert svc.aggregate(boss, "deal", metrics=["count", "sum:amount"]).rows == [
        {"count": 0, "sum_amount": None}]
    assert svc.aggregate(boss, "deal", group_by=["stage"]).rows == []


def test_unknown_entities_are_refused(svc, boss):
    with pytest.raises(KeyError, match="unknown entity"):
        svc.aggregate(boss, "nope")
