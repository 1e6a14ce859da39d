"""rq and Redis: the connection, Loom's queue, and the jobs it enqueues.

``LOOM_REDIS_URL`` names the Redis server (``redis://host:6379/0``; several worker
processes on several machines share one). Only this package imports rq and redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.automation.relay import Job

#: Environment variable naming the Redis server.
REDIS_ENV = "LOOM_REDIS_URL"
#: The rq queue Loom's jobs go to.
QUEUE_NAME = "loom"
#: Job functions by job kind (imported by the worker by name).
FUNCTIONS = {"run": "engine.automation.jobs.run", "deliver": "engine.automation.jobs.deliver",
             "transfer": "engine.automation.jobs.transfer"}
#: Runs handed out together as one rq job (rq's own work per job, some 18 Redis round trips,
#: costs more than a short run): each still runs alone, exactly once, in its own unit.
RUNS_PER_JOB = 25
RUN_MANY = "engine.automation.jobs.run_many"
#: Seconds a job may take before rq stops it (a webhook has its own, shorter timeout).
JOB_TIMEOUT = 600
#: Seconds rq keeps a finished job's result, and a failed job.
RESULT_TTL, FAILURE_TTL = 3600, 7 * 86400


def connect(url: str) -> Any:
    """A Redis client for ``url`` (raises ValueError for a malformed URL)."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                                health_check_interval=30)


class JobQueue:
    """Loom's rq queue on one Redis connection."""

    def __init__(self, connection: Any, name: str = QUEUE_NAME) -> None:
        from rq import Queue

        self.connection = connection
        self.queue = Queue(name, connection=connection, default_timeout=JOB_TIMEOUT)

    def enqueue(self, jobs: Sequence[Job]) -> None:
        """Enqueue ``jobs`` in one round trip, with deterministic ids (``loom-run-12``)."""
        from rq import Queue

        if not jobs:
            return
        unique = list(dict.fromkeys(jobs))
        runs = [ident for kind, ident in unique if kind == "run"]
        data = [Queue.prepare_data(FUNCTIONS[kind], args=(ident,), job_id=f"loom-{kind}-{ident}",
                                   result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                                   timeout=JOB_TIMEOUT)
                for kind, ident in unique if kind != "run"]
        for start in range(0, len(runs), RUNS_PER_JOB):
            chunk = runs[start:start + RUNS_PER_JOB]
            if len(chunk) == 1:
                data.append(Queue.prepare_data(
                    FUNCTIONS["run"], args=(chunk[0],), job_id=f"loom-run-{chunk[0]}",
                    result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, timeout=JOB_TIMEOUT))
            else:
                data.append(Queue.prepare_data(
                    RUN_MANY, args=(chunk,), job_id=f"loom-runs-{chunk[0]}-{chunk[-1]}",
                    result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, timeout=JOB_TIMEOUT))
        self.queue.enqueue_many(data)

    def __len__(self) -> int:
        return self.queue.count
