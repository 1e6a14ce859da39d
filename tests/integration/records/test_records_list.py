"""Listing: structured filters, sorting, offset and keyset pages, totals, expansion."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from records_support import ALICE, BOB

from engine.records import FilterError

TODAY = dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture
def crm(svc, alice, system):
    """Three accounts and eight deals with known values."""
    acme = svc.create(alice, "account", {"name": "Acme", "region": "emea", "channels": ["web"]})
    zeta = svc.create(alice, "account", {"name": "Zeta", "region": "apac",
                                         "channels": ["fair", "referral"]})
    none = svc.create(alice, "account", {"name": "Nowhere"})
    hot = svc.create(alice, "tag", {"name": "hot"})
    specs = [
        ("Alpha deal", "1500", "won", -40, acme, [hot], ALICE),
        ("beta deal", "900", "won", -5, acme, [], ALICE),
        ("Gamma", "2500", "lost", 10, zeta, [hot], BOB),
        ("Delta", None, "lead", None, zeta, [], BOB),
        ("Epsilon", "50", "qualified", 3, none, [], ALICE),
        ("Zeta deal", "1000", "won", 20, None, [], BOB),
        ("eta", "1000.01", "proposal", -400, acme, [], ALICE),
        ("Theta", "0", None, 60, None, [hot], ALICE),
    ]
    ids = {}
    for title, amount, stage, days, account, tags, owner in specs:
        values = {"title": title, "amount": amount, "stage": stage, "tags": [t["id"] for t in tags],
                  "close_date": None if days is None else (TODAY + dt.timedelta(days=days)).isoformat(),
                  "account": account and account["id"], "owner": owner,
                  "loss_reason": "price" if stage == "lost" else None}
        ids[title] = svc.create(system, "deal", values)["id"]
    return ids


def titles(page):
    return sorted(r["title"] for r in page.rows)


FILTERS = [
    ({"field": "stage", "op": "eq", "value": "won"}, ["Alpha deal", "Zeta deal", "beta deal"]),
    ([{"field": "stage", "op": "eq", "value": "won"}, {"field": "amount", "op": "gt", "value": "1000"}],
     ["Alpha deal"]),
    ({"field": "stage", "op": "ne", "value": "won"}, ["Delta", "Epsilon", "Gamma", "Theta", "eta"]),
    ({"field": "stage", "op": "in", "value": ["lost", "lead"]}, ["Delta", "Gamma"]),
    ({"field": "stage", "op": "not_in", "value": ["won", "lead", "lost"]}, ["Epsilon", "Theta", "eta"]),
    ({"field": "amount", "op": "gte", "value": 1000}, ["Alpha deal", "Gamma", "Zeta deal", "eta"]),
    ({"field": "amount", "op": "lt", "value": "50"}, ["Theta"]),
    ({"field": "amount", "op": "lte", "value": "50"}, ["Epsilon", "Theta"]),
    ({"field": "amount", "op": "between", "value": ["900", "1000"]}, ["Zeta deal", "beta deal"]),
    ({"field": "title", "op": "contains", "value": "DEAL"}, ["Alpha deal", "Zeta deal", "beta deal"]),
    ({"field": "title", "op": "starts_with", "value": "e"}, ["Epsilon", "eta"]),
    ({"field": "title", "op": "contains", "value": "%"}, []),
    ({"field": "amount", "op": "is_null", "value": True}, ["Delta"]),
    ({"field": "close_date", "op": "is_null", "value": False},
     ["Alpha deal", "Epsilon", "Gamma", "Theta", "Zeta deal", "beta deal", "eta"]),
    ({"field": "close_date", "op": "older_than_days", "value": 30}, ["Alpha deal", "eta"]),
    ({"field": "close_date", "op": "within_next_days", "value": 15}, ["Epsilon", "Gamma"]),
    ({"field": "close_date", "op": "gt", "value": (TODAY + dt.timedelta(days=30)).isoformat()},
     ["Theta"]),
    ({"or": [{"field": "stage", "op": "eq", "value": "lost"},
             {"and": [{"field": "owner", "op": "eq", "value": BOB},
                      {"not": {"field": "amount", "op": "is_null", "value": True}}]}]},
     ["Gamma", "Zeta deal"]),
    ({"field": "account.region", "op": "eq", "value": "emea"}, ["Alpha deal", "beta deal", "eta"]),
    ({"field": "account.region", "op": "is_null", "value": True},
     ["Epsilon", "Theta", "Zeta deal"]),
    ({"field": "account.name", "op": "starts_with", "value": "ze"}, ["Delta", "Gamma"]),
    ({"field": "account.channels", "op": "contains", "value": "fair"}, ["Delta", "Gamma"]),
    ({"field": "account.channels", "op": "in", "value": ["web", "referral"]},
     ["Alpha deal", "Delta", "Gamma", "beta deal", "eta"]),
    ({"field": "tags.name", "op": "eq", "value": "hot"}, ["Alpha deal", "Gamma", "Theta"]),
    ({"field": "tags", "op": "is_null", "value": False}, ["Alpha deal", "Gamma", "Theta"]),
    ({"field": "created_by", "op": "is_null", "value": True},
     ["Alpha deal", "Delta", "Epsilon", "Gamma", "Theta", "Zeta deal", "beta deal", "eta"]),
    ({"field": "version", "op": "gt", "value": 1}, []),
]


@pytest.mark.parametrize("spec, expected", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
def test_structured_filters_select_the_right_records(svc, alice, crm, spec, expected):
    page = svc.list(alice, "deal", filter=spec, limit=100, with_total=True)
    assert titles(page) == sorted(expected)
    assert page.total == len(expected)


def test_many_to_many_contains_an_id(svc, alice, crm):
    tag = svc.list(alice, "tag").rows[0]["id"]
    page = svc.list(alice, "deal", filter={"field": "tags", "op": "contains", "value": tag})
    assert titles(page) == ["Alpha deal", "Gamma", "Theta"]


@pytest.mark.parametrize("spec, message", [
    ({"field": "colour", "op": "eq", "value": "red"}, "unknown field 'colour' of 'deal'; known: id,"),
    ({"field": "stage", "op": "like", "value": "w"}, "unknown operator 'like' for 'stage'; known: eq"),
    ({"field": "amount", "op": "contains", "value": "1"}, "operator not valid 'contains'"),
    ({"field": "amount", "op": "gt", "value": "lots"}, "$.value: 'amount' gt: must be a number"),
    ({"field": "stage", "op": "eq", "value": "wonn"}, "'wonn' is not one of: lead"),
    ({"field": "close_date", "op": "between", "value": ["2024-01-01"]}, "list of two values"),
    ({"field": "amount", "op": "is_null", "value": "yes"}, "is_null takes true or false"),
    ({"field": "account.nope", "op": "eq", "value": 1}, "unknown field 'nope' of 'account'"),
    ({"field": "title.x", "op": "eq", "value": 1}, "'title' is not a relation"),
    ({"and": [{"field": "x"}]}, "$.and[0]: a condition is {field, op, value}"),
    ("stage = won", "expected a condition object or a list"),
])
def test_bad_filters_name_the_problem(svc, alice, spec, message):
    with pytest.raises(FilterError) as info:
        svc.list(alice, "deal", filter=spec)
    assert message in str(info.value)


def test_sort_orders_records_and_ties_break_on_id(svc, alice, crm):
    page = svc.list(alice, "deal", sort=["-amount", "title"], limit=100)
    amounts = [r["amount"] for r in page.rows if r["amount"] is not None]
    assert amounts == sorted(amounts, reverse=True)
    by_stage = svc.list(alice, "deal", sort="stage", limit=100).rows
    same = [r["id"] for r in by_stage if r["stage"] == "won"]
    assert same == sorted(same)
    with pytest.raises(FilterError, match="unknown field 'nope'"):
        svc.list(alice, "deal", sort=["-nope"])
    with pytest.raises(FilterError, match="can't be sorted by"):
        svc.list(alice, "deal", sort=["tags"])


@pytest.mark.parametrize("sort", [["-close_date"], ["close_date"], ["stage", "-amount"], ["-id"]])
def test_keyset_pages_walk_every_record_once_in_order(svc, alice, crm, sort):
    everything = [r["id"] for r in svc.list(alice, "deal", sort=sort, limit=100).rows]
    walked, after = [], None
    while True:
        page = svc.list(alice, "deal", sort=sort, limit=3, after=after)
        walked += [r["id"] for r in page.rows]
        after = page.next_after
        if after is None:
            break
    assert walked == everything and len(walked) == 8


def test_offset_pages_and_total_use_the_same_filter(svc, alice, crm):
    spec = {"field": "stage", "op": "ne", "value": "lost"}
    first = svc.list(alice, "deal", filter=spec, sort=["title"], limit=4, with_total=True)
    second = svc.list(alice, "deal", filter=spec, sort=["title"], limit=4, offset=4)
    assert first.total == 7 and len(first.rows) == 4 and len(second.rows) == 3
    assert second.next_after is None and first.next_after is not None
    assert svc.list(alice, "deal").total is None


def test_a_cursor_from_another_sort_is_refused(svc, alice, crm):
    page = svc.list(alice, "deal", sort=["title"], limit=2)
    with pytest.raises(FilterError, match="another sort order"):
        svc.list(alice, "deal", sort=["-title"], after=page.next_after)
    with pytest.raises(FilterError, match="invalid cursor"):
        svc.list(alice, "deal", after="not-a-cursor!")


def test_fields_limits_the_returned_fields(svc, alice, crm):
    page = svc.list(alice, "deal", fields=["title"], sort=["-amount"], limit=2)
    assert set(page.rows[0]) == {"id", "version", "title"}
    assert page.next_after is not None
    with pytest.raises(FilterError, match="unknown field 'nope'"):
        svc.list(alice, "deal", fields=["nope"])


def test_expand_fetches_related_records_with_one_query_per_field(svc, alice, crm):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(svc.db.engine, "before_cursor_execute", count)
    try:
        small = svc.list(alice, "deal", limit=2, sort=["id"], expand=("account", "owner", "tags"))
        used_small = len(statements)
        statements.clear()
        big = svc.list(alice, "deal", limit=8, sort=["id"], expand=("account", "owner", "tags"))
        assert len(statements) == used_small
    finally:
        sa.event.remove(svc.db.engine, "before_cursor_execute", count)
    alpha = big.rows[0]
    assert alpha["account"] == alpha["_expand"]["account"]["id"]
    assert alpha["_expand"]["account"]["_display"] == "Acme"
    assert alpha["_expand"]["owner"]["_display"] == "Alice"
    assert [t["name"] for t in alpha["_expand"]["tags"]] == ["hot"]
    assert big.rows[5]["_expand"]["account"] is None and len(small.rows) == 2
    as_json = svc.to_json("deal", alpha)
    assert as_json["_expand"]["account"]["created_at"].endswith("+00:00")


def test_get_expands_and_refuses_what_cannot_be_expanded(svc, alice, crm):
    deal = svc.get(alice, "deal", crm["Gamma"], expand=("account",))
    assert deal["_expand"]["account"]["name"] == "Zeta"
    with pytest.raises(FilterError, match="not a relation"):
        svc.get(alice, "deal", crm["Gamma"], expand=("title",))
