"""``POST /api/v1/<entity>/bulk``: atomic loads, per-row results, limits."""

from __future__ import annotations

from tests.web.api.records_support import first_id, records, url
from web.api.records import MAX_BULK_ROWS


def deal_rows(api, count: int, prefix: str = "Bulk") -> list[dict]:
    account = first_id(api, "account")
    return [{"title": f"{prefix} {i}", "account": account, "amount": f"{100 + i}.00"}
            for i in range(count)]


def titled(api, prefix: str) -> list[dict]:
    return records(api, "deal", per_page=1000,
                   filter={"field": "title", "op": "starts_with", "value": prefix})


def test_an_array_is_created_atomically_and_ids_come_back_in_order(any_api):
    api = any_api("sales1")
    response = api.post(url("deal", "bulk", fields="id"), json=deal_rows(api, 25, "Atomic"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["count"] == 25 and len(body["data"]) == 25
    new_ids = [row["id"] for row in body["data"]]
    assert new_ids == sorted(new_ids)
    stored = {d["id"]: d for d in titled(api, "Atomic ")}
    assert set(stored) == set(new_ids)
    assert [stored[i]["title"] for i in new_ids] == [f"Atomic {i}" for i in range(25)]


def test_one_bad_row_refuses_the_whole_atomic_call_with_row_indexes(any_api):
    api = any_api("admin")
    rows = deal_rows(api, 5, "Refused")
    rows[1]["amount"] = "lots"
    rows[3] = {"title": "no account"}
    response = api.post(url("deal", "bulk"), json={"records": rows, "mode": "atomic"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {(e["row"], e["field"]) for e in errors} == {(1, "amount"), (3, "account")}
    assert titled(api, "Refused") == [] and titled(api, "no account") == []


def test_per_row_mode_creates_the_good_rows_and_reports_the_bad_ones(api):
    api = api("admin")
    rows = deal_rows(api, 4, "PerRow")
    rows[2]["stage"] = "sold"
    rows.append("not a record")
    response = api.post(url("deal", "bulk"), json={"records": rows, "mode": "per_row"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["created"] == 3 and body["failed"] == 2
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [201, 201, 422, 201, 422]
    assert results[2]["errors"][0]["field"] == "stage"
    assert {d["id"] for d in titled(api, "PerRow")} == {r["id"] for r in results if "id" in r}


def test_an_empty_array_is_refused(api):
    response = api("admin").post(url("deal", "bulk"), json=[])
    assert response.status_code == 400 and "at least one" in response.get_json()["detail"]


def test_bulk_refuses_too_many_rows_bad_shapes_and_modes(api):
    admin = api("admin")
    too_many = admin.post(url("deal", "bulk"), json=[{}] * (MAX_BULK_ROWS + 1))
    assert too_many.status_code == 413
    assert str(MAX_BULK_ROWS) in too_many.get_json()["detail"]
    for body in ({"records": [], "mode": "fast"}, {"records": {}}, {"rows": []}, "text", 3):
        response = admin.post(url("deal", "bulk"), json=body)
        assert response.status_code == 400, body
    assert admin.post(url("deal", "bulk", fields="title"), json=[]).status_code == 400


def test_a_role_without_create_may_not_bulk_load(api):
    service = api("service1")
    for mode in ("atomic", "per_row"):
        response = service.post(url("deal", "bulk"), json={"records": [{"title": "x"}],
                                                           "mode": mode})
        assert response.status_code == 403, mode


def test_per_row_mode_stops_at_a_model_change_and_names_the_rows_to_send_again(any_app, any_api):
    import sqlalchemy as sa

    api = any_api("admin")
    rows = deal_rows(api, 5, "Midway")
    state = any_app.extensions["loom"]
    state.check_interval = 3600  # this process does not look before the request
    rt = state.current
    create, calls = rt.service.create, []

    def create_then_change_model(*args, **kwargs):
        if len(calls) == 2:  # another process applies a model after two rows
            table = rt.tables.schema_versions
            with rt.db.write() as conn:
                newest = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
                conn.execute(sa.update(table).where(table.c.id == newest)
                             .values(version="elsewhere"))
        calls.append(1)
        return create(*args, **kwargs)

    rt.service.create = create_then_change_model
    try:
        response = api.post(url("deal", "bulk"), json={"records": rows, "mode": "per_row"})
    finally:
        del rt.service.create
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == [201, 201, 503, 503, 503]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert body["created"] == 2 and body["failed"] == 3
    assert body["results"][2]["errors"][0]["code"] == "model-changed"
    stored = {d["title"] for d in titled(api, "Midway ")}
    assert stored == {"Midway 0", "Midway 1"}
