"""bulk_create: the same checks as create, batched, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from records_support import ALICE, count, rows

from engine.records import ValidationFailed


def test_bulk_create_returns_ids_in_input_order_and_stores_every_row(svc, alice, tables):
    ids = svc.bulk_create(alice, "deal", [{"title": f"D{i}", "amount": str(i)} for i in range(7)],
                          batch_size=3)
    assert len(ids) == 7 and ids == sorted(ids)
    stored = {r["id"]: r for r in svc.list(alice, "deal", limit=100).rows}
    assert [stored[i]["title"] for i in ids] == [f"D{i}" for i in range(7)]
    assert stored[ids[3]]["amount"] == Decimal("3.00") and stored[ids[3]]["version"] == 1
    assert stored[ids[3]]["owner"] == ALICE and stored[ids[3]]["stage"] == "lead"


def test_bulk_create_applies_defaults_formulas_and_rules_like_create(svc, alice):
    [one] = svc.bulk_create(alice, "deal", [{"title": "T", "amount": "200", "probability": 50}])
    assert svc.get(alice, "deal", one) | {"created_at": None, "updated_at": None} == \
        svc.create(alice, "deal", {"title": "T", "amount": "200", "probability": 50}) | \
        {"id": one, "created_at": None, "updated_at": None}


def test_bulk_create_writes_an_audit_row_per_record_and_an_event_per_batch(svc, alice, tables):
    ids = svc.bulk_create(alice, "deal", [{"title": f"D{i}"} for i in range(5)], batch_size=2)
    audit = rows(svc.db, tables.audit)
    assert [a["record_id"] for a in audit] == ids and {a["action"] for a in audit} == {"create"}
    assert audit[0]["changes"]["title"] == [None, "D0"] and audit[0]["actor_id"] == ALICE
    events = rows(svc.db, tables.outbox)
    assert [e["event"] for e in events] == ["records.created"] * 3
    assert [e["record_ids"] for e in events] == [ids[0:2], ids[2:4], ids[4:5]]
    assert events[0]["payload"] == {"count": 2} and events[0]["model_version"] == svc.model.version


def test_an_invalid_row_refuses_the_whole_call_listing_errors_by_row(svc, alice, tables):
    good = {"title": "ok"}
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(alice, "deal", [good, {"title": "x" * 61}, good,
                                        {"title": "T", "stage": "nope", "account": 77}, good])
    assert [(e.row, e.field, e.code) for e in info.value.errors] == [
        (1, "title", "max_length"), (3, "stage", "choice"), (3, "account", "reference")]
    assert info.value.as_dict()["errors"][0]["row"] == 1
    assert count(svc.db, tables.entity("deal")) == 0 and count(svc.db, tables.outbox) == 0


def test_bulk_references_and_unique_values_are_checked_per_row(svc, alice, tables):
    account = svc.create(alice, "account", {"name": "Acme"})["id"]
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(alice, "deal", [{"title": "a", "account": account},
                                        {"title": "b", "account": 404}])
    assert [(e.row, e.field, e.code) for e in info.value.errors] == [(1, "account", "reference")]
    svc.create(alice, "tag", {"name": "old"})
    with pytest.raises(ValidationFailed) as info:
        svc.bulk_create(alice, "tag", [{"name": "new"}, {"name": "old"}, {"name": "new"}])
    assert sorted((e.row, e.code) for e in info.value.errors) == [(1, "unique"), (2, "unique")]
    assert count(svc.db, tables.entity("tag")) == 1


def test_bulk_autonumbers_are_one_gap_free_block(svc, alice):
    before = svc.create(alice, "contract", {"title": "first"})["number"]
    ids = svc.bulk_create(alice, "contract", [{"title": f"C{i}"} for i in range(4)], batch_size=3)
    after = svc.create(alice, "contract", {"title": "last"})["number"]
    numbers = [r["number"] for r in svc.list(alice, "contract", sort=["id"]).rows]
    assert numbers[0] == before and numbers[-1] == after
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 7))
    assert len(ids) == 4


def test_bulk_many_to_many_links_are_written(svc, alice, tables):
    tag = svc.create(alice, "tag", {"name": "t"})["id"]
    ids = svc.bulk_create(alice, "deal", [{"title": "a", "tags": [tag]}, {"title": "b"}])
    assert [svc.get(alice, "deal", i)["tags"] for i in ids] == [[tag], []]
    assert rows(svc.db, tables.audit)[-2]["changes"]["tags"] == [None, [tag]]


def test_bulk_ids_continue_after_single_creates_and_the_other_way_round(svc, alice):
    first = svc.create(alice, "deal", {"title": "one"})["id"]
    ids = svc.bulk_create(alice, "deal", [{"title": "two"}, {"title": "three"}])
    last = svc.create(alice, "deal", {"title": "four"})["id"]
    assert first < ids[0] < ids[1] < last


def test_empty_bulk_writes_nothing(svc, alice, tables):
    assert svc.bulk_create(alice, "deal", []) == []
    assert count(svc.db, tables.outbox) == 0
