"""Demo deals through every pipeline stage, the contracts of won deals, and renewal deals.

Won deals fall inside their customer's purchase window, open deals close in the coming
months, contract status follows the calendar (expiring within 30 days of the demo's
today, expired after). Writes go through :meth:`Demo.write` only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.demo.context import Demo, WeightedPicker, money
from engine.demo.words import COMPETITORS, DEAL_TOPICS, NEXT_STEPS

#: Stages with their share of deals: about 45% of closed deals are won.
STAGES = (("lead", 12), ("qualified", 10), ("proposal", 10), ("negotiation", 8), ("won", 28),
          ("lost", 32))
#: Default probability of each stage, as the `deal.probability` default expression gives it.
STAGE_PROBABILITY = {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75, "won": 100,
                     "lost": 0}
OPEN_STAGES = ("lead", "qualified", "proposal", "negotiation")
LOSS_REASONS = (("price", 30), ("competitor", 25), ("no_budget", 15), ("no_decision", 12),
                ("product_fit", 8), ("timing", 8), ("other", 2))
LEVEL_FACTOR = {"A": 2.0, "B": 1.0, "C": 0.6}
#: Won deals from this amount on get a contract.
CONTRACT_FROM = 30_000


def _pickers(demo: Demo) -> dict[str, WeightedPicker]:
    accounts = demo.rows["account"]
    buyers = [a for a in accounts if "_buy_from" in a] or accounts
    open_ones = [a for a in accounts if a["lifecycle_stage"] != "churned"] or accounts
    return {
        "won": WeightedPicker(demo.rng, buyers, [a.get("_buy_weight", 1.0) for a in buyers]),
        "lost": WeightedPicker(demo.rng, accounts, [1.0] * len(accounts)),
        "open": WeightedPicker(demo.rng, open_ones,
                               [3.0 if a["lifecycle_stage"] in ("lead", "prospect") else 1.0
                                for a in open_ones]),
    }


def _campaign(demo: Demo, account: dict[str, Any], by: dt.date) -> int | None:
    started = [c for c in demo.rows["campaign"] if c["start_date"] <= by]
    same = [c for c in started if c["channel"] == account["source"]]
    choices = same or started
    return demo.rng.choice(choices)["id"] if choices else None


def _deal(demo: Demo, stage: str, account: dict[str, Any]) -> dict[str, Any]:
    rng, anchor = demo.rng, demo.anchor
    amount = round(demo.log_uniform(8_000, 1_500_000) * LEVEL_FACTOR[account["level"]], -2)
    row: dict[str, Any] = {"title": f"{account['_short']}{rng.choice(DEAL_TOPICS)}",
                           "account": account["id"], "stage": stage,
                           "probability": STAGE_PROBABILITY[stage], "owner": demo.owner_of(account)}
    if stage != "lead" or rng.random() < 0.6:
        row["amount"] = money(max(amount, 1000))
    if stage in OPEN_STAGES:
        row["expected_close_date"] = anchor + dt.timedelta(days=rng.randint(-20, 150))
        opened = anchor - dt.timedelta(days=rng.randint(5, 200))
        if rng.random() < 0.3:
            shift = rng.choice((-15, -10, -5, 5, 10, 15))
            row["probability"] = min(95, max(5, row["probability"] + shift))
        if rng.random() < 0.8:
            row["next_step"] = rng.choice(NEXT_STEPS)
    else:
        if stage == "won" and "_buy_from" in account:
            closed = demo.day_between(account["_buy_from"], account["_buy_until"])
        else:
            closed = demo.day_between(demo.start, anchor)
        row["closed_at"] = demo.at(closed)
        row["expected_close_date"] = closed + dt.timedelta(days=rng.randint(-20, 20))
        opened = closed - dt.timedelta(days=rng.randint(14, 180))
        row["_closed"] = closed
    if stage == "lost":
        row["loss_reason"] = demo.weighted(LOSS_REASONS)
    if row.get("loss_reason") == "competitor" or rng.random() < 0.25:
        row["competitor"] = rng.choice(COMPETITORS)
    contacts = account["_contacts"]
    if contacts and rng.random() < 0.85:
        deciders = [c for c in contacts if c["role"] == "decision_maker"]
        row["contact"] = rng.choice(deciders or contacts)["id"]
    if rng.random() < 0.2:
        campaign = _campaign(demo, account, opened)
        if campaign is not None:
            row["campaign"] = campaign
    row["_opened"] = opened
    row["_account"] = account
    return row


def seed_deals(demo: Demo) -> list[dict]:
    pickers = _pickers(demo)
    rows = []
    for _ in range(demo.count(5000, 10)):
        stage = demo.weighted(STAGES)
        account = pickers["open" if stage in OPEN_STAGES else stage].pick()
        row = _deal(demo, stage, account)
        account.setdefault("_deals", []).append(row)
        rows.append(row)
    return demo.write("deal", rows)


def _contract(demo: Demo, deal: dict[str, Any]) -> dict[str, Any]:
    rng, anchor = demo.rng, demo.anchor
    closed = deal["_closed"]
    amount = deal["amount"]
    signed = min(anchor, closed + dt.timedelta(days=rng.randint(0, 7)))
    start = signed + dt.timedelta(days=rng.randint(0, 20))
    years = demo.weighted(((1, 70), (2, 20), (3, 10)))
    end = start + dt.timedelta(days=365 * years - 1)
    row: dict[str, Any] = {"title": f"{deal['title']}合同", "account": deal["account"],
                           "deal": deal["id"], "amount": amount, "start_date": start,
                           "end_date": end, "owner": deal["owner"]}
    if (anchor - closed).days < 10:
        row.update(status=demo.weighted((("draft", 40), ("in_approval", 60))), received_amount=money(0))
        return row
    row["signed_at"] = signed
    if float(amount) > 500000:
        row["approval"] = "approved"  # signed large contracts went through the approval
    if end < anchor:
        status = "terminated" if rng.random() < 0.12 else "expired"
    elif (end - anchor).days <= 30:
        status = "expiring"
    else:
        status = "terminated" if rng.random() < 0.04 else "active"
    if status == "expired":
        share = 1.0 if rng.random() < 0.9 else rng.uniform(0.7, 0.99)
    elif status == "terminated":
        share = rng.uniform(0.2, 0.7)
    else:
        elapsed = max(0, (anchor - start).days) / (end - start).days
        share = min(1.0, 0.3 + 0.7 * elapsed) * rng.uniform(0.85, 1.0)
    row.update(status=status, received_amount=min(amount, money(round(float(amount) * share, -2))))
    return row


def seed_contracts(demo: Demo) -> list[dict]:
    """Contracts of most won deals from :data:`CONTRACT_FROM` CNY."""
    rows = []
    for deal in demo.rows["deal"]:
        if deal["stage"] == "won" and deal["amount"] >= CONTRACT_FROM and demo.rng.random() < 0.85:
            row = _contract(demo, deal)
            deal["_contract"] = row
            rows.append(row)
    return demo.write("contract", rows)


def seed_renewals(demo: Demo) -> list[dict]:
    """Renewal deals for contracts ending soon or just ended (what the renewal workflow makes)."""
    rng, anchor, rows = demo.rng, demo.anchor, []
    by_id = {a["id"]: a for a in demo.rows["account"]}
    for contract in demo.rows["contract"]:
        end = contract["end_date"]
        due = (contract["status"] in ("active", "expiring") and end <= anchor + dt.timedelta(days=90)) \
            or (contract["status"] == "expired" and end >= anchor - dt.timedelta(days=60))
        if not due or rng.random() >= 0.8:
            continue
        stage = demo.weighted((("qualified", 40), ("proposal", 35), ("negotiation", 25)))
        account = by_id[contract["account"]]
        row = {"title": f"{contract['title'].removesuffix('合同')}续约", "account": account["id"],
               "stage": stage, "probability": STAGE_PROBABILITY[stage],
               "amount": money(round(float(contract["amount"]) * rng.uniform(0.9, 1.2), -2)),
               "expected_close_date": end + dt.timedelta(days=rng.randint(-15, 10)),
               "renewal_of": contract["id"], "owner": contract["owner"],
               "next_step": rng.choice(NEXT_STEPS),
               "_opened": min(anchor, end - dt.timedelta(days=rng.randint(30, 60))),
               "_account": account}
        account.setdefault("_deals", []).append(row)
        rows.append(row)
    return demo.write("deal", rows)
