"""The functions rq runs (named in :data:`engine.automation.queue.FUNCTIONS`).

A worker process binds its :class:`~engine.runtime.Runtime` once (:func:`bind`); a job
reads the runtime's current snapshot, so a model applied by another process is picked
up at the next refresh. A process that did not bind one (rq's own ``rq worker``
command) builds one from the environment at its first job.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_runtime: Any = None


def bind(runtime: Any) -> None:
    """Make ``runtime`` the one jobs of this process use."""
    global _runtime
    with _lock:
        _runtime = runtime


def runtime() -> Any:
    global _runtime
    with _lock:
        if _runtime is None:
            from engine.config import Config
            from engine.runtime import Runtime

            _runtime = Runtime(Config.from_env())
        return _runtime


def run(run_id: int) -> str:
    """Execute workflow run ``run_id`` (exactly once; see :mod:`.runner`)."""
    from engine.automation.runner import execute

    current = runtime()
    current.refresh()
    return execute(current.current, run_id).status


def run_many(run_ids: list[int]) -> list[str]:
    """Execute several runs, each alone and exactly once (one failing does not stop the
    others; an unexpected error leaves that run to the lost-job sweep)."""
    import logging

    from engine.automation.runner import execute

    current = runtime()
    current.refresh()
    statuses = []
    for run_id in run_ids:
        try:
            statuses.append(execute(current.current, run_id).status)
        except Exception:  # noqa: BLE001 - the others still run; the sweep retries this one
            logging.getLogger(__name__).exception("workflow run %s failed to start", run_id)
            statuses.append("error")
    return statuses


def deliver(outbox_id: int) -> str:
    """Deliver the e-mail or webhook of outbox row ``outbox_id`` (see :mod:`.delivery`)."""
    from engine.automation.delivery import deliver as send

    current = runtime()
    return send(current.current, outbox_id)


def transfer(job_id: int) -> str:
    """Run one-click transfer job ``job_id`` (see :mod:`.transfer`)."""
    from engine.automation.transfer import execute

    current = runtime()
    current.refresh()
    return execute(current.current, job_id)
