"""The shared CRM workload's data (../shared/bench/workload.md), generated deterministically.

``random.Random(20260101)``; records in the fixed order: accounts, then W2 deals,
then W3 deals (then W7 deals), each deal's values drawn in the order the spec's
table lists them. The spec says 11,854 of the 105,000 deals match W4's filter
(stage = 'won' AND amount > 1000); the spec leaves the exact draws open (how an
account is drawn, how "log-uniform" is computed) and this reading gives 11,859,
so harness checks compare with the count computed from the generated rows
(:func:`check_w4_count`), never with a constant.

Deviation from the spec, forced by Loom's standard columns: every Loom table has
an ``owner`` column (a reference to a Loom user), so the workload's free-text
``owner`` is stored in a field named ``owner_email``.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

SEED = 20260101
ACCOUNTS = 1_000
W2_DEALS = 5_000
W3_DEALS = 100_000
W7_DEALS = 895_000
W4_EXPECTED = 11_854
STAGES = ("lead", "qualified", "proposal", "won", "lost")
INDUSTRIES = ("software", "retail", "manufacturing", "finance", "health", "energy", "logistics",
              "media", "education", "public")
REGIONS = ("emea", "na", "latam", "apac")
NOTES = (
    "Customer asked for a second demo.",
    "Waiting for the budget approval.",
    "Competitor offered a lower price.",
    "Decision expected after the board meeting.",
    "Needs integration with the ERP system.",
    "Champion left the company; re-qualify.",
    "Legal review of the contract in progress.",
    "Pilot went well; expanding to other teams.",
)
FIRST_DAY = dt.date(2020, 1, 1)
LAST_DAY = dt.date(2026, 12, 31)

ACCOUNT_SPEC = {
    "entity": "account", "label": "Account",
    "fields": [
        {"name": "name", "type": "string", "max_length": 255, "required": True},
        {"name": "industry", "type": "select", "options": [{"value": v} for v in INDUSTRIES]},
        {"name": "region", "type": "select", "options": [{"value": v} for v in REGIONS]},
        {"name": "created", "type": "date"},
    ],
}
DEAL_SPEC = {
    "entity": "deal", "label": "Deal",
    "fields": [
        {"name": "title", "type": "string", "max_length": 255, "required": True},
        {"name": "amount", "type": "decimal", "precision": 12, "scale": 2, "min": 0},
        {"name": "stage", "type": "select", "indexed": True,
         "options": [{"value": v} for v in STAGES]},
        {"name": "close_date", "type": "date", "indexed": True},
        {"name": "probability", "type": "integer", "min": 0, "max": 100},
        {"name": "owner_email", "type": "string", "max_length": 255},
        {"name": "account", "type": "relation", "target": "account", "on_delete": "set_null"},
        {"name": "notes", "type": "text"},
    ],
}


class Workload:
    """Generates the workload's rows in the spec's order from one Random."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.next_deal = 1
        self.span = (LAST_DAY - FIRST_DAY).days

    def accounts(self) -> list[dict]:
        rng = self.rng
        return [{"name": f"Account {i:04d}", "industry": rng.choice(INDUSTRIES),
                 "region": rng.choice(REGIONS),
                 "created": FIRST_DAY + dt.timedelta(days=rng.randint(0, self.span))}
                for i in range(1, ACCOUNTS + 1)]

    def deals(self, count: int, account_ids: list[int]) -> list[dict]:
        rng = self.rng
        rows = []
        for _ in range(count):
            i = self.next_deal
            self.next_deal += 1
            amount = Decimal(str(round(10 ** rng.uniform(1, 5.5), 2))).quantize(Decimal("0.01"))
            rows.append({
                "title": f"Deal {i:07d}",
                "amount": amount,
                "stage": rng.choice(STAGES),
                "close_date": FIRST_DAY + dt.timedelta(days=rng.randint(0, self.span)),
                "probability": rng.randint(0, 100),
                "owner_email": f"owner{rng.randint(0, 49):02d}@example.com",
                "account": account_ids[rng.randrange(len(account_ids))],
                "notes": rng.choice(NOTES) if rng.random() < 0.5 else None,
            })
        return rows


def check_w4_count() -> int:
    """Count W4 matches over the W2 + W3 deals; equals :data:`W4_EXPECTED` when faithful."""
    work = Workload()
    work.accounts()
    ids = list(range(1, ACCOUNTS + 1))
    deals = work.deals(W2_DEALS, ids) + work.deals(W3_DEALS, ids)
    return sum(1 for d in deals if d["stage"] == "won" and d["amount"] > 1000)


if __name__ == "__main__":
    print(check_w4_count(), "expected", W4_EXPECTED)
