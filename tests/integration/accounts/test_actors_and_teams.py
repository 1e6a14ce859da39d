"""Actors built from the database: roles, team ids and the managed team tree."""

from __future__ import annotations

import pytest

from engine.accounts import AccountError, actor_for, create_team, list_teams, team_tree
from engine.accounts.users import deactivate_user


def test_salesperson_actor_has_roles_and_own_team(actors, database, tables):
    east1 = actors["east1"]
    east = _team_ids(database, tables)["East"]
    assert east1.roles == ("sales",) and east1.team_ids == (east,) and east1.tree_team_ids == (east,)


def test_manager_tree_covers_managed_team_and_teams_below(actors, database, tables):
    ids = _team_ids(database, tables)
    boss = actors["boss"]
    assert boss.team_ids == ()
    assert boss.tree_team_ids == tuple(sorted((ids["Sales"], ids["East"], ids["West"])))


def test_inactive_or_unknown_user_has_no_actor(database, tables, people):
    deactivate_user(database, tables, "east1")
    assert actor_for(database, tables, people["east1"]) is None
    assert actor_for(database, tables, 99999) is None


def test_language_override(database, tables, people):
    assert actor_for(database, tables, people["east1"], lang="zh-CN").lang == "zh-CN"


def test_teams_are_listed_with_parent_manager_and_members(database, tables, people):
    listed = {t["name"]: t for t in list_teams(database, tables)}
    assert listed["Sales"]["manager"] == "boss" and listed["Sales"]["parent"] is None
    assert listed["East"]["parent"] == "Sales" and listed["East"]["members"] == ["east1", "east2"]


def test_team_names_are_unique_and_references_checked(database, tables, people):
    with pytest.raises(AccountError, match="already exists"):
        create_team(database, tables, "East")
    with pytest.raises(AccountError, match="unknown team"):
        create_team(database, tables, "North", parent="Nowhere")
    with pytest.raises(AccountError, match="unknown user"):
        create_team(database, tables, "North", manager="ghost")


def test_team_tree_walks_down_only():
    parents = {1: None, 2: 1, 3: 1, 4: 2, 5: None}
    assert team_tree(parents, [1]) == (1, 2, 3, 4)
    assert team_tree(parents, [2, 5]) == (2, 4, 5)
    assert team_tree(parents, []) == ()


def _team_ids(database, tables):
    return {t["name"]: t["id"] for t in list_teams(database, tables)}
