"""A small CRM model exercising every behaviour of the record service, and helpers.

Imported by the tests of this folder (pytest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engine.compiler import compile_documents
from engine.spec import MemorySource
from engine.storage.tables import build_tables
from engine.storage.versions import record_version

ALICE, BOB = 1, 2

STAGES = ["lead", "qualified", "proposal", "won", "lost"]

ACCOUNT = {
    "entity": "account", "label": {"en": "Account", "zh-CN": "客户"}, "display_field": "name",
    "fields": [
        {"name": "name", "type": "string", "required": True, "max_length": 100},
        {"name": "region", "type": "select",
         "options": [{"value": v} for v in ("emea", "na", "latam", "apac")]},
        {"name": "tier", "type": "select", "options": [{"value": v} for v in "ABC"], "default": "C"},
        {"name": "phone", "type": "phone"},
        {"name": "score", "type": "integer", "min": 0, "max": 100},
        {"name": "secret", "type": "string"},
        {"name": "channels", "type": "multiselect",
         "options": [{"value": v} for v in ("web", "fair", "referral")]},
    ],
}

TAG = {
    "entity": "tag", "label": "Tag",
    "fields": [{"name": "name", "type": "string", "required": True, "unique": True}],
}

DEAL = {
    "entity": "deal", "label": {"en": "Deal", "zh-CN": "商机"},
    "fields": [
        {"name": "title", "type": "string", "required": True, "max_length": 60},
        {"name": "amount", "type": "money", "min": 0},
        {"name": "stage", "type": "select", "options": [{"value": s} for s in STAGES],
         "default": "lead"},
        {"name": "probability", "type": "integer", "min": 0, "max": 100, "default": 10},
        {"name": "close_date", "type": "date", "default": {"expr": "today() + duration('720h')"}},
        {"name": "account", "type": "relation", "target": "account", "on_delete": "restrict"},
        {"name": "loss_reason", "type": "text", "max_length": 200, "required_if": "stage == 'lost'"},
        {"name": "weighted", "type": "formula", "returns": "money",
         "expr": "amount * double(probability) / 100.0"},
        {"name": "weighted_label", "type": "formula", "returns": "string",
         "expr": "stage + ':' + string(weighted)"},
        {"name": "locked_note", "type": "string", "read_only_if": "stage == 'won'"},
        {"name": "tags", "type": "many_to_many", "target": "tag"},
        {"name": "notes", "type": "text"},
    ],
    "rules": [
        {"name": "won_needs_amount", "when": "stage == 'won'", "assert": "amount > 0.0",
         "message": {"en": "a won deal needs an amount", "zh-CN": "赢单必须有金额"}},
        {"name": "optimistic", "assert": "probability <= 90", "severity": "warning",
         "message": {"en": "probability above 90% is rare", "zh-CN": "概率高于 90% 很少见"}},
    ],
}

CONTRACT = {
    "entity": "contract", "label": {"en": "Contract", "zh-CN": "合同"},
    "fields": [
        {"name": "number", "type": "autonumber", "format": "CT-{YYYY}-{seq:5}"},
        {"name": "title", "type": "string", "required": True},
        {"name": "deal", "type": "relation", "target": "deal", "on_delete": "set_null"},
        {"name": "start_date", "type": "date"},
        {"name": "end_date", "type": "date"},
        {"name": "signer", "type": "user"},
    ],
    "rules": [
        {"name": "ends_after_start", "assert": "end_date >= start_date",
         "message": {"en": "the contract must end after it starts", "zh-CN": "合同结束日期必须晚于开始日期"}},
    ],
}

SPECS = (ACCOUNT, TAG, DEAL, CONTRACT)


def compile_crm(*extra: dict):
    errors: list = []
    return compile_documents(MemorySource(*SPECS, *extra).documents(errors), errors)


def install(db, model):
    """Create every table of ``model``, record it as the applied version, add two users."""
    tables = build_tables(model)
    with db.write() as conn:
        tables.metadata.create_all(conn)
        record_version(conn, model, "test", "test")
        now = dt.datetime(2026, 1, 1)
        conn.execute(sa.insert(tables.users), [
            {"id": ALICE, "username": "alice", "display_name": "Alice", "created_at": now},
            {"id": BOB, "username": "bob", "display_name": "", "created_at": now},
        ])
    return tables


def count(db, table, *where) -> int:
    with db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def rows(db, table, *where) -> list[dict]:
    with db.read() as conn:
        query = sa.select(table).where(*where).order_by(*table.primary_key.columns)
        return [dict(r) for r in conn.execute(query).mappings()]
