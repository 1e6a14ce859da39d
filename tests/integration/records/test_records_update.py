"""Updating and deleting: optimistic locking, no-op updates, restrictions, audit and history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from records_support import ALICE, BOB, count, rows

from engine.permissions import Actor
from engine.records import RecordNotFound, ValidationFailed, VersionConflict


@pytest.fixture
def deal(svc, alice):
    return svc.create(alice, "deal", {"title": "T", "amount": "100", "probability": 50})


def test_update_changes_fields_bumps_the_version_and_recomputes_formulas(svc, alice, bob, deal):
    updated = svc.update(bob, "deal", deal["id"], {"amount": "300"}, version=deal["version"])
    assert updated["version"] == 2 and updated["amount"] == Decimal("300.00")
    assert updated["weighted"] == Decimal("150.00")
    assert updated["updated_by"] == BOB and updated["created_by"] == ALICE
    assert updated["updated_at"] >= deal["updated_at"] and updated["created_at"] == deal["created_at"]
    assert svc.get(alice, "deal", deal["id"])["weighted"] == Decimal("150.00")


def test_stale_version_is_refused(svc, alice, deal):
    svc.update(alice, "deal", deal["id"], {"title": "first"}, version=1)
    with pytest.raises(VersionConflict) as info:
        svc.update(alice, "deal", deal["id"], {"title": "second"}, version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert "zh-CN" in info.value.message.as_dict()
    assert svc.get(alice, "deal", deal["id"])["title"] == "first"


def test_update_needs_the_version_except_for_the_system(svc, alice, system, deal):
    with pytest.raises(ValidationFailed) as info:
        svc.update(alice, "deal", deal["id"], {"title": "x"}, version=None)
    assert info.value.codes() == {"version": ["required"]}
    assert svc.update(system, "deal", deal["id"], {"title": "x"}, version=None)["version"] == 2


def test_update_that_changes_nothing_writes_nothing(svc, alice, deal, tables):
    same = svc.update(alice, "deal", deal["id"], {"amount": "100.00", "title": "T"}, version=1)
    assert same["version"] == 1
    assert count(svc.db, tables.audit) == 1 and count(svc.db, tables.outbox) == 1


def test_update_audits_only_what_changed_with_old_and_new_json_values(svc, alice, deal, tables):
    svc.update(alice, "deal", deal["id"], {"amount": "200", "title": "T"}, version=1)
    entry = rows(svc.db, tables.audit)[-1]
    assert entry["action"] == "update"
    assert entry["changes"] == {"amount": ["100.00", "200.00"], "weighted": ["50.00", "100.00"],
                                "weighted_label": ["lead:50", "lead:100"]}
    event = rows(svc.db, tables.outbox)[-1]
    assert event["event"] == "record.updated" and event["payload"]["version"] == 2


def test_update_of_unknown_record_is_not_found(svc, alice):
    with pytest.raises(RecordNotFound, match="no deal record with id 999"):
        svc.update(alice, "deal", 999, {"title": "x"}, version=1)


def test_update_validates_the_merged_record(svc, alice, deal, tables):
    with pytest.raises(ValidationFailed) as info:
        svc.update(alice, "deal", deal["id"], {"stage": "lost", "weighted": 1}, version=1)
    assert info.value.codes() == {"weighted": ["read_only"], "loss_reason": ["required"]}
    assert count(svc.db, tables.audit) == 1


def test_read_only_if_freezes_a_field_while_the_stored_record_matches(svc, alice, deal):
    won = svc.update(alice, "deal", deal["id"], {"stage": "won", "locked_note": "a"}, version=1)
    with pytest.raises(ValidationFailed) as info:
        svc.update(alice, "deal", deal["id"], {"locked_note": "b"}, version=won["version"])
    assert info.value.codes() == {"locked_note": ["read_only"]}
    lost = svc.update(alice, "deal", deal["id"], {"stage": "lost", "loss_reason": "price"},
                      version=won["version"])
    assert svc.update(alice, "deal", deal["id"], {"locked_note": "b"},
                      version=lost["version"])["locked_note"] == "b"


def test_many_to_many_update_replaces_the_links(svc, alice, deal, tables):
    a, b, c = (svc.create(alice, "tag", {"name": n})["id"] for n in "abc")
    first = svc.update(alice, "deal", deal["id"], {"tags": [a, b]}, version=1)
    second = svc.update(alice, "deal", deal["id"], {"tags": [c, b]}, version=first["version"])
    assert second["tags"] == sorted([b, c])
    assert sorted(r["target_id"] for r in rows(svc.db, tables.link("deal", "tags"))) == sorted([b, c])
    assert rows(svc.db, tables.audit)[-1]["changes"]["tags"] == [sorted([a, b]), sorted([b, c])]


def test_delete_removes_the_record_and_audits_its_last_values(svc, alice, deal, tables):
    svc.delete(alice, "deal", deal["id"], version=1)
    with pytest.raises(RecordNotFound):
        svc.get(alice, "deal", deal["id"])
    entry = rows(svc.db, tables.audit)[-1]
    assert entry["action"] == "delete" and entry["changes"]["title"] == ["T", None]
    assert rows(svc.db, tables.outbox)[-1]["event"] == "record.deleted"


def test_delete_with_stale_version_is_refused(svc, alice, deal):
    svc.update(alice, "deal", deal["id"], {"title": "x"}, version=1)
    with pytest.raises(VersionConflict):
        svc.delete(alice, "deal", deal["id"], version=1)
    assert svc.get(alice, "deal", deal["id"])["title"] == "x"


def test_delete_of_a_referenced_record_is_refused_with_a_clear_error(svc, alice, tables):
    account = svc.create(alice, "account", {"name": "Acme"})
    svc.create(alice, "deal", {"title": "T", "account": account["id"]})
    with pytest.raises(ValidationFailed) as info:
        svc.delete(alice, "account", account["id"])
    [error] = info.value.errors
    assert error.code == "referenced" and "1 deal record(s)" in error.message.get("en")
    assert count(svc.db, tables.entity("account")) == 1


def test_history_lists_every_change_oldest_first(svc, alice, bob, deal):
    svc.update(bob, "deal", deal["id"], {"stage": "qualified"}, version=1)
    history = svc.history(alice, "deal", deal["id"])
    assert [(h["action"], h["actor_id"]) for h in history] == [("create", ALICE), ("update", BOB)]
    assert history[1]["changes"]["stage"] == ["lead", "qualified"]
    assert history[0]["at"].tzinfo is not None


def test_history_survives_delete_and_unknown_records_are_not_found(svc, alice, deal):
    svc.delete(alice, "deal", deal["id"])
    assert [h["action"] for h in svc.history(alice, "deal", deal["id"])] == ["create", "delete"]
    with pytest.raises(RecordNotFound):
        svc.history(alice, "deal", 12345)


def test_the_system_actor_writes_without_a_user(svc, system, tables):
    deal = svc.create(system, "deal", {"title": "by the system"})
    assert deal["created_by"] is None and deal["owner"] is None
    assert rows(svc.db, tables.audit)[0]["actor_id"] is None
    assert Actor.system().is_system and not Actor(None).is_system
