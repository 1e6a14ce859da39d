"""One pass of the web workload: fresh databases and server, Loom's steps, the raw rows.

Order: the raw database is prepared (tables, accounts, W2's deals; untimed), Loom is
migrated and given an admin token, gunicorn starts, then W1, S0, W2, W3 and the row
count over HTTP; with the server idle, raw W3 (Core), its row count and ``ANALYZE``
(PostgreSQL); then W4 and W5 with each Loom request followed at once by the raw query
of the same kind on one open raw connection (so machine load lands on both sides
alike); Loom's W6, raw W6; on PostgreSQL raw COPY into a database of its own; with
``w7``, both deal tables grow to 1,000,000 rows straight through Core (not scored)
and W4 and W5 run again, alternating the same way. Memory is read from ``/proc``
after every step.
Returns one JSON-able dict; a failed check raises and ends the pass.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Any

import sqlalchemy as sa

from bench.w3_bulk import _raw_rows
from bench.web import loom_steps as steps
from bench.web.client import Api
from bench.web.expected import PassData, Scale
from bench.web.raw import RawDatabase
from bench.web.server import (
    APP,
    GUNICORN_ARGS,
    HOST,
    Databases,
    Server,
    prepare_loom,
    server_env,
)
from engine.storage.db import Database


def _peak(memory: dict[str, Any]) -> dict[str, float]:
    """Largest VmHWM of the master and of any worker over every reading."""
    master = max((m["master"].get("VmHWM", 0) for m in memory.values()), default=0)
    workers = max((w.get("VmHWM", 0) for m in memory.values() for w in m["workers"]), default=0)
    return {"master_mib": master, "worker_mib": workers}


def _grow(url: str, chunk: list[dict], rows: list[dict] | None = None) -> None:
    """Append ``chunk`` to the ``deal`` table at ``url`` through Core (W7 loading)."""
    db = Database(url)
    try:
        deal = sa.Table("deal", sa.MetaData(), autoload_with=db.engine)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(deal), rows or _raw_rows(chunk))
    finally:
        db.dispose()


def run_pass(backend: str, scale: Scale | None = None, *, w7: bool = False,
             log=print) -> dict[str, Any]:
    scale = scale or Scale.full()
    data = PassData(scale)
    answers = data.answers
    result: dict[str, Any] = {
        "backend": backend, "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scale": {"accounts": len(data.accounts), "w2": scale.w2, "w3": scale.w3,
                  "w7": scale.w7 if w7 else 0, "batch": scale.batch, "w2_clients": scale.clients},
        "expected": {"deals": answers.rows, "w4_total": answers.w4_total},
        "loom": {}, "raw": {}, "memory": {}}
    loom, raw, memory = result["loom"], result["raw"], result["memory"]
    with Databases(backend) as dbs:
        raw_db = RawDatabase(dbs.url("raw"), data)
        env = server_env(dbs.url("loom"), dbs.tmp)
        token = prepare_loom(env)
        server = Server(env, dbs.tmp)
        result["server"] = {"command": " ".join(["gunicorn", *GUNICORN_ARGS, "-b",
                                                 f"{HOST}:<port>", repr(APP)])}
        try:
            memory["start"] = server.memory()
            with Api(HOST, server.port, token) as api:
                loom["W1"] = steps.w1_define(api)
                memory["W1"] = server.memory()
                loom["S0"], account_ids = steps.s0_accounts(api, data)
                memory["S0"] = server.memory()
                result["rules"] = steps.check_rules(api)
            w2_deals, w3_deals = steps.loom_deals_json(data, account_ids)
            log(f"  {backend}: W1 {loom['W1']['seconds']} s; W2 ...")
            loom["W2"] = steps.w2_one_by_one(HOST, server.port, token, w2_deals, scale.clients)
            memory["W2"] = server.memory()
            if loom["W2"]["errors"]:
                log(f"  {backend}: W2 had {loom['W2']['errors']} errors, first: "
                    f"{loom['W2']['first_errors'][:2]}")
            log(f"  {backend}: W2 {loom['W2']['req_per_s']} req/s; W3 ...")
            with Api(HOST, server.port, token) as api:
                loom["W3"] = steps.w3_bulk(api, w3_deals, scale.batch)
                memory["W3"] = server.memory()
                count, _ = steps.count_deals(api)
                steps._check(count == answers.rows, f"row count {count} != {answers.rows}")
            log(f"  {backend}: Loom W3 {loom['W3']['rows_per_s']} rows/s; raw W3 ...")
            raw["W3_core"] = raw_db.w3_core(data.w3, scale.batch)
            steps._check(raw_db.count() == answers.rows, "raw row count")
            raw_db.analyze()
            log(f"  {backend}: raw W3 {raw['W3_core']['rows_per_s']} rows/s; W4, W5 "
                "(Loom and raw alternating), W6 ...")
            # A new keep-alive connection: the idle one may have timed out during raw W3.
            with Api(HOST, server.port, token) as api:
                with raw_db.db.engine.connect() as conn:
                    loom["W4"], raw["W4"] = steps.w4_list(
                        api, answers, functools.partial(raw_db.w4_once, conn, answers))
                    memory["W4"] = server.memory()
                    loom["W5"], raw["W5"] = steps.w5_aggregate(
                        api, answers, functools.partial(raw_db.w5_once, conn, answers))
                    memory["W5"] = server.memory()
                loom["W6"] = steps.w6_add_field(api, answers)
                memory["W6"] = server.memory()
            log(f"  {backend}: W4 p50 Loom {loom['W4']['p50_ms']} / raw {raw['W4']['p50_ms']} ms, "
                f"W5 p50 Loom {loom['W5']['p50_ms']} / raw {raw['W5']['p50_ms']} ms; raw W6 ...")
            raw["W6"] = raw_db.w6(answers)
            if backend == "postgresql":
                copy_db = RawDatabase(dbs.url("copy"), data)
                try:
                    raw["W3_copy"] = copy_db.w3_copy(data.w3, scale.batch)
                    steps._check(copy_db.count() == answers.rows, "raw COPY row count")
                finally:
                    copy_db.close()
            if w7:
                log(f"  {backend}: W7 loading {scale.w7} rows into both databases ...")
                started = time.perf_counter()
                for chunk in data.w7_chunks():
                    rows = _raw_rows(chunk)
                    _grow(dbs.url("loom"), chunk, rows)
                    _grow(dbs.url("raw"), chunk, rows)
                    answers.add(chunk)
                result["w7_load_s"] = round(time.perf_counter() - started, 1)
                raw_db.analyze()
                with Api(HOST, server.port, token) as api, \
                        raw_db.db.engine.connect() as conn:
                    count, _ = steps.count_deals(api)
                    steps._check(count == answers.rows, f"W7 row count {count} != {answers.rows}")
                    loom["W7_W4"], raw["W7_W4"] = steps.w4_list(
                        api, answers, functools.partial(raw_db.w4_once, conn, answers))
                    loom["W7_W5"], raw["W7_W5"] = steps.w5_aggregate(
                        api, answers, functools.partial(raw_db.w5_once, conn, answers))
                memory["W7"] = server.memory()
            memory["end"] = server.memory()
            result["peak_rss"] = _peak(memory)
        except BaseException:
            result["server_log_tail"] = server.log()
            raise
        finally:
            server.stop()
            raw_db.close()
    return result
