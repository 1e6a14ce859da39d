"""The OpenAPI 3.1 document of ``/api/v1``, generated from the compiled model, and its docs page.

``GET /api/v1/openapi.json`` describes every entity's operations (list, query, create,
get, patch, delete, bulk, aggregate) with schemas from :mod:`.openapi_schemas`, the
caller's notifications (:mod:`.notifications`), plus the metadata routes the app has
(taken from its URL map, bodies as generic objects). It needs authentication like the
rest of the API (it reveals the model); a logged-in browser session is enough, so
``GET /api/v1/docs`` (Swagger UI from the vendored static files, login required) works
in the browser. The document is built once per
model version and app, and carries the model version as its ETag.

Choices: OpenAPI 3.1 (JSON Schema 2020-12, which the field types' schemas already
speak, e.g. ``type: [number, string]`` for decimals). Labels are in English. The
document is the same for every caller: a role's hidden fields are simply left out
of its responses, which the schemas allow (only ``id`` and ``version`` are required).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request

from engine.automation.notifications import MAX_ID, MAX_LIMIT
from engine.model import CompiledModel
from web.api import public
from web.api.openapi_schemas import component_name, entity_schemas, ref, shared_schemas
from web.api.query import MAX_PAGE, MAX_PER_PAGE
from web.auth import login_required
from web.state import runtime

#: The OpenAPI version of the document.
OPENAPI_VERSION = "3.1.0"
#: Where the API lives (the ``servers`` entry; paths are relative to it).
API_ROOT = "/api/v1"
#: Key of the per-app document cache in ``app.extensions``.
CACHE_KEY = "loom_openapi"
#: Language of titles and descriptions in the document.
DOC_LANG = "en"
#: Problem responses every operation may give.
COMMON_PROBLEMS = (400, 401, 403, 404, 413, 415, 422, 503)
_REASONS = {400: "Bad request (JSON, filter, sort or parameter)", 401: "Not authenticated",
            403: "Not allowed", 404: "Unknown entity or record", 409: "Version conflict (body)",
            412: "Version conflict (If-Match)", 413: "Payload too large",
            415: "Not JSON", 422: "Validation failed (per-field errors)",
            428: "Version required (If-Match or body version)", 503: "Model changed; retry"}


def _problems(*extra: int) -> dict[str, Any]:
    return {str(code): {"description": _REASONS[code],
                        "content": {"application/problem+json": {"schema": ref("ProblemDetails")}}}
            for code in sorted({*COMMON_PROBLEMS, *extra})}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}},
            **extra}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


_ETAG = {"ETag": {"description": "The record version, quoted", "schema": {"type": "string"}}}
_LOCATION = {"Location": {"description": "URL of the new record", "schema": {"type": "string"}}}
_LIST_PARAMS = [
    _query("filter", {"type": "string"}, "Structured filter as JSON (see the <Entity>Filter schema)"),
    _query("sort", {"type": "string"}, "Comma-separated fields, '-' for descending: -close_date,title"),
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number, from 1"),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
           "Records per page"),
    _query("after", {"type": "string"}, "Cursor of the next page (links.next); not with page"),
    _query("total", {"type": "boolean"}, "Also count every matching record"),
    _query("fields", {"type": "string"}, "Comma-separated fields to return"),
    _query("expand", {"type": "string"}, "Comma-separated relations to expand"),
]
_AGGREGATE_PARAMS = [
    _query("group_by", {"type": "string"},
           "Comma-separated fields, a date field with :day|week|month|quarter|year"),
    _query("metrics", {"type": "string"},
           "count, count_distinct:f, sum:f, avg:f, min:f, max:f (comma-separated)"),
    _query("filter", {"type": "string"}, "Structured filter as JSON"),
    _query("sort", {"type": "string"}, "Group keys or metric aliases: -sum_amount,stage"),
    _query("limit", {"type": "integer", "minimum": 1}, "Most groups to return"),
]


def entity_paths(entity: str, label: str) -> dict[str, Any]:
    """The path items of one entity's records."""
    name = component_name(entity)
    tag = [entity]
    record_id = {"name": "id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "schema": {"type": "string"}, "description": 'The version you read: "3"'}
    return {
        f"/{entity}": {
            "get": {"operationId": f"list_{entity}", "tags": tag, "summary": f"List {label}",
                    "parameters": _LIST_PARAMS,
                    "responses": {"200": _json(ref(f"{name}Page"), "A page of records"),
                                  **_problems()}},
            "post": {"operationId": f"create_{entity}", "tags": tag, "summary": f"Create {label}",
                     "requestBody": _body(ref(f"{name}Create")),
                     "responses": {"201": _json(ref(name), "Created",
                                                headers={**_ETAG, **_LOCATION}),
                                   **_problems(409)}}},
        f"/{entity}/query": {
            "post": {"operationId": f"query_{entity}", "tags": tag,
                     "summary": f"List {label} (parameters in the body)",
                     "requestBody": _body(ref(f"{name}Query")),
                     "responses": {"200": _json(ref(f"{name}Page"), "A page of records"),
                                   **_problems()}}},
        f"/{entity}/bulk": {
            "post": {"operationId": f"bulk_{entity}", "tags": tag,
                     "summary": f"Create many {label} (atomic, or per_row results)",
                     "requestBody": _body(ref(f"{name}Bulk")),
                     "responses": {"201": _json(ref("BulkCreated"), "All created"),
                                   "200": _json(ref("BulkResults"), "Per-row results"),
                                   **_problems(409)}}},
        f"/{entity}/aggregate": {
            "get": {"operationId": f"aggregate_{entity}", "tags": tag,
                    "summary": f"Grouped figures of {label}", "parameters": _AGGREGATE_PARAMS,
                    "responses": {"200": _json(ref("AggregateResult"), "Groups"), **_problems()}},
            "post": {"operationId": f"aggregate_{entity}_post", "tags": tag,
                     "summary": f"Grouped figures of {label} (parameters in the body)",
                     "requestBody": _body(ref("AggregateRequest")),
                     "responses": {"200": _json(ref("AggregateResult"), "Groups"),
                                   **_problems()}}},
        f"/{entity}/{{id}}": {
            "parameters": [record_id],
            "get": {"operationId": f"get_{entity}", "tags": tag, "summary": f"One {label}",
                    "parameters": [_query("fields", {"type": "string"}, "Fields to return"),
                                   _query("expand", {"type": "string"}, "Relations to expand")],
                    "responses": {"200": _json(ref(name), "The record", headers=_ETAG),
                                  **_problems()}},
            "patch": {"operationId": f"update_{entity}", "tags": tag,
                      "summary": f"Change {label}", "parameters": [if_match],
                      "requestBody": _body(ref(f"{name}Update")),
                      "responses": {"200": _json(ref(name), "The changed record", headers=_ETAG),
                                    **_problems(409, 412, 428)}},
            "delete": {"operationId": f"delete_{entity}", "tags": tag,
                       "summary": f"Delete {label}", "parameters": [if_match],
                       "responses": {"204": {"description": "Deleted"},
                                     **_problems(409, 412)}}},
    }


def _openapi_path(rule: str) -> tuple[str, list[str]]:
    """``/api/v1/meta/entities/<entity>`` -> (``/meta/entities/{entity}``, [``entity``])."""
    out, params = [], []
    for part in rule[len(API_ROOT):].split("/"):
        if part.startswith("<") and part.endswith(">"):
            name = part[1:-1].split(":")[-1]
            params.append(name)
            part = "{" + name + "}"
        out.append(part)
    return "/".join(out), params


def meta_paths(app: Flask) -> dict[str, Any]:
    """Path items for the metadata routes the app serves (request and response bodies generic)."""
    paths: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_ROOT + "/meta"):
            continue
        path, params = _openapi_path(rule.rule)
        item = paths.setdefault(path, {})
        if params:
            item["parameters"] = [{"name": p, "in": "path", "required": True,
                                   "schema": {"type": "string"}} for p in params]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": f"meta_{method.lower()}_{path.strip('/').replace('/', '_')}"
                               .replace("{", "").replace("}", ""),
                "tags": ["meta"], "summary": f"Metadata: {method} {path} (admin only for changes)",
                "responses": {"200": _json({}, "Done"), "201": _json({}, "Created"),
                              **_problems(409)}}
            if method in ("POST", "PUT", "PATCH"):
                op["requestBody"] = _body({"type": "object"})
            item[method.lower()] = op
    return paths


_TEXTS = {"type": "object", "description": "A text per language: {\"en\": ..., \"zh-CN\": ...}",
          "additionalProperties": {"type": "string"}}
#: Schemas of the notification operations.
NOTIFICATION_SCHEMAS: dict[str, Any] = {
    "Notification": {"type": "object", "required": ["id", "kind", "title", "created_at", "read"],
                     "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "title": _TEXTS,
        "body": {"anyOf": [_TEXTS, {"type": "null"}]},
        "entity": {"type": ["string", "null"]}, "record_id": {"type": ["integer", "null"]},
        "run_id": {"type": ["integer", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
        "read": {"type": "boolean"}}},
    "NotificationPage": {"type": "object", "required": ["data", "unread_count", "next_before_id"],
                         "properties": {
        "data": {"type": "array", "items": ref("Notification")},
        "unread_count": {"type": "integer", "minimum": 0},
        "next_before_id": {"type": ["integer", "null"]},
        "links": ref("PageLinks")}},
    "MarkRead": {"type": "object", "additionalProperties": False,
                 "description": "Either ids (the caller's notifications to mark) or all: true",
                 "properties": {"ids": {"type": "array", "maxItems": 500,
                                        "items": {"type": "integer", "minimum": 1}},
                                "all": {"type": "boolean", "const": True}}},
    "MarkedRead": {"type": "object", "required": ["marked", "unread_count"], "properties": {
        "marked": {"type": "integer", "minimum": 0},
        "unread_count": {"type": "integer", "minimum": 0}}},
}


def notification_paths() -> dict[str, Any]:
    """The caller's own notifications: list them, mark them read."""
    tag = ["notifications"]
    return {
        "/notifications": {
            "get": {"operationId": "list_notifications", "tags": tag,
                    "summary": "The caller's notifications, newest first",
                    "parameters": [
                        _query("unread", {"type": "boolean"}, "Only unread notifications"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                               "Notifications per page (default 20)"),
                        _query("before_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                               "Only older ones than this id (next_before_id of the last page)")],
                    "responses": {"200": _json(ref("NotificationPage"), "A page of notifications"),
                                  **_problems()}}},
        "/notifications/read": {
            "post": {"operationId": "mark_notifications_read", "tags": tag,
                     "summary": "Mark some or all of the caller's notifications read (others' "
                                "ids change nothing)",
                     "requestBody": _body(ref("MarkRead")),
                     "responses": {"200": _json(ref("MarkedRead"), "How many were marked"),
                                   **_problems()}}},
    }


RUN_SCHEMAS: dict[str, Any] = {
    "WorkflowRun": {"type": "object", "required": ["id", "workflow", "status"], "properties": {
        "id": {"type": "integer"}, "workflow": {"type": "string"}, "entity": {"type": "string"},
        "record_id": {"type": ["integer", "null"]}, "trigger": {"type": "string"},
        "status": {"enum": ["queued", "succeeded", "skipped", "failed", "stopped"]},
        "condition": {"type": ["boolean", "null"]},
        "actions": {"type": "array", "items": {"type": "object"}},
        "error": {"type": ["string", "null"]}, "attempts": {"type": "integer"},
        "depth": {"type": "integer"},
        "created_at": {"type": ["string", "null"]}, "started_at": {"type": ["string", "null"]},
        "finished_at": {"type": ["string", "null"]},
        "next_attempt_at": {"type": ["string", "null"]},
        "duration_ms": {"type": ["number", "null"]}}},
    "WorkflowRuns": {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "items": ref("WorkflowRun")}}},
    "Decision": {"type": "object", "additionalProperties": False, "properties": {
        "comment": {"type": ["string", "null"], "maxLength": 2000}}},
    "Decided": {"type": "object", "required": ["id", "status", "record_id"], "properties": {
        "id": {"type": "integer"}, "status": {"enum": ["approved", "rejected"]},
        "record_id": {"type": "integer"}}},
}


def workflow_paths(model: CompiledModel) -> dict[str, Any]:
    """Each entity's workflow runs; its manual workflows; deciding approvals."""
    record_id = {"name": "id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}}
    paths: dict[str, Any] = {}
    try:
        workflows = dict(model.part("workflows"))
    except KeyError:
        workflows = {}
    for entity in sorted(model.entities):
        paths[f"/{entity}/{{id}}/runs"] = {"get": {
            "operationId": f"runs_of_{entity}", "tags": [entity],
            "summary": "The workflow runs of one record, newest first",
            "parameters": [record_id, _query("limit", {"type": "integer", "minimum": 1,
                                                       "maximum": 200}, "Runs (default 20)")],
            "responses": {"200": _json(ref("WorkflowRuns"), "Runs"), **_problems()}}}
        manual = sorted(w.name for w in workflows.values()
                        if w.entity == entity and w.trigger.type == "manual")
        if manual:
            paths[f"/{entity}/{{id}}/workflows/{{name}}"] = {"post": {
                "operationId": f"run_workflow_on_{entity}", "tags": [entity],
                "summary": "Run a manual workflow on one record now",
                "parameters": [record_id, {"name": "name", "in": "path", "required": True,
                                           "schema": {"enum": manual}}],
                "responses": {"200": _json(ref("WorkflowRun"), "The run (succeeded or skipped); "
                                           "a failed run is a 422 problem (nothing written)"),
                              **_problems(409)}}}
    paths["/approvals/{id}/{verdict}"] = {"post": {
        "operationId": "decide_approval", "tags": ["workflows"],
        "summary": "Approve or reject a pending approval (its approvers and admins)",
        "parameters": [record_id, {"name": "verdict", "in": "path", "required": True,
                                   "schema": {"enum": ["approve", "reject"]}}],
        "requestBody": {"required": False, "content": {"application/json": {
            "schema": ref("Decision")}}},
        "responses": {"200": _json(ref("Decided"), "Decided"), **_problems(409)}}}
    return paths


def build_document(model: CompiledModel, extra_paths: dict[str, Any] | None = None,
                   lang: str = DOC_LANG) -> dict[str, Any]:
    """The OpenAPI document for ``model`` (``extra_paths`` adds the metadata routes)."""
    schemas = shared_schemas()
    paths: dict[str, Any] = {}
    for name, entity in sorted(model.entities.items()):
        schemas.update(entity_schemas(entity, lang))
        paths.update(entity_paths(name, entity.label.get(lang)))
    schemas.update(NOTIFICATION_SCHEMAS)
    paths.update(notification_paths())
    schemas.update(RUN_SCHEMAS)
    paths.update(workflow_paths(model))
    paths.update(extra_paths or {})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Loom REST API", "version": model.version,
                 "description": "Records of every entity of the Loom model, generated from its "
                                "metadata. Errors are RFC 9457 problem details."},
        "servers": [{"url": API_ROOT}],
        "security": [{"bearerAuth": []}, {"session": []}],
        "tags": [{"name": n, "description": e.label.get(lang)}
                 for n, e in sorted(model.entities.items())]
                + [{"name": "meta"}, {"name": "notifications",
                                      "description": "The caller's in-app notifications"},
                   {"name": "workflows", "description": "Approvals asked by workflows"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from `loom token create USER`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The browser session (unsafe methods also need "
                                           "the X-CSRFToken header)"}}},
    }


_lock = threading.Lock()


def document_json(app: Flask, model: CompiledModel) -> bytes:
    """The serialized document of ``model``, built once per model version and app."""
    cached = app.extensions.get(CACHE_KEY)
    if cached is not None and cached[0] == model.version:
        return cached[1]
    with _lock:
        data = json.dumps(build_document(model, meta_paths(app)), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        app.extensions[CACHE_KEY] = (model.version, data)
    return data


def openapi_json() -> Response:
    model = runtime().model
    response = Response(document_json(current_app, model), mimetype="application/json")
    response.set_etag(model.version)
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@public
@login_required
def docs() -> str:
    return render_template("api/docs.html", spec_url=f"{API_ROOT}/openapi.json")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/openapi.json", "openapi", openapi_json, methods=["GET"])
    bp.add_url_rule("/docs", "docs", docs, methods=["GET"])
