"""Users: creation, passwords (argon2id), authentication, roles, language, deactivation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from accounts_support import PASSWORD

from engine.accounts import (
    AccountError,
    PasswordTooWeak,
    authenticate,
    create_token,
    create_user,
    deactivate_user,
    find_user,
    get_user,
    grant_role,
    list_users,
    revoke_role,
    set_lang,
    set_password,
    set_time_zone,
    verify_token,
)


def test_created_user_authenticates_with_the_right_password_only(database, tables):
    uid = create_user(database, tables, "ann", password=PASSWORD, email="ann@example.com",
                      display_name="Ann", lang="zh-CN", roles=("sales",))
    assert authenticate(database, tables, "ann", PASSWORD) == uid
    assert authenticate(database, tables, "ann", PASSWORD + "x") is None
    assert authenticate(database, tables, "nobody", PASSWORD) is None
    assert get_user(database, tables, uid) == {
        "id": uid, "username": "ann", "display_name": "Ann", "email": "ann@example.com",
        "lang": "zh-CN", "time_zone": None, "active": True, "roles": ["sales"]}


def test_password_is_stored_as_an_argon2id_hash(database, tables):
    uid = create_user(database, tables, "ann", password=PASSWORD)
    with database.read() as conn:
        stored = conn.execute(sa.select(tables.credentials.c.password_hash)
                              .where(tables.credentials.c.user_id == uid)).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_default_hasher_uses_argon2id():
    from argon2 import Type

    from engine.accounts.passwords import PasswordHasher

    assert PasswordHasher().type is Type.ID


def test_user_without_password_cannot_log_in(database, tables):
    create_user(database, tables, "ann")
    assert authenticate(database, tables, "ann", "") is None
    assert authenticate(database, tables, "ann", PASSWORD) is None


def test_short_password_is_refused(database, tables):
    with pytest.raises(PasswordTooWeak, match="at least 8"):
        create_user(database, tables, "ann", password="short")
    assert list_users(database, tables) == []


def test_duplicate_and_invalid_usernames_are_refused(database, tables):
    create_user(database, tables, "ann")
    with pytest.raises(AccountError, match="already exists"):
        create_user(database, tables, "ann")
    for bad in ("", " ann", "a b", "<script>", "x" * 151):
        with pytest.raises(AccountError):
            create_user(database, tables, bad)


def test_set_password_replaces_the_old_one(database, tables):
    uid = create_user(database, tables, "ann", password=PASSWORD)
    set_password(database, tables, "ann", "another password")
    assert authenticate(database, tables, "ann", PASSWORD) is None
    assert authenticate(database, tables, "ann", "another password") == uid
    with pytest.raises(AccountError, match="unknown user"):
        set_password(database, tables, "ghost", "another password")


def test_set_password_on_a_user_without_one(database, tables):
    uid = create_user(database, tables, "ann")
    set_password(database, tables, "ann", PASSWORD)
    assert authenticate(database, tables, "ann", PASSWORD) == uid


def test_deactivated_user_cannot_log_in_and_loses_tokens(database, tables):
    create_user(database, tables, "ann", password=PASSWORD)
    token = create_token(database, tables, "ann")
    deactivate_user(database, tables, "ann")
    assert authenticate(database, tables, "ann", PASSWORD) is None
    assert verify_token(database, tables, token) is None
    assert list_users(database, tables)[0]["active"] is False


def test_roles_are_granted_once_and_revoked(database, tables):
    uid = create_user(database, tables, "ann")
    grant_role(database, tables, "ann", "sales")
    grant_role(database, tables, "ann", "sales")
    grant_role(database, tables, "ann", "service")
    assert get_user(database, tables, uid)["roles"] == ["sales", "service"]
    revoke_role(database, tables, "ann", "sales")
    assert get_user(database, tables, uid)["roles"] == ["service"]


def test_language_is_checked_and_stored(database, tables):
    uid = create_user(database, tables, "ann")
    set_lang(database, tables, uid, "zh-CN")
    assert get_user(database, tables, uid)["lang"] == "zh-CN"
    with pytest.raises(AccountError, match="unknown language"):
        set_lang(database, tables, uid, "fr")


def test_list_users_is_sorted_with_roles(database, tables):
    create_user(database, tables, "zed", roles=("admin",))
    create_user(database, tables, "amy")
    assert [(u["username"], u["roles"]) for u in list_users(database, tables)] == [
        ("amy", []), ("zed", ["admin"])]


def test_get_user_of_unknown_id_is_none(database, tables):
    assert get_user(database, tables, 12345) is None


def test_outdated_hash_is_upgraded_on_login(database, tables, monkeypatch):
    from argon2 import PasswordHasher

    from engine.accounts import passwords

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: weak)
    uid = create_user(database, tables, "ann", password=PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: stronger)
    assert authenticate(database, tables, "ann", PASSWORD) == uid
    with database.read() as conn:
        stored = conn.execute(sa.select(tables.credentials.c.password_hash)).scalar()
    assert "t=2" in stored and authenticate(database, tables, "ann", PASSWORD) == uid


def test_a_users_time_zone_is_kept_and_none_means_the_organisations(database, tables):
    uid = create_user(database, tables, "zoe", time_zone="Asia/Shanghai")
    assert get_user(database, tables, uid)["time_zone"] == "Asia/Shanghai"
    set_time_zone(database, tables, uid, "Europe/Berlin")
    assert get_user(database, tables, uid)["time_zone"] == "Europe/Berlin"
    set_time_zone(database, tables, uid, "")
    assert get_user(database, tables, uid)["time_zone"] is None


def test_an_unknown_user_time_zone_is_refused_and_changes_nothing(database, tables):
    uid = create_user(database, tables, "zed", time_zone="Asia/Shanghai")
    with pytest.raises(AccountError, match="unknown time zone 'Moon/Base'"):
        set_time_zone(database, tables, uid, "Moon/Base")
    with pytest.raises(AccountError, match="unknown time zone"):
        create_user(database, tables, "zed2", time_zone="Moon/Base")
    assert get_user(database, tables, uid)["time_zone"] == "Asia/Shanghai"
    assert find_user(database, tables, "zed2") is None
