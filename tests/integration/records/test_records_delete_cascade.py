"""Deleting a record handles what points at it: cascade, set_null and restrict, each audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from records_support import ALICE, BOB, count, install, rows

from engine.compiler import compile_documents
from engine.permissions import WRITE, Actor
from engine.records import PermissionDenied, RecordService, ValidationFailed
from engine.spec import MemorySource

ACCOUNT = {"entity": "account", "label": "Account", "display_field": "name",
           "fields": [{"name": "name", "type": "string", "required": True}]}
CONTACT = {"entity": "contact", "label": "Contact", "fields": [
    {"name": "name", "type": "string", "required": True},
    {"name": "account", "type": "relation", "target": "account", "required": True,
     "on_delete": "cascade"}]}
ACTIVITY = {"entity": "activity", "label": "Activity", "fields": [
    {"name": "subject", "type": "string"},
    {"name": "contact", "type": "relation", "target": "contact", "required": True,
     "on_delete": "cascade"},
    # Nothing reads it: emptied without loading the records.
    {"name": "account", "type": "relation", "target": "account", "on_delete": "set_null",
     "inverse": {"name": "activities"}}]}
DEAL = {"entity": "deal", "label": "Deal", "fields": [
    {"name": "title", "type": "string", "required": True},
    {"name": "stage", "type": "select", "options": [{"value": "open"}, {"value": "won"}],
     "default": "open"},
    {"name": "account", "type": "relation", "target": "account", "on_delete": "set_null",
     "required_if": "stage == 'won'"},
    {"name": "contact", "type": "relation", "target": "contact", "on_delete": "set_null"},
    {"name": "partners", "type": "many_to_many", "target": "account",
     "inverse": {"name": "partner_deals"}}]}
INVOICE = {"entity": "invoice", "label": "Invoice", "fields": [
    {"name": "number", "type": "string", "required": True},
    {"name": "account", "type": "relation", "target": "account", "on_delete": "restrict",
     "inverse": {"name": "invoices"}},
    {"name": "contact", "type": "relation", "target": "contact", "on_delete": "restrict"}]}
# Deleted with its account, and restricting its contact (deleted with the account too).
TICKET = {"entity": "ticket", "label": "Ticket", "fields": [
    {"name": "account", "type": "relation", "target": "account", "on_delete": "cascade",
     "inverse": {"name": "tickets"}},
    {"name": "contact", "type": "relation", "target": "contact", "on_delete": "restrict",
     "inverse": {"name": "tickets"}}]}
NODE = {"entity": "node", "label": "Node", "fields": [
    {"name": "name", "type": "string"},
    {"name": "parent", "type": "relation", "target": "node", "on_delete": "cascade",
     "inverse": {"name": "children"}}]}


class Forbid:
    """Allows everything but the (entity, action) pairs given; sales see their own records."""

    def __init__(self, *refused: tuple[str, str], scoped: bool = False) -> None:
        self.refused, self.scoped = set(refused), scoped

    def can(self, actor, entity, action):
        return (entity, action) not in self.refused

    def scope(self, actor, entity, table):
        return table.c.owner == actor.user_id if self.scoped else None

    def field_access(self, actor, entity, field):
        return WRITE


@pytest.fixture(scope="module")
def model():
    errors: list = []
    specs = (ACCOUNT, CONTACT, ACTIVITY, DEAL, INVOICE, TICKET, NODE)
    return compile_documents(MemorySource(*specs).documents(errors), errors)


@pytest.fixture
def tables(database, model):
    return install(database, model)


@pytest.fixture
def make(database, model, tables):
    return lambda policy=None: RecordService(database, model, tables, policy)


@pytest.fixture
def svc(make):
    return make()


@pytest.fixture
def alice():
    return Actor(ALICE, roles=("sales",))


@pytest.fixture
def crm(svc, alice):
    """Account ``acme`` with two contacts, an activity and two deals; ``other`` with a deal."""
    acme = svc.create(alice, "account", {"name": "Acme"})["id"]
    other = svc.create(alice, "account", {"name": "Other"})["id"]
    ann = svc.create(alice, "contact", {"name": "Ann", "account": acme})["id"]
    bo = svc.create(alice, "contact", {"name": "Bo", "account": acme})["id"]
    call = svc.create(alice, "activity", {"subject": "call", "contact": ann, "account": acme})["id"]
    big = svc.create(alice, "deal", {"title": "Big", "account": acme, "contact": ann})["id"]
    small = svc.create(alice, "deal", {"title": "Small", "account": acme})["id"]
    kept = svc.create(alice, "deal", {"title": "Kept", "account": other, "partners": [acme]})["id"]
    return {"acme": acme, "other": other, "ann": ann, "bo": bo, "call": call, "big": big,
            "small": small, "kept": kept}


def audit_of(svc, tables, entity, record_id):
    return [(r["action"], r["changes"]) for r in rows(svc.db, tables.audit,
                                                        tables.audit.c.entity == entity,
                                                        tables.audit.c.record_id == record_id)]


def events_of(svc, tables, entity, record_id):
    return [(r["event"], r["payload"]) for r in rows(svc.db, tables.outbox,
                                                       tables.outbox.c.entity == entity,
                                                       tables.outbox.c.record_id == record_id)]


def snapshot(db, tables):
    """Every row of every table, to show a refused delete changed nothing."""
    return {name: rows(db, table) for name, table in tables.metadata.tables.items()
            if name != "loom_schema_versions"}


def test_cascaded_and_emptied_records_get_audit_rows_events_and_versions(svc, alice, crm, tables):
    svc.delete(alice, "account", crm["acme"])
    assert count(svc.db, tables.entity("contact")) == 0
    cause = {"entity": "account", "record_id": crm["acme"]}
    for contact, name in ((crm["ann"], "Ann"), (crm["bo"], "Bo")):
        [(action, changes)] = audit_of(svc, tables, "contact", contact)[1:]
        assert action == "delete" and changes["name"] == [name, None]
        assert changes["account"] == [crm["acme"], None]
        [(event, payload)] = events_of(svc, tables, "contact", contact)[1:]
        assert event == "record.deleted" and payload["cause"] == cause
    big, small, kept = (svc.get(alice, "deal", crm[n]) for n in ("big", "small", "kept"))
    assert (big["account"], big["contact"], big["version"]) == (None, None, 2)
    assert (small["account"], small["version"], kept["version"]) == (None, 2, 1)
    # One change per record, whichever deleted records it pointed at.
    assert audit_of(svc, tables, "deal", crm["big"])[1:] == [
        ("update", {"account": [crm["acme"], None], "contact": [crm["ann"], None]})]
    assert audit_of(svc, tables, "deal", crm["small"])[1:] == [
        ("update", {"account": [crm["acme"], None]})]
    assert events_of(svc, tables, "deal", crm["small"])[1:] == [
        ("record.updated", {"version": 2, "changes": {"account": [crm["acme"], None]},
                            "cause": cause})]
    [(event, payload)] = events_of(svc, tables, "account", crm["acme"])[1:]
    assert event == "record.deleted" and "cause" not in payload
    history = svc.history(alice, "deal", crm["small"])
    assert [(h["action"], h["actor_id"]) for h in history] == [("create", ALICE), ("update", ALICE)]


def test_nested_cascades_are_audited_at_every_level(svc, alice, crm, tables):
    svc.delete(alice, "account", crm["acme"])
    assert count(svc.db, tables.entity("activity")) == 0
    # Deleted through its contact, so not also emptied through its account.
    [(action, changes)] = audit_of(svc, tables, "activity", crm["call"])[1:]
    assert action == "delete" and changes["subject"] == ["call", None]
    [(event, payload)] = events_of(svc, tables, "activity", crm["call"])[1:]
    assert event == "record.deleted" and payload["cause"]["record_id"] == crm["acme"]
    # 2 contacts + 1 activity + 1 account deleted, 2 deals emptied.
    assert count(svc.db, tables.audit, tables.audit.c.action == "delete") == 4
    assert count(svc.db, tables.outbox, tables.outbox.c.event == "record.updated") == 2


def test_a_set_null_relation_nothing_reads_is_emptied_and_audited(svc, alice, crm, tables):
    other = svc.create(alice, "contact", {"name": "Cy", "account": crm["other"]})["id"]
    note = svc.create(alice, "activity", {"subject": "note", "contact": other,
                                          "account": crm["acme"]})["id"]
    svc.delete(alice, "account", crm["acme"])
    assert svc.get(alice, "activity", note)["version"] == 2
    assert audit_of(svc, tables, "activity", note)[1:] == [
        ("update", {"account": [crm["acme"], None]})]


def test_the_deleted_records_audit_lists_who_linked_to_it(svc, alice, crm, tables):
    svc.delete(alice, "account", crm["acme"])
    [(_, changes)] = audit_of(svc, tables, "account", crm["acme"])[1:]
    assert changes["partner_deals"] == [[crm["kept"]], None]
    assert svc.get(alice, "deal", crm["kept"])["partners"] == []


def test_restrict_refuses_with_the_clear_error_and_changes_nothing(svc, alice, crm, tables):
    svc.create(alice, "invoice", {"number": "1", "account": crm["acme"]})
    svc.create(alice, "invoice", {"number": "2", "account": crm["other"], "contact": crm["bo"]})
    before = snapshot(svc.db, tables)
    with pytest.raises(ValidationFailed) as info:
        svc.delete(alice, "account", crm["acme"])
    messages = sorted(e.message.get("en") for e in info.value.errors)
    assert {e.code for e in info.value.errors} == {"referenced"}
    assert messages == [
        ("1 invoice record(s) still refer through 'Contact' to contact "
         f"{crm['bo']}, which deleting it would delete too; change or delete them first"),
        "1 invoice record(s) still refer to it through 'Account'; change or delete them first"]
    # Labels, never entity or field names, in each language.
    assert "仍有 1 条Invoice记录通过“Account”引用它，请先修改或删除这些记录" in {
        e.message.get("zh-CN") for e in info.value.errors}
    assert snapshot(svc.db, tables) == before


def test_a_restricting_record_deleted_too_goes_first_and_does_not_block(svc, alice, crm, tables):
    ticket = svc.create(alice, "ticket", {"account": crm["acme"], "contact": crm["ann"]})["id"]
    svc.delete(alice, "account", crm["acme"])
    assert count(svc.db, tables.entity("ticket")) == 0
    assert [a for a, _ in audit_of(svc, tables, "ticket", ticket)] == ["create", "delete"]


def test_a_dependent_the_actor_may_not_delete_refuses_the_whole_delete(make, alice, crm, tables):
    before = snapshot(make().db, tables)
    with pytest.raises(PermissionDenied, match="you may not delete contact records") as info:
        make(Forbid(("contact", "delete"))).delete(alice, "account", crm["acme"])
    assert info.value.entity == "contact" and info.value.action == "delete"
    with pytest.raises(PermissionDenied, match="you may not update deal records") as info:
        make(Forbid(("deal", "update"))).delete(alice, "account", crm["acme"])
    assert "would empty 'Account' of 2 of them" in str(info.value)
    assert snapshot(make().db, tables) == before


def test_a_dependent_outside_the_actors_scope_refuses_the_delete(make, alice, crm, tables):
    bob = Actor(BOB, roles=("sales",))
    make().create(bob, "contact", {"name": "Bob's", "account": crm["acme"]})
    before = snapshot(make().db, tables)
    with pytest.raises(PermissionDenied, match="delete contact records outside your own scope"):
        make(Forbid(scoped=True)).delete(alice, "account", crm["acme"])
    assert snapshot(make().db, tables) == before


def test_a_rule_an_emptied_record_would_break_refuses_the_delete(svc, alice, crm, tables):
    svc.update(alice, "deal", crm["small"], {"stage": "won"}, version=1)
    before = snapshot(svc.db, tables)
    with pytest.raises(ValidationFailed) as info:
        svc.delete(alice, "account", crm["acme"])
    [error] = info.value.errors
    assert error.code == "required" and error.field is None
    assert error.message.get("en") == (f"deleting it would empty 'Account' of deal {crm['small']},"
                                       " and then: Account is required")
    assert snapshot(svc.db, tables) == before


def test_a_failure_after_the_dependents_were_written_rolls_everything_back(svc, alice, crm, tables):
    before = snapshot(svc.db, tables)

    def fail_on_outbox(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO LOOM_OUTBOX"):
            raise RuntimeError("outbox unavailable")

    sa.event.listen(svc.db.engine, "before_cursor_execute", fail_on_outbox)
    try:
        with pytest.raises(RuntimeError, match="outbox unavailable"):
            svc.delete(alice, "account", crm["acme"])
    finally:
        sa.event.remove(svc.db.engine, "before_cursor_execute", fail_on_outbox)
    assert snapshot(svc.db, tables) == before
    svc.delete(alice, "account", crm["acme"])  # and it works once the outbox is back
    assert count(svc.db, tables.entity("contact")) == 0


def test_cascades_through_a_cycle_delete_and_audit_each_record_once(svc, alice, tables):
    a = svc.create(alice, "node", {"name": "a"})
    b = svc.create(alice, "node", {"name": "b", "parent": a["id"]})
    c = svc.create(alice, "node", {"name": "c", "parent": b["id"]})
    svc.update(alice, "node", a["id"], {"parent": c["id"]}, version=1)
    svc.delete(alice, "node", b["id"])
    assert count(svc.db, tables.entity("node")) == 0
    deletes = rows(svc.db, tables.audit, tables.audit.c.action == "delete")
    assert sorted(r["record_id"] for r in deletes) == sorted([a["id"], b["id"], c["id"]])
    assert count(svc.db, tables.outbox, tables.outbox.c.event == "record.deleted") == 3
