"""Workflows over the API: run a manual workflow on a record, read a record's runs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.automation.runs import WorkflowRefused, list_runs, start_manual
from web.api.problems import actor_lang, entity_plan
from web.auth import current_actor
from web.errors import problem
from web.state import runtime


def _run_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "workflow", "entity", "record_id", "trigger", "status",
                               "condition", "actions", "error", "attempts", "depth")}
    for key in ("created_at", "started_at", "finished_at", "next_attempt_at"):
        out[key] = row[key].isoformat() + "Z" if row.get(key) else None
    out["duration_ms"] = row.get("duration_ms")
    return out


def run_workflow(entity: str, record_id: int, name: str) -> Response:
    entity_plan(entity)
    snapshot = runtime()
    try:
        outcome = start_manual(snapshot, current_actor(), name, entity, record_id)
    except WorkflowRefused as exc:
        return problem(exc.status, "Workflow not available", slug="workflow",
                       detail=exc.message.get(actor_lang()))
    rows = list_runs(snapshot, entity=entity, record_id=record_id, limit=1)
    body = _run_json(rows[0]) if rows and rows[0]["id"] == outcome.run_id else {
        "id": outcome.run_id, "status": outcome.status, "error": outcome.error}
    if outcome.status in ("succeeded", "skipped"):
        return jsonify(body), 200
    return problem(422, "Workflow failed", slug="workflow-failed",
                   detail=outcome.error or outcome.status, run=body)


def record_runs(entity: str, record_id: int) -> Response:
    entity_plan(entity)
    snapshot = runtime()
    snapshot.service.get(current_actor(), entity, record_id)  # 404 unless the caller sees it
    try:
        limit = int(request.args.get("limit", 20))
    except ValueError:
        return problem(400, "Bad parameter", slug="bad-parameter", detail="limit is a number")
    if not 1 <= limit <= 200:
        return problem(400, "Bad parameter", slug="bad-parameter", detail="limit is 1 to 200")
    rows = list_runs(snapshot, entity=entity, record_id=record_id, limit=limit)
    return jsonify({"data": [_run_json(r) for r in rows]})


def decide_approval(approval_id: int, verdict: str) -> Response:
    from engine.automation.approvals import ApprovalRefused, decide

    if verdict not in ("approve", "reject"):
        return problem(404, "Not found", slug="not-found", detail=f"no action {verdict!r}")
    body = request.get_json(silent=True) if request.data else {}
    if body is None or not isinstance(body, dict) or set(body) - {"comment"} or not (
            body.get("comment") is None or isinstance(body.get("comment"), str)):
        return problem(400, "Bad request", slug="bad-request",
                       detail='send {"comment": "..."} (optional) as JSON')
    snapshot = runtime()
    try:
        result = decide(snapshot, current_actor(), approval_id, approve=verdict == "approve",
                        comment=body.get("comment"))
    except ApprovalRefused as exc:
        return problem(exc.status, "Approval refused", slug="approval",
                       detail=exc.message.get(actor_lang()))
    return jsonify({"id": result["id"], "status": result["status"],
                    "record_id": result["record"]["id"]})


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/approvals/<int:approval_id>/<verdict>", "decide_approval",
                    decide_approval, methods=["POST"])
    bp.add_url_rule("/<entity>/<int:record_id>/workflows/<name>", "run_workflow", run_workflow,
                    methods=["POST"])
    bp.add_url_rule("/<entity>/<int:record_id>/runs", "record_runs", record_runs, methods=["GET"])
