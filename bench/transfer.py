"""One-click transfer: 10,000 records from one user to another, as the worker runs it.

Loom's figure: :func:`engine.automation.transfer.execute` of one job (select the open
records, then :func:`engine.records.bulk_actions.transfer_owner` as an admin: batches of
200 in one transaction each, permissions, validation and rules per record, the version
guard, one audit row and one outbox event per record with the cause ``transfer``, the
progress row written after each batch). The records: the shipped CRM's accounts (4,000),
open deals (3,500) and open activities (2,500), made with ``bulk_create``.
Raw figure, same run, same database, same rows (given back to the first user): plain
``UPDATE <table> SET owner = :to WHERE id IN (<200 ids>)``, one transaction per 200 ids,
no audit; and the same as ONE statement per table. Every record's owner is checked after
each side. The median of the passes is reported.

    python bench/transfer.py [--backend sqlite|postgresql|both] [--passes 3]

PostgreSQL: ``LOOM_BENCH_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres)
is used to create and drop the database ``<LOOM_BENCH_PG_PREFIX>_transfer`` (default
``loom_bench_transfer``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.accounts import users as accounts_users  # noqa: E402
from bench.databases import admin_sql, recreate, server_version  # noqa: E402
from engine.accounts.actors import actor_for  # noqa: E402
from engine.automation import transfer  # noqa: E402
from engine.config import SHIPPED_METADATA, Config  # noqa: E402
from engine.permissions import Actor  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.migrate import apply_plan  # noqa: E402

PG_DATABASE = os.environ.get("LOOM_BENCH_PG_PREFIX", "loom_bench") + "_transfer"
#: Records moved: accounts, open deals, open activities.
SHAPE = {"account": 4000, "deal": 3500, "activity": 2500}
#: Ids per raw transaction (Loom's batch size).
RAW_BATCH = 200
DUE = "2026-03-10T09:00:00+08:00"


class _Fresh:
    """An empty database of one backend, created on enter and removed on exit."""

    def __init__(self, backend: str) -> None:
        self.backend = backend


    def __enter__(self) -> Database:
        if self.backend == "sqlite":
            self.tmp = tempfile.TemporaryDirectory()
            self.db = Database(f"sqlite:///{self.tmp.name}/bench.db")
        else:
            self.db = Database(recreate(PG_DATABASE))
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.dispose()
        if self.backend == "sqlite":
            self.tmp.cleanup()
        else:
            admin_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE}")


def _prepare(db: Database) -> tuple[Runtime, dict[str, int], dict[str, list[int]]]:
    dirs = [str(d) for d in SHIPPED_METADATA if d.name != "workflows"]
    runtime = Runtime(Config.from_env(database=db.url, metadata=dirs), db=db)
    apply_plan(db, runtime.model, actor="bench")
    runtime.reload()
    tables = runtime.tables
    people = {name: accounts_users.create_user(db, tables, name, password=None)
              for name in ("alice", "bob", "boss")}
    accounts_users.grant_role(db, tables, "boss", "admin")
    for name in ("alice", "bob"):
        accounts_users.grant_role(db, tables, name, "sales")
    service, system, alice = runtime.service, Actor.system(), people["alice"]
    accounts = service.bulk_create(system, "account", [
        {"name": f"Account {i}", "owner": alice} for i in range(SHAPE["account"])])
    deals = service.bulk_create(system, "deal", [
        {"title": f"Deal {i}", "account": accounts[i % len(accounts)], "owner": alice,
         "stage": ("lead", "qualified")[i % 2]} for i in range(SHAPE["deal"])])
    activities = service.bulk_create(system, "activity", [
        {"kind": "call", "subject": f"Call {i}", "account": accounts[i % len(accounts)],
         "owner": alice, "due_at": DUE} for i in range(SHAPE["activity"])])
    return runtime, people, {"account": accounts, "deal": deals, "activity": activities}


def _check(db: Database, runtime: Runtime, ids: dict[str, list[int]], owner: int) -> None:
    with db.read() as conn:
        for entity, wanted in ids.items():
            table = runtime.tables.entity(entity)
            count = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.owner == owner)).scalar_one()
            if count != len(wanted):
                raise SystemExit(f"{entity}: {count} records owned, {len(wanted)} expected")


def one_pass(backend: str) -> dict[str, float]:
    with _Fresh(backend) as db:
        runtime, people, ids = _prepare(db)
        total = sum(len(v) for v in ids.values())
        snapshot = runtime.current
        boss = actor_for(db, runtime.tables, people["boss"])
        job_id = transfer.request(snapshot, boss, people["alice"], people["bob"])
        started = time.perf_counter()
        status = transfer.execute(snapshot, job_id)
        loom = time.perf_counter() - started
        job = transfer.get(snapshot, job_id)
        if status != transfer.DONE or job["done"] != total or job["failed"]:
            raise SystemExit(f"the job ended {status}: {job}")
        _check(db, runtime, ids, people["bob"])
        audit = runtime.tables.audit
        with db.read() as conn:
            audited = conn.execute(sa.select(sa.func.count()).select_from(audit).where(
                audit.c.cause_kind == "transfer", audit.c.cause_id == str(job_id))).scalar_one()
        if audited != total:
            raise SystemExit(f"{audited} audit rows, {total} expected")

        # Raw: the same rows back to alice, 200 ids per transaction, then bob in one statement.
        started = time.perf_counter()
        for entity, wanted in ids.items():
            table = runtime.tables.entity(entity)
            for start in range(0, len(wanted), RAW_BATCH):
                with db.engine.begin() as conn:
                    conn.execute(sa.update(table).where(
                        table.c.id.in_(wanted[start:start + RAW_BATCH])).values(
                        owner=people["alice"]))
        raw = time.perf_counter() - started
        _check(db, runtime, ids, people["alice"])
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for entity in ids:
                table = runtime.tables.entity(entity)
                conn.execute(sa.update(table).where(table.c.owner == people["alice"])
                             .values(owner=people["bob"]))
        single = time.perf_counter() - started
        _check(db, runtime, ids, people["bob"])
        return {"loom": total / loom, "raw_batched": total / raw, "raw_single": total / single}



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report = {"bench": "one-click transfer", "records": sum(SHAPE.values()), "shape": SHAPE,
              "passes": args.passes, "python": platform.python_version(),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
              "results": {}}
    for backend in backends:
        figures: dict[str, list[float]] = {"loom": [], "raw_batched": [], "raw_single": []}
        for _ in range(args.passes):
            for key, value in one_pass(backend).items():
                figures[key].append(value)
        medians = {k: statistics.median(v) for k, v in figures.items()}
        report["results"][backend] = {
            "database": server_version(backend),
            "records_per_s_median": {k: round(v) for k, v in medians.items()},
            "records_per_s_all": {k: [round(x) for x in v] for k, v in figures.items()},
            "loom_vs_raw_batched": round(medians["loom"] / medians["raw_batched"], 3),
        }
    print(json.dumps(report, indent=2))
    for backend, result in report["results"].items():
        m = result["records_per_s_median"]
        print(f"{backend:<10} Loom {m['loom']:>8,} records/s (audit on; target >= 2,000)   "
              f"raw UPDATE per 200 {m['raw_batched']:>8,}/s   one UPDATE {m['raw_single']:>9,}/s")


if __name__ == "__main__":
    main()
