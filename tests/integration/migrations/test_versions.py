"""The recorded model versions: presets kept with them, and migrations that wait for writers."""

from __future__ import annotations

import datetime as dt
import threading
import time

import sqlalchemy as sa

from engine.storage.diff import previous_model
from engine.storage.tables import SCHEMA_VERSIONS, build_tables
from engine.storage.versions import PRESETS_KEY, ensure_current, latest, system_table

TITLE = {"name": "title", "type": "string", "required": True}
NOW = dt.datetime(2024, 1, 1, 12, 0)
#: Upper bound on waiting for the other thread; reached only when the test fails.
PATIENCE = 20


def deal(*fields):
    return {"entity": "deal", "label": "Deal", "fields": [TITLE, *fields]}


def presets(**values):
    return {"presets": {"memo": {"type": "text", **values}}}


# -- presets ------------------------------------------------------------------------
def test_a_version_keeps_its_presets_and_compiles_again_to_itself(mig):
    model = mig.model(presets(max_length=100), deal({"name": "notes", "preset": "memo"}))
    mig.apply(model)
    with mig.db.read() as conn:
        applied = latest(conn)
    assert applied["specs"][PRESETS_KEY] == {"memo": {"type": "text", "max_length": 100}}
    assert previous_model(applied, mig.model(deal())).version == model.version


def test_a_preset_tightened_since_the_last_migration_is_planned(mig):
    old = mig.model(presets(max_length=100), deal({"name": "notes", "preset": "memo"}))
    mig.apply(old)
    mig.insert(old, "deal", {"title": "a", "notes": "far too long"})
    # The previous model must be compiled with its own presets (max_length 100), not these.
    plan = mig.plan(mig.model(presets(max_length=5), deal({"name": "notes", "preset": "memo"})))
    (step,) = plan.steps
    assert step.kind == "tighten" and step.preview["failures"] == 1


def test_a_version_recorded_without_presets_still_gives_the_previous_model(mig):
    old = mig.model(deal({"name": "contact", "type": "string", "max_length": 254}))
    mig.apply(old)
    mig.insert(old, "deal", {"title": "a", "contact": "nope"})
    table = system_table(SCHEMA_VERSIONS)
    with mig.db.write() as conn:  # the shape rows had before presets were recorded
        conn.execute(table.update().values(specs=dict(old.specs)))
    # string -> email is invisible to the database: only the previous model shows it.
    (step,) = mig.plan(mig.model(deal({"name": "contact", "type": "email"}))).steps
    assert step.kind == "retype" and step.preview["failures"] == 1


# -- the version lock ------------------------------------------------------------------
def _waiting_for_versions(db, worker: threading.Thread, began: threading.Event) -> bool:
    """True once ``worker``'s migration waits for the versions lock; False if it ended first."""
    if db.dialect == "sqlite":
        # SQLite's writer lock: the migration's BEGIN IMMEDIATE waits for the open writer.
        return began.wait(PATIENCE)
    query = sa.text("select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                    "where not l.granted and c.relname = :name")
    deadline = time.monotonic() + PATIENCE
    with db.engine.connect() as conn:
        while worker.is_alive() and time.monotonic() < deadline:
            if conn.execute(query, {"name": SCHEMA_VERSIONS}).scalar():
                return True
            conn.rollback()
            time.sleep(0.01)
    return False


def test_a_migration_waits_for_a_writer_that_checked_the_version(mig):
    old = mig.model(deal())
    mig.apply(old)
    new = mig.model(deal({"name": "notes", "type": "text"}))
    order: list[str] = []
    errors: list[Exception] = []
    began = threading.Event()

    def migrate() -> None:
        try:
            mig.apply(new)
            order.append("migrated")
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            errors.append(exc)

    worker = threading.Thread(target=migrate, daemon=True)

    def seen(conn, cursor, statement, *args) -> None:
        if statement.startswith("BEGIN IMMEDIATE") and threading.current_thread() is worker:
            began.set()

    sa.event.listen(mig.db.engine, "before_cursor_execute", seen)
    try:
        table = build_tables(old).entity("deal")
        with mig.db.write() as conn:
            ensure_current(conn, old)  # the record service's check, before its INSERT
            worker.start()
            assert _waiting_for_versions(mig.db, worker, began), "the migration did not wait"
            conn.execute(table.insert().values(title="written", created_at=NOW,
                                               updated_at=NOW))
            order.append("written")
        worker.join(PATIENCE)
    finally:
        sa.event.remove(mig.db.engine, "before_cursor_execute", seen)
    assert not worker.is_alive() and errors == []
    assert order == ["written", "migrated"]
    assert mig.column("deal", "title") == {1: "written"}
    assert mig.column("deal", "notes") == {1: None}
