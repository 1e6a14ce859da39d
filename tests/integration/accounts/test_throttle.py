"""Login throttling: counted in the database, per username and address, within a window."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.accounts import LoginThrottle


@pytest.fixture
def throttle(database, tables):
    return LoginThrottle(database, tables, max_failures=3, window_seconds=300)


def test_too_many_failures_lock_the_username_from_that_address(throttle):
    for _ in range(2):
        throttle.failed("ann", "10.0.0.1")
    assert throttle.retry_after("ann", "10.0.0.1") == 0
    throttle.failed("ann", "10.0.0.1")
    wait = throttle.retry_after("ann", "10.0.0.1")
    assert 0 < wait <= 300
    assert throttle.retry_after("ANN ", "10.0.0.1") == wait  # same user however typed
    assert throttle.retry_after("ann", "10.0.0.2") == 0
    assert throttle.retry_after("bob", "10.0.0.1") == 0


def test_success_clears_the_failures(throttle):
    for _ in range(2):
        throttle.failed("ann", "10.0.0.1")
    throttle.succeeded("ann", "10.0.0.1")
    throttle.failed("ann", "10.0.0.1")
    assert throttle.retry_after("ann", "10.0.0.1") == 0


def test_failures_older_than_the_window_do_not_count(throttle, database, tables):
    for _ in range(3):
        throttle.failed("ann", "10.0.0.1")
    with database.write() as conn:
        conn.execute(tables.login_attempts.update().values(
            failed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=301)))
    assert throttle.retry_after("ann", "10.0.0.1") == 0


def test_old_failures_are_pruned(throttle, database, tables):
    throttle.failed("ann", "10.0.0.1")
    with database.write() as conn:
        conn.execute(tables.login_attempts.update().values(
            failed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)))
    throttle.failed("bob", "10.0.0.9")
    with database.read() as conn:
        assert [r.username for r in conn.execute(tables.login_attempts.select())] == ["bob"]


def test_an_address_guessing_many_usernames_is_slowed_not_shut(throttle):
    for i in range(30):
        throttle.failed(f"user{i}", "10.0.0.1")
    assert throttle.suspect("10.0.0.1") and not throttle.suspect("10.0.0.2")
    # Nobody is refused for the failures of others: someone else may still log in ...
    assert throttle.retry_after("someone_else", "10.0.0.1") == 0
    # ... but from a suspect address one failure per username locks it (3 elsewhere).
    throttle.failed("someone_else", "10.0.0.1")
    assert throttle.retry_after("someone_else", "10.0.0.1") > 0
    throttle.failed("someone_else", "10.0.0.2")
    assert throttle.retry_after("someone_else", "10.0.0.2") == 0


def test_two_throttles_share_the_counts(throttle, database, tables):
    other = LoginThrottle(database, tables, max_failures=3, window_seconds=300)
    for _ in range(3):
        other.failed("ann", None)
    assert throttle.retry_after("ann", None) > 0
