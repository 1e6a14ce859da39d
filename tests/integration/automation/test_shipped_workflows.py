"""The shipped CRM's workflows (``workflows/``), each fired end to end on a simulated clock
through the outbox, real Redis and an rq worker."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from support import add_user, make_crm

from engine.automation.runs import WorkflowRefused, start_manual
from engine.permissions import Actor


@pytest.fixture
def crm(database, tmp_path):
    crm = make_crm(database, tmp_path, shipped_workflows=True)
    add_user(crm, "boss", roles=("sales_manager",), team="Sales", manager_of="Sales")
    add_user(crm, "sam", team="East")
    from engine.accounts import teams
    teams.set_parent(crm.snapshot.db, crm.snapshot.tables, "East", "Sales")
    crm.runtime.forget_actors()
    return crm


def _notes(crm, username):
    tables = crm.snapshot.tables
    with crm.snapshot.db.read() as conn:
        uid = conn.execute(sa.select(tables.users.c.id).where(
            tables.users.c.username == username)).scalar_one()
        return conn.execute(sa.select(tables.notifications).where(
            tables.notifications.c.user_id == uid).order_by(tables.notifications.c.id)).all()


def test_won_deal_creates_a_contract_and_tells_the_manager(crm):
    sam = crm.user("sam")
    account = crm.service.create(sam, "account", {"name": "Acme"})
    deal = crm.service.create(sam, "deal", {"title": "Big", "account": account["id"],
                                            "stage": "negotiation", "amount": "5000"})
    crm.service.update(sam, "deal", deal["id"], {"stage": "won", "closed_at": "2026-03-02"},
                       version=deal["version"])
    crm.work()
    assert [(r.workflow, r.status, r.error) for r in crm.runs()][-1][1] == "succeeded", crm.runs()
    (contract,) = crm.rows("contract")
    assert contract["deal"] == deal["id"] and contract["status"] == "draft"
    (note,) = _notes(crm, "boss")
    assert note.kind == "deal_won" and "Big" in note.title["en"] and "赢单" in note.title["zh-CN"]
    assert _notes(crm, "sam") == []


def test_a_new_activity_moves_the_customer_s_last_follow_up(crm):
    sam = crm.user("sam")
    account = crm.service.create(sam, "account", {"name": "Acme"})
    crm.clock.advance(hours=3)
    activity = crm.service.create(sam, "activity", {
        "kind": "call", "subject": "Hello", "account": account["id"],
        "due_at": crm.clock.now().isoformat()})
    crm.work()
    (row,) = crm.rows("account")
    assert row["last_followup_at"] == activity["created_at"].replace(tzinfo=None) \
        if hasattr(activity["created_at"], "replace") else row["last_followup_at"] is not None


def test_visit_reminder_fires_once_thirty_minutes_ahead(crm):
    sam = crm.user("sam")
    account = crm.service.create(sam, "account", {"name": "Acme"})
    due = crm.clock.now() + dt.timedelta(hours=2)
    crm.service.create(sam, "activity", {"kind": "visit", "subject": "Visit Acme",
                                         "account": account["id"], "due_at": due.isoformat()})
    crm.work()
    assert [n for n in _notes(crm, "sam") if n.kind == "reminder"] == []
    crm.clock.advance(minutes=95)          # 25 minutes before the visit
    crm.work()
    crm.work()                             # a second scheduler turn fires nothing more
    reminders = [n for n in _notes(crm, "sam") if n.kind == "reminder"]
    assert len(reminders) == 1 and "Visit Acme" in reminders[0].title["en"]
    crm.clock.advance(hours=1)             # after the visit: nothing more
    crm.work()
    assert len([n for n in _notes(crm, "sam") if n.kind == "reminder"]) == 1


def test_contract_expiry_opens_a_renewal_deal(crm):
    sam = crm.user("sam")
    account = crm.service.create(sam, "account", {"name": "Acme"})
    today = crm.clock.today()
    crm.service.create(sam, "contract", {
        "title": "Support", "account": account["id"], "amount": "1200",
        "start_date": (today - dt.timedelta(days=300)).isoformat(),
        "end_date": (today + dt.timedelta(days=40)).isoformat(), "status": "active",
        "signed_at": (today - dt.timedelta(days=300)).isoformat()})
    crm.work()
    assert crm.rows("deal") == []
    crm.clock.advance(days=11)             # 29 days before the end
    crm.work()
    (deal,) = crm.rows("deal")
    assert deal["title"] == "Renewal: Support" and deal["owner"] is not None
    (contract,) = crm.rows("contract")
    assert contract["status"] == "expiring" and deal["renewal_of"] == contract["id"]
    assert any(n.kind == "renewal" for n in _notes(crm, "sam"))


def test_churn_flag_after_ninety_days_without_an_order(crm):
    sam = crm.user("sam")
    quiet = crm.service.create(sam, "account", {"name": "Quiet", "lifecycle_stage": "customer"})
    busy = crm.service.create(sam, "account", {"name": "Busy", "lifecycle_stage": "customer"})
    crm.clock.advance(days=80)
    crm.service.create(sam, "sales_order", {"account": busy["id"],
                                            "order_date": crm.clock.today().isoformat()})
    crm.clock.advance(days=15)
    crm.work()
    stages = {r["name"]: r["lifecycle_stage"] for r in crm.rows("account")}
    assert stages == {"Quiet": "at_risk", "Busy": "customer"}
    del quiet


def test_round_robin_skips_inactive_members(crm):
    add_user(crm, "ann", team="East")
    add_user(crm, "old", team="East", active=False)
    admin = Actor.system()
    for name in ("L1", "L2", "L3", "L4"):
        crm.service.create(admin, "lead", {"name": name, "company": "Co", "channel": "web_form"})
    crm.work()
    users = crm.snapshot.tables.users
    with crm.snapshot.db.read() as conn:
        names = dict(conn.execute(sa.select(users.c.id, users.c.username)).all())
    owners = [names[r["owner"]] for r in crm.rows("lead")]
    assert sorted(owners) == ["ann", "ann", "sam", "sam"] and owners[0] != owners[1]


def test_lead_conversion_is_one_unit_from_a_button(crm):
    sam = crm.user("sam")
    lead = crm.service.create(sam, "lead", {"name": "Li Lei", "company": "Hanmei Ltd",
                                            "status": "working", "phone": "13800000000",
                                            "channel": "web_form"})
    with pytest.raises(WorkflowRefused):
        start_manual(crm.snapshot, sam, "lead_conversion", "lead", lead["id"])
    lead = crm.service.update(sam, "lead", lead["id"], {"status": "qualified"},
                              version=lead["version"])
    outcome = start_manual(crm.snapshot, sam, "lead_conversion", "lead", lead["id"])
    assert outcome.status == "succeeded", outcome.error
    (row,) = crm.rows("lead")
    (account,) = crm.rows("account")
    (contact,) = crm.rows("contact")
    (deal,) = crm.rows("deal")
    assert row["status"] == "converted" and row["converted_account"] == account["id"]
    assert (row["converted_contact"], row["converted_deal"]) == (contact["id"], deal["id"])
    assert account["name"] == "Hanmei Ltd" and contact["account"] == account["id"]
    # The caller is the actor: the new records are sam's.
    assert {account["created_by"], contact["created_by"], deal["created_by"]} == {sam.user_id}


def test_a_failing_conversion_writes_nothing(crm):
    sam = crm.user("sam")
    lead = crm.service.create(sam, "lead", {"name": "No Company", "status": "qualified",
                                            "channel": "web_form"})
    outcome = start_manual(crm.snapshot, sam, "lead_conversion", "lead", lead["id"])
    assert outcome.status == "failed" and "name" in outcome.error
    assert crm.rows("account") == [] and crm.rows("contact") == []
    assert crm.rows("lead")[0]["status"] == "qualified"


def test_the_visit_reminder_also_arrives_by_e_mail(crm, monkeypatch):
    from aiosmtpd.controller import Controller
    from test_notification_mail import Inbox, _free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        monkeypatch.setenv("LOOM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("LOOM_SMTP_PORT", str(controller.port))
        monkeypatch.setenv("LOOM_SMTP_FROM", "Loom CRM <crm@example.com>")
        sam = crm.user("sam")
        account = crm.service.create(sam, "account", {"name": "Acme"})
        due = crm.clock.now() + dt.timedelta(minutes=20)
        crm.service.create(sam, "activity", {"kind": "visit", "subject": "Visit Acme",
                                             "account": account["id"], "due_at": due.isoformat()})
        crm.work()
        assert [e.rcpt_tos for e in inbox.envelopes] == [["sam@example.com"]]
        assert "Visit Acme" in inbox.message()["Subject"]
        reminder = [r for r in crm.runs("visit_reminder")][0]
        assert any(a.get("action") == "e-mail delivery" and "sent to 1" in a["outcome"]
                   for a in reminder.actions)
    finally:
        controller.stop()


def test_delivered_outbox_rows_are_pruned_after_the_retention(crm):
    sam = crm.user("sam")
    crm.service.create(sam, "account", {"name": "Acme"})
    crm.work()
    outbox = crm.snapshot.tables.outbox
    with crm.snapshot.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() >= 1
    assert crm.automation.prune() == 0            # younger than the retention
    crm.clock.advance(days=8)
    assert crm.automation.prune() >= 1
    with crm.snapshot.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0
