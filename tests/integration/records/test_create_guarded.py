"""One create, few statements: the guarded INSERT keeps every check of the ordinary path.

A plain create is one statement on PostgreSQL (record, audit row and outbox row, guarded
by the model version and the references) and three in one transaction on SQLite. When
the guard or the database refuses, nothing is stored and the ordinary checks say why.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from records_support import ALICE, count, rows
from sqlalchemy import event

from engine.records import ValidationFailed
from engine.records.service import RecordService
from engine.storage import versions
from engine.storage.versions import ModelOutdated


@pytest.fixture
def statements(database):
    """The SQL statements run on ``database`` while the test runs (``BEGIN`` included)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(database.engine, "before_cursor_execute", record)
    yield seen
    event.remove(database.engine, "before_cursor_execute", record)


def _trail(svc, tables, entity, record_id):
    audit = rows(svc.db, tables.audit, tables.audit.c.entity == entity,
                 tables.audit.c.record_id == record_id)
    events = rows(svc.db, tables.outbox, tables.outbox.c.entity == entity,
                  tables.outbox.c.record_id == record_id)
    return audit, events


def test_a_create_writes_one_audit_row_and_one_event_in_few_statements(svc, alice, tables,
                                                                        statements):
    account = svc.create(alice, "account", {"name": "Acme"})["id"]
    statements.clear()
    deal = svc.create(alice, "deal", {"title": "T", "amount": "5", "account": account})
    if svc.db.dialect == "postgresql":
        assert statements == ["WITH"]
    else:
        assert statements == ["BEGIN", "INSERT", "INSERT", "INSERT"]
    audit, events = _trail(svc, tables, "deal", deal["id"])
    assert [(a["entity"], a["action"], a["actor_id"]) for a in audit] == [("deal", "create", ALICE)]
    assert audit[0]["changes"]["account"] == [None, account]
    assert audit[0]["changes"]["amount"] == [None, "5.00"]
    assert [(e["event"], e["entity"], e["actor_id"], e["model_version"]) for e in events] == [
        ("record.created", "deal", ALICE, svc.model.version)]
    assert events[0]["payload"] == {"version": 1, "changes": audit[0]["changes"]}
    assert audit[0]["at"] == events[0]["created_at"]
    stored = svc.get(alice, "deal", deal["id"])
    assert stored["account"] == account and stored["version"] == 1


def test_a_missing_reference_stores_nothing_and_names_the_field(svc, alice, tables):
    with pytest.raises(ValidationFailed) as caught:
        svc.create(alice, "deal", {"title": "T", "account": 999_999})
    assert [(e.field, e.code) for e in caught.value.errors] == [("account", "reference")]
    assert count(svc.db, tables.entity("deal")) == 0
    assert count(svc.db, tables.audit) == count(svc.db, tables.outbox) == 0


def test_a_missing_user_reference_is_refused_too(svc, alice, tables):
    with pytest.raises(ValidationFailed) as caught:
        svc.create(alice, "contract", {"title": "C", "signer": 424_242})
    assert [(e.field, e.code) for e in caught.value.errors] == [("signer", "reference")]
    assert count(svc.db, tables.entity("contract")) == 0
    signed = svc.create(alice, "contract", {"title": "C", "signer": ALICE})
    assert svc.get(alice, "contract", signed["id"])["signer"] == ALICE


def test_a_taken_unique_value_stores_nothing_and_names_the_field(svc, alice, tables):
    svc.create(alice, "tag", {"name": "hot"})
    audit_rows = count(svc.db, tables.audit)
    with pytest.raises(ValidationFailed) as caught:
        svc.create(alice, "tag", {"name": "hot"})
    assert [(e.field, e.code) for e in caught.value.errors] == [("name", "unique")]
    assert count(svc.db, tables.entity("tag")) == 1
    assert count(svc.db, tables.audit) == audit_rows == count(svc.db, tables.outbox)


def test_a_model_applied_after_this_process_loaded_its_own_refuses_the_create(
        svc, alice, tables, statements):
    svc.create(alice, "deal", {"title": "before"})  # the statement is built and cached
    with svc.db.write() as conn:
        conn.execute(sa.insert(tables.schema_versions).values(
            version="newer", applied_at=sa.func.current_timestamp(), actor="tests", plan="",
            specs={}))
    with pytest.raises(ModelOutdated):
        svc.create(alice, "deal", {"title": "after"})
    assert [r["title"] for r in rows(svc.db, tables.entity("deal"))] == ["before"]
    assert count(svc.db, tables.audit) == count(svc.db, tables.outbox) == 1


def test_each_create_of_many_has_exactly_one_audit_row_and_event(svc, alice, tables):
    ids = [svc.create(alice, "deal", {"title": f"D{i}"})["id"] for i in range(5)]
    audit = rows(svc.db, tables.audit)
    events = rows(svc.db, tables.outbox)
    assert sorted(a["record_id"] for a in audit) == sorted(ids)
    assert sorted(e["record_id"] for e in events) == sorted(ids)


def test_two_services_on_one_database_share_the_guard(database, crm_model, tables, alice):
    first = RecordService(database, crm_model, tables)
    second = RecordService(database, crm_model, tables)
    a = first.create(alice, "deal", {"title": "A"})["id"]
    b = second.create(alice, "deal", {"title": "B"})["id"]
    assert a != b and count(database, tables.outbox) == 2


def test_a_create_during_a_migration_waits_for_it_and_is_refused(svc, alice, tables):
    """The create reads the model version before it touches the record's table, so a
    migration holding the version lock can still change that table (no deadlock)."""
    svc.create(alice, "deal", {"title": "before"})  # the statement is built and prepared
    outcome: list = []
    table = tables.schema_versions
    with svc.db.write() as conn:
        versions.lock_versions(conn)  # what a migration does first (no-op on SQLite)
        thread = threading.Thread(target=lambda: outcome.append(_try_create(svc, alice)))
        thread.start()
        if svc.db.dialect == "postgresql":
            _wait_for_lock_wait(conn, table.name)
            deal = tables.entity("deal").name
            assert _held_by_others(conn, deal) == 0  # the waiting create holds nothing on it
            name = conn.dialect.identifier_preparer.quote(deal)
            conn.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
        conn.execute(sa.insert(table).values(version="newer", applied_at=sa.func.current_timestamp(),
                                             actor="tests", plan="", specs={}))
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ModelOutdated), outcome
    assert [r["title"] for r in rows(svc.db, tables.entity("deal"))] == ["before"]


def _try_create(svc, actor):
    try:
        return svc.create(actor, "deal", {"title": "during"})
    except Exception as error:  # noqa: BLE001 - the test inspects it
        return error


def _wait_for_lock_wait(conn, relation: str) -> None:
    """Until another session waits for a lock on ``relation`` (PostgreSQL; 20 s at most)."""
    query = sa.text("SELECT count(*) FROM pg_locks WHERE relation = CAST(:name AS regclass) "
                    "AND NOT granted AND pid <> pg_backend_pid()")
    for _ in range(400):
        if conn.execute(query, {"name": relation}).scalar():
            return
        time.sleep(0.05)
    raise AssertionError(f"no session waited for {relation}")


def _held_by_others(conn, relation: str) -> int:
    """Locks other sessions hold on ``relation`` (PostgreSQL)."""
    return conn.execute(sa.text(
        "SELECT count(*) FROM pg_locks WHERE relation = CAST(:name AS regclass) AND granted "
        "AND pid <> pg_backend_pid()"), {"name": relation}).scalar()


def test_a_connection_lost_after_the_guarded_statement_is_never_retried(svc, alice, tables,
                                                                         monkeypatch):
    """The statement may have committed before the connection dropped: raise, don't insert again."""
    from engine.records import fastinsert

    real = fastinsert.GuardedCreate.run

    def run_then_lose_the_connection(self, conn, *args, **kwargs):
        real(self, conn, *args, **kwargs)  # committed (autocommit / the caller's transaction)
        raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"),
                                      connection_invalidated=True)

    monkeypatch.setattr(fastinsert.GuardedCreate, "run", run_then_lose_the_connection)
    with pytest.raises(sa.exc.OperationalError):
        svc.create(alice, "account", {"name": "Once"})
    stored = rows(svc.db, svc.plan("account").table, svc.plan("account").table.c.name == "Once")
    assert len(stored) <= 1  # never a second copy from the ordinary path
