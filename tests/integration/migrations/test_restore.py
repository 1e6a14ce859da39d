"""loom restore: fills only empty records, checks every value, leaves an audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.storage import archive
from engine.storage.tables import AUDIT, OUTBOX
from engine.storage.versions import system_table

TITLE = {"name": "title", "type": "string", "required": True}
ACCOUNT = {"entity": "account", "label": "Account",
           "fields": [{"name": "name", "type": "string", "required": True}]}


def deal(*fields):
    return {"entity": "deal", "label": "Deal", "fields": [TITLE, *fields]}


def drop_and_declare_again(mig, field, rows, *, again=None, others=()):
    """Deals with ``rows`` values of ``field``, the field dropped, then declared again.

    Returns the model with the field back (``again``, or ``field`` itself).
    """
    base = mig.model(*others, deal(field))
    mig.apply(base)
    mig.insert(base, "deal", *[{"title": f"d{i}", field["name"]: v} for i, v in enumerate(rows)])
    mig.apply(mig.model(*others, deal()), allow_destructive=True)
    back = mig.model(*others, deal(again or field))
    mig.apply(back)
    return back


def rows_of(mig, name):
    table = system_table(name)
    with mig.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]


def archive_spec(mig):
    (archived,) = mig.list_archives()
    return archived["spec"]


def test_restore_never_overwrites_a_value_typed_in_since(mig):
    notes = {"name": "notes", "type": "text"}
    back = drop_and_declare_again(mig, notes, ["old one", "old two"])
    with mig.db.write() as conn:
        conn.execute(sa.text("update deal set notes = 'typed since' where id = 1"))
    restored = mig.restore(back, "deal", "notes")
    assert restored == 1 and restored.kept == 1
    assert mig.column("deal", "notes") == {1: "typed since", 2: "old two"}
    assert mig.column("deal", "version") == {1: 1, 2: 2}
    assert any("1 records got a new value" in note for note in restored.notes)
    assert archive_spec(mig)["restore_kept"] == 1


def test_restore_leaves_out_values_the_field_refuses_now(mig):
    code = {"name": "code", "type": "string", "max_length": 10}
    back = drop_and_declare_again(mig, code, ["abcde", "ab", None],
                                  again={**code, "max_length": 3})
    restored = mig.restore(back, "deal", "code")
    assert (restored, restored.failures) == (1, 1)
    assert mig.column("deal", "code") == {1: None, 2: "ab", 3: None}
    assert "'abcde'" in restored.notes[0]
    spec = archive_spec(mig)
    assert (spec["restored"], spec["restore_failures"]) == (1, 1)
    assert mig.list_archives()[0]["status"] == "restored"


def test_restore_leaves_out_values_pointing_at_deleted_records(mig):
    account = {"name": "account", "type": "relation", "target": "account"}
    base = mig.model(ACCOUNT, deal(account))
    mig.apply(base)
    mig.insert(base, "account", {"name": "acme"}, {"name": "gone"})
    mig.insert(base, "deal", {"title": "a", "account": 1}, {"title": "b", "account": 2})
    mig.apply(mig.model(ACCOUNT, deal()), allow_destructive=True)
    with mig.db.write() as conn:
        conn.execute(sa.text("delete from account where id = 2"))
    mig.apply(base)
    restored = mig.restore(base, "deal", "account")
    assert (restored, restored.failures) == (1, 1)
    assert mig.column("deal", "account") == {1: 1, 2: None}


def test_restore_keeps_unique_values_unique(mig):
    code = {"name": "code", "type": "string", "unique": True}
    back = drop_and_declare_again(mig, code, ["A", "B"])
    with mig.db.write() as conn:
        conn.execute(sa.text("update deal set code = 'A' where id = 2"))
    restored = mig.restore(back, "deal", "code")
    # Deal 1's "A" is taken by deal 2 now; deal 2 keeps its own value.
    assert (restored, restored.failures, restored.kept) == (0, 1, 1)
    assert mig.column("deal", "code") == {1: None, 2: "A"}


def test_restore_writes_an_audit_row_and_an_event_per_record(mig):
    amount = {"name": "amount", "type": "decimal", "precision": 12, "scale": 2}
    back = drop_and_declare_again(mig, amount, [Decimal("12.5"), None, Decimal(3)])
    assert mig.restore(back, "deal", "amount") == 2
    audit = rows_of(mig, AUDIT)
    assert [(a["record_id"], a["action"], a["actor_id"], a["changes"]) for a in audit] == [
        (1, "update", None, {"amount": [None, "12.50"]}),
        (3, "update", None, {"amount": [None, "3.00"]})]
    events = rows_of(mig, OUTBOX)
    assert [(e["event"], e["record_id"], e["model_version"]) for e in events] == [
        ("record.updated", 1, back.version), ("record.updated", 3, back.version)]
    assert events[0]["payload"] == {"version": 2, "changes": {"amount": [None, "12.50"]},
                                    "cause": {"restore": "deal.amount"}}
    assert mig.column("deal", "version") == {1: 2, 2: 1, 3: 2}


def test_a_failed_restore_writes_nothing(mig, monkeypatch):
    notes = {"name": "notes", "type": "text"}
    back = drop_and_declare_again(mig, notes, ["keep me"])

    real = archive.write_changes

    def broken(*args, **kwargs):
        assert real(*args, **kwargs) == 1  # values, audit and event written, then a failure
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(archive, "write_changes", broken)
    before = mig.dump()
    with pytest.raises(RuntimeError, match="disk on fire"):
        mig.restore(back, "deal", "notes")
    assert mig.dump() == before
    assert mig.list_archives()[0]["status"] == "archived"
