"""The small CRM with roles that the accounts and access tests share."""

from __future__ import annotations

from engine.compiler import compile_documents
from engine.spec import MemorySource

ACCOUNT = {"entity": "account", "label": "Account", "fields": [
    {"name": "name", "type": "string", "required": True},
    {"name": "region", "type": "string"},
    {"name": "credit_limit", "type": "integer"},
]}
DEAL = {"entity": "deal", "label": "Deal", "fields": [
    {"name": "title", "type": "string", "required": True},
    {"name": "account", "type": "relation", "target": "account", "on_delete": "set_null",
     "inverse": {"name": "deals"}},
    {"name": "amount", "type": "integer"},
    {"name": "margin", "type": "integer"},
    {"name": "probability", "type": "integer"},
]}
ROLES = (
    {"role": "admin", "label": "Admin", "admin": True},
    {"role": "sales", "label": {"en": "Sales", "zh-CN": "销售"}, "entities": {
        "account": {"actions": ["create", "read", "update"], "scope": "team",
                    "fields": {"credit_limit": "hidden"}},
        "deal": {"actions": ["create", "read", "update", "delete"], "scope": "team",
                 "fields": {"margin": "hidden", "probability": "read"}}}},
    {"role": "sales_manager", "label": "Manager",
     "default": {"actions": ["read"], "scope": "all"},
     "entities": {"deal": {"actions": ["create", "read", "update", "delete"], "scope": "team_tree"},
                  "account": {"actions": ["create", "read", "update", "delete"],
                              "scope": "team_tree"}}},
    {"role": "service", "label": "Service", "entities": {
        "account": {"actions": ["read"], "scope": "all"}}},
)
PASSWORD = "correct horse battery"


def compile_world():
    errors: list = []
    return compile_documents(MemorySource(ACCOUNT, DEAL, *ROLES).documents(errors), errors)
