"""Listing records over REST: every filter operator family, AND/OR/NOT, sorts, paging, fields, expand.

Expected answers are worked out in Python from the complete list of the same user,
so the tests hold whatever the seeded demo data looks like.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.web.api.records_support import records, url


def everything(api, entity: str) -> list[dict]:
    return records(api, entity, per_page=1000)


def ids(rows: list[dict]) -> set[int]:
    return {r["id"] for r in rows}


def matching(api, entity: str, condition) -> set[int]:
    return ids(records(api, entity, per_page=1000, filter=condition))


def test_equality_family_eq_ne_in_not_in_is_null(any_api):
    api = any_api("admin")
    deals = everything(api, "deal")
    assert matching(api, "deal", {"field": "stage", "op": "eq", "value": "won"}) == \
        {d["id"] for d in deals if d["stage"] == "won"}
    assert matching(api, "deal", {"field": "stage", "op": "ne", "value": "won"}) == \
        {d["id"] for d in deals if d["stage"] != "won"}
    assert matching(api, "deal", {"field": "stage", "op": "in", "value": ["won", "lost"]}) == \
        {d["id"] for d in deals if d["stage"] in ("won", "lost")}
    assert matching(api, "deal", {"field": "loss_reason", "op": "not_in", "value": ["price"]}) == \
        {d["id"] for d in deals if d["loss_reason"] != "price"}
    assert matching(api, "deal", {"field": "campaign", "op": "is_null", "value": True}) == \
        {d["id"] for d in deals if d["campaign"] is None}


def test_ordering_family_on_money_and_dates(any_api):
    api = any_api("admin")
    deals = [d for d in everything(api, "deal") if d["amount"] is not None]
    amounts = sorted(Decimal(d["amount"]) for d in deals)
    middle = str(amounts[len(amounts) // 2])
    for op, check in (("gt", lambda a: a > Decimal(middle)), ("gte", lambda a: a >= Decimal(middle)),
                      ("lt", lambda a: a < Decimal(middle)), ("lte", lambda a: a <= Decimal(middle))):
        assert matching(api, "deal", {"field": "amount", "op": op, "value": middle}) == \
            {d["id"] for d in deals if check(Decimal(d["amount"]))}, op
    dated = [d for d in everything(api, "deal") if d["expected_close_date"]]
    low, high = "2026-01-01", "2026-06-30"
    assert matching(api, "deal", {"field": "expected_close_date", "op": "between",
                                  "value": [low, high]}) == \
        {d["id"] for d in dated if low <= d["expected_close_date"] <= high}


def test_text_and_relative_date_operators(api):
    admin = api("admin")
    accounts = everything(admin, "account")
    word = accounts[0]["name"][:2]
    assert matching(admin, "account", {"field": "name", "op": "contains", "value": word}) == \
        {a["id"] for a in accounts if word.lower() in a["name"].lower()}
    assert matching(admin, "account", {"field": "name", "op": "starts_with", "value": word}) == \
        {a["id"] for a in accounts if a["name"].lower().startswith(word.lower())}
    # Whole days of the organisation's zone (UTC here): before the start of the day 30 days ago.
    today = dt.datetime.now(dt.timezone.utc).date()
    cut = dt.datetime.combine(today - dt.timedelta(days=30), dt.time(), dt.timezone.utc)
    old = matching(admin, "account", {"field": "last_followup_at", "op": "older_than_days",
                                      "value": 30})
    assert old == {a["id"] for a in accounts if a["last_followup_at"]
                   and dt.datetime.fromisoformat(a["last_followup_at"]) < cut}
    soon = matching(admin, "deal", {"field": "expected_close_date", "op": "within_next_days",
                                    "value": 3650})
    assert soon <= ids(everything(admin, "deal"))


def test_list_fields_take_contains_and_in(api):
    admin = api("admin")
    accounts = everything(admin, "account")
    assert matching(admin, "account", {"field": "tags", "op": "contains", "value": "sme"}) == \
        {a["id"] for a in accounts if "sme" in (a["tags"] or [])}
    assert matching(admin, "account", {"field": "tags", "op": "in",
                                       "value": ["sme", "partner"]}) == \
        {a["id"] for a in accounts if {"sme", "partner"} & set(a["tags"] or [])}


def test_and_or_not_and_a_dotted_path(any_api):
    api = any_api("admin")
    deals = everything(api, "deal")
    accounts = {a["id"]: a for a in everything(api, "account")}
    spec = {"and": [{"or": [{"field": "stage", "op": "eq", "value": "won"},
                            {"field": "stage", "op": "eq", "value": "lost"}]},
                    {"not": {"field": "account.level", "op": "eq", "value": "A"}}]}
    assert matching(api, "deal", spec) == {
        d["id"] for d in deals
        if d["stage"] in ("won", "lost") and accounts[d["account"]]["level"] != "A"}
    as_list = [{"field": "stage", "op": "eq", "value": "won"},
               {"field": "account.region", "op": "eq", "value": accounts[deals[0]["account"]]["region"]}]
    assert matching(api, "deal", as_list) == {
        d["id"] for d in deals if d["stage"] == "won"
        and accounts[d["account"]]["region"] == as_list[1]["value"]}


def test_multi_key_sort_with_descending_keys(api):
    api = api("admin")
    rows = records(api, "deal", sort="stage,-id", per_page=1000)
    assert [(r["stage"], -r["id"]) for r in rows] == sorted((r["stage"], -r["id"]) for r in rows)
    by_date = records(api, "deal", sort="-expected_close_date", per_page=1000,
                      filter={"field": "expected_close_date", "op": "is_null", "value": False})
    dates = [r["expected_close_date"] for r in by_date]
    assert dates == sorted(dates, reverse=True)


def test_pages_with_total_and_next_links_cover_every_record_once(any_api):
    api = any_api("admin")
    spec = {"field": "stage", "op": "ne", "value": "won"}
    expected = matching(api, "deal", spec)
    seen, link, pages = [], url("deal", per_page=7, total="true", sort="-amount", filter=spec), 0
    while link:
        body = api.get(link).get_json()
        assert body["meta"]["total"] == len(expected) and body["meta"]["per_page"] == 7
        seen += [r["id"] for r in body["data"]]
        link, pages = body["links"].get("next"), pages + 1
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert pages == -(-len(expected) // 7)
    page2 = api.get(url("deal", per_page=7, page=2, sort="-amount", filter=spec)).get_json()
    assert [r["id"] for r in page2["data"]] == seen[7:14] and "total" not in page2["meta"]


def test_cursor_paging_follows_next_after(api):
    admin = api("admin")
    first = admin.get(url("deal", per_page=5, sort="title")).get_json()
    second = admin.get(url("deal", per_page=5, sort="title",
                           after=first["meta"]["next_after"])).get_json()
    whole = records(admin, "deal", per_page=10, sort="title")
    assert [r["id"] for r in first["data"] + second["data"]] == [r["id"] for r in whole]
    assert "after=" in second["links"]["next"]


def test_fields_selection_and_expand_on_lists(api):
    api = api("admin")
    rows = records(api, "deal", fields="title,stage", expand="account", per_page=3)
    assert all(set(r) == {"id", "version", "title", "stage", "account", "_expand"} for r in rows)
    assert all(r["_expand"]["account"]["id"] == r["account"] for r in rows)


def test_post_query_takes_the_same_keys_in_a_body(api):
    admin = api("admin")
    spec = {"or": [{"field": "stage", "op": "eq", "value": "won"},
                   {"field": "amount", "op": "gt", "value": "50000"}]}
    got = admin.get(url("deal", filter=spec, sort="-amount,title", per_page=20, total="true"))
    posted = admin.post(url("deal", "query"), json={"filter": spec, "sort": ["-amount", "title"],
                                                    "per_page": 20, "total": True})
    assert posted.status_code == 200, posted.get_json()
    assert posted.get_json()["data"] == got.get_json()["data"]
    assert posted.get_json()["meta"]["total"] == got.get_json()["meta"]["total"]
    assert posted.get_json()["links"] == {}


#: (query string, text the problem's detail must contain)
BAD_QUERIES = [
    ("filter=not-json", "filter: Not valid JSON"),
    ('filter={"field":"nope","op":"eq","value":1}', "unknown field 'nope'"),
    ('filter={"field":"stage","op":"within_next_days","value":1}', "operator not valid"),
    ('filter={"field":"stage","op":"resembles","value":"won"}', "unknown operator 'resembles'"),
    ('filter={"field":"amount","op":"gt","value":"lots"}', "'amount' gt"),
    ('filter={"field":"stage","op":"in","value":"won"}', "expected a list"),
    ('filter=[{"field":"title","op":"contains","value":"x","extra":1}]', "a condition is"),
    ('filter={"or":{"field":"title"}}', "'or' takes a list"),
    ("filter=42", "A filter is a JSON object"),
    ("sort=-nope", "unknown field 'nope'"),
    ("sort=account.name", "unknown field 'account.name'"),
    ("page=0", "page"),
    ("per_page=5000", "per_page"),
    ("per_page=2.5", "per_page: Not a whole number"),
    ("total=maybe", "total"),
    ("fields=title,nope", "unknown field 'nope'"),
    ("expand=title", "not a relation"),
    ("after=%25%25%25", "invalid cursor"),
    ("page=2&after=abc", "either page or after"),
    ("per_page=1&per_page=2", "given 2 times"),
    ("colour=red", "colour"),
]


def test_invalid_list_parameters_are_400_with_the_reason(api):
    admin = api("admin")
    for query, reason in BAD_QUERIES:
        response = admin.get(f"/api/v1/deal?{query}")
        assert response.status_code == 400, (query, response.get_json())
        assert response.mimetype == "application/problem+json"
        assert reason in response.get_json()["detail"], (query, response.get_json())
    posted = admin.post(url("deal", "query"), json={"filter": {"field": "nope", "op": "eq"},
                                                    "sort": "title", "page": "x"})
    assert posted.status_code == 400
    assert "page: Not a whole number" in posted.get_json()["detail"]
    assert admin.post(url("deal", "query"), json=["not", "an", "object"]).status_code == 400
