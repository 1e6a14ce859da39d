"""One-click transfer (一键转派): a user's open records to another user as one job that a
worker runs, every change audited with the job as its cause; a record a rule refuses is
reported and never stops the others."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from support import add_user, make_crm

from engine.automation import transfer
from engine.permissions import Actor
from engine.records import bulk_actions
from engine.storage.events import Cause

SYSTEM = Actor.system()
DUE = "2026-03-10T09:00:00+08:00"


def _people(crm):
    ids = {name: add_user(crm, name) for name in ("alice", "bob")}
    ids["boss"] = add_user(crm, "boss", roles=("admin",))
    return ids


def _accounts(crm, owner: int, count: int, prefix: str = "A") -> list[int]:
    return crm.service.bulk_create(SYSTEM, "account", [
        {"name": f"{prefix}{i}", "owner": owner} for i in range(count)])


def _job(crm, job_id: int) -> dict:
    return transfer.get(crm.snapshot, job_id)


def _audit(crm, job_id: int) -> list:
    audit = crm.snapshot.tables.audit
    with crm.snapshot.db.read() as conn:
        return conn.execute(sa.select(audit.c.entity, audit.c.record_id, audit.c.cause_kind,
                                      audit.c.cause_label, audit.c.changes)
                            .where(audit.c.cause_id == str(job_id))).all()


def test_a_transfer_of_10000_records_moves_every_open_one_with_the_job_as_cause(database,
                                                                              tmp_path):
    crm = make_crm(database, tmp_path)
    ids = _people(crm)
    alice, bob = ids["alice"], ids["bob"]
    accounts = _accounts(crm, alice, 4000)
    deals = crm.service.bulk_create(SYSTEM, "deal", [
        {"title": f"D{i}", "account": accounts[i % 4000], "owner": alice,
         "stage": ("lead", "qualified")[i % 2]} for i in range(3500)])
    won = crm.service.bulk_create(SYSTEM, "deal", [
        {"title": f"W{i}", "account": accounts[i], "owner": alice, "stage": "won",
         "amount": "100", "closed_at": DUE} for i in range(50)])
    lost = crm.service.bulk_create(SYSTEM, "deal", [
        {"title": f"L{i}", "account": accounts[i], "owner": alice, "stage": "lost",
         "closed_at": DUE, "loss_reason": "price"} for i in range(50)])
    activities = crm.service.bulk_create(SYSTEM, "activity", [
        {"kind": "call", "subject": f"C{i}", "account": accounts[i % 4000], "owner": alice,
         "due_at": DUE} for i in range(2500)])
    finished = crm.service.bulk_create(SYSTEM, "activity", [
        {"kind": "call", "subject": f"F{i}", "account": accounts[i], "owner": alice,
         "due_at": DUE, "done": True, "done_at": DUE, "outcome": "ok"} for i in range(100)])
    boss = crm.user("boss")
    assert transfer.counts(crm.snapshot, alice) == {"account": 4000, "deal": 3500,
                                                    "activity": 2500}

    job_id = transfer.request(crm.snapshot, boss, alice, bob)
    assert _job(crm, job_id)["status"] == transfer.QUEUED
    crm.work()

    job = _job(crm, job_id)
    assert (job["status"], job["total"], job["done"], job["failed"], job["errors"]) == (
        transfer.DONE, 10_000, 10_000, 0, [])
    assert job["started_at"] is not None and job["finished_at"] is not None
    moved = {"account": accounts, "deal": deals, "activity": activities}
    for entity, wanted in moved.items():
        owners = {r["id"]: r["owner"] for r in crm.rows(entity)}
        assert {owners[i] for i in wanted} == {bob}, entity
    owners = {r["id"]: r["owner"] for r in crm.rows("deal")}
    assert {owners[i] for i in won + lost} == {alice}          # closed deals stay
    owners = {r["id"]: r["owner"] for r in crm.rows("activity")}
    assert {owners[i] for i in finished} == {alice}            # done activities stay
    rows = _audit(crm, job_id)
    assert len(rows) == 10_000
    assert {(r.entity, r.record_id) for r in rows} == {
        (e, i) for e, wanted in moved.items() for i in wanted}
    assert {r.cause_kind for r in rows} == {"transfer"}
    assert {r.cause_label for r in rows} == {"alice → bob"}
    assert all(r.changes["owner"] == [alice, bob] for r in rows)
    notes = crm.snapshot.tables.notifications
    with crm.snapshot.db.read() as conn:
        kinds = conn.execute(sa.select(notes.c.kind).where(notes.c.user_id == bob)).scalars().all()
    assert kinds == ["transfer"]                # one summary, not 10,000 notifications
    assert transfer.counts(crm.snapshot, alice) == {"account": 0, "deal": 0, "activity": 0}


def test_a_record_a_rule_refuses_is_reported_and_the_others_move(database, tmp_path):
    crm = make_crm(database, tmp_path)
    ids = _people(crm)
    accounts = _accounts(crm, ids["alice"], 3)
    activities = crm.service.bulk_create(SYSTEM, "activity", [
        {"kind": "call", "subject": f"C{i}", "account": accounts[0], "owner": ids["alice"],
         "due_at": DUE} for i in range(450)])
    broken = activities[300]  # in the middle of the second batch
    table = crm.snapshot.tables.entity("activity")
    with crm.snapshot.db.write() as conn:  # stored before the rule existed, say
        conn.execute(sa.update(table).where(table.c.id == broken).values(
            due_at=dt.datetime(2026, 3, 10, 1), reminder_at=dt.datetime(2026, 3, 11, 1)))

    job_id = transfer.request(crm.snapshot, crm.user("boss"), ids["alice"], ids["bob"])
    crm.work()

    job = _job(crm, job_id)
    assert (job["status"], job["total"], job["done"], job["failed"]) == (
        transfer.DONE, 453, 452, 1)
    [error] = job["errors"]
    assert (error["entity"], error["id"]) == ("activity", broken)
    assert "reminder" in error["error"]["en"] and "提醒" in error["error"]["zh-CN"]
    owners = {r["id"]: r["owner"] for r in crm.rows("activity")}
    assert owners[broken] == ids["alice"]
    assert {owners[i] for i in activities if i != broken} == {ids["bob"]}
    assert len(_audit(crm, job_id)) == 452


def test_a_filtered_subset_moves_only_the_chosen_records(database, tmp_path):
    crm = make_crm(database, tmp_path)
    ids = _people(crm)
    north = _accounts(crm, ids["alice"], 5, prefix="North ")
    south = _accounts(crm, ids["alice"], 5, prefix="South ")
    crm.service.bulk_create(SYSTEM, "activity", [
        {"kind": "call", "subject": "Call", "account": north[0], "owner": ids["alice"],
         "due_at": DUE}])
    job_id = transfer.request(
        crm.snapshot, crm.user("boss"), ids["alice"], ids["bob"], entities=["account"],
        filters={"account": [{"field": "name", "op": "starts_with", "value": "North"}]})
    crm.work()
    assert _job(crm, job_id)["done"] == 5
    owners = {r["id"]: r["owner"] for r in crm.rows("account")}
    assert {owners[i] for i in north} == {ids["bob"]}
    assert {owners[i] for i in south} == {ids["alice"]}
    assert {r["owner"] for r in crm.rows("activity")} == {ids["alice"]}


def test_only_sensible_transfers_can_be_asked_for(database, tmp_path):
    crm = make_crm(database, tmp_path)
    ids = _people(crm)
    gone = add_user(crm, "gone", active=False)
    boss = crm.user("boss")
    with pytest.raises(transfer.TransferError, match="administrators"):
        transfer.request(crm.snapshot, crm.user("alice"), ids["alice"], ids["bob"])
    with pytest.raises(transfer.TransferError, match="already belong"):
        transfer.request(crm.snapshot, boss, ids["alice"], ids["alice"])
    with pytest.raises(transfer.TransferError, match="inactive"):
        transfer.request(crm.snapshot, boss, ids["alice"], gone)
    with pytest.raises(transfer.TransferError, match="known: account, deal, activity"):
        transfer.request(crm.snapshot, boss, ids["alice"], ids["bob"], entities=["contract"])
    with pytest.raises(transfer.TransferError, match="account"):
        transfer.request(crm.snapshot, boss, ids["alice"], ids["bob"],
                         filters={"account": [{"field": "nope", "op": "eq", "value": 1}]})
    jobs = crm.snapshot.tables.transfer_jobs
    with crm.snapshot.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one() == 0


def test_a_job_whose_worker_died_is_resumed_and_a_finished_one_is_not_run_again(database,
                                                                              tmp_path):
    crm = make_crm(database, tmp_path)
    ids = _people(crm)
    accounts = _accounts(crm, ids["alice"], 300)
    job_id = transfer.request(crm.snapshot, crm.user("boss"), ids["alice"], ids["bob"])
    # A worker took it, moved the first 200, and died.
    bulk_actions.transfer_owner(crm.service, crm.user("boss"), "account", accounts[:200],
                                ids["bob"], cause=Cause.transfer(job_id, "alice → bob"))
    jobs = crm.snapshot.tables.transfer_jobs
    at = crm.clock.now().replace(tzinfo=None)
    with crm.snapshot.db.write() as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
            status=transfer.RUNNING, done=200, total=300, enqueued_at=at, started_at=at,
            progress_at=at))
    crm.work()
    assert _job(crm, job_id)["status"] == transfer.RUNNING   # not stale yet: left alone
    crm.clock.advance(minutes=11)
    crm.work()
    job = _job(crm, job_id)
    assert (job["status"], job["total"], job["done"]) == (transfer.DONE, 300, 300)
    assert {r["owner"] for r in crm.rows("account")} == {ids["bob"]}
    assert len(_audit(crm, job_id)) == 300
    assert transfer.execute(crm.snapshot, job_id) == transfer.DONE
    assert len(_audit(crm, job_id)) == 300


def test_a_job_fails_with_its_reason_when_the_receiver_was_deactivated(database, tmp_path):
    from engine.accounts import users

    crm = make_crm(database, tmp_path)
    ids = _people(crm)
    _accounts(crm, ids["alice"], 3)
    job_id = transfer.request(crm.snapshot, crm.user("boss"), ids["alice"], ids["bob"])
    users.deactivate_user(crm.snapshot.db, crm.snapshot.tables, "bob")
    crm.work()
    job = _job(crm, job_id)
    assert job["status"] == transfer.FAILED and "no longer active" in job["error"]["en"]
    assert job["error"]["zh-CN"] == "接收用户已停用"
    assert {r["owner"] for r in crm.rows("account")} == {ids["alice"]}
