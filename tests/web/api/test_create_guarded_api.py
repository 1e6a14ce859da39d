"""``POST /api/v1/<entity>`` on the short path: the same answers, audit rows and events."""

from __future__ import annotations

import sqlalchemy as sa

from tests.web.api.records_support import first_id, url


def _counts(app, record_id=None):
    rt = app.extensions["loom"].current
    audit, outbox = rt.tables.audit, rt.tables.outbox
    with rt.db.read() as conn:
        def rows(table, *where):
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
        if record_id is None:
            return rows(audit), rows(outbox), rows(rt.tables.entity("deal"))
        return (rows(audit, audit.c.entity == "deal", audit.c.record_id == record_id),
                rows(outbox, outbox.c.entity == "deal", outbox.c.record_id == record_id))


def test_each_create_over_the_api_leaves_one_audit_row_and_one_event(any_app, any_api):
    api = any_api()
    account = first_id(api, "account")
    ids = []
    for i in range(3):
        response = api.post(url("deal") + "?fields=id", json={"title": f"API {i}", "account": account})
        assert response.status_code == 201, response.get_json()
        assert response.headers["ETag"] == '"1"'
        ids.append(response.get_json()["id"])
    assert len(set(ids)) == 3
    for record_id in ids:
        assert _counts(any_app, record_id) == (1, 1)
    full = api.get(url(f"deal/{ids[0]}")).get_json()
    assert full["account"] == account and full["title"] == "API 0"


def test_a_missing_account_is_a_422_naming_the_field_and_writes_nothing(any_app, any_api):
    api = any_api()
    before = _counts(any_app)
    response = api.post(url("deal"), json={"title": "Nowhere", "account": 987_654})
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["account"]
    assert _counts(any_app) == before


def test_a_create_racing_a_model_change_is_a_503_and_writes_nothing(any_app, any_api):
    api = any_api()
    account = first_id(api, "account")
    assert api.post(url("deal"), json={"title": "Before", "account": account}).status_code == 201
    state = any_app.extensions["loom"]
    state.check_interval = 3600  # this process does not look before the request
    rt = state.current
    table = rt.tables.schema_versions
    with rt.db.write() as conn:
        newest = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
        conn.execute(sa.update(table).where(table.c.id == newest).values(version="elsewhere"))
    before = _counts(any_app)
    response = api.post(url("deal"), json={"title": "Racing", "account": account})
    assert response.status_code == 503
    assert response.get_json()["type"].endswith("model-changed")
    assert response.headers["Retry-After"] == "1"
    assert _counts(any_app) == before
