"""Run rows inserted many at a time (the relay's and the scheduler's path): one id per new
row in the given order, None where (workflow, key) already had a row."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.automation import runner
from engine.automation.runner import insert_run, insert_runs, run_values
from engine.storage.tables import build_tables

AT = dt.datetime(2026, 3, 2, 1, 0)


def _tables(database, model_from):
    model = model_from({"entity": "account", "label": "Account",
                        "fields": [{"name": "name", "type": "string"}]})
    tables = build_tables(model)
    tables.metadata.create_all(database.engine)
    return tables


def _row(key: str, workflow: str = "w", status: str = runner.QUEUED) -> dict:
    return run_values(workflow=workflow, key=key, entity="account", record_id=1,
                      trigger="updated", at=AT, depth=1, payload={"changes": {}},
                      status=status)


def test_new_rows_get_ids_in_order_and_known_keys_none(database, model_from, monkeypatch):
    tables = _tables(database, model_from)
    monkeypatch.setattr(runner, "INSERT_CHUNK", 2)  # several statements
    runs = tables.workflow_runs
    with database.write() as conn:
        known = insert_run(conn, tables, workflow="w", key="b", entity="account", record_id=1,
                           trigger="updated", at=AT)
        ids = insert_runs(conn, tables, [_row("a"), _row("b"), _row("c"), _row("b", "other"),
                                         _row("a"), _row("d", status=runner.STOPPED)])
        rows = {(r.workflow, r.key): r for r in conn.execute(sa.select(runs))}
    assert ids[1] is None and ids[4] is None  # "b" was there; "a" twice: one row
    assert [i for i in ids if i is not None] == [rows[("w", "a")].id, rows[("w", "c")].id,
                                                 rows[("other", "b")].id, rows[("w", "d")].id]
    assert rows[("w", "b")].id == known and len(rows) == 5
    assert rows[("w", "d")].finished_at == AT and rows[("w", "a")].finished_at is None
    assert rows[("w", "a")].status == "queued" and rows[("w", "a")].payload == {"changes": {}}


def test_nothing_to_insert(database, model_from):
    tables = _tables(database, model_from)
    with database.write() as conn:
        assert insert_runs(conn, tables, []) == []
