"""Several processes on one database: what one applies, the others serve without a restart."""

from __future__ import annotations

import shutil

from tests.web.support import ApiClient, make_app, token_for

TICKET = {"entity": "ticket", "label": {"en": "Ticket", "zh-CN": "工单"},
          "fields": [{"name": "subject", "type": "string", "required": True}]}


def _two_workers(crm_sqlite_file, tmp_path):
    path = tmp_path / "loom.db"
    shutil.copy(crm_sqlite_file, path)
    # A long check interval: the second worker would not look for a new model on its own.
    return [make_app(f"sqlite:///{path}", tmp_path, LOOM_MODEL_CHECK_INTERVAL=3600)
            for _ in range(2)]


def test_an_entity_created_in_one_worker_is_served_by_another_at_once(crm_sqlite_file, tmp_path):
    first, second = _two_workers(crm_sqlite_file, tmp_path)
    try:
        token = token_for(first, "admin")
        one, two = ApiClient(first.test_client(), token), ApiClient(second.test_client(), token)
        assert two.get("/api/v1/account?per_page=1").status_code == 200  # loads its model
        assert one.post("/api/v1/meta/entities", json=TICKET).status_code == 201
        created = two.post("/api/v1/ticket?fields=id", json={"subject": "Printer on fire"})
        assert created.status_code == 201, created.get_json()
        assert one.get(f"/api/v1/ticket/{created.get_json()['id']}").get_json()["subject"] \
            == "Printer on fire"
    finally:
        for app in (first, second):
            app.extensions["loom"].db.dispose()


def test_a_truly_unknown_entity_is_still_404(crm_sqlite_file, tmp_path):
    first, _ = _two_workers(crm_sqlite_file, tmp_path)
    try:
        api = ApiClient(first.test_client(), token_for(first, "admin"))
        response = api.post("/api/v1/nothing", json={})
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
    finally:
        first.extensions["loom"].db.dispose()
