"""One-click transfer pages: the start page, the job page and its polled progress, the
offer on the deactivation page; admins only, CSRF on each form. The job itself is run
here through the engine (a worker runs it in production)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from engine import accounts
from engine.automation import transfer
from tests.web.support import csrf_from, login_client


def _admin(app, lang: str = "en"):
    client = login_client(app, "admin")
    with client.session_transaction() as session:
        session["lang"] = lang
    return client


def _uid(app, username: str) -> int:
    rt = app.extensions["loom"].current
    return accounts.find_user(rt.db, rt.tables, username)["id"]


def _owned(app, username: str) -> dict[str, int]:
    return transfer.counts(app.extensions["loom"].current, _uid(app, username))


def _job_id(location: str) -> int:
    found = re.search(r"/admin/transfers/(\d+)$", location)
    assert found, location
    return int(found.group(1))


def test_the_start_page_shows_what_would_move_and_is_for_admins_only(app):
    owned = _owned(app, "sales1")
    assert sum(owned.values()) > 0
    page = _admin(app).get("/admin/users/sales1/transfer")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="transfer-form"' in html and 'name="to_user"' in html
    for entity in ("account", "deal", "activity"):
        assert f'name="entities" value="{entity}"' in html
    assert 'value="sales1"' not in html  # nobody gives records to themselves
    assert f'data-count="deal">\n        Open Deals (not won or lost):\n        {owned["deal"]}' in html
    assert login_client(app, "sales1").get("/admin/users/sales2/transfer").status_code == 403
    detail = _admin(app).get("/admin/users/sales1").get_data(as_text=True)
    assert 'href="/admin/users/sales1/transfer"' in detail


def test_starting_a_transfer_shows_a_progress_bar_that_polls_until_the_summary(app):
    client = _admin(app)
    owned = _owned(app, "sales1")
    token = csrf_from(client.get("/admin/users/sales1/transfer").get_data(as_text=True))
    response = client.post("/admin/users/sales1/transfer", data={
        "csrf_token": token, "to_user": "sales2", "entities": ["account", "deal"]})
    assert response.status_code == 302
    job_id = _job_id(response.headers["Location"])
    page = client.get(f"/admin/transfers/{job_id}").get_data(as_text=True)
    assert 'data-status="queued"' in page and 'data-testid="transfer-waiting"' in page
    assert f'hx-get="/admin/transfers/{job_id}/progress"' in page
    assert "htmx.min.js" in page                   # served locally by the base template

    rt = app.extensions["loom"].current
    assert transfer.execute(rt, job_id) == transfer.DONE
    fragment = client.get(f"/admin/transfers/{job_id}/progress")
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    moved = owned["account"] + owned["deal"]
    assert 'data-status="done"' in html and f'data-done="{moved}"' in html
    assert "hx-get" not in html                     # finished: the polling stops
    assert 'data-testid="transfer-summary"' in html and "<html" not in html
    assert f"{moved} of {moved} records were given to sales2; 0 were refused." in html
    after = _owned(app, "sales1")
    assert (after["account"], after["deal"]) == (0, 0)
    assert after["activity"] == owned["activity"]   # not chosen: stays
    audit = rt.tables.audit
    with rt.db.read() as conn:
        kinds = set(conn.execute(sa.select(audit.c.cause_kind).where(
            audit.c.cause_id == str(job_id))).scalars())
    assert kinds == {"transfer"}
    with rt.db.read() as conn:
        account = conn.execute(sa.select(audit.c.record_id).where(
            audit.c.cause_id == str(job_id), audit.c.entity == "account")).scalars().first()
    history = client.get(f"/r/account/{account}").get_data(as_text=True)
    assert "by transfer sales1 → sales2" in history


def test_a_refused_record_is_listed_in_the_summary_in_the_readers_language(app):
    rt = app.extensions["loom"].current
    sales1 = _uid(app, "sales1")
    activity = rt.tables.entity("activity")
    with rt.db.read() as conn:
        broken = conn.execute(sa.select(activity.c.id).where(
            activity.c.owner == sales1, activity.c.done.is_(False))
            .order_by(activity.c.id)).scalars().first()
    import datetime as dt
    with rt.db.write() as conn:
        conn.execute(sa.update(activity).where(activity.c.id == broken).values(
            due_at=dt.datetime(2026, 3, 10, 1), reminder_at=dt.datetime(2026, 3, 11, 1)))
    client = _admin(app, "zh-CN")
    token = csrf_from(client.get("/admin/users/sales1/transfer").get_data(as_text=True))
    response = client.post("/admin/users/sales1/transfer", data={
        "csrf_token": token, "to_user": "sales2", "entities": ["activity"]})
    job_id = _job_id(response.headers["Location"])
    transfer.execute(rt, job_id)
    html = client.get(f"/admin/transfers/{job_id}/progress").get_data(as_text=True)
    assert 'data-failed="1"' in html and 'data-testid="transfer-errors"' in html
    assert f'href="/r/activity/{broken}"' in html and "提醒时间不能晚于计划时间" in html
    assert "条被拒绝" in html


def test_the_start_form_refuses_without_a_kind_a_receiver_or_its_token(app):
    client = _admin(app)
    token = csrf_from(client.get("/admin/users/sales1/transfer").get_data(as_text=True))
    none = client.post("/admin/users/sales1/transfer", data={"csrf_token": token,
                                                             "to_user": "sales2"})
    assert none.status_code == 422 and 'data-error="entities"' in none.get_data(as_text=True)
    nobody = client.post("/admin/users/sales1/transfer", data={
        "csrf_token": token, "entities": ["account"], "to_user": ""})
    assert nobody.status_code == 422
    himself = client.post("/admin/users/sales1/transfer", data={
        "csrf_token": token, "entities": ["account"], "to_user": "sales1"})
    assert himself.status_code == 422
    expired = client.post("/admin/users/sales1/transfer", data={
        "entities": ["account"], "to_user": "sales2"})
    assert expired.status_code == 400
    assert transfer.recent(app.extensions["loom"].current) == []
    assert client.get("/admin/transfers/999").status_code == 404


def test_deactivating_a_user_offers_to_give_their_open_records_to_someone(app):
    client = _admin(app)
    owned = _owned(app, "sales1")
    page = client.get("/admin/users/sales1/deactivate").get_data(as_text=True)
    assert 'data-testid="offer-transfer"' in page and 'name="transfer_to"' in page
    assert f"They own {sum(owned.values())} open records" in page
    assert '<option value="sales2">' in page and '<option value="sales1">' not in page
    response = client.post("/admin/users/sales1/deactivate", data={
        "csrf_token": csrf_from(page), "confirm": "yes", "transfer_to": "sales2"})
    assert response.status_code == 302
    job_id = _job_id(response.headers["Location"])
    rt = app.extensions["loom"].current
    assert not accounts.find_user(rt.db, rt.tables, "sales1")["active"]
    assert transfer.execute(rt, job_id) == transfer.DONE
    assert _owned(app, "sales1") == {"account": 0, "deal": 0, "activity": 0}
    gained = transfer.get(rt, job_id)
    assert gained["done"] == sum(owned.values()) and gained["to_username"] == "sales2"


def test_deactivating_without_a_receiver_moves_nothing(app):
    client = _admin(app)
    owned = _owned(app, "sales3")
    page = client.get("/admin/users/sales3/deactivate").get_data(as_text=True)
    response = client.post("/admin/users/sales3/deactivate", data={
        "csrf_token": csrf_from(page), "confirm": "yes", "transfer_to": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")
    assert transfer.recent(app.extensions["loom"].current) == []
    assert _owned(app, "sales3") == owned


def test_deactivating_with_an_unknown_receiver_does_neither(app):
    client = _admin(app, "zh-CN")
    page = client.get("/admin/users/sales3/deactivate").get_data(as_text=True)
    assert "将其未结记录转派给" in page
    response = client.post("/admin/users/sales3/deactivate", data={
        "csrf_token": csrf_from(page), "confirm": "yes", "transfer_to": "nobody"})
    assert response.status_code == 422 and "未知用户 nobody" in response.get_data(as_text=True)
    rt = app.extensions["loom"].current
    assert accounts.find_user(rt.db, rt.tables, "sales3")["active"]
    assert transfer.recent(rt) == []
