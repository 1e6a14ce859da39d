"""What happens when things go wrong: Redis down at commit, a worker dying mid-run, two
schedulers, a failing action, a workflow that triggers itself, webhooks that fail or hang."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
import sqlalchemy as sa
from support import add_user, make_crm

from engine.automation import due
from engine.automation import runs as run_admin
from engine.automation.queue import JobQueue, connect
from engine.automation.relay import relay
from engine.automation.runner import LOST_AFTER

TOUCH = """
workflow: touch_next_step
label: Touch
entity: deal
trigger: {type: field_changed, field: stage, to: proposal}
actions:
  - set_fields: {next_step: {expr: "'call ' + record.title"}}
"""

LOOP = """
workflow: loop
label: Loop
entity: deal
trigger: {type: updated}
actions:
  - set_fields: {next_step: {expr: "'v' + string(record.version)"}}
"""

FAILS = """
workflow: win_without_date
label: Win without a close date
entity: deal
trigger: {type: field_changed, field: stage, to: negotiation}
actions:
  - set_fields: {stage: won}
"""

SCHEDULED = """
workflow: nightly
label: Nightly
entity: account
trigger: {type: schedule, cron: "0 2 * * *", filter: [{field: level, op: eq, value: A}]}
actions:
  - set_fields: {notes: {expr: "'checked ' + string(now())"}}
"""


def _moved(database, tmp_path, workflows, stage="proposal"):
    """A CRM with ``workflows``, a salesperson, and one of their deals moved to ``stage``."""
    crm = make_crm(database, tmp_path, workflows)
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    deal = _deal(crm, sam)
    deal = crm.service.update(sam, "deal", deal["id"], {"stage": stage}, version=deal["version"])
    return crm, sam, deal


def _deal(crm, actor, stage="qualified"):
    account = crm.service.create(actor, "account", {"name": "Acme"})
    return crm.service.create(actor, "deal", {"title": "Big", "account": account["id"],
                                              "stage": stage, "amount": "100"})


def test_redis_down_at_commit_loses_nothing_and_delivers_once(database, tmp_path):
    crm, _sam, _deal_row = _moved(database, tmp_path, {"touch.yaml": TOUCH})
    down = JobQueue(connect("redis://127.0.0.1:1/0"))
    import redis
    with pytest.raises(redis.exceptions.ConnectionError):
        relay(crm.snapshot, down.enqueue)
    outbox = crm.snapshot.tables.outbox
    with crm.snapshot.db.read() as conn:
        waiting = conn.execute(sa.select(sa.func.count()).where(
            outbox.c.delivered_at.is_(None))).scalar()
    assert waiting >= 2 and crm.runs() == []      # rows wait; no run was kept
    crm.work()                                    # Redis is back
    crm.work()
    (run,) = crm.runs("touch_next_step")
    assert run.status == "succeeded"
    assert crm.rows("deal")[0]["next_step"] == "call Big"


def test_a_run_whose_worker_died_mid_run_is_run_again_once(database, tmp_path, monkeypatch):
    from engine.automation import actions

    crm, _sam, _deal_row = _moved(database, tmp_path, {"touch.yaml": TOUCH})
    real = actions.SetFields.run

    def dies(self, ctx, args):
        real(self, ctx, args)           # the write is made in the run's unit...
        raise SystemExit("worker killed")  # ...then the process dies before the commit

    monkeypatch.setattr(actions.SetFields, "run", dies)
    crm.work()                          # rq records the job as failed; the run knows nothing
    monkeypatch.setattr(actions.SetFields, "run", real)
    (run,) = crm.runs()
    assert (run.status, run.attempts) == ("queued", 0)       # the unit rolled back
    assert crm.rows("deal")[0]["next_step"] is None
    crm.work()
    assert crm.runs()[0].status == "queued"                  # its job went with the worker
    crm.clock.advance(seconds=LOST_AFTER.total_seconds() + 1)
    crm.work()
    (run,) = crm.runs()
    assert (run.status, run.attempts) == ("succeeded", 1)
    assert crm.rows("deal")[0]["next_step"] == "call Big"
    audit = crm.snapshot.tables.audit
    with crm.snapshot.db.read() as conn:
        by_run = conn.execute(sa.select(sa.func.count()).where(
            audit.c.cause_kind == "workflow")).scalar()
    assert by_run == 1


def test_a_redelivered_job_for_a_finished_run_does_nothing(database, tmp_path):
    crm, _sam, _deal_row = _moved(database, tmp_path, {"touch.yaml": TOUCH})
    crm.work()
    (run,) = crm.runs()
    crm.queue.enqueue([("run", run.id)])
    crm.queue.enqueue([("run", run.id)])
    crm.work()
    assert crm.rows("deal")[0]["version"] == 3     # create, update, one workflow update


def test_two_schedulers_fire_a_cron_tick_once(database, tmp_path):
    crm = make_crm(database, tmp_path, {"nightly.yaml": SCHEDULED})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    for name, level in (("A1", "A"), ("A2", "A"), ("B1", "B")):
        crm.service.create(sam, "account", {"name": name, "level": level})
    crm.clock.advance(hours=17, minutes=10)       # 02:10 in Shanghai, the next day
    fired: list[int] = []
    errors: list[BaseException] = []

    def scheduler():
        try:
            fired.append(due.fire_due(crm.snapshot, crm.queue.enqueue))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(fired) in ([0, 2], [1, 1])
    crm.work()
    assert len(crm.runs("nightly")) == 2
    notes = {r["name"]: r["notes"] for r in crm.rows("account")}
    assert notes["B1"] is None and notes["A1"].startswith("checked")


def test_a_failing_action_writes_nothing_and_is_retried_with_backoff(database, tmp_path):
    crm = make_crm(database, tmp_path, {"fails.yaml": FAILS})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    deal = _deal(crm, sam)
    crm.service.update(sam, "deal", deal["id"], {"stage": "negotiation"}, version=deal["version"])
    crm.work()
    (run,) = crm.runs()
    assert run.status == "failed" and run.attempts == 1 and "closed_at" in run.error
    assert run.next_attempt_at is not None
    assert crm.rows("deal")[0]["stage"] == "negotiation"
    for _ in range(3):
        crm.clock.advance(minutes=20)
        crm.work()
    (run,) = crm.runs()
    assert run.attempts == 3 and run.status == "failed" and run.next_attempt_at is None
    assert run_admin.retry(crm.snapshot, run.id)
    crm.work()
    assert crm.runs()[0].attempts == 1 and crm.runs()[0].status == "failed"


def test_a_workflow_that_triggers_itself_stops_at_the_depth_limit(database, tmp_path):
    crm = make_crm(database, tmp_path, {"loop.yaml": LOOP})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    deal = _deal(crm, sam)
    crm.service.update(sam, "deal", deal["id"], {"amount": "200"}, version=deal["version"])
    crm.work()
    statuses = [(r.status, r.depth) for r in crm.runs("loop")]
    assert statuses[:5] == [("succeeded", d) for d in range(1, 6)]
    assert statuses[5][0] == "stopped" and len(statuses) == 6
    stopped = crm.runs("loop")[-1]
    assert "limit of 5" in stopped.error


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []
    delay = 0.0
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        time.sleep(type(self).delay)
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    class Handler(_Hook):
        received = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, Handler
    server.shutdown()
    server.server_close()


def _webhook(port: int, timeout: float = 5) -> str:
    return f"""
workflow: tell_erp
label: Tell the ERP
entity: deal
trigger: {{type: field_changed, field: stage, to: proposal}}
actions:
  - webhook:
      url: http://127.0.0.1:{port}/hook
      secret_env: LOOM_TEST_HOOK_SECRET
      timeout: {timeout}
      retries: 1
      body: {{title: {{expr: "record.title"}}, stage: {{expr: "record.stage"}}}}
"""


def test_webhook_is_signed_and_delivered(database, tmp_path, hook_server, monkeypatch):
    server, handler = hook_server
    monkeypatch.setenv("LOOM_TEST_HOOK_SECRET", "s3cret")
    crm, _sam, _deal_row = _moved(database, tmp_path, {"hook.yaml": _webhook(server.server_port)})
    crm.work()
    (headers, body), = handler.received
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Loom-Signature"] == expected
    payload = json.loads(body)
    assert payload["title"] == "Big" and payload["stage"] == "proposal"
    (run,) = crm.runs()
    assert run.actions[-1]["action"] == "webhook delivery" and ": 200" in run.actions[-1]["outcome"]


def test_a_hanging_webhook_times_out_and_is_retried(database, tmp_path, hook_server, monkeypatch):
    server, handler = hook_server
    handler.delay = 2.0
    monkeypatch.setenv("LOOM_TEST_HOOK_SECRET", "s3cret")
    crm, _sam, _deal_row = _moved(database, tmp_path, {"hook.yaml": _webhook(server.server_port, timeout=0.5)})
    started = time.monotonic()
    crm.work()
    assert time.monotonic() - started < 30
    (run,) = crm.runs()
    assert run.actions[-1]["failed"] and "will retry" in run.actions[-1]["outcome"]
    handler.delay = 0.0
    crm.clock.advance(seconds=5)
    crm.work()
    (run,) = crm.runs()
    assert ": 200" in run.actions[-1]["outcome"] and len(handler.received) == 2


def test_two_executions_of_one_run_at_once_act_once(database, tmp_path):
    from engine.automation.runner import execute

    crm, _sam, _deal_row = _moved(database, tmp_path, {"touch.yaml": TOUCH})
    relay(crm.snapshot, lambda jobs: None)
    (run,) = crm.runs()
    outcomes: list = []
    threads = [threading.Thread(target=lambda: outcomes.append(execute(crm.snapshot, run.id)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) in (["duplicate", "succeeded"],
                                                  ["succeeded", "succeeded"])
    assert crm.rows("deal")[0]["version"] == 3
    audit = crm.snapshot.tables.audit
    with crm.snapshot.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(
            audit.c.cause_kind == "workflow")).scalar() == 1


def test_a_run_whose_job_was_lost_before_it_started_runs_later(database, tmp_path):
    crm, _sam, _deal_row = _moved(database, tmp_path, {"touch.yaml": TOUCH})
    relay(crm.snapshot, lambda jobs: None)       # the job never reached a worker
    crm.work()
    assert crm.runs()[0].status == "queued"
    crm.clock.advance(minutes=6)
    crm.work()
    assert crm.runs()[0].status == "succeeded"
    assert crm.rows("deal")[0]["next_step"] == "call Big"


def test_a_delivery_whose_job_was_lost_is_sent_later(database, tmp_path, hook_server,
                                                      monkeypatch):
    server, handler = hook_server
    monkeypatch.setenv("LOOM_TEST_HOOK_SECRET", "s3cret")
    crm, _sam, _deal_row = _moved(database, tmp_path, {"hook.yaml": _webhook(server.server_port)})
    crm.work()                                   # the run wrote the webhook's outbox row
    assert len(handler.received) == 1
    handler.received.clear()
    outbox = crm.snapshot.tables.outbox
    with crm.snapshot.db.write() as conn:        # as if that delivery's job had been lost
        conn.execute(sa.update(outbox).where(outbox.c.event == "automation.webhook")
                     .values(delivered_at=None, available_at=None))
    relay(crm.snapshot, lambda jobs: None)
    crm.work()
    assert handler.received == []                # leased: not handed out again yet
    crm.clock.advance(minutes=6)
    crm.work()
    assert len(handler.received) == 1


def test_a_schedule_over_more_records_than_one_call_takes_fires_them_all(database, tmp_path):
    crm = make_crm(database, tmp_path, {"nightly.yaml": SCHEDULED})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    for i in range(5):
        crm.service.create(sam, "account", {"name": f"A{i}", "level": "A"})
    crm.clock.advance(hours=17, minutes=10)
    (workflow,) = [w for w in crm.snapshot.model.part("workflows").values()]
    fired = [due.fire_workflow(crm.snapshot, workflow, crm.queue.enqueue, limit=2)
             for _ in range(4)]
    assert fired == [2, 2, 1, 0]
