"""``GET|POST /api/v1/<entity>/aggregate``: grouped figures in one SQL GROUP BY.

Query parameters (GET) or the same keys in a JSON object (POST, for long filters)::

    group_by=stage,close_date:month      keys: fields, or date fields with a bucket
    metrics=count,sum:amount             count, count_distinct, sum, avg, min, max
    filter=<JSON structured filter>      as for the record list
    sort=-sum_amount,stage               group keys or metric aliases
    limit=100                            most groups (default and cap: the engine's)

-> ``{"data": [{"stage": "won", "count": 3, "sum_amount": "10.50"}], "meta": {"group_by":
[...], "metrics": [...], "count": n, "truncated": false}}``. In a POST body the list
keys may also be JSON arrays. The engine (:meth:`RecordService.aggregate`) checks the
actor, applies the record scope and refuses hidden fields; its errors become problem
details through the blueprint's handlers. This module parses parameters only.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, request

from engine.filters import FilterError
from engine.records.aggregate import DEFAULT_METRICS
from web.api import jsontext
from web.api.problems import entity_plan
from web.auth import current_actor
from web.state import runtime

#: Keys an aggregate request may carry.
KEYS = ("group_by", "metrics", "filter", "sort", "limit")
#: Metrics when the request names none.
DEFAULT_METRIC_NAMES = tuple(op for op, _ in DEFAULT_METRICS)


def _bad(message: str) -> FilterError:
    """A parameter that can't be read: a 400 like any other bad query."""
    return FilterError([message])


def _names(value: Any, key: str) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]``."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise _bad(f"{key} must be a comma-separated text or a list of texts")


def _limit(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _bad("limit must be a whole number")


def _filter(value: Any, from_query: bool) -> Any:
    if not from_query or value is None:
        return value
    try:
        return jsontext.loads(value)
    except ValueError as exc:
        raise _bad(f"filter must be JSON (a structured filter): {exc}") from None


def _params() -> dict[str, Any]:
    if request.method == "GET":
        raw: dict[str, Any] = {key: request.args.get(key) for key in KEYS}
        unknown = sorted(set(request.args) - set(KEYS))
    else:
        if not request.is_json:
            abort(415, description="send the body as application/json")
        try:
            body = jsontext.loads(request.get_data(cache=False))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object with keys: " + ", ".join(KEYS))
        raw, unknown = body, sorted(set(body) - set(KEYS))
    if unknown:
        raise _bad(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    metrics = _names(raw.get("metrics"), "metrics") or list(DEFAULT_METRIC_NAMES)
    return {"group_by": _names(raw.get("group_by"), "group_by"), "metrics": metrics,
            "filters": _filter(raw.get("filter"), request.method == "GET"),
            "sort": _names(raw.get("sort"), "sort"), "limit": _limit(raw.get("limit"))}


def aggregate(entity: str) -> Response:
    entity_plan(entity)  # 404 for an unknown entity
    params = _params()
    groups = runtime().service.aggregate(current_actor(), entity, **params)
    meta = {"group_by": params["group_by"], "metrics": params["metrics"],
            "count": len(groups.rows), "truncated": groups.truncated}
    # Not jsonify: it sorts keys, and a row reads best as group keys, then metrics.
    body = json.dumps({"data": groups.rows, "meta": meta}, ensure_ascii=False,
                      separators=(",", ":"))
    return Response(body, mimetype="application/json")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/<entity>/aggregate", "aggregate", aggregate, methods=["GET", "POST"])
