"""Values a migration replaces and links a restore brings back leave an audit row and an event."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.storage import constraints
from engine.storage.tables import AUDIT, OUTBOX
from engine.storage.versions import system_table

TITLE = {"name": "title", "type": "string", "required": True}
ACCOUNT = {"entity": "account", "label": "Account",
           "fields": [{"name": "name", "type": "string", "required": True}]}
TAGS = {"name": "tags", "type": "many_to_many", "target": "account"}


def deal(*fields):
    return {"entity": "deal", "label": "Deal", "fields": [TITLE, *fields]}


def rows_of(mig, name):
    table = system_table(name)
    with mig.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]


def trail(mig):
    """``(record_id, changes)`` of every audit row and ``(record_id, payload)`` of every event."""
    audit = [(a["record_id"], a["action"], a["actor_id"], a["changes"])
             for a in rows_of(mig, AUDIT)]
    events = [(e["event"], e["entity"], e["record_id"], e["payload"])
              for e in rows_of(mig, OUTBOX)]
    return audit, events


def test_retype_set_null_audits_and_events_each_value_it_clears(mig):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "12"}, {"title": "b", "code": "x1"},
               {"title": "c"})
    model = mig.model(deal({"name": "code", "type": "integer",
                            "convert": {"on_failure": "set_null"}}))
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "code") == {1: 12, 2: None, 3: None}
    assert mig.column("deal", "version") == {1: 1, 2: 2, 3: 1}
    audit, events = trail(mig)
    assert audit == [(2, "update", None, {"code": ["x1", None]})]
    assert events == [("record.updated", "deal", 2,
                       {"version": 2, "changes": {"code": ["x1", None]},
                        "cause": {"retype": "deal.code"}})]
    assert rows_of(mig, OUTBOX)[0]["model_version"] == model.version


def test_retype_default_audits_old_values_in_the_old_types_json_form(mig):
    base = mig.model(deal({"name": "closing", "type": "date"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "closing": dt.date(2024, 1, 5)},
               {"title": "b", "closing": dt.date(2024, 3, 9)})
    model = mig.model(deal({"name": "closing", "type": "integer", "default": 0,
                            "convert": {"on_failure": "default"}}))
    (step,) = mig.plan(model).steps
    assert (step.kind, step.preview["failures"]) == ("retype", 2)
    mig.apply(model, allow_destructive=True)
    assert mig.column("deal", "closing") == {1: 0, 2: 0}
    assert mig.column("deal", "version") == {1: 2, 2: 2}
    audit, events = trail(mig)
    assert [a[3] for a in audit] == [{"closing": ["2024-01-05", 0]},
                                    {"closing": ["2024-03-09", 0]}]
    assert [e[3]["cause"] for e in events] == [{"retype": "deal.closing"}] * 2


def test_retype_that_converts_everything_writes_no_trail(mig):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "12"})
    mig.apply(mig.model(deal({"name": "code", "type": "integer",
                              "convert": {"on_failure": "set_null"}})))
    assert mig.column("deal", "version") == {1: 1}
    assert trail(mig) == ([], [])


def test_a_failing_retype_rolls_back_its_trail_with_the_schema(mig, monkeypatch):
    base = mig.model(deal({"name": "code", "type": "string"}))
    mig.apply(base)
    mig.insert(base, "deal", {"title": "a", "code": "x1"})
    real = constraints.write_changes

    def broken(*args, **kwargs):
        assert real(*args, **kwargs) == 1  # value, version, audit and event written
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(constraints, "write_changes", broken)
    before = mig.dump()
    with pytest.raises(RuntimeError, match="disk on fire"):
        mig.apply(mig.model(deal({"name": "code", "type": "integer",
                                  "convert": {"on_failure": "set_null"}})),
                  allow_destructive=True)
    assert mig.dump() == before


def test_restored_links_write_one_audit_row_and_event_per_source_record(mig):
    base = mig.model(ACCOUNT, deal(TAGS))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"}, {"name": "initech"}, {"name": "umbrella"})
    mig.insert(base, "deal", {"title": "a"}, {"title": "b"}, {"title": "c"})
    with mig.db.write() as conn:
        conn.execute(sa.text("insert into deal__tags (source_id, target_id) "
                             "values (1, 2), (1, 1), (2, 3)"))
    mig.apply(mig.model(ACCOUNT, deal()), allow_destructive=True)
    mig.apply(base)
    with mig.db.write() as conn:  # typed in since the field came back: kept, and shown as old
        conn.execute(sa.text("insert into deal__tags (source_id, target_id) values (2, 1)"))
    assert mig.restore(base, "deal", "tags") == 3
    with mig.db.read() as conn:
        assert conn.execute(sa.text("select source_id, target_id from deal__tags "
                                    "order by source_id, target_id")).all() == \
            [(1, 1), (1, 2), (2, 1), (2, 3)]
    assert mig.column("deal", "version") == {1: 2, 2: 2, 3: 1}
    audit, events = trail(mig)
    assert audit == [(1, "update", None, {"tags": [None, [1, 2]]}),
                     (2, "update", None, {"tags": [[1], [1, 3]]})]
    assert events == [
        ("record.updated", "deal", 1, {"version": 2, "changes": {"tags": [None, [1, 2]]},
                                       "cause": {"restore": "deal.tags"}}),
        ("record.updated", "deal", 2, {"version": 2, "changes": {"tags": [[1], [1, 3]]},
                                       "cause": {"restore": "deal.tags"}})]


def test_links_to_deleted_records_are_neither_restored_nor_audited(mig):
    base = mig.model(ACCOUNT, deal(TAGS))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"}, {"name": "gone"})
    mig.insert(base, "deal", {"title": "a"}, {"title": "b"})
    with mig.db.write() as conn:
        conn.execute(sa.text("insert into deal__tags (source_id, target_id) "
                             "values (1, 2), (2, 1)"))
    mig.apply(mig.model(ACCOUNT, deal()), allow_destructive=True)
    with mig.db.write() as conn:
        conn.execute(sa.text("delete from account where id = 2"))
    mig.apply(base)
    assert mig.restore(base, "deal", "tags") == 1
    audit, _ = trail(mig)
    assert audit == [(2, "update", None, {"tags": [None, [1]]})]
    assert mig.column("deal", "version") == {1: 1, 2: 2}
