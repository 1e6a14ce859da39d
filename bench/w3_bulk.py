"""W3 of the shared workload through the engine: 100,000 deals via the bulk path.

Loom's figure: ``RecordService.bulk_create`` (validation, defaults, rules, audit
rows and outbox rows on) in batches of 5,000, one transaction per batch.
Raw figure, same run, same database server, same table (created by the same
``loom migrate``): SQLAlchemy Core ``conn.execute(insert(deal), rows)`` in batches
of 5,000, one transaction per batch; on PostgreSQL also ``COPY ... FROM STDIN``.
Every pass starts from an empty database; the median of the passes is reported.

    python bench/w3_bulk.py [--backend sqlite|postgresql|both] [--passes 3] [--rows 100000]

PostgreSQL: ``LOOM_BENCH_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres) is
used to create and drop the database ``loom_bench``.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from bench.workload import ACCOUNT_SPEC, DEAL_SPEC, W2_DEALS, W3_DEALS, Workload  # noqa: E402
from bench.databases import admin_sql, recreate, server_version  # noqa: E402
from engine.compiler import compile_documents  # noqa: E402
from engine.records import Actor  # noqa: E402
from engine.runtime import assemble  # noqa: E402
from engine.spec import MemorySource  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.migrate import apply_plan  # noqa: E402
from engine.storage.tables import build_tables  # noqa: E402

BATCH = 5_000


def _model():
    errors: list = []
    return compile_documents(MemorySource(ACCOUNT_SPEC, DEAL_SPEC).documents(errors), errors)


class _Fresh:
    """An empty database of one backend, created on enter and removed on exit."""

    def __init__(self, backend: str) -> None:
        self.backend = backend

    def __enter__(self) -> Database:
        if self.backend == "sqlite":
            self.tmp = tempfile.TemporaryDirectory()
            self.db = Database(f"sqlite:///{self.tmp.name}/bench.db")
        else:
            self.db = Database(recreate("loom_bench"))
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.dispose()
        if self.backend == "sqlite":
            self.tmp.cleanup()
        else:
            admin_sql("DROP DATABASE IF EXISTS loom_bench")


def _prepare(db: Database, model):
    apply_plan(db, model, actor="bench")
    # The service every process uses: with the role policy (the system actor passes it).
    service = assemble(db, model).service
    work = Workload()
    account_ids = service.bulk_create(Actor.system(), "account", work.accounts(), batch_size=BATCH)
    work.deals(W2_DEALS, account_ids)  # W2's rows come first in the spec's order
    return service, account_ids, work


def run_loom(backend: str, rows: int) -> float:
    model = _model()
    with _Fresh(backend) as db:
        service, account_ids, work = _prepare(db, model)
        deals = work.deals(rows, account_ids)
        started = time.perf_counter()
        for i in range(0, rows, BATCH):
            service.bulk_create(Actor.system(), "deal", deals[i:i + BATCH], batch_size=BATCH)
        elapsed = time.perf_counter() - started
        _check_count(db, service.tables.entity("deal"), rows)
        return rows / elapsed


def _raw_rows(deals: list[dict]) -> list[dict]:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return [{**d, "created_at": now, "updated_at": now, "version": 1} for d in deals]


def run_raw(backend: str, rows: int, copy: bool = False) -> float:
    model = _model()
    with _Fresh(backend) as db:
        _service, account_ids, work = _prepare(db, model)
        deal = build_tables(model).entity("deal")
        deals = _raw_rows(work.deals(rows, account_ids))
        started = time.perf_counter()
        if copy:
            columns = list(deals[0])
            with db.engine.raw_connection() as raw:
                cursor = raw.cursor()
                for i in range(0, rows, BATCH):
                    with cursor.copy(f"COPY deal ({', '.join(columns)}) FROM STDIN") as out:
                        for d in deals[i:i + BATCH]:
                            out.write_row([d[c] for c in columns])
                    raw.commit()
        else:
            for i in range(0, rows, BATCH):
                with db.engine.begin() as conn:
                    conn.execute(sa.insert(deal), deals[i:i + BATCH])
        elapsed = time.perf_counter() - started
        _check_count(db, deal, rows)
        return rows / elapsed


def _check_count(db: Database, table: sa.Table, rows: int) -> None:
    with db.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    if count != rows:
        raise SystemExit(f"wrong row count: {count} != {rows}")



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--rows", type=int, default=W3_DEALS)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report = {"bench": "W3 bulk create", "rows": args.rows, "batch_size": BATCH,
              "passes": args.passes, "python": platform.python_version(),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
              "results": {}}
    for backend in backends:
        figures: dict[str, list[float]] = {"loom": [], "raw_core": []}
        if backend == "postgresql":
            figures["raw_copy"] = []
        for _ in range(args.passes):
            figures["raw_core"].append(run_raw(backend, args.rows))
            figures["loom"].append(run_loom(backend, args.rows))
            if backend == "postgresql":
                figures["raw_copy"].append(run_raw(backend, args.rows, copy=True))
        medians = {k: statistics.median(v) for k, v in figures.items()}
        report["results"][backend] = {
            "database": server_version(backend),
            "rows_per_s_median": {k: round(v) for k, v in medians.items()},
            "rows_per_s_all": {k: [round(x) for x in v] for k, v in figures.items()},
            "loom_vs_raw_core": round(medians["loom"] / medians["raw_core"], 3),
        }
    print(json.dumps(report, indent=2))
    for backend, result in report["results"].items():
        m = result["rows_per_s_median"]
        line = (f"{backend:<10} Loom {m['loom']:>9,} rows/s   raw Core {m['raw_core']:>9,} rows/s   "
                f"ratio {result['loom_vs_raw_core']:.2f} (target >= 0.50)")
        if "raw_copy" in m:
            line += f"   raw COPY {m['raw_copy']:,} rows/s"
        print(line)


if __name__ == "__main__":
    main()
