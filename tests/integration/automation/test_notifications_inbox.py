"""In-app notifications in the database (SQLite, and PostgreSQL when configured): written
for active users only, in the caller's transaction, listed newest first by page, marked
read by their owner only, pruned by age."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.accounts import create_user, deactivate_user
from engine.automation.notifications import (
    MAX_IDS,
    MAX_LIMIT,
    NotificationError,
    mark_read,
    notify,
    prune,
    recent,
    unread_count,
)
from engine.clock import UTC
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables
from tests.conftest import compile_specs

AT = dt.datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TITLE = {"en": "Visit in 30 minutes", "zh-CN": "30 分钟后拜访"}


@pytest.fixture
def tables(database):
    model = compile_specs({"entity": "visit", "label": {"en": "Visit", "zh-CN": "拜访"},
                           "fields": [{"name": "subject", "type": "string"}]})
    apply_plan(database, model, actor="test")
    return build_tables(model)


@pytest.fixture
def users(database, tables):
    ids = {name: create_user(database, tables, name) for name in ("ann", "bob", "cat")}
    deactivate_user(database, tables, "cat")
    return ids


def _notify(database, tables, user_ids, **kw):
    kw.setdefault("kind", "reminder")
    kw.setdefault("title", TITLE)
    kw.setdefault("at", AT)
    with database.write() as conn:
        return notify(conn, tables, user_ids, **kw)


def _rows(database, tables):
    with database.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(tables.notifications)
                                              .order_by(tables.notifications.c.id)).mappings()]


def test_one_row_per_distinct_active_user_and_inactive_or_unknown_users_are_skipped(
        database, tables, users):
    notified = _notify(database, tables, [users["bob"], users["ann"], users["bob"], users["cat"],
                                          999_999], entity="visit", record_id=7, run_id=3,
                       body="Bring the contract")
    assert notified == 2
    rows = _rows(database, tables)
    assert [r["user_id"] for r in rows] == [users["bob"], users["ann"]]
    first = rows[0]
    assert first["title"] == TITLE
    assert first["body"] == {"en": "Bring the contract", "zh-CN": "Bring the contract"}
    assert (first["entity"], first["record_id"], first["run_id"]) == ("visit", 7, 3)
    assert first["created_at"] == dt.datetime(2026, 11, 23, 9, 30)  # naive UTC
    assert first["read_at"] is None


def test_notify_writes_in_the_callers_transaction(database, tables, users):
    with pytest.raises(RuntimeError), database.write() as conn:
        notify(conn, tables, [users["ann"]], kind="reminder", title=TITLE, at=AT)
        raise RuntimeError("the run failed after notifying")
    assert _rows(database, tables) == []


@pytest.mark.parametrize("bad, message", [
    ({"kind": "Bad Kind"}, "kind"),
    ({"title": ""}, "title is empty"),
    ({"title": {"fr": "Bonjour"}}, "unknown language 'fr'"),
    ({"title": {"en": 3}}, "must be a text"),
    ({"title": "x" * 301}, "longer than 300"),
    ({"record_id": 5}, "needs its entity"),
])
def test_bad_notifications_are_refused_before_anything_is_written(database, tables, users, bad,
                                                                  message):
    with pytest.raises(NotificationError, match=message):
        _notify(database, tables, [users["ann"]], **bad)
    assert _rows(database, tables) == []


def test_recent_lists_newest_first_by_pages_and_unread_only(database, tables, users):
    for n in range(5):
        _notify(database, tables, [users["ann"], users["bob"]], title=f"n{n}")
    with database.read() as conn:
        first = recent(conn, tables, users["ann"], limit=2)
        second = recent(conn, tables, users["ann"], limit=2, before_id=first.next_before_id)
        third = recent(conn, tables, users["ann"], limit=2, before_id=second.next_before_id)
    titles = [[r["title"]["en"] for r in page.items] for page in (first, second, third)]
    assert titles == [["n4", "n3"], ["n2", "n1"], ["n0"]]
    assert third.next_before_id is None
    assert {r["user_id"] for p in (first, second, third) for r in p.items} == {users["ann"]}

    with database.write() as conn:
        mark_read(conn, tables, users["ann"], [first.items[0]["id"]], at=AT)
    with database.read() as conn:
        unread = recent(conn, tables, users["ann"], limit=10, unread_only=True)
        assert unread_count(conn, tables, users["ann"]) == 4
        assert unread_count(conn, tables, users["bob"]) == 5
    assert [r["title"]["en"] for r in unread.items] == ["n3", "n2", "n1", "n0"]


@pytest.mark.parametrize("kw", [{"limit": 0}, {"limit": MAX_LIMIT + 1}, {"limit": "5"},
                                {"before_id": 0}, {"before_id": 2**63}, {"limit": True}])
def test_recent_refuses_bad_limits_and_cursors(database, tables, users, kw):
    kw.setdefault("limit", 5)
    with database.read() as conn, pytest.raises(NotificationError):
        recent(conn, tables, users["ann"], **kw)


def test_a_user_marks_only_their_own_notifications(database, tables, users):
    _notify(database, tables, [users["ann"], users["bob"]])
    rows = {r["user_id"]: r["id"] for r in _rows(database, tables)}
    later = AT + dt.timedelta(minutes=5)
    with database.write() as conn:
        # bob names ann's notification: nothing changes
        assert mark_read(conn, tables, users["bob"], [rows[users["ann"]]], at=later) == 0
        assert mark_read(conn, tables, users["bob"], [rows[users["bob"]]], at=later) == 1
        assert mark_read(conn, tables, users["bob"], [rows[users["bob"]]], at=later) == 0
    with database.read() as conn:
        assert unread_count(conn, tables, users["ann"]) == 1
        assert unread_count(conn, tables, users["bob"]) == 0
    read_at = {r["user_id"]: r["read_at"] for r in _rows(database, tables)}
    assert read_at == {users["ann"]: None, users["bob"]: dt.datetime(2026, 11, 23, 9, 35)}


def test_mark_all_reads_every_unread_notification_of_the_user_only(database, tables, users):
    for _ in range(3):
        _notify(database, tables, [users["ann"], users["bob"]])
    with database.write() as conn:
        assert mark_read(conn, tables, users["ann"], at=AT) == 3
        assert mark_read(conn, tables, users["ann"], [], at=AT) == 0
    with database.read() as conn:
        assert unread_count(conn, tables, users["ann"]) == 0
        assert unread_count(conn, tables, users["bob"]) == 3


@pytest.mark.parametrize("ids", [["1"], [0], [True], "12", list(range(1, MAX_IDS + 2))])
def test_mark_read_refuses_ids_that_are_not_ids(database, tables, users, ids):
    with database.write() as conn, pytest.raises(NotificationError):
        mark_read(conn, tables, users["ann"], ids, at=AT)


def test_prune_deletes_what_is_older_than_the_cutoff(database, tables, users):
    _notify(database, tables, [users["ann"]], at=AT - dt.timedelta(days=100))
    _notify(database, tables, [users["ann"]], at=AT - dt.timedelta(days=10))
    with database.write() as conn:
        assert prune(conn, tables, AT - dt.timedelta(days=90)) == 1
    assert [r["created_at"] for r in _rows(database, tables)] == [dt.datetime(2026, 11, 13, 9, 30)]
