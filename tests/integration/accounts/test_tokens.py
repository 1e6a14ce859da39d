"""API tokens: shown once, stored hashed, verified by id, revoked, expiring."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.accounts import (
    AccountError,
    create_token,
    create_user,
    deactivate_user,
    list_tokens,
    revoke_token,
    verify_token,
)


@pytest.fixture
def ann(database, tables):
    return create_user(database, tables, "ann")


def _row(database, tables, token_id):
    with database.read() as conn:
        return conn.execute(sa.select(tables.tokens).where(tables.tokens.c.id == token_id)).first()


def test_token_verifies_to_its_user_and_is_stored_hashed(database, tables, ann):
    token = create_token(database, tables, "ann", name="ci")
    assert token.startswith("loom_")
    assert verify_token(database, tables, token) == ann
    token_id, secret = token.split("_", 2)[1:]
    row = _row(database, tables, int(token_id))
    assert secret not in row.secret_hash and len(row.secret_hash) == 64


def test_tampered_or_garbage_tokens_are_refused(database, tables, ann):
    token = create_token(database, tables, "ann")
    _prefix, token_id, secret = token.split("_", 2)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), f"loom_{int(token_id) + 1}_{secret}",
                "", "loom_", "Bearer x", "loom_0_" + secret, None, "loom_1_" + "a" * 500):
        assert verify_token(database, tables, bad) is None


def test_revoked_token_is_refused(database, tables, ann):
    token = create_token(database, tables, "ann")
    token_id = int(token.split("_")[1])
    revoke_token(database, tables, token_id)
    assert verify_token(database, tables, token) is None
    assert list_tokens(database, tables, "ann")[0]["revoked_at"] is not None
    with pytest.raises(AccountError, match="unknown token"):
        revoke_token(database, tables, token_id + 100)


def test_expired_token_is_refused(database, tables, ann):
    token = create_token(database, tables, "ann",
                         expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert verify_token(database, tables, token) == ann
    with database.write() as conn:
        conn.execute(tables.tokens.update().values(
            expires_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)))
    assert verify_token(database, tables, token) is None


def test_expiry_in_the_past_is_refused(database, tables, ann):
    with pytest.raises(AccountError, match="future"):
        create_token(database, tables, "ann", expires_at=dt.datetime(2000, 1, 1))


def test_token_of_inactive_user_is_refused(database, tables, ann):
    token = create_token(database, tables, "ann")
    with database.write() as conn:
        conn.execute(tables.users.update().values(active=False))
    assert verify_token(database, tables, token) is None
    with pytest.raises(AccountError, match="not active"):
        create_token(database, tables, "ann")


def test_last_used_is_written_at_most_once_a_minute(database, tables, ann):
    token = create_token(database, tables, "ann")
    token_id = int(token.split("_")[1])
    verify_token(database, tables, token)
    first = _row(database, tables, token_id).last_used_at
    assert first is not None
    verify_token(database, tables, token)
    assert _row(database, tables, token_id).last_used_at == first
    old = first - dt.timedelta(minutes=2)
    with database.write() as conn:
        conn.execute(tables.tokens.update().values(last_used_at=old))
    verify_token(database, tables, token)
    assert _row(database, tables, token_id).last_used_at > old


def test_list_tokens_never_shows_secrets(database, tables, ann):
    create_token(database, tables, "ann", name="one")
    create_token(database, tables, "ann", name="two")
    listed = list_tokens(database, tables, "ann")
    assert [t["name"] for t in listed] == ["two", "one"]
    assert all("secret_hash" not in t for t in listed)


def test_deactivating_revokes_every_token(database, tables, ann):
    tokens = [create_token(database, tables, "ann") for _ in range(2)]
    deactivate_user(database, tables, "ann")
    assert all(t["revoked_at"] is not None for t in list_tokens(database, tables, "ann"))
    assert all(verify_token(database, tables, t) is None for t in tokens)
