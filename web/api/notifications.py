"""The caller's in-app notifications: ``GET /api/v1/notifications`` and
``POST /api/v1/notifications/read``.

A caller only ever sees and marks its own notifications (the engine's functions in
:mod:`engine.automation.notifications` take the user id from the request's actor,
never from the request). Bad parameters and bodies are 400 / 415 / 422 problems.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, jsonify, request, url_for

from engine.automation import notifications as inbox
from engine.clock import UTC
from web.api import jsontext
from web.auth import current_actor
from web.errors import problem
from web.state import runtime

#: Query values read as "yes" and as "no" for ``unread``.
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"", "0", "false", "no", "off"})


def _user_id() -> int:
    actor = current_actor()
    if actor is None or actor.user_id is None:  # the blueprint authenticated already
        abort(403, description="notifications belong to users")
    return int(actor.user_id)


def _int_arg(name: str, default: int | None, maximum: int) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        abort(400, description=f"query parameter {name!r} must be a whole number "
                               f"from 1 to {maximum}")
    return int(raw)


def _instant(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """One notification as the API shows it (texts in every language it has)."""
    return {"id": int(row["id"]), "kind": row["kind"], "title": row["title"], "body": row["body"],
            "entity": row["entity"], "record_id": row["record_id"], "run_id": row["run_id"],
            "created_at": _instant(row["created_at"]), "read_at": _instant(row["read_at"]),
            "read": row["read_at"] is not None}


def list_notifications():
    user_id = _user_id()
    raw_unread = request.args.get("unread", "").strip().lower()
    if raw_unread not in TRUE_VALUES | FALSE_VALUES:
        abort(400, description="query parameter 'unread' must be true or false")
    unread_only = raw_unread in TRUE_VALUES
    limit = _int_arg("limit", inbox.DEFAULT_LIMIT, inbox.MAX_LIMIT)
    before_id = _int_arg("before_id", None, inbox.MAX_ID)
    rt = runtime()
    with rt.db.read() as conn:
        page = inbox.recent(conn, rt.tables, user_id, limit=limit, unread_only=unread_only,
                            before_id=before_id)
        unread = inbox.unread_count(conn, rt.tables, user_id)
    links = {}
    if page.next_before_id is not None:
        args = {"limit": limit, "before_id": page.next_before_id}
        if unread_only:
            args["unread"] = "true"
        links["next"] = url_for("api.notifications", **args)
    return jsonify({"data": [as_json(r) for r in page.items], "unread_count": unread,
                    "next_before_id": page.next_before_id, "links": links})


def mark_read():
    user_id = _user_id()
    if not request.is_json:
        abort(415, description="send the body as application/json")
    try:
        body = jsontext.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, description=f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict) or set(body) - {"ids", "all"} or \
            ("ids" in body) == (body.get("all") is True):
        return problem(422, "Validation failed", slug="validation",
                       detail='send {"ids": [1, 2]} or {"all": true}')
    ids = body.get("ids")
    if ids is not None and not isinstance(ids, list):
        return problem(422, "Validation failed", slug="validation",
                       detail="ids must be a list of notification ids")
    rt = runtime()
    try:
        with rt.db.write() as conn:
            marked = inbox.mark_read(conn, rt.tables, user_id, ids, at=rt.clock.now())
            unread = inbox.unread_count(conn, rt.tables, user_id)
    except inbox.NotificationError as error:
        return problem(422, "Validation failed", slug="validation", detail=str(error))
    return jsonify({"marked": marked, "unread_count": unread})


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/notifications", "notifications", list_notifications, methods=["GET"])
    bp.add_url_rule("/notifications/read", "notifications_read", mark_read, methods=["POST"])
