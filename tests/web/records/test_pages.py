"""Record pages: sections, related lists, history, and buttons the policy allows."""

from __future__ import annotations

import re

from engine.records import Cause
from tests.web.records.test_lists import actor
from tests.web.support import form_token, login_client


def english(client):
    """Switch the client's session to English (demo users prefer Chinese)."""
    token = form_token(client, "/login")
    client.post("/lang", data={"lang": "en", "csrf_token": token})
    return client


def test_record_page_shows_the_form_layout_sections_and_values(any_app):
    rt = any_app.extensions["loom"].current
    admin = actor(any_app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"], expand=("account",)).rows[0]
    client = english(login_client(any_app, "admin"))
    body = client.get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    for title in ("Deal", "Pipeline", "Competition and outcome", "Description"):
        assert f'<div class="card-header">{title}</div>' in body
    assert f'data-testid="record-title">{deal["title"]}<' in body
    account = deal["_expand"]["account"]["_display"]
    assert f'<a href="/r/account/{deal["account"]}">{account}</a>' in body


def test_record_page_lists_related_records_with_a_link_to_the_filtered_list(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"]).rows[0]
    deals = rt.service.list(admin, "deal", filter=[
        {"field": "account", "op": "eq", "value": deal["account"]}], limit=5, with_total=True,
        sort=list(rt.model.entity("deal").list_view["sort"]))
    body = login("admin").get(f"/r/account/{deal['account']}").get_data(as_text=True)
    section = body[body.index('data-related="deal.account"'):]
    section = section[:section.index("</section>")]
    assert re.findall(r'<tr data-id="(\d+)"', section) == [str(r["id"]) for r in deals.rows]
    assert f'href="/r/deal?f.account={deal["account"]}"' in section
    listed = login("admin").get(f"/r/deal?f.account={deal['account']}").get_data(as_text=True)
    assert len(re.findall(r'<tr data-id="(\d+)"', listed)) == deals.total


def test_record_page_shows_the_change_history_with_labels(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"],
                           filter=[{"field": "stage", "op": "eq", "value": "lead"}]).rows[0]
    rt.service.update(admin, "deal", deal["id"], {"stage": "qualified", "next_step": "Call back"},
                      version=deal["version"])
    client = english(login("admin"))
    body = client.get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    history = body[body.index('data-testid="history"'):]
    assert "Stage" in history and "Lead" in history and "Qualified" in history
    assert "Call back" in history
    # Conditional fields (loss reason: only for lost deals) stay out while empty.
    assert 'data-field="loss_reason"' not in body and 'data-field="closed_at"' not in body
    assert "changed" in history and "系统管理员" in history  # who: the admin's display name
    # The same history in Chinese: field and option labels from the metadata.
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": form_token(client, "/login")})
    chinese = client.get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    chinese = chinese[chinese.index('data-testid="history"'):]
    assert "销售阶段" in chinese and "初步接洽" in chinese and "需求确认" in chinese


def test_edit_and_delete_buttons_follow_the_policy(app, login):
    rt = app.extensions["loom"].current
    account = rt.service.list(actor(app, "sales1"), "account", limit=1).rows[0]
    sales = login("sales1").get(f"/r/account/{account['id']}").get_data(as_text=True)
    assert 'data-testid="edit"' in sales and 'data-testid="delete"' not in sales
    service = login("service1").get(f"/r/account/{account['id']}").get_data(as_text=True)
    assert 'data-testid="edit"' not in service and 'data-testid="delete"' not in service
    admin = login("admin").get(f"/r/account/{account['id']}").get_data(as_text=True)
    assert 'data-testid="edit"' in admin and 'data-testid="delete"' in admin


def test_related_lists_of_entities_the_actor_may_not_read_are_left_out(app, login):
    rt = app.extensions["loom"].current
    account = rt.service.list(actor(app, "service1"), "account", limit=1).rows[0]
    body = login("service1").get(f"/r/account/{account['id']}").get_data(as_text=True)
    assert 'data-related="deal.account"' not in body
    assert 'data-related="contact.account"' in body


def test_hidden_fields_are_not_shown(app, login):
    rt = app.extensions["loom"].current
    campaign = rt.service.list(actor(app, "admin"), "campaign", limit=1).rows[0]
    sales = login("sales1").get(f"/r/campaign/{campaign['id']}").get_data(as_text=True)
    assert 'data-field="budget"' not in sales and 'data-field="cost"' not in sales
    listing = login("sales1").get("/r/campaign").get_data(as_text=True)
    assert 'data-column="budget"' not in listing
    admin = login("admin").get(f"/r/campaign/{campaign['id']}").get_data(as_text=True)
    assert 'data-field="budget"' in admin


def test_a_record_outside_the_scope_is_not_found(app, login):
    rt = app.extensions["loom"].current
    theirs = {r["id"] for r in rt.service.list(actor(app, "admin"), "deal", limit=1000).rows}
    theirs -= {r["id"] for r in rt.service.list(actor(app, "sales1"), "deal", limit=1000).rows}
    assert login("sales1").get(f"/r/deal/{min(theirs)}").status_code == 404


def test_history_names_the_workflow_or_import_behind_a_change_in_both_languages(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"]).rows[0]
    with rt.service.unit(admin, cause=Cause.workflow(4, "Won deal follow-up"), depth=1) as unit:
        deal = unit.update("deal", deal["id"], {"next_step": "Send contract"},
                           version=deal["version"])
    rt.service.update(admin, "deal", deal["id"], {"next_step": "Call"}, version=deal["version"],
                      cause=Cause.import_("i7", "deals-2026.csv"))
    client = english(login("admin"))
    body = client.get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    causes = re.findall(r"<span data-cause>([^<]*)</span>", body[body.index('data-testid="history"'):])
    # Newest first; the admin's own earlier requests show no cause.
    assert causes == ["by import deals-2026.csv", "by workflow Won deal follow-up"]
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": form_token(client, "/login")})
    chinese = client.get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    assert re.findall(r"<span data-cause>([^<]*)</span>", chinese) == [
        "由导入 deals-2026.csv", "由工作流 Won deal follow-up"]


def test_history_of_a_cause_without_a_label_shows_its_id(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"]).rows[0]
    rt.service.update(admin, "deal", deal["id"], {"next_step": "Merge"}, version=deal["version"],
                      cause=Cause.merge(31))
    body = english(login("admin")).get(f"/r/deal/{deal['id']}").get_data(as_text=True)
    assert re.findall(r"<span data-cause>([^<]*)</span>", body) == ["by merge 31"]
