"""Defect 8 of the record pages: contact links, one Owner, "New" on related lists, prefill."""

from __future__ import annotations

import re

from tests.web.records.test_lists import actor
from tests.web.records.test_pages import english
from web.records.display import show


def _account(rt, who, **values):
    return rt.service.create(who, "account", {"name": "Links Ltd", **values})


def _dd(body: str, field: str) -> str:
    start = body.index(f'data-field="{field}"')
    return body[start:body.index("</dd>", start)]


def test_phone_email_and_website_are_links_on_the_record_page(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    account = _account(rt, admin, phone="+86 21-6888 1234", email="sales+cn@example.com",
                       website="https://example.com/a?b=1&c=<2>")
    body = english(login("admin")).get(f"/r/account/{account['id']}").get_data(as_text=True)
    assert '<a href="tel:+862168881234">+86 21-6888 1234</a>' in _dd(body, "phone")
    assert '<a href="mailto:sales+cn@example.com">sales+cn@example.com</a>' in _dd(body, "email")
    website = _dd(body, "website")
    assert 'href="https://example.com/a?b=1&amp;c=&lt;2&gt;"' in website
    assert 'rel="noopener noreferrer"' in website and "<2>" not in website
    # The list shows them as links too.
    listed = login("admin").get(f"/r/account?q={account['name']}").get_data(as_text=True)
    assert 'href="tel:+862168881234"' in listed or "phone" not in str(
        rt.model.entity("account").list_view["columns"])


def test_a_website_that_is_not_http_is_never_a_link(app):
    url = app.extensions["loom"].current.model.entity("account").field("website")
    with app.test_request_context():
        assert show(url, "javascript:alert(1)").url is None
        assert show(url, "  HTTPS://example.com ").url == "HTTPS://example.com"
        assert show(url, "ftp://example.com").url is None


def test_owner_shows_once_on_the_record_page(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"]).rows[0]
    body = login("admin").get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    assert len(re.findall(r'data-field="owner"', body)) == 1
    assert 'data-field="created_by"' in body  # the footer still has the other columns


def test_related_lists_offer_new_prefilled_with_the_parent(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    account = rt.service.list(sales1, "account", limit=1, sort=["id"], filter=[
        {"field": "owner", "op": "eq", "value": sales1.user_id}], expand=("owner",)).rows[0]
    client = english(login("sales1"))
    body = client.get(f"/r/account/{account['id']}").get_data(as_text=True)
    section = body[body.index('data-related="contact.account"'):]
    section = section[:section.index("</section>")]
    new_url = f"/r/contact/new?account={account['id']}"
    assert f'href="{new_url}" data-testid="related-new"' in section
    form = client.get(new_url).get_data(as_text=True)
    assert re.search(rf'<input type="hidden" name="account"[^>]*value="{account["id"]}"', form)
    assert account["name"] in form  # the typeahead shows the parent's name
    # Service staff read accounts but may not create deals: no "New" for deals.
    staff = login("service1").get(f"/r/account/{account['id']}").get_data(as_text=True)
    assert 'data-testid="related-new"' not in staff[staff.find('data-related="deal.account"'):][:3000]


def test_a_prefill_the_form_cannot_take_is_dropped_and_saves_nothing(app, login):
    rt = app.extensions["loom"].current
    client = english(login("sales1"))
    before = rt.service.list(actor(app, "admin"), "contact", limit=1, with_total=True).total
    form = client.get("/r/deal/new?amount=lots&stage=mars&probability=99&title=Prefilled")
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    assert 'value="Prefilled"' in body and 'value="lots"' not in body
    assert rt.service.list(actor(app, "admin"), "contact", limit=1, with_total=True).total == before
