"""Metadata revisions: two runtimes (two processes) on one database, the history of
revisions, and the table on a database migrated before it existed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.meta import add_field, change_field, put_role
from engine.records import Actor
from engine.runtime import Runtime
from engine.storage import revisions
from engine.storage.migrate import apply_plan, plan_migration
from engine.storage.versions import ModelOutdated

AUDITOR = {"label": "Auditor", "entities": {"account": {"actions": ["read"], "scope": "all"}}}


def _runtime(crm, interval: float = 0) -> Runtime:
    return Runtime(crm.config, db=crm.db, check_interval=interval)


def _count(crm, table: str) -> int:
    return crm.scalar(f"select count(*) from {table}")


def test_a_role_stored_by_one_runtime_is_served_by_another_at_its_next_check(crm):
    here, there = _runtime(crm), _runtime(crm)
    assert "auditor" not in there.model.roles
    put_role(crm.db, crm.files, "auditor", AUDITOR, actor="admin")
    assert "auditor" not in there.model.roles  # nothing changes between checks
    there.refresh()
    assert there.model.roles["auditor"].grant("account").actions == frozenset({"read"})
    granted = {**AUDITOR, "entities": {"account": {"actions": ["read", "update"],
                                                   "scope": "all"}}}
    put_role(crm.db, crm.files, "auditor", granted, actor="admin")
    there.refresh()
    assert there.model.roles["auditor"].grant("account").actions == frozenset({"read", "update"})
    here.refresh()
    assert here.model.revision == there.model.revision


def test_without_a_check_a_runtime_keeps_its_model(crm):
    there = _runtime(crm, interval=3600)
    before = there.current
    put_role(crm.db, crm.files, "auditor", AUDITOR, actor="admin")
    there.refresh()  # within the interval: no look at the database
    assert there.current is before
    there.refresh(force=True)
    assert "auditor" in there.model.roles


def test_a_label_change_refuses_no_stale_writer(crm):
    add_field(crm.db, crm.files, "account", {"name": "tier", "type": "integer"}, actor="admin")
    stale = _runtime(crm)
    stale.current  # noqa: B018 - loaded before the change
    versions_before = _count(crm, "loom_schema_versions")
    change_field(crm.db, crm.files, "account", "tier", {"label": "Tier"}, actor="admin")
    assert _count(crm, "loom_schema_versions") == versions_before
    created = stale.service.create(Actor.system(), "account", {"name": "Acme", "tier": 1})
    assert created["id"]
    stale.refresh()
    assert stale.model.entity("account").field("tier").label.get() == "Tier"


def test_a_storage_change_still_refuses_a_stale_writer(crm):
    add_field(crm.db, crm.files, "account", {"name": "code", "type": "string",
                                             "max_length": 20}, actor="admin")
    stale = _runtime(crm)
    stale.current  # noqa: B018
    change_field(crm.db, crm.files, "account", "code", {"max_length": 40}, actor="admin")
    with pytest.raises(ModelOutdated):
        stale.service.create(Actor.system(), "account", {"name": "Acme"})
    stale.refresh()
    assert stale.service.create(Actor.system(), "account", {"name": "Acme"})["id"]


def test_every_stored_change_records_author_time_and_documents(crm):
    add_field(crm.db, crm.files, "deal", {"name": "notes", "type": "text"}, actor="alice")
    put_role(crm.db, crm.files, "auditor", AUDITOR, actor="bob")
    with crm.db.read() as conn:
        newest, older = revisions.history(conn)[:2]
    assert (newest.author, newest.origin, newest.changed) == ("bob", "api", ("role/auditor",))
    assert (older.author, older.changed) == ("alice", ("extends/deal",))
    assert newest.documents == crm.stored()
    assert "role/auditor" not in older.documents and "extends/deal" in older.documents
    assert newest.at >= older.at and newest.revision == crm.load().revision
    assert newest.version == older.version  # a role is no schema change


def test_migrate_records_a_revision_for_a_role_edited_in_a_file(crm):
    there = _runtime(crm)
    there.current  # noqa: B018
    crm.write("auditor", {"role": "auditor", **AUDITOR})
    versions_before, revisions_before = _count(crm, "loom_schema_versions"), \
        _count(crm, "loom_revisions")
    apply_plan(crm.db, crm.load(), actor="cli")
    assert _count(crm, "loom_schema_versions") == versions_before
    assert _count(crm, "loom_revisions") == revisions_before + 1
    there.refresh()
    assert "auditor" in there.model.roles
    apply_plan(crm.db, crm.load(), actor="cli")  # nothing new: nothing recorded
    assert _count(crm, "loom_revisions") == revisions_before + 1


def test_migrate_creates_the_revisions_table_on_a_database_migrated_before_it(crm):
    with crm.db.write() as conn:
        conn.execute(sa.text("drop table loom_revisions"))
    stale = _runtime(crm)
    assert stale.model.entities  # a database without the table still serves
    stale.refresh()
    plan = plan_migration(crm.db, crm.load())
    assert "loom_revisions" in plan.text()
    apply_plan(crm.db, crm.load(), actor="cli")
    with crm.db.read() as conn:
        assert revisions.has_table(conn) and revisions.history(conn)
    stale.refresh()
    assert stale.model.revision == crm.load().revision
