"""Record-event workflows end to end: outbox -> relay -> real Redis -> rq worker -> run."""

from __future__ import annotations

import sqlalchemy as sa
from support import add_user, make_crm

WON = """
workflow: won_deal_contract
label: {en: Won deal to draft contract, zh-CN: 赢单生成合同草稿}
entity: deal
trigger: {type: field_changed, field: stage, to: won}
actions:
  - create_record:
      entity: contract
      values:
        title: {expr: "record.title"}
        account: {expr: "record.account"}
        deal: {expr: "record.id"}
        amount: {expr: "record.amount"}
        start_date: {expr: "today()"}
        end_date: {expr: "today() + duration('8760h')"}
        status: draft
"""


def _deal(crm, actor, **values):
    account = crm.service.create(actor, "account", {"name": "Acme"})
    deal = {"title": "Big one", "account": account["id"], "stage": "qualified", "amount": "1000"}
    deal.update(values)
    return crm.service.create(actor, "deal", deal)


def test_won_deal_creates_one_contract_through_the_queue(database, tmp_path):
    crm = make_crm(database, tmp_path, {"won.yaml": WON})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    deal = _deal(crm, sam)
    crm.service.update(sam, "deal", deal["id"], {"stage": "won", "closed_at": "2026-03-02"},
                       version=deal["version"])
    crm.work()
    contracts = crm.rows("contract")
    assert [(c["deal"], c["title"], c["status"]) for c in contracts] == [(deal["id"], "Big one", "draft")]
    (run,) = crm.runs("won_deal_contract")
    assert run.status == "succeeded" and run.condition is True and run.attempts == 1
    assert run.actions[0]["record"] == {"entity": "contract", "id": contracts[0]["id"]}
    # The contract's audit row names the workflow run as its cause, one step deep.
    audit = crm.snapshot.tables.audit
    with crm.snapshot.db.read() as conn:
        row = conn.execute(sa.select(audit).where(audit.c.entity == "contract")).one()
    assert (row.cause_kind, row.cause_id, row.depth) == ("workflow", str(run.id), 1)
    # Redelivering everything changes nothing: the run is unique per event and record.
    outbox = crm.snapshot.tables.outbox
    with crm.snapshot.db.write() as conn:
        conn.execute(sa.update(outbox).values(delivered_at=None))
    crm.work()
    assert len(crm.rows("contract")) == 1 and len(crm.runs("won_deal_contract")) == 1


def test_other_changes_do_not_match(database, tmp_path):
    crm = make_crm(database, tmp_path, {"won.yaml": WON})
    add_user(crm, "sam", team="East")
    sam = crm.user("sam")
    deal = _deal(crm, sam)
    crm.service.update(sam, "deal", deal["id"], {"stage": "proposal"}, version=deal["version"])
    crm.work()
    assert crm.rows("contract") == [] and crm.runs() == []
