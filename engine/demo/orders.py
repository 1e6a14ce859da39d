"""Demo sales orders and their lines: three years of purchases by the buying customers.

Every won deal has its order on the day it closed; the rest are repeat purchases spread
over each customer's purchase window (loyal customers buy often and recently, churned
ones stopped over a year ago), so RFM and churn reports find real segments. Orders are
written in date order, so their numbers follow the calendar. The order total is the
sum of its lines, computed as the `line_total` formula computes it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from engine.demo.context import Demo, WeightedPicker, line_total, money

LINES_PER_ORDER = ((1, 45), (2, 30), (3, 15), (4, 10))
DISCOUNTS = ((0, 55), (5, 15), (10, 15), (15, 8), (20, 5), (30, 1.5), (35, 0.5))
#: Units whose quantity grows with the size of a deal.
SCALABLE_UNITS = ("seat_year", "person_day", "piece")
MAX_QUANTITY = 100_000


def _quantity(demo: Demo, unit: str, level: str) -> int:
    rng = demo.rng
    if unit == "seat_year":
        return rng.randint(5, 120) * (2 if level == "A" else 1)
    if unit == "person_day":
        return rng.randint(2, 30)
    if unit == "piece":
        return rng.randint(1, 12)
    if unit == "year":
        return 1 if rng.random() < 0.85 else rng.randint(2, 3)
    return 1 if rng.random() < 0.9 else 2


def _lines(demo: Demo, products: WeightedPicker, account: dict[str, Any],
           target: Decimal | None) -> list[dict[str, Any]]:
    """The lines of one order; with ``target`` (a won deal's amount) sized to about that sum."""
    rng = demo.rng
    chosen: list[dict[str, Any]] = []
    for _ in range(demo.weighted(LINES_PER_ORDER)):
        product = products.pick()
        if all(p is not product for p in chosen):
            chosen.append(product)
    lines = []
    for product in chosen:
        price = product["unit_price"]
        if rng.random() < 0.2:
            price = money(round(float(price) * rng.uniform(0.9, 0.98)))
        quantity = _quantity(demo, product["unit"], account["level"])
        lines.append({"product": product["id"], "quantity": quantity, "unit_price": price,
                      "discount": Decimal(demo.weighted(DISCOUNTS)), "_unit": product["unit"]})
    if target is not None:
        base = sum(float(line["unit_price"]) * line["quantity"] for line in lines)
        factor = float(target) / base if base else 1.0
        for line in lines:
            if line["_unit"] in SCALABLE_UNITS:
                line["quantity"] = min(MAX_QUANTITY, max(1, round(line["quantity"] * factor)))
    return lines


def _status(demo: Demo, day: dt.date) -> tuple[str, str]:
    """(order status, payment status) of an order placed on ``day``."""
    age = (demo.anchor - day).days
    if age > 30:
        status = demo.weighted((("completed", 93), ("cancelled", 7)))
    elif age > 7:
        status = demo.weighted((("shipped", 50), ("completed", 40), ("confirmed", 5), ("cancelled", 5)))
    else:
        status = demo.weighted((("draft", 20), ("confirmed", 50), ("shipped", 30)))
    if status == "completed":
        payment = demo.weighted((("paid", 96), ("partial", 4)))
    elif status == "shipped":
        payment = demo.weighted((("paid", 30), ("partial", 40), ("unpaid", 30)))
    else:
        payment = "unpaid"
    return status, payment


def seed_orders(demo: Demo) -> list[dict]:
    """Orders (with their planned lines in ``_lines``), then :func:`seed_order_lines`."""
    rng = demo.rng
    accounts = demo.rows["account"]
    buyers = [a for a in accounts if "_buy_from" in a]
    products = demo.rows["product"]
    picker = WeightedPicker(rng, products, [p["_popularity"] for p in products])
    plans: list[tuple[dt.date, dict[str, Any], dict[str, Any] | None]] = []
    for deal in demo.rows["deal"]:
        if deal["stage"] == "won":
            plans.append((deal["_closed"], deal["_account"], deal))
    remaining = max(0, demo.count(30_000, 20) - len(plans))
    if buyers and remaining:
        weights = [a["_buy_weight"] * max(30, (a["_buy_until"] - a["_buy_from"]).days) for a in buyers]
        by_weight = WeightedPicker(rng, buyers, weights)
        for _ in range(remaining):
            account = by_weight.pick()
            plans.append((demo.day_between(account["_buy_from"], account["_buy_until"]), account, None))
    plans.sort(key=lambda plan: plan[0])  # stable: same-day orders keep their drawing order
    rows = []
    for day, account, deal in plans:
        lines = _lines(demo, picker, account, deal["amount"] if deal else None)
        status, payment = _status(demo, day)
        total = sum((line_total(line["quantity"], line["unit_price"], line["discount"])
                     for line in lines), Decimal("0.00"))
        row = {"account": account["id"], "order_date": day, "status": status,
               "payment_status": payment, "total": total,
               "owner": deal["owner"] if deal else demo.owner_of(account), "_lines": lines}
        if deal is not None:
            row["deal"] = deal["id"]
            if "_contract" in deal:
                row["contract"] = deal["_contract"]["id"]
        rows.append(row)
    return demo.write("sales_order", rows)


def seed_order_lines(demo: Demo) -> list[dict]:
    rows = []
    for order in demo.rows.get("sales_order", []):
        for line in order["_lines"]:
            line["sales_order"] = order["id"]
            line["owner"] = order["owner"]
            rows.append(line)
    return demo.write("order_line", rows)
