"""Today's agenda of the demo: a few records made as the demo starts, so its workflows
fire while someone looks (the seeded history's events are not news, see ``seed``).

For ``sales1``: a visit 40 minutes from now (its reminder arrives 10 minutes in), a
qualified lead (its page offers "Convert"), and a contract over 500,000 sent for approval
(``manager`` finds it waiting, with Approve and Reject on its page).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from engine.records import RecordService


def seed_today(service: RecordService, actor_of: Any) -> dict[str, int]:
    """Create today's demo records as ``sales1`` (``actor_of(user_id)`` gives an actor)."""
    users = service.tables.users
    with service.db.read() as conn:
        user_id = conn.execute(sa.select(users.c.id).where(users.c.username == "sales1")).scalar()
        accounts = service.tables.entity("account")
        account_id = conn.execute(sa.select(accounts.c.id).where(accounts.c.owner == user_id)
                                  .order_by(accounts.c.id).limit(1)).scalar()
    if user_id is None or account_id is None:
        return {}
    sales1 = actor_of(user_id)
    now = service.clock.now()
    today = service.clock.today()
    service.create(sales1, "activity", {
        "kind": "visit", "subject": "拜访客户：方案演示", "account": account_id,
        "due_at": (now + dt.timedelta(minutes=40)).isoformat(), "location": "客户办公室"})
    service.create(sales1, "lead", {
        "name": "周明", "company": "杭州明远科技有限公司", "status": "qualified",
        "channel": "referral", "phone": "13900001111"})
    contract = service.create(sales1, "contract", {
        "title": "年度框架合同", "account": account_id, "amount": "680000",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=364)).isoformat()})
    service.update(sales1, "contract", contract["id"], {"status": "in_approval"},
                   version=contract["version"])
    return {"activity": 1, "lead": 1, "contract": 1}
