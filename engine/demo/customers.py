"""Demo customers, their contacts and the leads that came in from the channels.

Each account carries planning notes (``_buy_from``, ``_buy_until``, ``_buy_weight``,
``_contacts``...) that the pipeline, order and follow-up generators read, so that a
churned customer stops buying, a loyal one keeps buying, and the latest follow-up of a
customer is its ``last_followup_at``. Writes go through :meth:`Demo.write` only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.demo.catalog import pool_for_region
from engine.demo.context import Demo
from engine.demo.words import (BRANDS, CHANNELS, CITIES, CITY_WEIGHTS, COMPANY_SUFFIXES,
                               FOREIGN_CITIES, FOREIGN_PREFIXES, FOREIGN_SUFFIXES, GIVEN_NAMES,
                               INDUSTRIES, INDUSTRY_WORDS, MAIL_DOMAINS, MOBILE_PREFIXES, STREETS,
                               SURNAMES, TITLES)

#: Lifecycle stages with their share of customers.
LIFECYCLE = (("lead", 12), ("prospect", 25), ("customer", 30), ("loyal", 13), ("at_risk", 10),
             ("churned", 10))
#: Stages of customers that have bought something.
BUYERS = ("customer", "loyal", "at_risk", "churned")
#: Share of customers sitting in a public pool (no owner), by lifecycle stage.
POOL_SHARE = {"lead": 0.25, "prospect": 0.12, "customer": 0.05, "loyal": 0.02, "at_risk": 0.1,
              "churned": 0.4}
#: Lead statuses with their share.
LEAD_STATUSES = (("new", 15), ("working", 20), ("qualified", 10), ("converted", 30),
                 ("disqualified", 25))
LEAD_SCORES = {"new": (10, 60), "working": (30, 80), "qualified": (60, 95), "converted": (60, 100),
               "disqualified": (0, 40)}
DISQUALIFY = (("no_need", 30), ("no_budget", 25), ("unreachable", 20), ("duplicate", 12),
              ("competitor", 8), ("other", 5))


class _Names:
    """Unique company names and mobile numbers for one run."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.companies: set[str] = set()
        self.mobiles: set[str] = set()

    def person(self) -> tuple[str, str, str]:
        """(Chinese name, surname pinyin, given-name pinyin)."""
        surname, s_py = self.demo.rng.choice(SURNAMES)
        given, g_py = self.demo.rng.choice(GIVEN_NAMES)
        return surname + given, s_py, g_py

    def mobile(self) -> str:
        while True:
            number = self.demo.rng.choice(MOBILE_PREFIXES) + f"{self.demo.rng.randrange(10**8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def company(self, city: str, industry: str) -> tuple[str, str, str]:
        """(full name, short name, web domain) of a new company."""
        rng = self.demo.rng
        for attempt in range(50):
            brand, b_py = rng.choice(BRANDS)
            word, w_py = rng.choice(INDUSTRY_WORDS[industry])
            suffix = self.demo.weighted(COMPANY_SUFFIXES)
            name = f"{city}{brand}{word}{suffix}"
            if attempt >= 40:  # a crowded corner: a numbered branch keeps the name unique
                name = f"{city}{brand}{word}{suffix}第{attempt - 39}分公司"
            if name not in self.companies:
                self.companies.add(name)
                tld = ".com.cn" if rng.random() < 0.4 else ".com"
                return name, brand + word, f"{b_py}{w_py}{tld}"
        raise RuntimeError("no free company name")  # pragma: no cover - 50 draws never all collide


def _account(demo: Demo, names: _Names) -> dict[str, Any]:
    rng = demo.rng
    stage = demo.weighted(LIFECYCLE)
    row: dict[str, Any] = {"lifecycle_stage": stage, "source": demo.weighted(CHANNELS)}
    if rng.random() < 0.03:
        prefix, (suffix, s_py) = rng.choice(FOREIGN_PREFIXES), rng.choice(FOREIGN_SUFFIXES)
        domain = f"{prefix.lower().replace(' ', '')}-{s_py}.com"
        row.update(name=f"{prefix} {suffix}", account_type="company", region="overseas",
                   industry=demo.weighted(INDUSTRIES), phone=f"+65 6{rng.randrange(10**7):07d}",
                   website=f"https://www.{domain}", email=f"sales@{domain}",
                   address=f"{rng.randint(1, 400)} Market Street, {rng.choice(FOREIGN_CITIES)}",
                   _short=prefix, _domain=domain)
    else:
        city, region, area, districts = rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
        address = f"{city}市{rng.choice(districts)}{rng.choice(STREETS)}{rng.randint(1, 999)}号"
        if rng.random() < 0.08:
            person, s_py, g_py = names.person()
            mobile = names.mobile()
            row.update(name=person, account_type="person", region=region, phone=mobile,
                       email=f"{g_py}{s_py}{rng.randint(1, 99)}@{rng.choice(MAIL_DOMAINS)}",
                       address=address, _short=person, _domain=None, _person=(s_py, g_py, mobile))
        else:
            industry = demo.weighted(INDUSTRIES)
            name, short, domain = names.company(city, industry)
            row.update(name=name, account_type="company", region=region, industry=industry,
                       phone=f"{area}-{rng.randint(5, 8)}{rng.randrange(10**7):07d}",
                       address=address, _short=short, _domain=domain)
            if rng.random() < 0.7:
                row["email"] = f"{rng.choice(('info', 'sales', 'contact', 'service'))}@{domain}"
            if rng.random() < 0.6:
                row["website"] = f"https://www.{domain}"
    row["level"] = demo.weighted((("A", 15), ("B", 35), ("C", 50)) if row["account_type"] == "company"
                                 else (("B", 10), ("C", 90)))
    row["tags"] = _tags(demo, row)
    return row


def _tags(demo: Demo, row: dict[str, Any]) -> list[str]:
    rng, tags = demo.rng, []
    if row["level"] == "A" and rng.random() < 0.6:
        tags.append("key_account")
    if row["lifecycle_stage"] == "loyal" and rng.random() < 0.7:
        tags.append("repeat_buyer")
    if row["account_type"] == "company" and row["level"] == "C" and rng.random() < 0.4:
        tags.append("sme")
    if rng.random() < 0.05:
        tags.append("listed")
    if row.get("industry") in ("energy", "public", "construction") and rng.random() < 0.4:
        tags.append("state_owned")
    if row["source"] == "partner" and rng.random() < 0.4:
        tags.append("partner")
    if row["region"] == "overseas":
        tags.append("overseas")
    if rng.random() < 0.1:
        tags.append("price_sensitive")
    return tags


def _plan_history(demo: Demo, row: dict[str, Any]) -> None:
    """Ownership, pool, follow-up times and the purchase window of one account."""
    rng, anchor, start = demo.rng, demo.anchor, demo.start
    stage = row["lifecycle_stage"]
    row["pool"] = pool_for_region(demo, row["region"])
    if rng.random() < POOL_SHARE[stage]:
        returned = demo.at(anchor - dt.timedelta(days=rng.randint(1, 200)))
        row.update(owner=None, returned_at=returned,
                   last_followup_at=demo.earlier(returned, days=rng.randint(30, 75), hours=3))
        if rng.random() < 0.9:
            row["previous_owner"] = rng.choice(demo.users)
    else:
        quiet = rng.randint(0, 25) if rng.random() < 0.8 else rng.randint(26, 70)
        followup = demo.at(anchor - dt.timedelta(days=quiet), 9, 17)
        row.update(owner=rng.choice(demo.users), last_followup_at=followup)
        if rng.random() < 0.3:
            row["claimed_at"] = demo.earlier(followup, days=rng.randint(0, 300), hours=2)
    weight = demo.log_uniform(0.5, 6) * {"A": 3.0, "B": 1.5, "C": 1.0}[row["level"]]
    span = (anchor - start).days
    if stage == "loyal":
        first = demo.day_between(start, start + dt.timedelta(days=300))
        until, weight = anchor - dt.timedelta(days=rng.randint(0, 30)), weight * 2.5
    elif stage == "customer":
        first = demo.day_between(start, anchor - dt.timedelta(days=60))
        until = anchor - dt.timedelta(days=rng.randint(0, 60))
    elif stage == "at_risk":
        first = demo.day_between(start, start + dt.timedelta(days=span - 420))
        until = anchor - dt.timedelta(days=rng.randint(120, 300))
    elif stage == "churned":
        first = demo.day_between(start, start + dt.timedelta(days=span - 560))
        until = anchor - dt.timedelta(days=rng.randint(380, 520))
    else:
        return
    until = max(until, first + dt.timedelta(days=30))
    row.update(_buy_from=first, _buy_until=until, _buy_weight=weight)


def seed_accounts(demo: Demo) -> list[dict]:
    names = _Names(demo)
    demo.names = names  # leads reuse it so their companies and mobiles stay unique
    rows = []
    for _ in range(demo.count(3000, 10)):
        row = _account(demo, names)
        _plan_history(demo, row)
        rows.append(row)
    return demo.write("account", rows)


def seed_contacts(demo: Demo) -> list[dict]:
    """One to four contacts per company (the person itself for a private customer)."""
    rng, names, rows = demo.rng, demo.names, []
    for account in demo.rows["account"]:
        account["_contacts"] = []
        owner = demo.owner_of(account)
        if account["account_type"] == "person":
            s_py, g_py, mobile = account["_person"]
            people = [(account["name"], s_py, g_py, mobile)]
        else:
            size = demo.weighted(((1, 35), (2, 35), (3, 20), (4, 10)))
            people = [(*names.person(), names.mobile()) for _ in range(size)]
        company = account["account_type"] == "company"
        for i, (name, s_py, g_py, mobile) in enumerate(people):
            title, role = rng.choice(TITLES) if company else ("", "decision_maker")
            domain = account["_domain"] or rng.choice(MAIL_DOMAINS)
            row = {"account": account["id"], "name": name, "role": role, "phone": mobile,
                   "is_primary": i == 0, "owner": owner,
                   "email": f"{g_py}.{s_py}@{domain}" if rng.random() < 0.75 else None}
            if title:
                row["title"] = title
            if rng.random() < 0.5:
                row["wechat"] = f"wx_{s_py}{g_py}{rng.randint(10, 9999)}"
            if rng.random() < 0.6:
                row["birthday"] = dt.date(rng.randint(1962, 2000), rng.randint(1, 12), rng.randint(1, 28))
            rows.append(row)
            account["_contacts"].append(row)
    return demo.write("contact", rows)


def seed_leads(demo: Demo) -> list[dict]:
    """Leads from every channel; converted ones point at the customer, contact and deal."""
    rng, names = demo.rng, demo.names
    campaigns_by_channel: dict[str, list[int]] = {}
    for campaign in demo.rows["campaign"]:
        if campaign["start_date"] <= demo.anchor:
            campaigns_by_channel.setdefault(campaign["channel"], []).append(campaign["id"])
    companies = [a for a in demo.rows["account"]
                 if a["account_type"] == "company" and a["lifecycle_stage"] != "lead"]
    contacts = demo.rows["contact"]
    rows = []
    for _ in range(demo.count(4000, 10)):
        status = demo.weighted(LEAD_STATUSES)
        low, high = LEAD_SCORES[status]
        row: dict[str, Any] = {"status": status, "score": rng.randint(low, high)}
        if status == "converted" and companies:
            account = rng.choice(companies)
            contact = account["_contacts"][0]
            row.update(name=contact["name"], phone=contact["phone"], email=contact["email"],
                       company=account["name"], title=contact.get("title"),
                       channel=account["source"], region=account["region"],
                       industry=account.get("industry"), converted_account=account["id"],
                       converted_contact=contact["id"], owner=demo.owner_of(account))
            deals = account.get("_deals") or []
            if deals:
                deal = rng.choice(deals)
                row["converted_deal"] = deal["id"]
                before = deal["_opened"]
            else:
                before = demo.anchor
            row["converted_at"] = demo.at(demo.day_between(demo.start, before))
        else:
            person, s_py, g_py = names.person()
            city, region, _, _ = rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
            industry = demo.weighted(INDUSTRIES)
            row.update(name=person, region=region, industry=industry, channel=demo.weighted(CHANNELS),
                       owner=rng.choice(demo.users) if status != "new" or rng.random() < 0.5 else None)
            # A few leads repeat a known contact's mobile: the duplicate check has work to do.
            row["phone"] = rng.choice(contacts)["phone"] if rng.random() < 0.03 else names.mobile()
            if rng.random() < 0.85:
                company, _, domain = names.company(city, industry)
                row["company"] = company
                if rng.random() < 0.5:
                    row["email"] = f"{g_py}.{s_py}@{domain}"
            elif rng.random() < 0.5:
                row["email"] = f"{g_py}{s_py}{rng.randint(1, 999)}@{rng.choice(MAIL_DOMAINS)}"
            if status == "disqualified":
                row["disqualify_reason"] = demo.weighted(DISQUALIFY)
        candidates = campaigns_by_channel.get(row["channel"])
        if candidates and rng.random() < 0.6:
            row["campaign"] = rng.choice(candidates)
        rows.append({k: v for k, v in row.items() if v is not None})
    return demo.write("lead", rows)
