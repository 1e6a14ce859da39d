"""``loom worker`` and ``loom runs``: running workflows and looking after their runs."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

import click

from engine.cli.common import Context, fail, guarded


def _queue(url: str | None) -> tuple[Any, Any]:
    """The job queue on ``url``, else on an embedded Redis started here (and its handle)."""
    from engine.automation.queue import JobQueue, connect

    if url:
        return JobQueue(connect(url)), None
    from engine.automation.embedded import start_embedded_redis

    server = start_embedded_redis(Path(tempfile.mkdtemp(prefix="loom-redis-")))
    click.echo("LOOM_REDIS_URL is not set: using an embedded Redis for this worker only")
    return JobQueue(connect(server.url)), server


@click.command()
@click.option("--burst", is_flag=True,
              help="Deliver and run everything due, then exit (tests, cron).")
@click.option("--scheduler-interval", default=15.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between two looks for due date, inactivity and cron triggers.")
@click.pass_obj
@guarded
def worker(obj: Context, burst: bool, scheduler_interval: float) -> None:
    """Run workflows: relay the outbox to rq, fire due triggers, work the queue
    (LOOM_REDIS_URL names the shared Redis)."""
    import datetime as dt

    import redis

    from engine.automation.worker import OUTBOX_RETENTION, Automation

    retention = OUTBOX_RETENTION
    days = os.environ.get("LOOM_OUTBOX_RETENTION_DAYS")
    if days:
        try:
            retention = dt.timedelta(days=float(days))
        except ValueError:
            fail(f"LOOM_OUTBOX_RETENTION_DAYS must be a number of days, not {days!r}", 2)
    url = os.environ.get("LOOM_REDIS_URL")
    queue, server = _queue(url)
    try:
        queue.connection.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        fail(f"cannot reach Redis at {url}: {exc}", 4)
    automation = Automation(obj.runtime, queue, scheduler_interval=scheduler_interval,
                            outbox_retention=retention)
    signal.signal(signal.SIGTERM, lambda *_: automation.stop())
    try:
        done = automation.run(burst=burst)
    except KeyboardInterrupt:
        done = 0
    finally:
        if server is not None:
            server.stop()
    if burst:
        click.echo(f"worker: done ({done} job{'s' if done != 1 else ''})")


@click.group()
def runs() -> None:
    """Workflow runs: list, show, retry."""


@runs.command("list")
@click.option("--status", type=click.Choice(["queued", "succeeded", "skipped",
                                             "failed", "stopped"]))
@click.option("--workflow")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def list_(obj: Context, status: str | None, workflow: str | None, limit: int,
          as_json: bool) -> None:
    """The newest runs, newest first."""
    from engine.automation.runs import list_runs

    rows = list_runs(obj.runtime.current, status=status, workflow=workflow, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no runs")
    for row in rows:
        record = f"{row['entity']} {row['record_id']}" if row["record_id"] else row["entity"]
        error = f"  {row['error']}" if row["error"] else ""
        click.echo(f"{row['id']:>7}  {row['status']:<9}  {row['workflow']:<28}  {record:<20}  "
                   f"attempts {row['attempts']}{error}")


@runs.command("show")
@click.argument("run_id", type=int)
@click.pass_obj
@guarded
def show(obj: Context, run_id: int) -> None:
    """One run: trigger, condition, each action's outcome, error."""
    from engine.automation.runs import get_run

    row = get_run(obj.runtime.current, run_id)
    if row is None:
        fail(f"no run {run_id}", 3)
    click.echo(json.dumps(row, default=str, ensure_ascii=False, indent=2))


@runs.command("retry")
@click.argument("run_id", type=int)
@click.pass_obj
@guarded
def retry_(obj: Context, run_id: int) -> None:
    """Run a failed or stopped run again (a worker picks it up)."""
    from engine.automation.runs import retry

    if not retry(obj.runtime.current, run_id):
        fail(f"run {run_id} does not exist or did not fail", 3)
    click.echo(f"run {run_id} will run again at the worker's next turn")


def register(group: click.Group) -> None:
    group.add_command(worker)
    group.add_command(runs)
