"""The bell in the top bar and the /notifications page: counts, lists, marks read, and
never shows or marks another user's notifications."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from engine import accounts
from engine.automation.notifications import notify, unread_count
from engine.clock import UTC
from tests.web.support import form_token

AT = dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
TITLE = {"en": "Deal <b>Acme</b> won", "zh-CN": "商机 <b>Acme</b> 赢单"}


def _user_id(app, username: str) -> int:
    rt = app.extensions["loom"].current
    return accounts.find_user(rt.db, rt.tables, username)["id"]


def _notify(app, username: str, n: int = 1, **kw) -> None:
    rt = app.extensions["loom"].current
    kw.setdefault("title", TITLE)
    with rt.db.write() as conn:
        for i in range(n):
            notify(conn, rt.tables, [_user_id(app, username)], kind="workflow",
                   at=AT + dt.timedelta(minutes=i), **kw)


def _unread(app, username: str) -> int:
    rt = app.extensions["loom"].current
    with rt.db.read() as conn:
        return unread_count(conn, rt.tables, _user_id(app, username))


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-notification="(\d+)"', page)]


def _english(client) -> None:
    client.post("/lang", data={"lang": "en", "csrf_token": form_token(client, "/login")})


def test_the_bell_shows_the_unread_count_with_an_accessible_label(app, login):
    _notify(app, "sales1", 3)
    _notify(app, "sales2", 5)
    client = login("sales1")  # demo users read Chinese
    page = client.get("/r/account").get_data(as_text=True)
    assert 'aria-label="通知（3 条未读）"' in page
    assert re.search(r'data-testid="bell-count"[^>]*>3<', page)
    _english(client)
    page = client.get("/r/account").get_data(as_text=True)
    assert 'aria-label="Notifications (3 unread)"' in page
    assert 'hx-get="/notifications/badge" hx-trigger="every 60s"' in page


def test_without_unread_notifications_the_bell_has_no_badge(app, login):
    client = login("sales1")
    _english(client)
    page = client.get("/r/account").get_data(as_text=True)
    assert 'aria-label="Notifications"' in page and 'data-testid="bell-count"' not in page


def test_the_badge_endpoint_returns_the_bell_and_nothing_without_a_session(app, client, login):
    _notify(app, "sales1", 2)
    fragment = login("sales1").get("/notifications/badge")
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert 'id="loom-bell"' in body and 'data-unread="2"' in body and "<html" not in body
    assert client.get("/notifications/badge").status_code == 204


def test_the_page_lists_newest_first_in_the_users_language_and_time_zone(app, login):
    rt = app.extensions["loom"].current
    accounts.set_time_zone(rt.db, rt.tables, _user_id(app, "sales1"), "Asia/Shanghai")
    _notify(app, "sales1", body={"en": "Amount 500,000", "zh-CN": "金额 500,000"},
            entity="account", record_id=1)
    _notify(app, "sales1", title={"en": "Later one"})
    client = login("sales1")
    page = client.get("/notifications").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    titles = re.findall(r'data-notification="\d+".*?<div class="fw-semibold">(.*?)</div>', page,
                        re.DOTALL)
    assert "Later one" in titles[0]  # no Chinese title: English
    assert "商机 &lt;b&gt;Acme&lt;/b&gt; 赢单" in titles[1] and "<b>Acme" not in page
    assert "金额 500,000" in page
    assert "2026-02-01 00:30 (Asia/Shanghai)" in page
    assert 'href="/r/account/1"' in page
    assert page.count('data-unread="true"') == 2 and page.count('data-testid="mark-one"') == 2


def test_mark_one_and_mark_all_as_read(app, login):
    _notify(app, "sales1", 3)
    client = login("sales1")
    page = client.get("/notifications").get_data(as_text=True)
    first = _ids(page)[0]
    token = form_token(client, "/notifications")
    response = client.post("/notifications/read", data={"id": first, "csrf_token": token,
                                                        "next": "/notifications?unread=1"})
    assert response.status_code == 302 and response.headers["Location"] == "/notifications?unread=1"
    assert _unread(app, "sales1") == 2
    unread_page = client.get("/notifications?unread=1").get_data(as_text=True)
    assert first not in _ids(unread_page) and len(_ids(unread_page)) == 2
    client.post("/notifications/read", data={"all": "1", "csrf_token": token})
    assert _unread(app, "sales1") == 0
    assert 'data-testid="no-notifications"' in client.get("/notifications?unread=1").get_data(
        as_text=True)


def test_marking_needs_the_csrf_token(app, login):
    _notify(app, "sales1")
    client = login("sales1")
    assert client.post("/notifications/read", data={"all": "1"}).status_code == 400
    assert _unread(app, "sales1") == 1


def test_one_user_can_neither_see_nor_mark_anothers_notifications(app, login):
    _notify(app, "sales2", title={"en": "For sales2 only"})
    other = _ids(login("sales2").get("/notifications").get_data(as_text=True))
    client = login("sales1")
    page = client.get("/notifications").get_data(as_text=True)
    assert "For sales2 only" not in page and _ids(page) == []
    token = form_token(client, "/notifications")
    client.post("/notifications/read", data={"id": other[0], "csrf_token": token})
    client.post("/notifications/read", data={"all": "1", "csrf_token": token})
    assert _unread(app, "sales2") == 1


def test_pages_follow_before_id(app, login):
    _notify(app, "sales1", 25, title={"en": "n"})
    client = login("sales1")
    first = client.get("/notifications").get_data(as_text=True)
    older = re.search(r'data-testid="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert len(_ids(first)) == 20 and len(_ids(second)) == 5
    assert min(_ids(first)) > max(_ids(second))
    assert 'data-testid="older"' not in second and 'data-testid="newest"' in second


@pytest.mark.parametrize("query", ["before_id=abc", "before_id=0", "before_id=99999999999999999999"])
def test_a_bad_cursor_is_a_400_not_a_500(app, login, query):
    assert login("sales1").get(f"/notifications?{query}").status_code == 400


def test_the_page_needs_a_login(client):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
