"""The pool's pages: the claimable list, claim and release buttons, figures, the bin."""

from __future__ import annotations

import re

from engine.permissions import Actor
from tests.web.pool_support import claimable_ids, in_english, sales1
from tests.web.support import csrf_from


def _claim(client, account_id, page="/pool"):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post("/pool/claim", data={"id": str(account_id), "csrf_token": token,
                                            "next": "/pool"})


def test_the_navigation_links_the_pool_for_salespeople_only(app, login):
    assert 'data-testid="nav-pool"' in in_english(login("sales1")).get("/r/deal").get_data(as_text=True)
    assert 'data-testid="nav-pool"' not in login("service1").get("/r/account").get_data(
        as_text=True)


def test_the_pool_list_shows_claimable_customers_and_the_claimed_count(app, login):
    client = in_english(login("sales1"))
    account_id = claimable_ids(app)[0]
    html = client.get("/pool").get_data(as_text=True)
    assert f'data-id="{account_id}"' in html
    assert re.search(r"Claimed \d+ of \d+", html)
    rt, actor = sales1(app)
    owned = rt.service.list(actor, "account", filter=[
        {"field": "owner", "op": "eq", "value": actor.user_id}], limit=1).rows[0]
    assert f'data-id="{owned["id"]}"' not in html


def test_the_pool_list_filters_by_pool_region_and_name(app, login):
    client = in_english(login("sales1"))
    rt, actor = sales1(app)
    record = rt.service.get(actor, "account", claimable_ids(app)[0])
    html = client.get("/pool", query_string={"pool": record["pool"], "region": record["region"],
                                             "q": record["name"]}).get_data(as_text=True)
    assert f'data-id="{record["id"]}"' in html
    other = client.get("/pool", query_string={"q": "no such customer name"}).get_data(
        as_text=True)
    assert 'data-testid="pool-empty"' in other


def test_the_pool_list_pages(app, login):
    html = in_english(login("sales1")).get("/pool", query_string={"page": "999"}).get_data(as_text=True)
    assert 'data-testid="pool-empty"' in html
    assert in_english(login("sales1")).get("/pool?page=abc").status_code == 200


def test_claiming_from_the_list_makes_the_customer_yours(app, login):
    client = in_english(login("sales1"))
    account_id = claimable_ids(app)[0]
    response = _claim(client, account_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/r/account/{account_id}")
    rt, actor = sales1(app)
    assert rt.service.get(Actor.system(), "account", account_id)["owner"] == actor.user_id
    page = client.get(f"/r/account/{account_id}").get_data(as_text=True)
    assert 'data-testid="release-form"' in page


def test_a_claim_without_a_csrf_token_is_refused(app, login):
    account_id = claimable_ids(app)[0]
    response = in_english(login("sales1")).post("/pool/claim", data={"id": str(account_id)})
    assert response.status_code == 400
    rt, _ = sales1(app)
    assert rt.service.get(Actor.system(), "account", account_id)["owner"] is None


def test_a_refused_claim_says_why_in_the_users_language(app, login):
    account_id = claimable_ids(app)[0]
    _claim(in_english(login("sales1")), account_id)
    second = in_english(login("sales2"))  # same team: sees the customer, now owned
    page = second.post("/pool/claim", data={
        "id": str(account_id), "csrf_token": csrf_from(second.get("/pool").get_data(
            as_text=True))}, follow_redirects=True).get_data(as_text=True)
    assert "this customer already has an owner" in page
    chinese = login("sales2")
    chinese.post("/lang", data={"lang": "zh-CN", "csrf_token": csrf_from(
        chinese.get("/pool").get_data(as_text=True))})
    page = chinese.post("/pool/claim", data={
        "id": str(account_id), "csrf_token": csrf_from(chinese.get("/pool").get_data(
            as_text=True))}, follow_redirects=True).get_data(as_text=True)
    assert "该客户已有负责人" in page


def test_claim_selected_claims_several_and_reports_the_rest(app, login):
    client = in_english(login("sales1"))
    ids = claimable_ids(app, 2)
    token = csrf_from(client.get("/pool").get_data(as_text=True))
    page = client.post("/pool/claim", data={"id": [str(i) for i in ids], "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "You claimed 2 customers." in page


def test_release_from_the_record_page_returns_the_customer(app, login):
    client = in_english(login("sales1"))
    account_id = claimable_ids(app)[0]
    _claim(client, account_id)
    token = csrf_from(client.get(f"/r/account/{account_id}").get_data(as_text=True))
    response = client.post(f"/pool/release/{account_id}",
                           data={"csrf_token": token, "reason": "wrong region"})
    assert response.status_code == 302
    stored = app.extensions["loom"].current.service.get(Actor.system(), "account", account_id)
    assert stored["owner"] is None and stored["return_reason"] == "wrong region"
    page = client.get(f"/r/account/{account_id}").get_data(as_text=True)
    assert 'data-testid="release-form"' not in page


def test_the_pool_page_shows_its_figures_and_links_its_bin(app, login):
    client = in_english(login("sales1"))
    rt, actor = sales1(app)
    account = rt.service.get(actor, "account", claimable_ids(app)[0])
    html = client.get(f"/r/customer_pool/{account['pool']}").get_data(as_text=True)
    assert 'data-testid="pool-figures"' in html
    assert 'data-figure="waiting"' in html and f"/pool/{account['pool']}/bin" in html


def test_the_bin_lists_abandoned_customers_and_an_admin_restores_them(app, login):
    account_id = claimable_ids(app)[0]
    rt, _ = sales1(app)
    pool_id = rt.service.get(Actor.system(), "account", account_id)["pool"]
    admin = in_english(login("admin"))
    token = csrf_from(admin.get(f"/r/account/{account_id}").get_data(as_text=True))
    assert 'data-testid="abandon"' in admin.get(f"/r/account/{account_id}").get_data(
        as_text=True)
    admin.post(f"/pool/abandon/{account_id}", data={"csrf_token": token})
    sales = in_english(login("sales1"))
    assert f'data-id="{account_id}"' not in sales.get("/pool").get_data(as_text=True)
    seen = sales.get(f"/pool/{pool_id}/bin").get_data(as_text=True)
    assert f'data-id="{account_id}"' in seen and 'data-testid="restore"' not in seen
    binned = admin.get(f"/pool/{pool_id}/bin").get_data(as_text=True)
    assert 'data-testid="restore"' in binned
    admin.post(f"/pool/restore/{account_id}", data={"csrf_token": csrf_from(binned)})
    assert f'data-id="{account_id}"' in sales.get("/pool").get_data(as_text=True)


def test_the_pages_speak_chinese(app, login):
    client = in_english(login("sales1"))
    token = csrf_from(client.get("/pool").get_data(as_text=True))
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": token, "next": "/pool"})
    assert "已领取" in client.get("/pool").get_data(as_text=True)
    html = client.get("/pool").get_data(as_text=True)
    assert "公海" in html and "领取" in html


def test_the_pool_page_of_someone_with_no_pool_is_empty_not_an_error(login):
    response = login("admin").get("/pool")
    assert response.status_code == 200
