"""Demo follow-up activities (visits, calls, meetings, tasks) and service cases.

Each customer's latest finished activity happens exactly at its ``last_followup_at``
(what the follow-up automation keeps true); older ones lie before it; open ones are
scheduled in the coming weeks or already overdue. Service cases carry SLA deadlines,
some breached, and satisfaction scores once resolved. Writes go through
:meth:`Demo.write` only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.demo.context import Demo, WeightedPicker
from engine.demo.words import ACTIVITY_SUBJECTS, CASE_SUBJECTS, OUTCOMES, RESOLUTIONS

KINDS = (("call", 45), ("visit", 25), ("meeting", 15), ("task", 15))
REMINDERS = (dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(days=1))
CASE_TYPES = (("inquiry", 50), ("complaint", 18), ("return_visit", 32))
#: Hours to resolve a case of each priority (the SLA).
SLA_HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 168}
SATISFACTION = {"complaint": ((1, 15), (2, 20), (3, 30), (4, 25), (5, 10)),
                "other": ((1, 2), (2, 5), (3, 15), (4, 40), (5, 38))}


def _activity(demo: Demo, account: dict[str, Any], due: dt.datetime, done: bool,
              owner: int) -> dict[str, Any]:
    rng = demo.rng
    kind = demo.weighted(KINDS)
    contacts = account["_contacts"]
    contact = rng.choice(contacts) if contacts and rng.random() < 0.7 else None
    subject = rng.choice(ACTIVITY_SUBJECTS[kind]).format(
        account=account["_short"], contact=contact["name"] if contact else account["_short"])
    row: dict[str, Any] = {"kind": kind, "subject": subject, "account": account["id"],
                           "due_at": due, "done": done, "owner": owner}
    if contact is not None:
        row["contact"] = contact["id"]
    deals = account.get("_deals")
    if deals and rng.random() < 0.4:
        row["deal"] = rng.choice(deals)["id"]
    if rng.random() < 0.6:
        row["reminder_at"] = due - rng.choice(REMINDERS)
    if kind in ("visit", "meeting") and account.get("address"):
        row["location"] = account["address"]
    if done:
        row["done_at"] = due
        if kind != "task":
            row["outcome"] = rng.choice(OUTCOMES)
    return row


def seed_activities(demo: Demo) -> list[dict]:
    rng, anchor = demo.rng, demo.anchor
    accounts = demo.rows["account"]
    rows = []
    # The latest follow-up of every customer that has been followed up.
    for account in accounts:
        last = account.get("last_followup_at")
        if last is not None:
            rows.append(_activity(demo, account, last, True, demo.owner_of(account)))
    owned = [a for a in accounts if a.get("owner")]
    picker = WeightedPicker(rng, accounts, [a.get("_buy_weight", 0.5) + 0.5 for a in accounts])
    for _ in range(max(0, demo.count(15_000, 20) - len(rows))):
        roll = rng.random()
        if owned and roll < 0.12:  # scheduled in the coming three weeks
            account = rng.choice(owned)
            due = demo.at(anchor + dt.timedelta(days=rng.randint(0, 21)))
            rows.append(_activity(demo, account, due, False, account["owner"]))
        elif owned and roll < 0.17:  # overdue: should have happened, not done
            account = rng.choice(owned)
            due = demo.at(anchor - dt.timedelta(days=rng.randint(1, 20)))
            rows.append(_activity(demo, account, due, False, account["owner"]))
        else:  # done, before the customer's latest follow-up
            account = picker.pick()
            last = account.get("last_followup_at") or demo.now()
            day = demo.day_between(demo.start, last.date() - dt.timedelta(days=1))
            rows.append(_activity(demo, account, demo.at(day), True, demo.owner_of(account)))
    return demo.write("activity", rows)


def _case(demo: Demo, account: dict[str, Any]) -> dict[str, Any]:
    rng = demo.rng
    case_type = demo.weighted(CASE_TYPES)
    priority = demo.weighted((("low", 10), ("normal", 30), ("high", 40), ("urgent", 20))
                             if case_type == "complaint" else
                             (("low", 30), ("normal", 55), ("high", 12), ("urgent", 3)))
    opened = demo.at(demo.day_between(demo.start, demo.anchor), 8, 18)
    sla = dt.timedelta(hours=SLA_HOURS[priority])
    # Most cases are solved within the SLA; about one in six breaches it.
    took = sla * (rng.uniform(0.1, 0.95) if rng.random() < 0.83 else rng.uniform(1.05, 4.0))
    resolved = opened + took
    row: dict[str, Any] = {"subject": rng.choice(CASE_SUBJECTS[case_type]), "account": account["id"],
                           "case_type": case_type, "priority": priority, "opened_at": opened,
                           "sla_due_at": opened + sla, "owner": demo.owner_of(account)}
    row["description"] = f"{account['name']}：{row['subject']}"
    contacts = account["_contacts"]
    if contacts and rng.random() < 0.8:
        row["contact"] = rng.choice(contacts)["id"]
    if resolved > demo.now():
        row["status"] = demo.weighted((("new", 30), ("in_progress", 50), ("waiting", 20)))
        return row
    recent = demo.now() - resolved < dt.timedelta(days=3)
    row.update(status="resolved" if recent or rng.random() < 0.2 else "closed", resolved_at=resolved,
               resolution=rng.choice(RESOLUTIONS))
    if rng.random() < 0.75:
        scores = SATISFACTION["complaint" if case_type == "complaint" else "other"]
        score = demo.weighted(scores)
        row["satisfaction"] = max(1, score - 1) if took > sla else score
    return row


def seed_cases(demo: Demo) -> list[dict]:
    accounts = demo.rows["account"]
    buyers = [a for a in accounts if "_buy_from" in a] or accounts
    picker = WeightedPicker(demo.rng, buyers, [a.get("_buy_weight", 1.0) for a in buyers])
    rows = [_case(demo, picker.pick()) for _ in range(demo.count(2000, 5))]
    return demo.write("service_case", rows)
