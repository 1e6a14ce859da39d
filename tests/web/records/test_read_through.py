"""Names read through one's own records: shown, never as a link or ``#id``, and pools."""

from __future__ import annotations

import re

from engine.permissions import Actor
from tests.web.records.test_lists import actor
from tests.web.support import login_client

SYSTEM = Actor.system()


def _own_deal_of_anothers_customer(app):
    """A deal of sales1 whose customer moved from one sales5 customer to another."""
    rt = app.extensions["loom"].current
    sales1, sales5 = actor(app, "sales1"), actor(app, "sales5")
    first = rt.service.create(SYSTEM, "account", {"name": "Westward Old Co",
                                                  "owner": sales5.user_id})
    second = rt.service.create(SYSTEM, "account", {"name": "Westward New Co",
                                                   "owner": sales5.user_id})
    deal = rt.service.create(SYSTEM, "deal", {"title": "Crossing deal", "account": first["id"],
                                              "owner": sales1.user_id})
    rt.service.update(SYSTEM, "deal", deal["id"], {"account": second["id"]}, version=None)
    return deal["id"], first["id"], second["id"]


def _no_link_or_id(body, *ids):
    for account_id in ids:
        assert f"/r/account/{account_id}" not in body
        assert not re.search(rf"#{account_id}\b", body)


def test_own_deal_shows_anothers_customer_by_name_without_a_link(any_app):
    deal, old, new = _own_deal_of_anothers_customer(any_app)
    client = login_client(any_app, "sales1")
    assert client.get(f"/r/account/{new}").status_code == 404
    page = client.get(f"/r/deal/{deal}").get_data(as_text=True)
    assert "Westward New Co" in page and "Westward Old Co" in page  # value and history
    _no_link_or_id(page, old, new)
    listed = client.get("/r/deal?q=Crossing").get_data(as_text=True)
    assert "Crossing deal" in listed and "Westward New Co" in listed
    _no_link_or_id(listed, new)
    form = client.get(f"/r/deal/{deal}/edit").get_data(as_text=True)
    assert "Westward New Co" in form
    _no_link_or_id(form, new)


def test_a_readable_customer_stays_a_link_on_the_record_page(app):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    account = rt.service.create(sales1, "account", {"name": "Eastward Co"})
    deal = rt.service.create(sales1, "deal", {"title": "Home deal", "account": account["id"]})
    page = login_client(app, "sales1").get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    assert f'<a href="/r/account/{account["id"]}">Eastward Co</a>' in page


def test_salesperson_opens_a_customer_of_a_pool_open_to_salespeople_without_an_edit_button(app):
    rt = app.extensions["loom"].current
    pools = rt.service.list(SYSTEM, "customer_pool").rows
    east = next(p for p in pools if p["open_to"] == ["sales", "sales_manager"])
    north = next(p for p in pools if p["open_to"] == ["sales_manager"])
    pooled = rt.service.create(SYSTEM, "account", {"name": "Pooled East", "owner": None,
                                                   "pool": east["id"]})
    managers = rt.service.create(SYSTEM, "account", {"name": "Pooled North", "owner": None,
                                                     "pool": north["id"]})
    client = login_client(app, "sales1")
    page = client.get(f"/r/account/{pooled['id']}")
    assert page.status_code == 200 and "Pooled East" in page.get_data(as_text=True)
    assert f"/r/account/{pooled['id']}/edit" not in page.get_data(as_text=True)
    assert "Pooled East" in client.get("/r/account?q=Pooled").get_data(as_text=True)
    assert client.get(f"/r/account/{managers['id']}").status_code == 404
    assert login_client(app, "manager").get(f"/r/account/{managers['id']}").status_code == 200


def test_a_won_deal_has_no_edit_or_delete_button_for_a_salesperson(app):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    account = rt.service.create(sales1, "account", {"name": "Winner Co"})
    deal = rt.service.create(sales1, "deal", {"title": "Won deal", "account": account["id"],
                                              "stage": "won", "amount": "10",
                                              "closed_at": "2026-03-01T10:00:00Z"})
    page = login_client(app, "sales1").get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    assert f"/r/deal/{deal['id']}/edit" not in page and f"/r/deal/{deal['id']}/delete" not in page
    manager = login_client(app, "manager").get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    assert f"/r/deal/{deal['id']}/edit" in manager
