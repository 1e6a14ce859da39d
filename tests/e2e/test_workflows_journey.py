"""Workflows in a real browser: a salesperson claims a customer from the public pool and
sends a large contract for approval; the workflow (relayed and run as a worker would) asks
the manager, whose bell shows it; the manager approves from the contract's page; the
salesperson's bell then shows the decision."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine import accounts
from engine.automation import runner
from engine.automation.relay import relay

pytestmark = pytest.mark.e2e


def _work(app) -> None:
    """What a worker does, in this process: relay the outbox and run what it made."""
    rt = app.extensions["loom"].current
    while True:
        jobs: list = []
        relay(rt, jobs.extend)
        if not jobs:
            return
        for kind, ident in jobs:
            if kind == "run":
                runner.execute(rt, ident)


def _large_contract_for_approval(app) -> int:
    rt = app.extensions["loom"].current
    user = accounts.find_user(rt.db, rt.tables, "sales1")
    sales1 = app.extensions["loom"].actor(user["id"])
    accounts_table = rt.tables.entity("account")
    with rt.db.read() as conn:
        account_id = conn.execute(sa.select(accounts_table.c.id).where(
            accounts_table.c.owner == user["id"]).limit(1)).scalar_one()
    contract = rt.service.create(sales1, "contract", {
        "title": "E2E framework contract", "account": account_id, "amount": "750000",
        "start_date": "2026-12-01", "end_date": "2027-11-30"})
    rt.service.update(sales1, "contract", contract["id"], {"status": "in_approval"},
                      version=contract["version"])
    return contract["id"]


def test_claim_from_the_pool_then_an_approval_goes_round(page, signed_in, live_server):
    app = live_server.app
    # The salesperson claims the first customer of the pool list.
    signed_in("sales1", start="/pool")
    rows = page.get_by_test_id("pool-list").locator("tbody tr")
    expect(rows.first).to_be_visible()
    rows.first.get_by_test_id("claim").click()
    page.wait_for_url(re.compile(r"/r/account/\d+$"))
    expect(page.locator(".alert-success")).to_contain_text("You claimed")
    expect(page.get_by_test_id("release")).to_be_visible()   # now theirs

    # A large contract goes for approval; the workflow asks the manager.
    contract_id = _large_contract_for_approval(app)
    _work(app)
    page.context.clear_cookies()
    signed_in("manager", start="/")
    bell = page.get_by_test_id("bell")
    expect(bell).to_have_attribute("data-unread", re.compile(r"^[1-9]"))
    bell.click()
    page.wait_for_url(re.compile(r"/notifications"))
    item = page.locator('[data-kind="approval"]').first
    item.get_by_test_id("notification-link").click()
    page.wait_for_url(re.compile(rf"/r/contract/{contract_id}$"))
    box = page.get_by_test_id("approval")
    expect(box).to_be_visible()
    box.locator("input[name=comment]").fill("Go ahead")
    box.get_by_test_id("approve").click()
    expect(page.locator(".alert-success")).to_contain_text("Approved.")
    expect(page.get_by_test_id("approval")).to_have_count(0)

    # The salesperson hears of it.
    page.context.clear_cookies()
    signed_in("sales1", start="/notifications")
    decided = page.locator('[data-kind="approval"]').first
    expect(decided).to_contain_text("approved by")
    expect(decided).to_contain_text("Go ahead")
