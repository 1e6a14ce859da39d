"""The write context's columns on loom_audit / loom_outbox: added to an existing database
by the ordinary plan, and filled by migrations with cause kind ``migration``."""

from __future__ import annotations

import sqlalchemy as sa

from engine.permissions import Actor
from engine.records import RecordService
from engine.storage.tables import AUDIT, OUTBOX
from tests.integration.migrations.test_restore import deal, drop_and_declare_again, rows_of

#: The columns this version of Loom added to audit and outbox rows.
NEW_AUDIT = ["cause_kind", "cause_id", "cause_label", "depth"]
NEW_OUTBOX = [*NEW_AUDIT, "quiet"]


def _without_new_columns(mig) -> None:
    """The database as an older Loom left it: no write-context columns, one old audit row."""
    with mig.db.write() as conn:
        for table, columns in ((AUDIT, NEW_AUDIT), (OUTBOX, NEW_OUTBOX)):
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(sa.text(
            f"INSERT INTO {AUDIT} (at, actor_id, entity, record_id, action, changes) "
            "VALUES ('2025-01-01 00:00:00', NULL, 'deal', 1, 'update', '{}')"))


def test_an_existing_database_gets_the_write_context_columns_as_safe_steps(mig):
    model = mig.model(deal())
    mig.apply(model)
    _without_new_columns(mig)
    plan = mig.plan(model)
    added = sorted((s.kind, s.entity, s.field) for s in plan.steps)
    assert added == sorted([("add_field", AUDIT, c) for c in NEW_AUDIT]
                           + [("add_field", OUTBOX, c) for c in NEW_OUTBOX])
    assert not plan.problems and not any(s.destructive for s in plan.steps)
    mig.apply(model, plan)  # no allow_destructive needed
    assert set(NEW_OUTBOX) <= set(mig.columns(OUTBOX)) and set(NEW_AUDIT) <= set(mig.columns(AUDIT))
    [old] = rows_of(mig, AUDIT)
    assert (old["cause_kind"], old["depth"]) == (None, None)  # unknown, not invented
    svc = RecordService(mig.db, model)
    svc.create(Actor.system(), "deal", {"title": "After the upgrade"})
    new = rows_of(mig, AUDIT)[-1]
    assert (new["cause_kind"], new["depth"]) == ("request", 0)
    assert mig.plan(model).steps == []


def test_a_restore_traces_its_changes_with_cause_kind_migration(mig):
    notes = {"name": "notes", "type": "text"}
    back = drop_and_declare_again(mig, notes, ["kept", None])
    assert mig.restore(back, "deal", "notes") == 1
    [audit] = rows_of(mig, AUDIT)
    [event] = rows_of(mig, OUTBOX)
    for row in (audit, event):
        assert (row["cause_kind"], row["cause_id"], row["cause_label"], row["depth"]) == (
            "migration", back.version, "restore deal.notes", 0)
        assert row["actor_id"] is None
    assert event["quiet"] is False
