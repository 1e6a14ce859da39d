"""Workflow automation figures (issue 12, "Performance"), each beside its floor from the same run.

1. ``throughput``: a set-field workflow (``field_changed`` on ``account.level`` to ``A`` ->
   ``set_fields: {lifecycle_stage: prospect}``) run by 1 and by 2 worker processes (separate
   OS processes, each ``Automation(runtime, JobQueue(...)).run()`` against the same Redis and
   database, exactly what ``loom worker`` runs). Per worker count, on a fresh database:

   - *drain*: N updates committed before the workers start (untimed); the workers are then
     released together; runs/s = N / (last run's ``finished_at`` - release time);
   - *paced*: the workers already running and idle, one producer commits updates at a fixed
     rate (``--rates``, one after the other); latency of each event = the run's ``finished_at`` - the producer's
     wall-clock time right after the update's COMMIT returned (both from the same machine's
     clock; ``finished_at`` is written in the run's transaction just before its COMMIT);
   - beside it, same run: rq's own rate for an empty job with the same worker class
     (``LoomWorker``, SimpleWorker without the command channel; N jobs enqueued first, the
     same number of processes, one ``work(burst=True)`` each), and the raw rate of the same
     UPDATE + one audit row INSERT, one transaction per event, on one connection.

2. ``pool``: the daily pool-return scan (``pool_auto_return``) over ``--accounts`` accounts
   (default 1,000,000; PostgreSQL) of which about ``--due-share`` (default 2 %) are due:
   the due query alone, ``due.fire_workflow`` with its default per-call limit and with a limit
   large enough to fire every due account in one call (query + existing-key check + run row
   inserts + enqueue to Redis), beside the raw ``UPDATE account SET owner = NULL ... WHERE``
   of the same rows, same run. Accounts are loaded with ``COPY`` (not timed).

    python bench/workflows.py throughput --backend sqlite|postgresql [--drain 3000] [--paced 1000 --rates 50,100]
    python bench/workflows.py pool [--accounts 1000000] [--due-share 0.02]

``LOOM_BENCH_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres) names the server;
the database ``LOOM_BENCH_PG_DB`` (default ``loom_bench_wf``) is created and dropped for every
pass. ``LOOM_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/0) names Redis (give it a database
of its own: the script uses queues of its own, ``loom-bench-<random>``, and at the end removes
them and every ``loom-*`` job and result in that database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import admin_sql, recreate, server_version
from engine.accounts import users as accounts_users
from engine.automation import due
from engine.automation.queue import RUNS_PER_JOB, JobQueue, connect
from engine.automation.runner import utc_naive
from engine.automation.spec import workflows_of
from engine.automation.worker import Automation, _worker_class
from engine.clock import SimulatedClock, zone
from engine.config import SHIPPED_METADATA, Config
from engine.permissions import Actor
from engine.runtime import Runtime
from engine.storage.db import Database
from engine.storage.migrate import apply_plan

PG_DB = os.environ.get("LOOM_BENCH_PG_DB", "loom_bench_wf")
REDIS_URL = os.environ.get("LOOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SEED = 20260101

SET_FIELD = """
workflow: bench_set_field
label: {en: Level A makes a prospect, zh-CN: A 级客户成为潜在客户}
entity: account
trigger: {type: field_changed, field: level, to: A}
actions:
  - set_fields: {lifecycle_stage: prospect}
"""


def empty() -> None:
    """The empty job of rq's floor."""


# -- databases ---------------------------------------------------------------------------
class Fresh:
    """An empty database of one backend, created on enter and removed on exit."""

    def __init__(self, backend: str) -> None:
        self.backend = backend


    def __enter__(self) -> str:
        self.tmp = tempfile.TemporaryDirectory(prefix="loom-wfbench-")
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp.name}/bench.db"
        return recreate(PG_DB)

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()
        if self.backend == "postgresql":
            admin_sql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def metadata_dirs(workflows: dict[str, str], folder: Path) -> list[str]:
    """The shipped CRM's entities and roles (no shipped workflow) plus ``workflows``."""
    wf = folder / "workflows"
    wf.mkdir(exist_ok=True)
    for name, text in workflows.items():
        (wf / name).write_text(text, encoding="utf-8")
    return [str(d) for d in SHIPPED_METADATA if d.name != "workflows" and d.is_dir()] + [str(wf)]


def runtime_for(url: str, dirs: list[str], clock=None) -> Runtime:
    config = Config.from_env(database=url, metadata=dirs)
    return Runtime(config, clock=clock)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def clear_queue(connection, name: str) -> None:
    keys = [*connection.scan_iter(f"rq:*{name}*"), *connection.scan_iter("rq:job:loom-*"),
            *connection.scan_iter("rq:results:loom-*")]
    for i in range(0, len(keys), 1000):
        connection.delete(*keys[i:i + 1000])


# -- worker processes -------------------------------------------------------------------------
class Workers:
    """``count`` worker processes (``python bench/workflows.py _worker ...``), built and ready,
    released together by :meth:`go`, stopped by closing their stdin."""

    def __init__(self, count: int, args: list[str]) -> None:
        self.procs = [subprocess.Popen([sys.executable, __file__, "_worker", *args],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       cwd=ROOT) for _ in range(count)]
        for proc in self.procs:
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise SystemExit(f"worker did not start: {line!r}")

    def go(self) -> float:
        started = time.time()
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        return started

    def stop(self) -> list[str]:
        out = []
        for proc in self.procs:
            proc.stdin.close()
        for proc in self.procs:
            out.append(proc.stdout.read())
            proc.wait(timeout=60)
        return out


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--metadata", default="")
    parser.add_argument("--redis", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--empty", action="store_true")
    parser.add_argument("--profile", default="")
    args = parser.parse_args(argv)
    queue = JobQueue(connect(args.redis), name=args.queue)
    if args.empty:
        worker = _worker_class()([queue.queue], connection=queue.connection)
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.time()
        worker.work(burst=True, logging_level="WARNING")
        print(json.dumps({"elapsed": time.time() - started}), flush=True)
        return
    runtime = runtime_for(args.database, args.metadata.split(os.pathsep))
    runtime.current  # noqa: B018 - load the model before the clock starts
    automation = Automation(runtime, queue)

    def watch() -> None:
        sys.stdin.readline()  # "go"
        sys.stdin.read()  # EOF: stop
        automation.stop()

    print("ready", flush=True)
    waiter = threading.Thread(target=watch, daemon=True)
    waiter.start()
    done = automation.run(idle_sleep=0.05) if not args.profile else _profiled(automation, args.profile)
    print(json.dumps({"done": done}), flush=True)


def _profiled(automation: Automation, path: str) -> int:
    import cProfile

    profile = cProfile.Profile()
    done = profile.runcall(automation.run)
    profile.dump_stats(path)
    return done


# -- 1. throughput and latency --------------------------------------------------------------------
def _accounts(runtime: Runtime, count: int) -> list[int]:
    rows = [{"name": f"Bench {i:07d}", "account_type": "company"} for i in range(count)]
    return runtime.current.service.bulk_create(Actor.system(), "account", rows, batch_size=5000)


def _update(service, record_id: int) -> float:
    service.update(Actor.system(), "account", record_id, {"level": "A"}, version=1)
    return time.time()


def _finished(runtime: Runtime) -> dict[int, float]:
    runs = runtime.current.tables.workflow_runs
    with runtime.current.db.read() as conn:
        rows = conn.execute(sa.select(runs.c.record_id, runs.c.finished_at, runs.c.status)
                            .where(runs.c.workflow == "bench_set_field")).all()
    bad = [r for r in rows if r.status not in ("succeeded", "queued", "running")]
    if bad:
        raise SystemExit(f"runs that did not succeed: {bad[:3]}")
    return {r.record_id: r.finished_at.replace(tzinfo=dt.UTC).timestamp()
            for r in rows if r.status == "succeeded"}


def _wait_runs(runtime: Runtime, ids: list[int], timeout: float = 600) -> dict[int, float]:
    wanted = set(ids)
    deadline = time.time() + timeout
    while True:
        done = _finished(runtime)
        if wanted <= done.keys():
            return done
        if time.time() > deadline:
            raise SystemExit(f"only {len(wanted & done.keys())} of {len(wanted)} runs finished")
        time.sleep(0.25)


def _check_targets(runtime: Runtime, ids: list[int]) -> None:
    table = runtime.current.tables.entity("account")
    with runtime.current.db.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c.id.in_(ids), table.c.lifecycle_stage == "prospect",
            table.c.version == 3)).scalar()
    if n != len(ids):
        raise SystemExit(f"{len(ids) - n} accounts were not set by their run")


def throughput_pass(backend: str, workers: int, drain: int, paced: int, rates: list[float],
                    redis_url: str, profile: str = "") -> dict:
    result: dict = {"workers": workers}
    with Fresh(backend) as url:
        folder = Path(tempfile.mkdtemp(prefix="loom-wfbench-meta-"))
        dirs = metadata_dirs({"bench.yaml": SET_FIELD}, folder)
        runtime = runtime_for(url, dirs)
        apply_plan(runtime.current.db, runtime.model, actor="bench")
        runtime.reload()
        ids = _accounts(runtime, drain + paced * len(rates))
        service = runtime.current.service
        connection = connect(redis_url)
        name = f"loom-bench-{uuid.uuid4().hex[:8]}"
        args = ["--database", url, "--metadata", os.pathsep.join(dirs),
                "--redis", redis_url, "--queue", name]
        try:
            # Drain: a backlog of `drain` committed events, then the workers released together.
            for record_id in ids[:drain]:
                _update(service, record_id)
            pool = Workers(workers, args + (["--profile", profile] if profile else []))
            released = pool.go()
            done = _wait_runs(runtime, ids[:drain])
            last = max(done[i] for i in ids[:drain])
            result["drain_events"] = drain
            result["drain_s"] = round(last - released, 3)
            result["drain_runs_per_s"] = round(drain / (last - released), 1)
            result["drain_runs_per_s_per_worker"] = round(drain / (last - released) / workers, 1)
            # Paced: the same workers, idle, and one producer at each rate in turn.
            result["paced"] = []
            first = drain
            for rate in rates:
                time.sleep(1.0)
                chunk = ids[first:first + paced]
                first += paced
                committed: dict[int, float] = {}
                interval = 1.0 / rate
                start = time.perf_counter()
                for n, record_id in enumerate(chunk):
                    pause = start + n * interval - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    committed[record_id] = _update(service, record_id)
                produced = time.perf_counter() - start
                done = _wait_runs(runtime, chunk)
                latencies = [(done[i] - committed[i]) * 1000 for i in chunk]
                result["paced"].append({
                    "events": paced, "rate_asked": rate,
                    "rate_produced": round(paced / produced, 1),
                    "latency_ms": {"p50": round(pct(latencies, 0.50), 1),
                                   "p90": round(pct(latencies, 0.90), 1),
                                   "p99": round(pct(latencies, 0.99), 1),
                                   "max": round(max(latencies), 1)}})
            pool.stop()
            _check_targets(runtime, ids)
            # Floor 1: rq's own rate for an empty job, same worker class, same process count.
            clear_queue(connection, name)
            floor_queue = JobQueue(connection, name=name + "-empty")
            from rq import Queue
            for i in range(0, drain, 1000):
                floor_queue.queue.enqueue_many([
                    Queue.prepare_data("bench.workflows.empty", job_id=f"loom-empty-{name}-{j}",
                                       result_ttl=3600, failure_ttl=3600)
                    for j in range(i, min(drain, i + 1000))])
            empties = Workers(workers, ["--redis", redis_url, "--queue", name + "-empty", "--empty"])
            released = empties.go()
            outs = [json.loads(o.strip().splitlines()[-1]) for o in empties.stop()]
            jobs = floor_queue.queue.finished_job_registry.count
            if jobs != drain:
                raise SystemExit(f"empty jobs: {jobs} of {drain} done")
            wall = max(o["elapsed"] for o in outs)
            result["rq_empty_jobs_per_s"] = round(jobs / wall, 1)
            result["rq_empty_jobs_per_s_per_worker"] = round(jobs / wall / workers, 1)
            clear_queue(connection, name + "-empty")
            # Floor 2: the same UPDATE + one audit row, raw, one transaction per event.
            result["raw_update_audit_per_s"] = round(raw_update_audit(runtime, ids[:drain]), 1)
        finally:
            clear_queue(connection, name)
            connection.close()
            runtime.current.db.dispose()
            shutil.rmtree(folder, ignore_errors=True)
    return result


def raw_update_audit(runtime: Runtime, ids: list[int]) -> float:
    """The set-field action's write without the engine: UPDATE + audit INSERT, one transaction
    per event, on one connection (the same rows, now set back to another stage)."""
    snapshot = runtime.current
    account = snapshot.tables.entity("account")
    audit = snapshot.tables.audit
    update = sa.update(account).where(account.c.id == sa.bindparam("rid"),
                                      account.c.version == sa.bindparam("v")).values(
        lifecycle_stage=sa.bindparam("stage"), version=account.c.version + 1,
        updated_at=sa.bindparam("now"))
    insert = sa.insert(audit)
    started = time.perf_counter()
    with snapshot.db.engine.connect() as conn:
        for record_id in ids:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            with conn.begin():
                conn.execute(update, {"rid": record_id, "v": 3, "stage": "customer", "now": now})
                conn.execute(insert, {"at": now, "actor_id": None, "entity": "account",
                                      "record_id": record_id, "action": "update",
                                      "changes": {"lifecycle_stage": ["prospect", "customer"]},
                                      "cause_kind": "workflow", "cause_id": "1",
                                      "cause_label": "Level A makes a prospect", "depth": 1})
    return len(ids) / (time.perf_counter() - started)


# -- 2. the pool-return scan ----------------------------------------------------------------------
NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
POOLS = (("East pool", 15), ("West pool", 30), ("North pool", 15), ("South pool", 60))
USERS = 50


def _pool_rows(accounts: int, due_share: float, pool_ids: list[int], user_ids: list[int]):
    """Accounts: 90 % owned, 95 % in a pool; about ``due_share`` of them due. Yields COPY rows
    and returns the ids that are due through ``due``."""
    rng = random.Random(SEED)
    now = utc_naive(NOW)
    created = now - dt.timedelta(days=400)
    days = dict(zip(pool_ids, (d for _, d in POOLS)))
    due_ids: list[int] = []
    rows = []
    for i in range(1, accounts + 1):
        owner = rng.choice(user_ids) if rng.random() < 0.9 else None
        pool = rng.choice(pool_ids) if rng.random() < 0.95 else None
        limit = days.get(pool, 30)
        if rng.random() < due_share:
            followup = now - dt.timedelta(days=limit + 1 + rng.random() * 60)
        else:
            followup = now - dt.timedelta(days=rng.random() * (limit - 1))
        claimed = followup - dt.timedelta(days=rng.random() * 100) if rng.random() < 0.3 else None
        if (owner is not None and pool is not None
                and max(followup, claimed or created) < now - dt.timedelta(days=limit)):
            due_ids.append(i)
        rows.append((i, f"Customer {i:07d}", "company", "customer", owner, pool, followup,
                     claimed, created, created, 1, owner))
    return rows, due_ids


POOL_COLUMNS = ("id", "name", "account_type", "lifecycle_stage", "owner", "pool",
                "last_followup_at", "claimed_at", "created_at", "updated_at", "version",
                "created_by")


def pool_pass(accounts: int, due_share: float, redis_url: str) -> dict:
    result: dict = {"accounts": accounts, "due_share": due_share}
    with Fresh("postgresql") as url:
        folder = Path(tempfile.mkdtemp(prefix="loom-wfbench-meta-"))
        text = (ROOT / "workflows" / "pool_auto_return.yaml").read_text(encoding="utf-8")
        dirs = metadata_dirs({"pool_auto_return.yaml": text}, folder)
        clock = SimulatedClock(NOW, zone=zone("Asia/Shanghai"))
        runtime = runtime_for(url, dirs, clock=clock)
        db = runtime.current.db
        apply_plan(db, runtime.model, actor="bench")
        runtime.reload()
        snapshot = runtime.current
        tables = snapshot.tables
        user_ids = [accounts_users.create_user(db, tables, f"sales{n:02d}", password=None,
                                               display_name=f"Sales {n:02d}",
                                               email=f"sales{n:02d}@example.com")
                    for n in range(USERS)]
        pool_ids = [snapshot.service.create(Actor.system(), "customer_pool",
                                            {"name": n, "return_after_days": d})["id"]
                    for n, d in POOLS]
        rows, due_ids = _pool_rows(accounts, due_share, pool_ids, user_ids)
        started = time.perf_counter()
        with db.engine.raw_connection() as raw:
            cursor = raw.cursor()
            with cursor.copy(f"COPY account ({', '.join(POOL_COLUMNS)}) FROM STDIN") as out:
                for row in rows:
                    out.write_row(row)
            cursor.execute("SELECT setval(pg_get_serial_sequence('account', 'id'), %s)",
                           (accounts,))
            raw.commit()
            raw.autocommit = True
            cursor.execute("ANALYZE account")
        result["load_s"] = round(time.perf_counter() - started, 1)
        result["due_expected"] = len(due_ids)
        del rows
        workflow = workflows_of(snapshot.model)["pool_auto_return"]
        connection = connect(redis_url)
        name = f"loom-bench-{uuid.uuid4().hex[:8]}"
        queue = JobQueue(connection, name=name)
        runs = tables.workflow_runs
        everything = accounts + 1
        try:
            # The due query alone (all due accounts, no limit in effect).
            with db.write() as conn:
                started = time.perf_counter()
                firings = list(due.due_firings(snapshot, conn, workflow, NOW, limit=everything))
                result["due_query_s"] = round(time.perf_counter() - started, 3)
            if sorted(f[0] for f in firings) != due_ids:
                raise SystemExit(f"due query found {len(firings)}, expected {len(due_ids)}")
            # fire_workflow: one scheduler call with its default limit, then one with no limit.
            for label, limit in (("default_limit", due.FIRINGS_PER_CALL), ("all", everything)):
                with db.write() as conn:
                    conn.execute(sa.delete(runs))
                clear_queue(connection, name)
                started = time.perf_counter()
                fired = due.fire_workflow(snapshot, workflow, queue.enqueue, limit=limit)
                elapsed = time.perf_counter() - started
                expected = min(limit, len(due_ids))
                jobs = -(-expected // RUNS_PER_JOB)  # runs go RUNS_PER_JOB to an rq job
                if fired != expected or len(queue) != jobs:
                    raise SystemExit(f"fire_workflow ({label}) fired {fired}, queued "
                                     f"{len(queue)}, expected {expected}")
                result[f"fire_workflow_{label}"] = {"runs": fired, "s": round(elapsed, 3)}
            # The due query plus the run inserts, without the enqueue (the queue's share).
            with db.write() as conn:
                conn.execute(sa.delete(runs))
            started = time.perf_counter()
            fired = due.fire_workflow(snapshot, workflow, lambda jobs: None, limit=everything)
            result["fire_workflow_all_no_enqueue"] = {
                "runs": fired, "s": round(time.perf_counter() - started, 3)}
            # A second scan the same day finds every firing already made (nothing new).
            started = time.perf_counter()
            again = due.fire_workflow(snapshot, workflow, queue.enqueue, limit=everything)
            result["fire_workflow_all_again"] = {"runs": again,
                                                 "s": round(time.perf_counter() - started, 3)}
            # The raw UPDATE of the same rows (one statement, same WHERE, one transaction).
            result["raw_update"] = raw_pool_update(db, pool_ids, len(due_ids))
        finally:
            clear_queue(connection, name)
            connection.close()
            db.dispose()
            shutil.rmtree(folder, ignore_errors=True)
    return result


def raw_pool_update(db: Database, pool_ids: list[int], expected: int) -> dict:
    now = utc_naive(NOW)
    since = ("greatest(coalesce(last_followup_at, created_at), "
             "coalesce(claimed_at, created_at))")
    ranges = " OR ".join(f"(pool = {pid} AND {since} < %(cut{pid})s)" for pid in pool_ids)
    params = {f"cut{pid}": now - dt.timedelta(days=d) for pid, (_, d) in zip(pool_ids, POOLS)}
    params["now"] = now
    sql = ("UPDATE account SET owner = NULL, previous_owner = owner, returned_at = %(now)s, "
           "claimed_at = NULL, return_reason = 'No follow-up', version = version + 1, "
           f"updated_at = %(now)s WHERE owner IS NOT NULL AND pool IS NOT NULL AND ({ranges})")
    with db.engine.raw_connection() as raw:
        cursor = raw.cursor()
        started = time.perf_counter()
        cursor.execute(sql, params)
        count = cursor.rowcount
        raw.commit()
        elapsed = time.perf_counter() - started
    if count != expected:
        raise SystemExit(f"raw UPDATE changed {count} rows, expected {expected}")
    return {"rows": count, "s": round(elapsed, 3)}


# -- main ----------------------------------------------------------------------------------------

def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    tp = sub.add_parser("throughput")
    tp.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    tp.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    tp.add_argument("--drain", type=int, default=3000, help="events in the drain measurement")
    tp.add_argument("--paced", type=int, default=1000, help="events in the latency measurement")
    tp.add_argument("--rates", default="50,100", help="paced events per second, comma-separated")
    tp.add_argument("--profile", default="", help="cProfile file per worker (diagnostic)")
    pp = sub.add_parser("pool")
    pp.add_argument("--accounts", type=int, default=1_000_000)
    pp.add_argument("--due-share", type=float, default=0.02)
    for p in (tp, pp):
        p.add_argument("--redis", default=REDIS_URL)
    args = parser.parse_args()
    report = {"python": platform.python_version(),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}"}
    if args.part == "throughput":
        report.update(bench="workflow throughput", database=server_version(args.backend))
        report["passes"] = []
        for count in (int(c) for c in args.workers.split(",")):
            profile = f"{args.profile}.{count}" if args.profile else ""
            report["passes"].append(throughput_pass(args.backend, count, args.drain, args.paced,
                                                    [float(x) for x in args.rates.split(",")],
                                                    args.redis, profile))
        print(json.dumps(report, indent=2))
        for r in report["passes"]:
            paced = "; ".join(f"at {p['rate_produced']}/s p50 {p['latency_ms']['p50']} ms, p99 "
                              f"{p['latency_ms']['p99']} ms" for p in r["paced"])
            print(f"{args.backend:<10} {r['workers']} worker(s): drain "
                  f"{r['drain_runs_per_s_per_worker']:,} runs/s per worker "
                  f"({r['drain_runs_per_s']:,} total; target >= 250/worker)   latency {paced} "
                  f"(targets 50 / 250)   rq empty job {r['rq_empty_jobs_per_s_per_worker']:,}/s "
                  f"per worker   raw UPDATE+audit {r['raw_update_audit_per_s']:,}/s")
    else:
        report.update(bench="pool-return scan", database=server_version("postgresql"))
        report["result"] = pool_pass(args.accounts, args.due_share, args.redis)
        print(json.dumps(report, indent=2))
        r = report["result"]
        print(f"pool scan over {r['accounts']:,} accounts, {r['due_expected']:,} due: due query "
              f"{r['due_query_s']} s; fire_workflow {r['fire_workflow_all']['s']} s for all "
              f"(target <= 5 s), {r['fire_workflow_default_limit']['s']} s for the first "
              f"{r['fire_workflow_default_limit']['runs']:,}; raw UPDATE {r['raw_update']['s']} s")


if __name__ == "__main__":
    main()
