"""The demo data set: seeded through the record service, deterministic, consistent, plausible."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from engine.compiler import compile_model
from engine.config import SHIPPED_METADATA
from engine.demo import create_demo_users, seed_demo
from engine.demo.words import SALES_PEOPLE
from engine.records import Actor, RecordService
from engine.spec import FileSource
from engine.storage.db import Database
from engine.storage.tables import build_tables
from engine.storage.versions import record_version

SCALE = 0.02


@pytest.fixture(scope="module")
def model():
    return compile_model([FileSource(*SHIPPED_METADATA)])


def _service(db: Database, model) -> RecordService:
    tables = build_tables(model)
    with db.write() as conn:
        tables.metadata.create_all(conn)
        record_version(conn, model, "test", "test")
    return RecordService(db, model, tables)


@pytest.fixture
def seeded(database, model):
    service = _service(database, model)
    counts = seed_demo(service, scale=SCALE, progress=False)
    return service, counts


def _scalar(service: RecordService, query) -> object:
    with service.db.read() as conn:
        return conn.execute(query).scalar()


def _sample(service: RecordService, entity: str, fields: list[str]) -> list[dict]:
    page = service.list(Actor.system(), entity, sort=["id"], limit=1000, fields=["id", *fields])
    return page.rows


def test_demo_fills_every_entity_and_reports_true_counts(seeded, model):
    service, counts = seeded
    assert set(counts) == set(model.entities)
    for entity, count in counts.items():
        table = service.tables.entity(entity)
        assert count > 0, entity
        assert _scalar(service, sa.select(sa.func.count()).select_from(table)) == count, entity
    assert counts["customer_pool"] == 3
    assert counts["product"] == 50
    assert counts["sales_target"] == len(SALES_PEOPLE) * 36  # 2023-12 .. 2026-11
    assert counts["sales_order"] >= 20 and counts["order_line"] >= counts["sales_order"]


def test_two_seeds_of_fresh_databases_give_the_same_rows(seeded, model, tmp_path):
    first, counts = seeded
    other = Database(f"sqlite:///{tmp_path / 'second.db'}")
    try:
        second = _service(other, model)
        assert seed_demo(second, scale=SCALE, progress=False) == counts
        samples = {"account": ["name", "region", "level", "lifecycle_stage", "owner", "tags",
                               "last_followup_at"],
                   "deal": ["title", "account", "stage", "amount", "probability",
                            "expected_close_date", "closed_at"],
                   "sales_order": ["number", "account", "order_date", "total"],
                   "activity": ["subject", "account", "due_at", "done"]}
        for entity, fields in samples.items():
            assert _sample(first, entity, fields) == _sample(second, entity, fields), entity
    finally:
        other.dispose()


def test_relations_and_totals_are_consistent(seeded):
    service, _ = seeded
    t = service.tables.entity
    order, line, account, activity = t("sales_order"), t("order_line"), t("account"), t("activity")
    orphan_orders = sa.select(sa.func.count()).select_from(
        order.outerjoin(account, order.c.account == account.c.id)).where(account.c.id.is_(None))
    assert _scalar(service, orphan_orders) == 0
    line_sum = (sa.select(sa.func.coalesce(sa.func.sum(line.c.line_total), 0))
                .where(line.c.sales_order == order.c.id).scalar_subquery())
    wrong_totals = sa.select(sa.func.count()).select_from(order).where(
        sa.func.abs(order.c.total - line_sum) > Decimal("0.005"))
    assert _scalar(service, wrong_totals) == 0
    # A customer's latest finished activity is its last follow-up.
    latest = (sa.select(sa.func.max(activity.c.done_at))
              .where(activity.c.account == account.c.id, activity.c.done.is_(True))
              .scalar_subquery())
    drift = sa.select(sa.func.count()).select_from(account).where(
        account.c.last_followup_at.is_not(None), account.c.last_followup_at != latest)
    assert _scalar(service, drift) == 0
    lead = t("lead")
    unlinked = sa.select(sa.func.count()).select_from(lead).where(
        lead.c.status == "converted", lead.c.converted_account.is_(None))
    assert _scalar(service, unlinked) == 0


def test_distribution_looks_like_a_real_sales_team(seeded):
    service, _ = seeded
    t = service.tables.entity
    deal, order, account = t("deal"), t("sales_order"), t("account")
    with service.db.read() as conn:
        stages = {row.stage for row in conn.execute(sa.select(deal.c.stage).distinct())}
        first, last = conn.execute(sa.select(sa.func.min(order.c.order_date),
                                             sa.func.max(order.c.order_date))).one()
        owners = {row.owner for row in conn.execute(sa.select(account.c.owner).distinct())}
        churned_recent = conn.execute(
            sa.select(sa.func.count()).select_from(order.join(account, order.c.account == account.c.id))
            .where(account.c.lifecycle_stage == "churned",
                   order.c.order_date > dt.date(2025, 11, 23))).scalar()
    assert {"won", "lost", "proposal"} <= stages and len(stages) >= 5
    assert first < dt.date(2024, 3, 1) and last > dt.date(2026, 9, 1)
    assert len(owners - {None}) >= 4  # records are spread over the sales team
    assert None in owners  # and some customers sit in a public pool
    assert churned_recent == 0  # churned customers stopped buying over a year ago


def test_demo_users_are_created_once(database, model):
    service = _service(database, model)
    first = create_demo_users(database, service.tables)
    again = create_demo_users(database, service.tables)
    assert first == again and len(first) == len(SALES_PEOPLE)
    users = service.tables.users
    assert _scalar(service, sa.select(sa.func.count()).select_from(users)) == len(SALES_PEOPLE) + 3


def test_seeded_follow_ups_are_at_beijing_business_hours_stored_as_utc(seeded):
    service, _ = seeded
    activity = service.tables.entity("activity")
    shanghai = ZoneInfo("Asia/Shanghai")
    with service.db.read() as conn:
        stored = conn.execute(sa.select(activity.c.due_at)
                              .where(activity.c.due_at.is_not(None))).scalars().all()
    assert stored
    utc_hours = {at.hour for at in stored}  # naive UTC, as every Loom timestamp is stored
    assert utc_hours <= set(range(1, 10))  # 09:00-17:45 in Shanghai is 01:00-09:45 UTC
    local = [at.replace(tzinfo=dt.timezone.utc).astimezone(shanghai) for at in stored]
    assert all(9 <= t.hour < 18 and t.minute % 15 == 0 for t in local)
