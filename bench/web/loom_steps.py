"""The workload's steps against a running Loom over its REST API, each checked.

Each function takes the server's address and token (and the pass's data), does one
step exactly as the spec says, checks every answer, and returns its figures as a
dict. Request bodies are encoded before the clock starts (the figures are the
server's, not the client's JSON encoder's). A wrong answer raises
:class:`~bench.web.client.ApiError` or :class:`CheckFailed`.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench.web.client import Api, ApiError
from bench.web.expected import (
    W4_MIN_AMOUNT,
    W4_PAGES,
    W4_PER_PAGE,
    W4_TIMED,
    W4_WARMUP,
    W5_SUM_TOLERANCE,
    W5_TIMED,
    W5_WARMUP,
    Answers,
    PassData,
    to_json,
    with_account_ids,
)
from bench.workload import ACCOUNT_SPEC, DEAL_SPEC

API = "/api/v1"
#: W6's field, as the workload defines it (integer, nullable, default 0).
PRIORITY_FIELD = {"name": "priority", "type": "integer", "default": 0}
#: W4's filter in the engine's structured-filter form.
W4_FILTER = [{"field": "stage", "op": "eq", "value": "won"},
             {"field": "amount", "op": "gt", "value": str(W4_MIN_AMOUNT)}]
#: Seconds another worker may serve the old model after a metadata change (its check interval).
MODEL_CHECK_WAIT = 1.5


class CheckFailed(AssertionError):
    """A response with the wrong content (count, filter, order, sum)."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99 in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)

    def at(q: float) -> float:
        return round(ms[min(len(ms) - 1, round(q * (len(ms) - 1)))], 2)

    return {"p50_ms": round(statistics.median(ms), 2), "p90_ms": at(0.90), "p99_ms": at(0.99)}


def w1_define(api: Api) -> dict:
    """W1: account and deal through ``POST /meta/entities``."""
    started = time.perf_counter()
    for spec in (ACCOUNT_SPEC, DEAL_SPEC):
        api.post(f"{API}/meta/entities", body=spec, expect=(200, 201))
    seconds = time.perf_counter() - started
    time.sleep(MODEL_CHECK_WAIT)  # not timed: let the other worker see the new model
    return {"seconds": round(seconds, 4)}


def s0_accounts(api: Api, data: PassData) -> tuple[dict, list[int]]:
    """S0: the 1,000 accounts through one bulk call; their ids in order."""
    body = json.dumps([to_json(a) for a in data.accounts]).encode()
    reply = api.post(f"{API}/account/bulk", params={"fields": "id"}, body=body, expect=201)
    ids = [row["id"] for row in reply.body["data"]]
    _check(len(ids) == len(data.accounts), f"S0 returned {len(ids)} ids")
    return {"seconds": round(reply.seconds, 4)}, ids


#: Deals the server must refuse (422): the workload's rules, enforced by Loom's metadata.
INVALID_DEALS = (
    ("title missing", {"amount": "10.00", "stage": "won"}),
    ("amount below 0", {"title": "Bad", "amount": "-1.00"}),
    ("probability above 100", {"title": "Bad", "probability": 101}),
    ("stage not a choice", {"title": "Bad", "stage": "nope"}),
    ("amount with 3 decimals", {"title": "Bad", "amount": "1.001"}),
)


def check_rules(api: Api) -> dict:
    """Untimed: every rule of the workload's schema is enforced on create (422)."""
    for what, body in INVALID_DEALS:
        try:
            api.post(f"{API}/deal", params={"fields": "id"}, body=body, expect=422)
        except ApiError as error:
            raise CheckFailed(f"rule not enforced ({what}): {error}") from None
    return {"refused": len(INVALID_DEALS)}


def w2_one_by_one(host: str, port: int, token: str, deals: list[dict], clients: int) -> dict:
    """W2: one POST per deal from ``clients`` threads, each on its own connection."""
    bodies = [json.dumps(to_json(d)).encode() for d in deals]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[tuple[int, str]]] = [[] for _ in range(clients)]
    ids: list[list[int]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def work(k: int) -> None:
        with Api(host, port, token) as api:
            barrier.wait()
            for n in range(k, len(bodies), clients):
                try:
                    reply = api.post(f"{API}/deal", params={"fields": "id"}, body=bodies[n],
                                     expect=201)
                    latencies[k].append(reply.seconds)
                    ids[k].append(reply.body["id"])
                except (ApiError, OSError, KeyError, TypeError) as error:
                    errors[k].append((n, f"{time.perf_counter() - started:.3f}s: {error}"[:500]))
                    api.close()  # a fresh connection for the next request

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    all_errors = sorted(e for per in errors for e in per)
    all_ids = [i for per in ids for i in per]
    # Not timed: send the failed records again, so the later steps see all the rows.
    with Api(host, port, token) as api:
        for n, _ in all_errors:
            all_ids.append(api.post(f"{API}/deal", params={"fields": "id"}, body=bodies[n],
                                    expect=201).body["id"])
    _check(len(set(all_ids)) == len(all_ids) == len(deals), "W2: ids missing or repeated")
    return {"requests": len(deals), "seconds": round(wall, 3),
            "req_per_s": round(len(deals) / wall, 1), "errors": len(all_errors),
            "first_errors": [e for _, e in all_errors[:5]],
            **percentiles([s for per in latencies for s in per] or [0.0])}


def w3_bulk(api: Api, deals: list[dict], batch: int) -> dict:
    """W3: sequential bulk calls of ``batch`` deals, ``fields=id``."""
    bodies = [json.dumps([to_json(d) for d in deals[i:i + batch]]).encode()
              for i in range(0, len(deals), batch)]
    started = time.perf_counter()
    created = 0
    for body in bodies:
        reply = api.post(f"{API}/deal/bulk", params={"fields": "id"}, body=body, expect=201)
        created += len(reply.body["data"])
    seconds = time.perf_counter() - started
    _check(created == len(deals), f"W3 created {created} of {len(deals)}")
    return {"rows": len(deals), "batch_size": batch, "seconds": round(seconds, 3),
            "rows_per_s": round(len(deals) / seconds)}


def count_deals(api: Api, filter_: Any = None) -> tuple[int, float]:
    params = {"per_page": "1", "total": "true", "fields": "id"}
    if filter_ is not None:
        params["filter"] = json.dumps(filter_)
    reply = api.get(f"{API}/deal", params=params)
    return reply.body["meta"]["total"], reply.seconds


def check_w4_page(rows: list[dict], total: int, page: int, answers: Answers) -> None:
    """The spec's W4 checks on one page of records (Loom's JSON or the raw rows as dicts)."""
    _check(total == answers.w4_total, f"W4 total {total} != {answers.w4_total}")
    _check(len(rows) == answers.w4_page_rows(page),
           f"W4 page {page}: {len(rows)} rows, expected {answers.w4_page_rows(page)}")
    last = None
    for row in rows:
        _check(row["stage"] == "won" and Decimal(str(row["amount"])) > W4_MIN_AMOUNT,
               f"W4 row outside the filter: {row}")
        day = str(row["close_date"])
        _check(last is None or day <= last, f"W4 close_date not non-increasing: {last} then {day}")
        last = day


def w4_list(api: Api, answers: Answers,
            raw_once: Callable[[int], float] | None = None) -> tuple[dict, dict | None]:
    """W4: filtered, sorted, counted pages with every field; 3 warm-up then 50 timed.

    With ``raw_once`` (the raw query of one page, returning its seconds), each Loom
    request is followed at once by the raw query of the same page, so both see the
    same load. Returns Loom's percentiles and the raw ones (None without ``raw_once``).
    """
    timings, raw_timings = [], []
    for i in range(W4_WARMUP + W4_TIMED):
        page = (i % W4_PAGES) + 1
        reply = api.get(f"{API}/deal", params={
            "filter": json.dumps(W4_FILTER), "sort": "-close_date", "per_page": str(W4_PER_PAGE),
            "page": str(page), "total": "true"})
        check_w4_page(reply.body["data"], reply.body["meta"].get("total"), page, answers)
        raw_seconds = raw_once(page) if raw_once else None
        if i >= W4_WARMUP:
            timings.append(reply.seconds)
            if raw_seconds is not None:
                raw_timings.append(raw_seconds)
    return percentiles(timings), percentiles(raw_timings) if raw_once else None


def check_w5(rows: list[dict], answers: Answers) -> None:
    """The spec's W5 checks: exact counts per stage, sums within 1.00."""
    got = {r["stage"]: (int(r["count"]), Decimal(str(r["sum_amount"]))) for r in rows}
    for stage, (count, total) in answers.stages.items():
        if count == 0:
            continue
        _check(stage in got, f"W5: no group for {stage}")
        _check(got[stage][0] == count, f"W5 {stage}: count {got[stage][0]} != {count}")
        _check(abs(got[stage][1] - total) <= W5_SUM_TOLERANCE,
               f"W5 {stage}: sum {got[stage][1]} != {total}")


def w5_aggregate(api: Api, answers: Answers,
                 raw_once: Callable[[], float] | None = None) -> tuple[dict, dict | None]:
    """W5: sum(amount) and count(*) grouped by stage; 3 warm-up then 20 timed.

    With ``raw_once`` (the raw ``GROUP BY``, returning its seconds), each Loom request
    is followed at once by the raw query. Returns Loom's percentiles and the raw ones
    (None without ``raw_once``).
    """
    timings, raw_timings = [], []
    for i in range(W5_WARMUP + W5_TIMED):
        reply = api.get(f"{API}/deal/aggregate",
                        params={"group_by": "stage", "metrics": "count,sum:amount"})
        check_w5(reply.body["data"], answers)
        raw_seconds = raw_once() if raw_once else None
        if i >= W5_WARMUP:
            timings.append(reply.seconds)
            if raw_seconds is not None:
                raw_timings.append(raw_seconds)
    return percentiles(timings), percentiles(raw_timings) if raw_once else None


def w6_add_field(api: Api, answers: Answers) -> dict:
    """W6: add ``priority`` through the metadata API; then ``priority = 0`` counts every row."""
    reply = api.post(f"{API}/meta/entities/deal/fields", body=PRIORITY_FIELD, expect=(200, 201))
    first_error = None
    try:  # same connection, so the same worker that applied the change
        count, first = count_deals(api, [{"field": "priority", "op": "eq", "value": 0}])
    except ApiError as error:
        first_error = str(error)[:500]
        time.sleep(MODEL_CHECK_WAIT)
        count, first = count_deals(api, [{"field": "priority", "op": "eq", "value": 0}])
    out = {"seconds": round(reply.seconds, 4), "first_query_s": round(first, 4)}
    if count != answers.rows:
        # Recorded, not raised: the figures of W7 still follow; the summary marks W6 failed.
        out["check_failed"] = f"priority = 0 counts {count}, expected {answers.rows}"
    if first_error:
        out["first_query_error"] = first_error
    return out


def loom_deals_json(data: PassData, account_ids: list[int]) -> tuple[list[dict], list[dict]]:
    return (with_account_ids(data.w2, account_ids), with_account_ids(data.w3, account_ids))
