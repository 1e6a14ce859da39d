"""Where a request's time goes: the web steps in one process under cProfile, CPU time per call.

``python -m bench.web.profile [--backend sqlite|postgresql] [--deals 20000] [--top 25]``

Prepares a pass's database like :mod:`bench.web.passes` (``loom migrate``, admin
token), builds the app in this process (``web.create_app``, Flask's test client: no
HTTP server, no sockets), defines the entities (W1), loads the accounts and
``--deals`` deals, then measures W2 (one create), W3 (one bulk of 5,000), W4 (one list
page), W5 (one aggregate) and W6 (add an integer field with a default through the
metadata API; each call adds another field, ``priority``, ``priority_2``...): CPU milliseconds per call (``time.process_time``, so a
busy machine disturbs it less than wall time) and the top functions by cumulative time.
A diagnostic, not the benchmark: its figures are not the workload's.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable

from bench.web.expected import PassData, Scale, to_json
from bench.web.loom_steps import PRIORITY_FIELD, W4_FILTER
from bench.web.server import Databases, prepare_loom, server_env
from bench.workload import ACCOUNT_SPEC, DEAL_SPEC


def _measure(name: str, call: Callable[[int], None], repeat: int, top: int) -> None:
    profiler = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    profiler.enable()
    for i in range(repeat):
        call(i)
    profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"\n=== {name}: {repeat} calls, CPU {cpu / repeat * 1000:.2f} ms/call, "
          f"wall {wall / repeat * 1000:.2f} ms/call")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web.profile")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", default="w2,w3,w4,w5,w6", help="steps to profile")
    args = parser.parse_args()
    only = set(args.only.split(","))
    data = PassData(Scale(w2=1000, w3=args.deals))
    with Databases(args.backend) as dbs:
        env = server_env(dbs.url("loom"), dbs.tmp)
        token = prepare_loom(env)
        from web import create_app

        app = create_app({"LOOM_DATABASE_URL": env["LOOM_DATABASE_URL"],
                          "LOOM_METADATA_DIRS": env["LOOM_METADATA_DIRS"],
                          "LOOM_INSTANCE_DIR": env["LOOM_INSTANCE_DIR"],
                          "SECRET_KEY": env["LOOM_SECRET_KEY"]})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def post(path: str, body) -> dict:
            r = client.post(path, data=json.dumps(body), headers=headers,
                            content_type="application/json")
            assert r.status_code in (200, 201), (path, r.status_code, r.get_data(as_text=True)[:500])
            return r.get_json()

        def get(path: str, **params: str) -> dict:
            r = client.get(path, query_string=params, headers=headers)
            assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:500])
            return r.get_json()

        for spec in (ACCOUNT_SPEC, DEAL_SPEC):
            post("/api/v1/meta/entities", spec)
        post("/api/v1/account/bulk?fields=id", [to_json(a) for a in data.accounts])
        w2 = [to_json(d) for d in data.w2]
        w3 = [to_json(d) for d in data.w3]
        for i in range(0, len(w3), 5000):
            post("/api/v1/deal/bulk?fields=id", w3[i:i + 5000])
        app.extensions["loom"].db.engine.dispose()  # start the profile with a fresh pool
        if "w2" in only:
            _measure("W2 create one deal", lambda i: post("/api/v1/deal?fields=id", w2[i]),
                     500, args.top)
        if "w3" in only:
            _measure("W3 bulk of 5,000", lambda i: post("/api/v1/deal/bulk?fields=id", w3[:5000]),
                     1, args.top)
        if "w4" in only:
            _measure("W4 list page", lambda i: get(
                "/api/v1/deal", filter=json.dumps(W4_FILTER), sort="-close_date", per_page="50",
                page=str(i % 10 + 1), total="true"), 30, args.top)
        if "w5" in only:
            _measure("W5 aggregate", lambda i: get("/api/v1/deal/aggregate", group_by="stage",
                                                   metrics="count,sum:amount"), 20, args.top)
        if "w6" in only:
            _measure("W6 add a field", lambda i: post(
                "/api/v1/meta/entities/deal/fields",
                {**PRIORITY_FIELD, "name": PRIORITY_FIELD["name"] + (f"_{i + 1}" if i else "")}),
                5, args.top)
        app.extensions["loom"].db.dispose()


if __name__ == "__main__":
    main()
