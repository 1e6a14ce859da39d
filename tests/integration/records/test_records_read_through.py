"""A name read through a relation, for a role with no grant at all on the relation's target."""

from __future__ import annotations

from records_support import ALICE, BOB, install

from engine.access import RolePolicy
from engine.permissions import Actor
from engine.records import RecordService
from tests.conftest import compile_specs

COMPANY = {"entity": "company", "label": "Company", "display_field": "name",
           "fields": [{"name": "name", "type": "string"}, {"name": "secret", "type": "string"}]}
TASK = {"entity": "task", "label": "Task",
        "fields": [{"name": "title", "type": "string"},
                   {"name": "company", "type": "relation", "target": "company"}]}
WORKER = {"role": "worker", "label": "Worker", "entities": {"task": {
    "actions": ["read", "create", "update"], "scope": "own", "read_through": ["company"]}}}


def test_a_role_without_a_grant_on_the_target_still_reads_its_name_and_nothing_else(database):
    model = compile_specs(COMPANY, TASK, WORKER)
    tables = install(database, model)
    system = RecordService(database, model, tables)
    company = system.create(Actor.system(), "company", {"name": "ACME", "secret": "s3cret",
                                                        "owner": BOB})
    task = system.create(Actor.system(), "task", {"title": "call", "company": company["id"],
                                                  "owner": ALICE})
    worker = RecordService(database, model, tables, RolePolicy(model, tables))
    alice = Actor(ALICE, roles=("worker",))
    seen = worker.get(alice, "task", task["id"], expand=("company",))
    assert seen["_expand"]["company"] == {"id": company["id"], "_display": "ACME",
                                          "_name_only": True}
    assert "secret" not in str(seen)
