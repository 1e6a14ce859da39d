"""Contract approval over 500,000: the workflow asks the owner's manager, the engine locks
the contract while pending, the manager approves or rejects with a comment."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from support import add_user, make_crm

from engine.accounts import teams
from engine.automation.approvals import ApprovalRefused, decide, pending_for
from engine.records.errors import ValidationFailed


@pytest.fixture
def crm(database, tmp_path):
    crm = make_crm(database, tmp_path, shipped_workflows=True)
    add_user(crm, "boss", roles=("sales_manager",), team="Sales", manager_of="Sales")
    add_user(crm, "sam", team="East")
    add_user(crm, "ann", team="East")
    teams.set_parent(crm.snapshot.db, crm.snapshot.tables, "East", "Sales")
    crm.runtime.forget_actors()
    return crm


def _contract(crm, actor, amount="800000"):
    account = crm.service.create(actor, "account", {"name": "Acme"})
    today = crm.clock.today()
    return crm.service.create(actor, "contract", {
        "title": "Big deal", "account": account["id"], "amount": amount,
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=365)).isoformat()})


def test_a_large_contract_can_not_become_active_without_approval(crm):
    sam = crm.user("sam")
    contract = _contract(crm, sam)
    with pytest.raises(ValidationFailed) as refused:
        crm.service.update(sam, "contract", contract["id"],
                           {"status": "active", "signed_at": crm.clock.today().isoformat()},
                           version=contract["version"])
    assert "large_needs_approval" in str(refused.value.as_dict())


def test_approval_locks_fields_then_the_manager_approves(crm):
    sam, boss, ann = crm.user("sam"), crm.user("boss"), crm.user("ann")
    contract = _contract(crm, sam)
    contract = crm.service.update(sam, "contract", contract["id"], {"status": "in_approval"},
                                  version=contract["version"])
    crm.work()
    approval = pending_for(crm.snapshot, "contract", contract["id"])
    assert approval is not None and approval["approver_ids"] == [boss.user_id]
    # Locked while pending: the engine refuses, whoever writes.
    current = crm.rows("contract")[0]
    with pytest.raises(ValidationFailed) as locked:
        crm.service.update(sam, "contract", contract["id"], {"amount": "900000"},
                           version=current["version"])
    assert [e.field for e in locked.value.errors] == ["amount"]
    # Unlocked fields may still change.
    crm.service.update(sam, "contract", contract["id"], {"notes": "urgent"},
                       version=current["version"])
    # Only an approver decides.
    with pytest.raises(ApprovalRefused):
        decide(crm.snapshot, ann, approval["id"], approve=True)
    notes = crm.snapshot.tables.notifications
    with crm.snapshot.db.read() as conn:
        asked = conn.execute(sa.select(notes.c.kind).where(notes.c.user_id == boss.user_id)
                             ).scalars().all()
    assert asked == ["approval"]
    result = decide(crm.snapshot, boss, approval["id"], approve=True, comment="OK, go")
    assert result["status"] == "approved"
    row = crm.rows("contract")[0]
    assert (row["status"], row["approval"], row["signed_at"]) == (
        "active", "approved", crm.clock.today())
    with pytest.raises(ApprovalRefused):
        decide(crm.snapshot, boss, approval["id"], approve=False)
    # The history keeps who decided: the cause of the change names the approver.
    audit = crm.snapshot.tables.audit
    with crm.snapshot.db.read() as conn:
        labels = conn.execute(sa.select(audit.c.cause_label).where(
            audit.c.entity == "contract", audit.c.cause_kind == "workflow")).scalars().all()
    assert any("approved by Boss" in (label or "") for label in labels)
    # Unlocked after the decision.
    crm.service.update(boss, "contract", contract["id"], {"amount": "850000"},
                       version=crm.rows("contract")[0]["version"])


def test_a_rejected_contract_goes_back_to_draft_and_the_owner_is_told(crm):
    sam, boss = crm.user("sam"), crm.user("boss")
    contract = _contract(crm, sam)
    crm.service.update(sam, "contract", contract["id"], {"status": "in_approval"},
                       version=contract["version"])
    crm.work()
    approval = pending_for(crm.snapshot, "contract", contract["id"])
    decide(crm.snapshot, boss, approval["id"], approve=False, comment="Too risky")
    row = crm.rows("contract")[0]
    assert (row["status"], row["approval"]) == ("draft", "rejected")
    notes = crm.snapshot.tables.notifications
    with crm.snapshot.db.read() as conn:
        told = conn.execute(sa.select(notes.c.title, notes.c.body).where(
            notes.c.user_id == sam.user_id)).all()
    assert len(told) == 1 and "rejected" in told[0].title["en"]
    assert told[0].body["en"] == "Too risky"


def test_a_small_contract_needs_no_approval(crm):
    sam = crm.user("sam")
    contract = _contract(crm, sam, amount="1000")
    crm.service.update(sam, "contract", contract["id"], {"status": "in_approval"},
                       version=contract["version"])
    crm.work()
    assert pending_for(crm.snapshot, "contract", contract["id"]) is None
    (run,) = crm.runs("contract_approval")
    assert run.status == "skipped" and run.condition is False


def test_a_contract_in_approval_moves_on_only_through_the_decision(crm):
    sam = crm.user("sam")
    contract = _contract(crm, sam, amount="1000")
    contract = crm.service.update(sam, "contract", contract["id"], {"status": "in_approval"},
                                  version=contract["version"])
    with pytest.raises(ValidationFailed) as refused:
        crm.service.update(sam, "contract", contract["id"], {
            "status": "active", "signed_at": crm.clock.today().isoformat()},
            version=contract["version"])
    assert [(e.field, e.code) for e in refused.value.errors] == [("status", "transition")]
    back = crm.service.update(sam, "contract", contract["id"], {"status": "draft"},
                              version=contract["version"])
    assert back["status"] == "draft"


def test_select_transitions_name_options_only(model_from):
    from engine.spec.errors import MetadataInvalid

    with pytest.raises(MetadataInvalid) as invalid:
        model_from({"entity": "ticket", "label": "Ticket", "fields": [
            {"name": "state", "type": "select", "options": [{"value": "open"}, {"value": "done"}],
             "transitions": {"open": ["done", "closed"], "gone": []}}]})
    messages = [(e.path, e.message) for e in invalid.value.errors]
    assert (("fields", 0, "transitions", "open", 1), "'closed' is not an option; options: done, open") in messages
    assert any(path[-1] == "gone" for path, _ in messages)
