"""The public pool over REST: ``POST /api/v1/account/<id>/claim`` and ``/release``.

    POST /account/<id>/claim     -> 200 the claimed account, ETag
    POST /account/<id>/release   {"reason": "..."} (optional) -> 200 the account, ETag

Both call the engine's use cases (:mod:`engine.automation.pool`) as the request's
actor. A refusal of the pool's rules is a problem detail with ``code`` (one of
:data:`engine.automation.pool.REFUSALS`): 403 ``pool-not-open`` when no role of the
caller may claim from the pool, 409 ``pool-refused`` otherwise (an owner already, the
cap, the cooldown, a closed pool, the recycle bin). Other engine errors map as
everywhere in the API (:mod:`web.api.problems`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from engine.automation import pool
from engine.automation.pool import ACCOUNT, NO_USER, NOT_OPEN, PoolRefused
from web.api.problems import actor_lang
from web.auth import current_actor
from web.errors import problem
from web.state import runtime

#: Keys a release body may carry (the account's ``return_reason`` field checks the length).
REASON_KEYS = frozenset({"reason"})


def _record(record: dict[str, Any]) -> Response:
    body = runtime().service.to_json(ACCOUNT, record, actor_lang())
    return Response(json.dumps(body, ensure_ascii=False), status=200,
                    mimetype="application/json", headers={"ETag": f'"{record["version"]}"'})


def refused(error: PoolRefused) -> Response:
    forbidden = error.code in (NOT_OPEN, NO_USER)
    return problem(403 if forbidden else 409, "Forbidden" if forbidden else "Refused by the pool",
                   slug="pool-not-open" if forbidden else "pool-refused",
                   detail=error.message.get(actor_lang()), code=error.code)


def claim(record_id: int) -> Response:
    return _record(pool.claim(runtime().service, current_actor(), record_id))


def release(record_id: int) -> Response:
    reason = None
    if request.content_length:
        if not request.is_json:
            return problem(415, "Unsupported media type", slug="unsupported-media-type",
                           detail="send application/json")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) - REASON_KEYS or not isinstance(
                body.get("reason", ""), (str, type(None))):
            return problem(400, "Bad request", slug="bad-body",
                           detail='the body is {"reason": "..."} or empty')
        reason = body.get("reason")
    return _record(pool.release(runtime().service, current_actor(), record_id, reason))


def register(bp: Blueprint) -> None:
    bp.add_url_rule(f"/{ACCOUNT}/<int:record_id>/claim", "claim_account", claim,
                    methods=["POST"])
    bp.add_url_rule(f"/{ACCOUNT}/<int:record_id>/release", "release_account", release,
                    methods=["POST"])
    bp.register_error_handler(PoolRefused, refused)
