"""The pipeline board of the demo at scale 2: server-side time of ``GET /r/deal/board``.

Loom's figure: the whole request in one process through Flask's test client (routing,
session, the record service's GROUP BY for counts and totals, the cards of each column
with their account and owner names, the template), as the admin (scope: all) and as a
sales manager (scope: the team tree). The board shows the open deals
(``?f.stage=lead&f.stage=qualified&...``), about 5,000 at scale 2, 50 cards per column.
Raw figure, same run, same database: the same reads written by hand in SQLAlchemy Core
(one GROUP BY with the count and both sums, then per column the first 50 rows joined
to their account and owner), no HTML. Medians of ``--repeat`` requests per pass.

    python bench/board.py [--backend sqlite|postgresql] [--scale 2] [--repeat 20] [--passes 3]
                          [--keep PATH]   # SQLite: keep (and reuse) the seeded file

PostgreSQL: ``LOOM_BENCH_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres) is
used to create and drop the database ``loom_bench_board``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import recreate  # noqa: E402
from engine.config import Config  # noqa: E402
from engine.demo.seed import seed_demo  # noqa: E402
from engine.demo.users import DEMO_PASSWORD, create_demo_users  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.migrate import apply_plan  # noqa: E402

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
PG_DB = "loom_bench_board"
OPEN = ("lead", "qualified", "proposal", "negotiation")
BOARD_URL = "/r/deal/board?" + "&".join(f"f.stage={s}" for s in OPEN)
CARDS = 50
#: Who looks at the board: the admin (every deal) and a sales manager (a team tree).
VIEWERS = ("admin", "manager")


def _prepare(url: str, scale: float) -> dict[str, int]:
    db = Database(url)
    rt = Runtime(Config.from_env(database=db.url), db=db)
    apply_plan(db, rt.model, actor="bench")
    create_demo_users(db, rt.tables)
    counts = seed_demo(rt.current.service, scale=scale, progress=False)
    db.dispose()
    return counts


def _app(url: str, instance: Path):
    from web import create_app

    return create_app({"LOOM_DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench",
                       "LOOM_INSTANCE_DIR": str(instance), "LOOM_MODEL_CHECK_INTERVAL": 3600,
                       "WTF_CSRF_ENABLED": False, "LOOM_METADATA_DIRS": [str(SCHEMAS)]})


def _client(app, username: str):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def _median_ms(run, repeat: int) -> float:
    run()  # warm: caches, compiled statements
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _raw(url: str):
    """The board's reads by hand: one GROUP BY, then 50 cards per column with names."""
    engine = sa.create_engine(Database(url).url)
    meta = sa.MetaData()
    deal = sa.Table("deal", meta, autoload_with=engine)
    account = sa.Table("account", meta, autoload_with=engine)
    users = sa.Table("loom_users", meta, autoload_with=engine) if sa.inspect(engine).has_table(
        "loom_users") else None
    where = deal.c.stage.in_(OPEN)
    totals = sa.select(deal.c.stage, sa.func.count(), sa.func.sum(deal.c.amount),
                       sa.func.sum(deal.c.weighted_amount)).where(where).group_by(deal.c.stage)
    columns = [deal.c.id, deal.c.version, deal.c.title, deal.c.expected_close_date,
               account.c.name]
    joined = deal.join(account, account.c.id == deal.c.account)
    if users is not None:
        columns.append(users.c.display_name)
        joined = joined.outerjoin(users, users.c.id == deal.c.owner)
    cards = [sa.select(*columns).select_from(joined).where(deal.c.stage == stage)
             .order_by(deal.c.expected_close_date, deal.c.amount.desc(), deal.c.id).limit(CARDS)
             for stage in OPEN]

    def run() -> int:
        with engine.connect() as conn:
            n = len(conn.execute(totals).all())
            for query in cards:
                n += len(conn.execute(query).all())
        return n

    return run, engine


def _pass(url: str, instance: Path, repeat: int) -> dict[str, float]:
    app = _app(url, instance)
    out = {}
    for viewer in VIEWERS:
        client = _client(app, viewer)
        response = client.get(BOARD_URL)
        assert response.status_code == 200 and b'data-testid="board-card"' in response.data
        out[f"loom_ms_{viewer}"] = round(_median_ms(partial(client.get, BOARD_URL), repeat), 1)
    run, engine = _raw(url)
    out["raw_ms"] = round(_median_ms(run, repeat), 2)
    engine.dispose()
    app.extensions["loom"].db.dispose()
    return out


def _open_deals(url: str) -> int:
    engine = sa.create_engine(Database(url).url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM deal WHERE stage IN "
                                 "('lead', 'qualified', 'proposal', 'negotiation')")).scalar()
    engine.dispose()
    return int(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None,
                        help="SQLite file to seed once and reuse")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="loom-board-bench-"))
    if args.backend == "sqlite":
        path = args.keep or folder / "board.db"
        url = f"sqlite:///{path}"
        seeded = path.exists() and path.stat().st_size > 0
    else:
        url = recreate(PG_DB)
        seeded = False
    started = time.perf_counter()
    if not seeded:
        _prepare(url, args.scale)
    seeding_s = round(time.perf_counter() - started, 1)
    passes = [_pass(url, folder / f"instance-{i}", args.repeat) for i in range(args.passes)]
    result = {"backend": args.backend, "scale": args.scale, "open_deals": _open_deals(url),
              "seeding_s": seeding_s if not seeded else "reused", "repeat": args.repeat,
              "passes": passes}
    for key in passes[0]:
        result[f"median_{key}"] = statistics.median(p[key] for p in passes)
    for viewer in VIEWERS:
        result[f"ratio_{viewer}"] = round(result[f"median_loom_ms_{viewer}"]
                                          / result["median_raw_ms"], 1)
    result["target_ms"] = 300
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
