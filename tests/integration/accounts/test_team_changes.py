"""Changing teams after they exist: manager, parent (never a cycle), members; users by name."""

from __future__ import annotations

import pytest

from engine.accounts import (
    AccountError,
    actor_for,
    add_member,
    create_team,
    find_user,
    list_teams,
    remove_member,
    set_manager,
    set_parent,
)


def _teams(database, tables):
    return {t["name"]: t for t in list_teams(database, tables)}


def test_manager_is_changed_and_cleared(database, tables, people):
    set_manager(database, tables, "East", "east1")
    assert _teams(database, tables)["East"]["manager"] == "east1"
    # The new manager's tree now covers East; the old one still has Sales and below.
    east = _teams(database, tables)["East"]["id"]
    assert actor_for(database, tables, people["east1"]).tree_team_ids == (east,)
    set_manager(database, tables, "East", None)
    assert _teams(database, tables)["East"]["manager"] is None
    set_manager(database, tables, "Sales", "root")
    assert _teams(database, tables)["Sales"]["manager"] == "root"
    assert actor_for(database, tables, people["boss"]).tree_team_ids == ()


def test_manager_must_be_a_known_user_of_a_known_team(database, tables, people):
    with pytest.raises(AccountError, match="unknown user 'ghost'"):
        set_manager(database, tables, "East", "ghost")
    with pytest.raises(AccountError, match="unknown team 'Nowhere'"):
        set_manager(database, tables, "Nowhere", "boss")
    assert _teams(database, tables)["East"]["manager"] is None


def test_parent_is_changed_and_the_tree_follows(database, tables, people):
    create_team(database, tables, "North")
    set_parent(database, tables, "North", "East")
    teams = _teams(database, tables)
    assert teams["North"]["parent"] == "East"
    boss = actor_for(database, tables, people["boss"])
    assert teams["North"]["id"] in boss.tree_team_ids  # Sales > East > North
    set_parent(database, tables, "East", None)
    teams = _teams(database, tables)
    assert teams["East"]["parent"] is None
    boss = actor_for(database, tables, people["boss"])
    assert teams["East"]["id"] not in boss.tree_team_ids
    assert teams["North"]["id"] not in boss.tree_team_ids


def test_a_team_cannot_become_its_own_ancestor(database, tables, people):
    create_team(database, tables, "North", parent="East")
    with pytest.raises(AccountError, match="own ancestor"):
        set_parent(database, tables, "Sales", "Sales")
    with pytest.raises(AccountError, match="own ancestor"):
        set_parent(database, tables, "Sales", "East")  # East is below Sales
    with pytest.raises(AccountError, match="own ancestor"):
        set_parent(database, tables, "Sales", "North")  # two levels below
    teams = _teams(database, tables)
    assert teams["Sales"]["parent"] is None and teams["East"]["parent"] == "Sales"
    assert teams["North"]["parent"] == "East"
    set_parent(database, tables, "West", "North")  # a sideways move is fine
    assert _teams(database, tables)["West"]["parent"] == "North"


def test_parent_must_be_a_known_team(database, tables, people):
    with pytest.raises(AccountError, match="unknown team 'Nowhere'"):
        set_parent(database, tables, "East", "Nowhere")
    with pytest.raises(AccountError, match="unknown team 'Nowhere'"):
        set_parent(database, tables, "Nowhere", "Sales")
    assert _teams(database, tables)["East"]["parent"] == "Sales"


def test_members_are_added_once_and_removed(database, tables, people):
    add_member(database, tables, "West", "east1")
    add_member(database, tables, "West", "east1")
    assert _teams(database, tables)["West"]["members"] == ["east1", "west1"]
    remove_member(database, tables, "West", "east1")
    assert _teams(database, tables)["West"]["members"] == ["west1"]
    assert _teams(database, tables)["East"]["members"] == ["east1", "east2"]


def test_removing_someone_who_is_not_a_member_is_refused(database, tables, people):
    with pytest.raises(AccountError, match="not a member"):
        remove_member(database, tables, "West", "east1")
    with pytest.raises(AccountError, match="unknown user"):
        remove_member(database, tables, "West", "ghost")


def test_users_are_found_by_name(database, tables, people):
    boss = find_user(database, tables, "boss")
    assert boss["id"] == people["boss"] and boss["roles"] == ["sales_manager"]
    assert find_user(database, tables, "ghost") is None
