"""Demo reference data: public pools, campaigns, the product catalogue, sales targets.

Plans rows from the word lists and writes them through :meth:`Demo.write`. No SQL here.
"""

from __future__ import annotations

import datetime as dt

from engine.demo.context import Demo, money
from engine.demo.words import CAMPAIGN_NAMES, CHANNELS, CITIES, CITY_WEIGHTS, PRODUCTS

#: The public pools: (name, region or None for the catch-all pool, return after days,
#: days without deal progress, claim cap, reclaim block days, roles it is open to (none:
#: every role with a pool grant)). The North China pool is the managers' own.
POOLS = (
    ({"en": "East China pool", "zh-CN": "华东公海"}, "east", 30, 90, 60, 15,
     ["sales", "sales_manager"]),
    ({"en": "North China pool", "zh-CN": "华北公海"}, "north", 30, 90, 50, 15, ["sales_manager"]),
    ({"en": "National pool", "zh-CN": "全国公海"}, None, 45, 120, 80, 30, []),
)
#: Campaign channel -> (lowest, highest) budget in CNY, and length in days.
CAMPAIGN_BUDGETS = {
    "fair": (150_000, 600_000, 4), "search_ads": (50_000, 300_000, 60),
    "social": (30_000, 200_000, 45), "web_form": (20_000, 80_000, 90),
    "referral": (10_000, 60_000, 60), "cold_call": (10_000, 40_000, 30),
    "partner": (40_000, 200_000, 60), "email": (5_000, 30_000, 20), "other": (20_000, 100_000, 2),
}
#: Seasonal factor of monthly targets (Chinese New Year dip, year-end push).
MONTH_FACTOR = {1: 0.95, 2: 0.7, 3: 1.0, 4: 1.0, 5: 1.0, 6: 1.1, 7: 0.95, 8: 0.95, 9: 1.05,
                10: 0.95, 11: 1.1, 12: 1.3}


def seed_pools(demo: Demo) -> list[dict]:
    """The three public pools; accounts refer to them by region."""
    rows = []
    for name, region, return_days, progress_days, cap, block, roles in POOLS:
        rows.append({"name": name["zh-CN"], "region": region, "return_after_days": return_days,
                     "no_progress_days": progress_days, "claim_cap": cap, "open_to": roles,
                     "reclaim_block_days": block, "active": True,
                     "description": f"{name['en']}: {name['zh-CN']}", "_region": region})
    return demo.write("customer_pool", rows)


def pool_for_region(demo: Demo, region: str | None) -> int:
    """The id of the pool a customer of ``region`` belongs to (the catch-all one by default)."""
    pools = demo.rows["customer_pool"]
    for pool in pools:
        if pool["_region"] is not None and pool["_region"] == region:
            return pool["id"]
    return next(p["id"] for p in pools if p["_region"] is None)


def seed_campaigns(demo: Demo) -> list[dict]:
    """Campaigns spread over the history, a couple still planned after the anchor."""
    count = demo.count(36, 3)
    last = demo.anchor + dt.timedelta(days=60)
    step = (last - demo.start).days / count
    rows = []
    for i in range(count):
        start = demo.start + dt.timedelta(days=int(i * step) + demo.rng.randint(0, max(0, int(step) - 1)))
        channel = demo.weighted(CHANNELS)
        city, region, _, _ = demo.rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
        low, high, days = CAMPAIGN_BUDGETS[channel]
        end = start + dt.timedelta(days=max(1, days + demo.rng.randint(-days // 4, days // 4)))
        budget = round(demo.rng.uniform(low, high), -3)
        if start > demo.anchor:
            status, cost = "planned", 0
        elif end >= demo.anchor:
            elapsed = (demo.anchor - start).days / max(1, (end - start).days)
            status, cost = "active", round(budget * elapsed * demo.rng.uniform(0.8, 1.0), -2)
        elif demo.chance(0.08):
            status, cost = "cancelled", round(budget * demo.rng.uniform(0.05, 0.3), -2)
        else:
            status, cost = "completed", round(budget * demo.rng.uniform(0.75, 1.06), -2)
        name = CAMPAIGN_NAMES[channel].format(year=f"{start.year}年{start.month}月", city=city)
        rows.append({"name": name, "channel": channel, "status": status, "region": region,
                     "start_date": start, "end_date": end, "budget": money(budget),
                     "cost": money(cost), "owner": demo.rng.choice(demo.users)})
    return demo.write("campaign", rows)


def seed_products(demo: Demo) -> list[dict]:
    """The whole catalogue (it does not scale); popularity is kept for the order lines."""
    rows = []
    for code, name, category, unit, price in PRODUCTS:
        rows.append({"code": code, "name": name, "category": category, "unit": unit,
                     "unit_price": money(price), "active": not demo.chance(0.06),
                     "_popularity": demo.log_uniform(1, 20)})
    return demo.write("product", rows)


def seed_targets(demo: Demo) -> list[dict]:
    """One target per salesperson per month of the history, growing a little each month."""
    months = []
    month = demo.start.replace(day=1)
    while month <= demo.anchor:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    rows = []
    for user in demo.users:
        base = demo.rng.uniform(250_000, 650_000)
        for i, first in enumerate(months):
            amount = round(base * (1.008 ** i) * MONTH_FACTOR[first.month], -4)
            rows.append({"target_user": user, "month": first, "amount": money(amount),
                         "deal_count": max(1, round(amount / 150_000)), "owner": user})
    return demo.write("sales_target", rows)
