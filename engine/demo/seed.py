"""Seed the shipped CRM with its deterministic demo data set.

One ``random.Random(seed)`` drives every draw in a fixed order, and the calendar is
anchored to a fixed day (:data:`engine.demo.context.DEMO_ANCHOR`), so a seed always
gives the same rows. Every record is created through the record service's
``bulk_create`` (validation, rules, formulas, autonumbers, audit and events included);
this package never writes entity tables itself.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Callable, Sequence

from tqdm import tqdm

from engine.demo.catalog import seed_campaigns, seed_pools, seed_products, seed_targets
from engine.demo.context import DEMO_ANCHOR, Demo
from engine.demo.customers import seed_accounts, seed_contacts, seed_leads
from engine.demo.followups import seed_activities, seed_cases
from engine.demo.orders import seed_order_lines, seed_orders
from engine.demo.pipeline import seed_contracts, seed_deals, seed_renewals
from engine.demo.users import create_demo_users
from engine.records import Actor, RecordService

#: The default seed (also the benchmark workload's).
DEFAULT_SEED = 20260101
#: Rows per INSERT batch inside the record service.
BATCH_SIZE = 1000
#: Rows the demo writes at scale 1.0 (measured), so the progress bar can show a percentage.
ROWS_AT_SCALE_1 = 122_206

#: The steps in the order they run: each reads what the earlier ones wrote.
STEPS: tuple[tuple[str, Callable[[Demo], Any]], ...] = (
    ("customer_pool", seed_pools),
    ("campaign", seed_campaigns),
    ("product", seed_products),
    ("account", seed_accounts),
    ("contact", seed_contacts),
    ("deal", seed_deals),
    ("contract", seed_contracts),
    ("deal", seed_renewals),
    ("lead", seed_leads),
    ("sales_order", seed_orders),
    ("order_line", seed_order_lines),
    ("activity", seed_activities),
    ("service_case", seed_cases),
    ("sales_target", seed_targets),
)


def seed_demo(service: RecordService, *, scale: float = 1.0, seed: int = DEFAULT_SEED,
              progress: bool = True, users: Sequence[int] | None = None,
              anchor: dt.date = DEMO_ANCHOR, actor: Actor | None = None) -> dict[str, int]:
    """Fill an empty CRM database with demo records; return the count per entity.

    ``scale`` 1.0 gives about 3,000 customers, 5,000 deals and 30,000 orders with their
    lines; 0.02 gives a small set for tests. ``users`` are the salespeople who own the
    records (default: the demo users, created if missing). ``anchor`` is the demo's
    "today": the three years of history end there.

    >>> seed_demo(RecordService(db, model), scale=0.02, progress=False)   # doctest: +SKIP
    {'customer_pool': 3, 'campaign': 3, 'product': 50, 'account': 60, ...}
    """
    if scale <= 0:
        raise ValueError("scale must be above zero")
    if users is None:
        users = create_demo_users(service.db, service.tables)
    if not users:
        raise ValueError("the demo needs at least one user to own its records")
    actor = actor or Actor.system()
    bar = tqdm(desc="seeding demo", unit=" rows", total=max(1, round(ROWS_AT_SCALE_1 * scale)),
               disable=not progress, leave=False)

    def write(entity: str, rows: list[dict[str, Any]]) -> list[int]:
        bar.set_postfix_str(entity)
        ids = service.bulk_create(actor, entity, rows, batch_size=BATCH_SIZE)
        bar.update(len(rows))
        return ids

    demo = Demo(write_rows=write, rng=random.Random(seed), users=list(users), scale=scale,
                anchor=anchor)
    try:
        for _, step in STEPS:
            step(demo)
        bar.total = bar.n  # the estimate is close, not exact, at other scales
        bar.refresh()
    finally:
        bar.close()
    _history_delivered(service)
    return {entity: demo.counts.get(entity, 0) for entity, _ in STEPS}


def _history_delivered(service: RecordService) -> None:
    """The demo's records are its history, not news: their outbox events are marked
    delivered, so workflows react to what happens from now on (a won deal, a new lead),
    while the scheduler still finds what is due in the data (visits, expiring contracts,
    customers nobody followed up)."""
    import sqlalchemy as sa

    outbox = service.tables.outbox
    _, at = service.now()
    with service.db.write() as conn:
        conn.execute(sa.update(outbox).where(outbox.c.delivered_at.is_(None))
                     .values(delivered_at=at))
