"""The physical-limit rows: the same data and checks straight on the database, no web layer.

The raw database gets the same tables as Loom's (``apply_plan`` of the workload's
entities: same columns, indexes and foreign keys), the accounts and W2's deals
untimed, then W3 with SQLAlchemy Core ``conn.execute(insert(deal), rows)`` in
batches, one transaction per batch (on PostgreSQL also ``COPY ... FROM STDIN`` into a
database of its own), ``ANALYZE deal`` on PostgreSQL, W4 as one page query plus one
count query with rows turned into dicts, W5 as one ``GROUP BY``, W6 as ``ALTER TABLE``.
W4 and W5 run one request's worth at a time (:meth:`RawDatabase.w4_once`,
:meth:`RawDatabase.w5_once`) on a connection the caller keeps open (as the web client keeps its connection), so
the pass can run each right after Loom's request of the same kind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa

from bench.w3_bulk import _model, _raw_rows
from bench.web.expected import W4_MIN_AMOUNT, W4_PER_PAGE, Answers, PassData
from bench.web.loom_steps import CheckFailed, check_w4_page, check_w5
from engine.storage.db import Database
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables


class RawDatabase:
    """One raw database with the workload's tables, its accounts and W2's deals."""

    def __init__(self, url: str, data: PassData) -> None:
        self.db = Database(url)
        model = _model()
        apply_plan(self.db, model, actor="bench")
        tables = build_tables(model)
        self.account, self.deal = tables.entity("account"), tables.entity("deal")
        with self.db.engine.begin() as conn:
            ids = conn.execute(sa.insert(self.account).returning(self.account.c.id),
                               _raw_rows(data.accounts)).scalars().all()
        if sorted(ids) != list(range(1, len(data.accounts) + 1)):
            raise CheckFailed("raw accounts did not get ids 1..n")
        self.insert(data.w2, len(data.w2) or 1)

    def close(self) -> None:
        self.db.dispose()

    @property
    def postgresql(self) -> bool:
        return self.db.dialect == "postgresql"

    def insert(self, deals: list[dict], batch: int) -> None:
        rows = _raw_rows(deals)
        for i in range(0, len(rows), batch):
            with self.db.engine.begin() as conn:
                conn.execute(sa.insert(self.deal), rows[i:i + batch])

    def w3_core(self, deals: list[dict], batch: int) -> dict:
        rows = _raw_rows(deals)
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            with self.db.engine.begin() as conn:
                conn.execute(sa.insert(self.deal), rows[i:i + batch])
        seconds = time.perf_counter() - started
        return {"rows": len(rows), "seconds": round(seconds, 3),
                "rows_per_s": round(len(rows) / seconds)}

    def w3_copy(self, deals: list[dict], batch: int) -> dict:
        rows = _raw_rows(deals)
        columns = list(rows[0])
        started = time.perf_counter()
        with self.db.engine.raw_connection() as raw:
            cursor = raw.cursor()
            for i in range(0, len(rows), batch):
                with cursor.copy(f"COPY deal ({', '.join(columns)}) FROM STDIN") as out:
                    for row in rows[i:i + batch]:
                        out.write_row([row[c] for c in columns])
                raw.commit()
        seconds = time.perf_counter() - started
        return {"rows": len(rows), "seconds": round(seconds, 3),
                "rows_per_s": round(len(rows) / seconds)}

    def count(self, where: Iterable[sa.ColumnElement] = ()) -> int:
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(self.deal)
                                .where(*where)).scalar_one()

    def analyze(self) -> None:
        if self.postgresql:
            with self.db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE deal")

    def w4_once(self, conn: sa.Connection, answers: Answers, page: int) -> float:
        """One W4 page (page query + count query, rows as dicts), checked; its seconds."""
        deal = self.deal
        where = (deal.c.stage == "won", deal.c.amount > W4_MIN_AMOUNT)
        started = time.perf_counter()
        rows = [dict(r) for r in conn.execute(
            sa.select(deal).where(*where).order_by(deal.c.close_date.desc())
            .limit(W4_PER_PAGE).offset((page - 1) * W4_PER_PAGE)).mappings()]
        total = conn.execute(sa.select(sa.func.count()).select_from(deal)
                             .where(*where)).scalar_one()
        seconds = time.perf_counter() - started
        conn.rollback()
        check_w4_page(rows, total, page, answers)
        return seconds

    def w5_once(self, conn: sa.Connection, answers: Answers) -> float:
        """One W5 ``GROUP BY``, checked; its seconds."""
        deal = self.deal
        query = sa.select(deal.c.stage, sa.func.count().label("count"),
                          sa.func.sum(deal.c.amount).label("sum_amount")).group_by(deal.c.stage)
        started = time.perf_counter()
        rows = [dict(r) for r in conn.execute(query).mappings()]
        seconds = time.perf_counter() - started
        conn.rollback()
        check_w5(rows, answers)
        return seconds

    def w6(self, answers: Answers) -> dict:
        started = time.perf_counter()
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE deal ADD COLUMN priority INTEGER DEFAULT 0")
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        count = self.count([sa.column("priority") == 0])
        first = time.perf_counter() - started
        if count != answers.rows:
            raise CheckFailed(f"raw W6: priority = 0 counts {count}, expected {answers.rows}")
        return {"seconds": round(seconds, 4), "first_query_s": round(first, 4)}
