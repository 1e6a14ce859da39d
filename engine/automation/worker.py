"""``loom worker``: the relay, the scheduler and an rq worker in one process.

Every worker process runs the same loop (:meth:`Automation.run`): deliver the outbox
(:mod:`.relay`), fire what is due (:mod:`.due`, every ``scheduler_interval`` seconds),
enqueue retries, then work the rq queue (rq's ``SimpleWorker``: jobs run in this process,
with its runtime, no fork per job). Several processes on several machines share one
Redis and one database: the relay's ``SKIP LOCKED`` claims and the run rows' unique
keys keep every event and every firing to one run.

``burst``: repeat until nothing is waiting, due or queued, then return (tests, cron).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import sqlalchemy as sa

from engine.automation import due, jobs, relay, transfer
from engine.automation.queue import JobQueue
from engine.automation.runner import utc_naive

log = logging.getLogger(__name__)

#: Seconds between two looks for due firings (the relay looks on every turn).
SCHEDULER_INTERVAL = 15.0
#: Seconds a worker sleeps when a turn found nothing to do.
IDLE_SLEEP = 0.05
#: Delivered outbox rows older than this are pruned (``LOOM_OUTBOX_RETENTION_DAYS``).
OUTBOX_RETENTION = dt.timedelta(days=7)
#: Seconds between two prunes of the outbox.
PRUNE_INTERVAL = 3600.0


def _worker_class() -> type:
    """rq's SimpleWorker without its command channel.

    The loop below calls ``work(burst=True)`` once per turn; rq subscribes to a pub/sub
    channel at each call and stops the listening thread at its end, which can wait for
    the thread's 60-second poll. Loom sends workers no rq commands (stop a worker with
    SIGTERM), so the channel is left out.
    """
    from rq import SimpleWorker

    class LoomWorker(SimpleWorker):
        def subscribe(self) -> None:
            self.pubsub_thread = None

        def unsubscribe(self) -> None:
            return None

    return LoomWorker


class Automation:
    """One worker process's automation loop over ``runtime`` and ``queue``."""

    def __init__(self, runtime: Any, queue: JobQueue, *,
                 scheduler_interval: float = SCHEDULER_INTERVAL,
                 outbox_retention: dt.timedelta = OUTBOX_RETENTION) -> None:
        self.runtime = runtime
        self.queue = queue
        self.scheduler_interval = scheduler_interval
        self.outbox_retention = outbox_retention
        self._next_due = 0.0
        self._next_prune = 0.0
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    # -- one turn ---------------------------------------------------------------------
    def deliver(self) -> int:
        """Relay every waiting outbox row and hand queued transfer jobs to the queue; the
        number taken."""
        total = transfer.hand_over(self.runtime.current, self.queue.enqueue)
        while True:
            taken = relay.relay(self.runtime.current, self.queue.enqueue)
            total += taken
            if taken < relay.BATCH:
                return total

    def schedule(self, *, force: bool = False) -> int:
        """Fire due triggers and enqueue retries (at most every ``scheduler_interval``)."""
        now = time.monotonic()
        if not force and now < self._next_due:
            return 0
        self._next_due = now + self.scheduler_interval
        snapshot = self.runtime.current
        fired = due.fire_due(snapshot, self.queue.enqueue)
        fired += due.retry_due(snapshot, self.queue.enqueue)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            self.prune()
        return fired

    def prune(self) -> int:
        """Delete delivered outbox rows older than the retention."""
        snapshot = self.runtime.current
        outbox = snapshot.tables.outbox
        cutoff = utc_naive(snapshot.clock.now() - self.outbox_retention)
        with snapshot.db.write() as conn:
            return conn.execute(sa.delete(outbox).where(
                outbox.c.delivered_at.is_not(None), outbox.c.delivered_at < cutoff)).rowcount

    # -- the loop ---------------------------------------------------------------------
    def run(self, *, burst: bool = False, idle_sleep: float = IDLE_SLEEP) -> int:
        """Work until stopped (or, with ``burst``, until nothing is left); about the jobs done."""
        jobs.bind(self.runtime)
        worker = _worker_class()([self.queue.queue], connection=self.queue.connection)
        done = 0
        while not self._stop:
            self.runtime.refresh()
            found = self.deliver() + self.schedule(force=burst)
            waiting = len(self.queue)
            worked = worker.work(burst=True, logging_level="WARNING")
            done += waiting if worked else 0
            if burst and not found and not worked and len(self.queue) == 0:
                break
            if not found and not worked:
                time.sleep(idle_sleep)
        return done
