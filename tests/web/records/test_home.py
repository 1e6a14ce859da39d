"""The welcome page: my open deals, my activities due today or overdue, recently viewed."""

from __future__ import annotations

import datetime as dt
import re

from engine import accounts
from engine.clock import day_start, zone
from tests.web.records.test_lists import actor
from tests.web.records.test_pages import english
from tests.web.support import login_client

#: A zone far from UTC and from the organisation's, so "today" differs for most of the day.
FAR = "Pacific/Kiritimati"


def _section(body: str, testid: str) -> str:
    start = body.index(f'data-testid="{testid}"')
    return body[start:body.index("</section>", start)]


def test_home_lists_my_open_deals_only(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    mine = rt.service.list(sales1, "deal", limit=10, with_total=True, filter=[
        {"field": "owner", "op": "eq", "value": sales1.user_id},
        {"field": "stage", "op": "not_in", "value": ["won", "lost"]}],
        sort=["expected_close_date", "-amount"])
    response = english(login("sales1")).get("/r/")
    assert response.status_code == 200
    section = _section(response.get_data(as_text=True), "home-deals")
    assert [int(i) for i in re.findall(r'<tr data-id="(\d+)"', section)] == \
        [r["id"] for r in mine.rows]
    assert f'<span class="badge text-bg-secondary">{mine.total}</span>' in section
    assert "/r/deal/board?f.owner=" in section


def test_home_lists_activities_due_today_and_overdue_in_the_users_zone(app):
    rt = app.extensions["loom"].current
    sales1, sales2 = actor(app, "sales1"), actor(app, "sales2")
    accounts.set_time_zone(rt.db, rt.tables, sales1.user_id, FAR)
    far = zone(FAR)
    today = rt.clock.now().astimezone(far).date()
    starts = day_start(today, far)
    tomorrow = day_start(today + dt.timedelta(days=1), far)
    account = rt.service.list(sales1, "account", limit=1, filter=[
        {"field": "owner", "op": "eq", "value": sales1.user_id}]).rows[0]["id"]

    def activity(who, subject, due, **values):
        return rt.service.create(who, "activity", {
            "subject": subject, "kind": "call", "account": account,
            "due_at": due.isoformat(), "owner": who.user_id, **values})["id"]

    late = activity(sales1, "Late call", starts - dt.timedelta(hours=1))
    first = activity(sales1, "Early call", starts + dt.timedelta(minutes=1))
    last = activity(sales1, "Last call", tomorrow - dt.timedelta(minutes=1))
    activity(sales1, "Tomorrow call", tomorrow + dt.timedelta(minutes=1))
    activity(sales1, "Done call", starts + dt.timedelta(minutes=2), done=True,
             done_at=starts.isoformat(), outcome="Talked")
    body = english(login_client(app, "sales1")).get("/r/").get_data(as_text=True)
    section = _section(body, "home-activities")
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', section)]
    assert [i for i in shown if i in (late, first, last)] == [late, first, last]
    assert "Tomorrow call" not in section and "Done call" not in section
    assert re.search(rf'<tr data-id="{late}" class="table-warning" data-overdue', section)
    assert f'<tr data-id="{first}">' in section and f'<tr data-id="{last}">' in section
    other = english(login_client(app, "sales2")).get("/r/").get_data(as_text=True)
    assert "Late call" not in other


def test_home_shows_the_records_i_viewed_last_newest_first(app, login):
    rt = app.extensions["loom"].current
    sales1 = actor(app, "sales1")
    deal = rt.service.list(sales1, "deal", limit=1, sort=["id"]).rows[0]
    contact = rt.service.list(sales1, "contact", limit=1, sort=["id"]).rows[0]
    client = english(login("sales1"))
    empty = _section(client.get("/r/").get_data(as_text=True), "home-recent")
    assert "Records you open appear here." in empty
    for path in (f"/r/deal/{deal['id']}", f"/r/contact/{contact['id']}", f"/r/deal/{deal['id']}"):
        assert client.get(path).status_code == 200
    section = _section(client.get("/r/").get_data(as_text=True), "home-recent")
    assert re.findall(r'data-recent="([\w.]+)"', section) == [f"deal.{deal['id']}",
                                                               f"contact.{contact['id']}"]
    # A record deleted since is not listed.
    rt.service.delete(actor(app, "admin"), "contact", contact["id"])
    section = _section(client.get("/r/").get_data(as_text=True), "home-recent")
    assert re.findall(r'data-recent="([\w.]+)"', section) == [f"deal.{deal['id']}"]


def test_home_is_in_chinese_for_a_chinese_user(app, login):
    body = login("sales1").get("/r/").get_data(as_text=True)  # demo users prefer Chinese
    for words in ("我的未关闭商机", "今日及逾期", "最近查看"):
        assert words in body


def test_login_lands_on_the_welcome_page(app, client):
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200  # the login page first
    home = login_client(app, "manager").get("/", follow_redirects=True)
    assert 'data-testid="home-recent"' in home.get_data(as_text=True)
