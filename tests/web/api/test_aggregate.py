"""``/api/v1/<entity>/aggregate``: parameters, the record scope and hidden fields over HTTP."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest


def all_records(client, entity: str) -> list[dict]:
    """Every record the client may list (following the next links)."""
    out, url = [], f"/api/v1/{entity}?per_page=1000"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        out += body["data"]
        url = body.get("links", {}).get("next")
    return out


def test_group_by_stage_counts_and_sums_like_the_list(any_api):
    admin = any_api("admin")
    response = admin.get("/api/v1/deal/aggregate?group_by=stage&metrics=count,sum:amount")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    deals = all_records(admin, "deal")
    assert {r["stage"]: r["count"] for r in body["data"]} == Counter(d["stage"] for d in deals)
    for row in body["data"]:
        amounts = [Decimal(d["amount"]) for d in deals
                   if d["stage"] == row["stage"] and d["amount"] is not None]
        assert Decimal(row["sum_amount"] or 0) == sum(amounts, Decimal(0))
    assert list(body["data"][0]) == ["stage", "count", "sum_amount"]  # keys, then metrics
    assert body["meta"] == {"group_by": ["stage"], "metrics": ["count", "sum:amount"],
                            "count": len(body["data"]), "truncated": False}


def test_post_takes_the_same_keys_as_json(api):
    admin = api("admin")
    query = "group_by=stage,expected_close_date:quarter&metrics=count,max:amount&sort=-count"
    got = admin.get(f"/api/v1/deal/aggregate?{query}").get_json()
    posted = admin.post("/api/v1/deal/aggregate", json={
        "group_by": ["stage", "expected_close_date:quarter"], "metrics": "count,max:amount",
        "sort": ["-count"]})
    assert posted.status_code == 200 and posted.get_json() == got
    counts = [r["count"] for r in got["data"]]
    assert counts == sorted(counts, reverse=True)
    assert all(r["expected_close_date_quarter"] is None
               or r["expected_close_date_quarter"][5:] in ("01-01", "04-01", "07-01", "10-01")
               for r in got["data"])


def test_a_filter_narrows_the_groups(api):
    admin = api("admin")
    condition = [{"field": "stage", "op": "eq", "value": "won"}]
    body = admin.get("/api/v1/deal/aggregate?group_by=stage&filter="
                     + json.dumps(condition)).get_json()
    assert [r["stage"] for r in body["data"]] in ([], ["won"])


def test_a_salesperson_sums_only_the_deals_of_their_team(api):
    admin, sales = api("admin"), api("sales1")
    (everything,) = admin.get("/api/v1/deal/aggregate?metrics=count").get_json()["data"]
    (theirs,) = sales.get("/api/v1/deal/aggregate?metrics=count,sum:amount").get_json()["data"]
    visible = all_records(sales, "deal")
    assert theirs["count"] == len(visible) < everything["count"]
    assert Decimal(theirs["sum_amount"] or 0) == sum(
        (Decimal(d["amount"]) for d in visible if d["amount"] is not None), Decimal(0))


@pytest.mark.parametrize("query", ["metrics=sum:budget", "group_by=budget",
                                   'filter=[{"field":"cost","op":"gt","value":1}]'])
def test_hidden_fields_are_refused_like_unknown_ones(api, query):
    response = api("sales1").get(f"/api/v1/campaign/aggregate?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "unknown field" in response.get_json()["detail"]
    assert api("admin").get(f"/api/v1/campaign/aggregate?{query}").status_code == 200


@pytest.mark.parametrize(("query", "message"), [
    ("metrics=median:amount", "unknown metric 'median'"),
    ("group_by=expected_close_date:hour", "unknown bucket 'hour'"),
    ("group_by=nope", "unknown field 'nope'"),
    ("filter={not json", "filter must be JSON"),
    ("limit=lots", "limit must be a whole number"),
    ("colour=red", "unknown parameter(s) colour"),
])
def test_bad_parameters_are_400_problems_naming_the_problem(api, query, message):
    response = api("admin").get(f"/api/v1/deal/aggregate?{query}")
    assert response.status_code == 400
    assert message in response.get_json()["detail"]


def test_unknown_entities_are_404_and_bodies_must_be_json_objects(api):
    admin = api("admin")
    assert admin.get("/api/v1/nope/aggregate").status_code == 404
    assert admin.post("/api/v1/deal/aggregate", data="x",
                      headers={"Content-Type": "text/plain"}).status_code == 415
    assert admin.post("/api/v1/deal/aggregate", json=[1]).status_code == 400


def test_callers_need_a_token_or_session(client, login):
    assert client.get("/api/v1/deal/aggregate").status_code == 401
    session = login("sales1")
    assert session.get("/api/v1/deal/aggregate").status_code == 200
    # unsafe methods from a session need the CSRF header
    assert session.post("/api/v1/deal/aggregate", json={}).status_code == 400


def test_entities_a_role_may_not_read_are_403(api):
    assert api("service1").get("/api/v1/deal/aggregate").status_code == 403
