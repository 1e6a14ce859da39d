"""``loom worker --burst`` as a real process, and ``loom runs``."""

from __future__ import annotations

import os
import subprocess
import sys

from support import add_user, make_crm, redis_url
from test_event_workflows import WON, _deal


def _loom(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120)


def test_loom_worker_burst_runs_a_workflow_and_loom_runs_lists_it(sqlite_database, tmp_path):
    crm = make_crm(sqlite_database, tmp_path, {"won.yaml": WON})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    deal = _deal(crm, sam)
    crm.service.update(sam, "deal", deal["id"], {"stage": "won", "closed_at": "2026-03-02"},
                       version=deal["version"])
    dirs = os.pathsep.join(str(d) for d in crm.runtime.config.metadata_dirs)
    env = dict(os.environ, LOOM_DATABASE_URL=sqlite_database.url, LOOM_METADATA_DIRS=dirs,
               LOOM_REDIS_URL=redis_url())
    done = _loom("worker", "--burst", env=env)
    assert done.returncode == 0, done.stderr
    assert "worker: done" in done.stdout
    assert [c["deal"] for c in crm.rows("contract")] == [deal["id"]]
    listed = _loom("runs", "list", env=env)
    assert listed.returncode == 0 and "won_deal_contract" in listed.stdout
    assert "succeeded" in listed.stdout
    run_id = crm.runs()[0].id
    assert _loom("runs", "retry", str(run_id), env=env).returncode == 3   # it did not fail


def test_loom_worker_says_when_redis_is_unreachable(sqlite_database, tmp_path):
    crm = make_crm(sqlite_database, tmp_path, {"won.yaml": WON})
    dirs = os.pathsep.join(str(d) for d in crm.runtime.config.metadata_dirs)
    env = dict(os.environ, LOOM_DATABASE_URL=sqlite_database.url, LOOM_METADATA_DIRS=dirs,
               LOOM_REDIS_URL="redis://127.0.0.1:1/0")
    result = _loom("worker", "--burst", env=env)
    assert result.returncode == 4 and "cannot reach Redis" in result.stderr
