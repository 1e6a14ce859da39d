"""Workflows in the web app: manual buttons, the record's runs, the admin list with retry,
approvals decided from the record page, and the API calls."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine import accounts
from engine.automation import runner
from engine.automation.approvals import pending_for
from engine.automation.relay import relay
from tests.web.pool_support import in_english
from tests.web.support import csrf_from


def _actor(app, username):
    rt = app.extensions["loom"].current
    user = accounts.find_user(rt.db, rt.tables, username)
    return rt, app.extensions["loom"].actor(user["id"])


def _lead(app, status="qualified"):
    rt, sales1 = _actor(app, "sales1")
    return rt.service.create(sales1, "lead", {"name": "Li Lei", "company": "Hanmei Ltd",
                                              "status": status, "channel": "web_form"})


def _work(app) -> None:
    """What a worker does, in this process: relay the outbox, run each run."""
    rt = app.extensions["loom"].current
    jobs: list = []
    relay(rt, jobs.extend)
    while jobs:
        kind, ident = jobs.pop(0)
        if kind == "run":
            runner.execute(rt, ident)
        jobs_after: list = []
        relay(rt, jobs_after.extend)
        jobs.extend(jobs_after)


def test_a_qualified_lead_shows_convert_and_the_button_converts(app, login):
    lead = _lead(app)
    client = in_english(login("sales1"))
    page = client.get(f"/r/lead/{lead['id']}").get_data(as_text=True)
    assert 'data-workflow="lead_conversion"' in page and "Convert" in page
    response = client.post(f"/r/lead/{lead['id']}/workflows/lead_conversion",
                           data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Done." in text
    assert 'data-testid="runs"' in text and 'data-status="succeeded"' in text
    rt = app.extensions["loom"].current
    table = rt.tables.entity("lead")
    with rt.db.read() as conn:
        assert conn.execute(sa.select(table.c.status).where(table.c.id == lead["id"])
                            ).scalar() == "converted"


def test_no_convert_button_on_a_lead_that_is_not_qualified(app, login):
    lead = _lead(app, status="working")
    page = login("sales1").get(f"/r/lead/{lead['id']}").get_data(as_text=True)
    assert 'data-workflow="lead_conversion"' not in page


def test_the_api_runs_a_manual_workflow_and_refuses_where_it_is_not_offered(app, api):
    lead = _lead(app)
    other = _lead(app, status="working")
    client = api("sales1")
    refused = client.post(f"/api/v1/lead/{other['id']}/workflows/lead_conversion")
    assert refused.status_code == 409 and refused.content_type == "application/problem+json"
    done = client.post(f"/api/v1/lead/{lead['id']}/workflows/lead_conversion")
    assert done.status_code == 200 and done.json["status"] == "succeeded"
    runs = client.get(f"/api/v1/lead/{lead['id']}/runs").json["data"]
    assert [r["workflow"] for r in runs] == ["lead_conversion"]
    assert client.post(f"/api/v1/lead/{lead['id']}/workflows/nope").status_code == 404


def test_admins_list_runs_and_retry_a_failed_one(app, login):
    rt = app.extensions["loom"].current
    with rt.db.write() as conn:
        run_id = runner.insert_run(conn, rt.tables, workflow="lead_conversion", key="manual:x",
                                   entity="lead", record_id=1, trigger="manual",
                                   at=dt.datetime(2026, 3, 1), status="failed",
                                   error="ValidationFailed: name: is required")
    assert login("sales1").get("/admin/runs").status_code == 403
    admin = in_english(login("admin"))
    page = admin.get("/admin/runs?status=failed").get_data(as_text=True)
    assert f'data-run="{run_id}"' in page and "name: is required" in page
    assert admin.get("/admin/runs?status=bogus").status_code == 400
    response = admin.post(f"/admin/runs/{run_id}/retry", data={"csrf_token": csrf_from(page)},
                          follow_redirects=True)
    assert "will run again" in response.get_data(as_text=True)
    runs = rt.tables.workflow_runs
    with rt.db.read() as conn:
        assert conn.execute(sa.select(runs.c.next_attempt_at).where(runs.c.id == run_id)
                            ).scalar() is not None


def test_the_manager_approves_a_large_contract_from_its_page(app, login):
    rt, sales1 = _actor(app, "sales1")
    account = rt.service.create(sales1, "account", {"name": "Big Co"})
    contract = rt.service.create(sales1, "contract", {
        "title": "Big one", "account": account["id"], "amount": "900000",
        "start_date": "2026-03-01", "end_date": "2027-02-28"})
    rt.service.update(sales1, "contract", contract["id"], {"status": "in_approval"},
                      version=contract["version"])
    _work(app)
    approval = pending_for(rt, "contract", contract["id"])
    assert approval is not None
    seller_page = login("sales1").get(f"/r/contract/{contract['id']}").get_data(as_text=True)
    assert 'data-testid="approval"' in seller_page and 'data-testid="approve"' not in seller_page
    manager = in_english(login("manager"))
    page = manager.get(f"/r/contract/{contract['id']}").get_data(as_text=True)
    assert 'data-testid="approve"' in page
    response = manager.post(f"/r/approvals/{approval['id']}/approve",
                            data={"csrf_token": csrf_from(page), "comment": "fine",
                                  "entity": "contract"}, follow_redirects=True)
    assert "Approved." in response.get_data(as_text=True)
    table = rt.tables.entity("contract")
    with rt.db.read() as conn:
        status = conn.execute(sa.select(table.c.status, table.c.approval).where(
            table.c.id == contract["id"])).one()
    assert tuple(status) == ("active", "approved")


def test_a_bulk_workflow_runs_on_each_selected_record(app, login):
    qualified, other = _lead(app), _lead(app, status="working")
    client = in_english(login("sales1"))
    page = client.get("/r/lead").get_data(as_text=True)
    assert 'data-workflow="lead_conversion"' in page
    response = client.post("/r/lead/bulk", data={
        "csrf_token": csrf_from(page), "action": "workflow:lead_conversion",
        "ids": [qualified["id"], other["id"]], "next": "/r/lead"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "The workflow ran on 1 record." in text and f"Record #{other['id']}" in text
    rt = app.extensions["loom"].current
    table = rt.tables.entity("lead")
    with rt.db.read() as conn:
        statuses = dict(conn.execute(sa.select(table.c.id, table.c.status).where(
            table.c.id.in_([qualified["id"], other["id"]]))).all())
    assert statuses == {qualified["id"]: "converted", other["id"]: "working"}


def test_a_failed_manual_run_is_a_422_problem_and_writes_nothing(app, api):
    rt, sales1 = _actor(app, "sales1")
    lead = rt.service.create(sales1, "lead", {"name": "No Company", "status": "qualified",
                                              "channel": "web_form"})
    response = api("sales1").post(f"/api/v1/lead/{lead['id']}/workflows/lead_conversion")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["run"]["status"] == "failed" and "name" in response.json["detail"]
