"""Small helpers for the records API tests (not fixtures: plain functions)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

API = "/api/v1"


def url(entity: str, *parts: Any, **params: Any) -> str:
    """``url("deal", 3, fields="id")`` -> ``/api/v1/deal/3?fields=id``; dict/list params as JSON."""
    path = "/".join([API, entity, *(str(p) for p in parts)])
    if not params:
        return path
    query = "&".join(f"{k}={quote(json.dumps(v) if isinstance(v, (dict, list)) else str(v))}"
                     for k, v in params.items())
    return f"{path}?{query}"


def records(api: Any, entity: str, **params: Any) -> list[dict[str, Any]]:
    """The ``data`` of a list call that must succeed."""
    response = api.get(url(entity, **params))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def first_id(api: Any, entity: str, **params: Any) -> int:
    rows = records(api, entity, per_page=1, **params)
    assert rows, f"no {entity} visible with {params}"
    return rows[0]["id"]


def new_deal(api: Any, **values: Any) -> dict[str, Any]:
    """Create a deal on one of the caller's visible accounts; returns the created record."""
    body = {"title": "API deal", "account": first_id(api, "account"), **values}
    response = api.post(url("deal"), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
