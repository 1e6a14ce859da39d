"""The role policy through the REST API: a salesperson can't read, filter on, sort by,
expand into or count another team's records or a hidden field (schemas/roles/*.yaml).

sales1-4 are the East team, sales5-8 the West team; ``sales`` hides campaign ``budget``
and ``cost`` and makes deal ``probability`` read-only; ``service`` may not create deals.
"""

from __future__ import annotations

import pytest

from engine import accounts
from tests.web.api.records_support import first_id, records, url


def user_ids(app) -> dict[str, int]:
    rt = app.extensions["loom"].current
    return {u["username"]: u["id"] for u in accounts.list_users(rt.db, rt.tables)}


@pytest.fixture
def west_setup(any_app, any_api):
    """A West account, and a deal of sales1 (East) that points at it."""
    admin, ids = any_api("admin"), user_ids(any_app)
    account = admin.post(url("account"), json={"name": "Hidden West Ltd", "owner": ids["sales5"]})
    assert account.status_code == 201, account.get_json()
    deal = admin.post(url("deal"), json={"title": "East deal on a West account",
                                         "account": account.get_json()["id"],
                                         "owner": ids["sales1"]})
    assert deal.status_code == 201, deal.get_json()
    return account.get_json(), deal.get_json()


def test_another_teams_records_are_not_found_and_not_listed(any_api):
    admin, sales = any_api("admin"), any_api("sales1")
    every = {d["id"]: d for d in records(admin, "deal", per_page=1000)}
    mine = records(sales, "deal", per_page=1000)
    others = set(every) - {d["id"] for d in mine}
    assert mine and others
    other = min(others)
    response = sales.get(url("deal", other))
    assert response.status_code == 404
    assert every[other]["title"] not in response.get_data(as_text=True)
    assert sales.patch(url("deal", other), json={"title": "mine now", "version": 1}
                       ).status_code == 404
    assert sales.delete(url("deal", other)).status_code == 404
    assert records(sales, "deal", filter={"field": "id", "op": "eq", "value": other}) == []
    total = sales.get(url("deal", per_page=1, total="true")).get_json()["meta"]["total"]
    assert total == len(mine) < len(every)
    manager = any_api("manager").get(url("deal", per_page=1, total="true")).get_json()
    assert manager["meta"]["total"] == len(every)


def test_filtering_through_a_relation_ignores_records_out_of_sight(any_api, west_setup):
    account, deal = west_setup
    sales = any_api("sales1")
    assert sales.get(url("deal", deal["id"])).status_code == 200
    assert sales.get(url("account", account["id"])).status_code == 404
    spec = {"field": "account.name", "op": "eq", "value": "Hidden West Ltd"}
    assert records(sales, "deal", filter=spec) == []
    assert [d["id"] for d in records(any_api("admin"), "deal", filter=spec)] == [deal["id"]]
    # The role reads the customer's name through its own deal, and nothing else of it.
    name_only = {"id": account["id"], "_display": "Hidden West Ltd", "_name_only": True}
    expanded = sales.get(url("deal", deal["id"], expand="account")).get_json()
    assert expanded["_expand"]["account"] == name_only
    listed = records(sales, "deal", expand="account",
                     filter={"field": "id", "op": "eq", "value": deal["id"]})
    assert listed[0]["_expand"]["account"] == name_only


def test_hidden_fields_never_show_and_cannot_be_filtered_sorted_selected_or_expanded(any_api):
    sales, admin = any_api("sales1"), any_api("admin")
    campaigns = records(sales, "campaign", per_page=1000)
    assert campaigns and all("budget" not in c and "cost" not in c for c in campaigns)
    one = sales.get(url("campaign", campaigns[0]["id"])).get_json()
    assert "budget" not in one and "cost" not in one
    for query in ('filter={"field":"budget","op":"gt","value":0}', "sort=-cost",
                  "fields=name,budget", 'filter={"field":"cost","op":"is_null","value":false}'):
        response = sales.get(f"/api/v1/campaign?{query}")
        assert response.status_code == 400, query
        assert "unknown field" in response.get_json()["detail"]
        assert "budget" not in response.get_json()["detail"].split("known:")[-1]
        assert admin.get(f"/api/v1/campaign?{query}").status_code == 200, query
    through = sales.get(url("deal", filter={"field": "campaign.budget", "op": "gt", "value": 0}))
    assert through.status_code == 400
    with_campaign = records(sales, "deal", per_page=1000, expand="campaign",
                            filter={"field": "campaign", "op": "is_null", "value": False})
    for deal in with_campaign:
        assert "budget" not in deal["_expand"]["campaign"] and "cost" not in deal["_expand"]["campaign"]
    assert sales.get(url("campaign", campaigns[0]["id"], fields="budget")).status_code == 400


def test_actions_the_role_lacks_are_403_without_data(api):
    service, sales = api("service1"), api("sales1")
    refused = service.post(url("deal"), json={"title": "not mine to make"})
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "urn:loom:problem:forbidden"
    assert service.get(url("deal")).status_code == 403
    account = first_id(sales, "account")
    assert sales.delete(url("account", account)).status_code == 403
    assert sales.post(url("campaign"), json={"name": "x"}).status_code == 403
    assert sales.post(url("deal", "query"), json={}).status_code == 200


def test_a_salesperson_cannot_write_a_record_out_of_their_own_sight(app, api):
    sales, ids = api("sales1"), user_ids(app)
    response = sales.post(url("deal"), json={"title": "Gift to West", "owner": ids["sales5"],
                                             "account": first_id(sales, "account")})
    assert response.status_code in (403, 422), response.get_json()
    assert records(api("admin"), "deal",
                   filter={"field": "title", "op": "eq", "value": "Gift to West"}) == []


def test_salesperson_cannot_delete_a_won_deal_over_the_api(any_app, any_api):
    from engine.permissions import Actor
    from tests.web.records.test_lists import actor

    rt = any_app.extensions["loom"].current
    sales1 = actor(any_app, "sales1")
    account = rt.service.create(sales1, "account", {"name": "Won over API"})
    deal = rt.service.create(sales1, "deal", {"title": "Won", "account": account["id"],
                                              "stage": "won", "amount": "10",
                                              "closed_at": "2026-03-01T10:00:00Z"})
    response = any_api("sales1").delete(f"/api/v1/deal/{deal['id']}")
    assert response.status_code == 403
    assert "only when stage != 'won'" in response.get_json()["detail"]
    assert rt.service.get(Actor.system(), "deal", deal["id"])["stage"] == "won"
