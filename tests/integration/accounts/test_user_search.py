"""Looking users up by part of their name: active ones only, any case, wildcards taken literally."""

from __future__ import annotations

from engine.accounts import create_user, deactivate_user, search_users


def _made(database, tables) -> dict[str, int]:
    out = {}
    for username, display in (("zhang.wei", "张伟"), ("anna", "Anna Berg"), ("ben", ""),
                              ("carl_100", "Carl 100% Sales"), ("dora", "Dora Bergmann")):
        out[username] = create_user(database, tables, username, display_name=display)
    deactivate_user(database, tables, "dora")
    return out


def test_matches_username_or_display_name_in_any_case(database, tables):
    ids = _made(database, tables)
    assert [u["id"] for u in search_users(database, tables, "BERG", 10)] == [ids["anna"]]
    assert [u["username"] for u in search_users(database, tables, "zhang", 10)] == ["zhang.wei"]
    assert [u["label"] for u in search_users(database, tables, "张", 10)] == ["张伟"]
    assert search_users(database, tables, "BEN", 10) == [
        {"id": ids["ben"], "label": "ben", "username": "ben"}]  # no display name: the username


def test_deactivated_users_are_never_found(database, tables):
    _made(database, tables)
    assert search_users(database, tables, "dora", 10) == []
    assert "dora" not in {u["username"] for u in search_users(database, tables, "", 100)}


def test_like_wildcards_in_the_query_match_only_themselves(database, tables):
    ids = _made(database, tables)
    assert [u["id"] for u in search_users(database, tables, "%", 10)] == [ids["carl_100"]]
    assert [u["id"] for u in search_users(database, tables, "l_1", 10)] == [ids["carl_100"]]
    assert search_users(database, tables, "a_n", 10) == []


def test_everyone_by_label_up_to_the_limit(database, tables):
    _made(database, tables)
    labels = [u["label"] for u in search_users(database, tables, "", 100)]
    assert labels[:3] == ["Anna Berg", "ben", "Carl 100% Sales"]
    assert len(labels) == 4
    assert [u["label"] for u in search_users(database, tables, "", 2)] == labels[:2]
