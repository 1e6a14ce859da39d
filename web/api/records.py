"""Records of every entity over REST: ``/api/v1/<entity>`` and ``/api/v1/<entity>/<id>``.

    GET    /<entity>             list (filter, sort, page/per_page or after, total, fields, expand)
    POST   /<entity>/query       the same with the parameters in a JSON body
    POST   /<entity>             create one           -> 201, Location, ETag "<version>"
    GET    /<entity>/<id>        one record           -> 200, ETag
    PATCH  /<entity>/<id>        change fields; the version read from If-Match or body "version"
    DELETE /<entity>/<id>        -> 204 (If-Match optional)
    POST   /<entity>/bulk        a JSON array, or {"records": [...], "mode": "atomic"|"per_row"}

Every call goes through the record service as the request's actor: it validates,
checks permissions and refuses unknown or unwritable fields, so request data is
never assigned to columns here. Engine errors become problem details in
:mod:`web.api.problems`. Bodies must be ``application/json`` (415 otherwise).

Kept cheap on purpose (the single-create path is benchmarked): one service call per
request, no extra reads, JSON written with the C encoder, and ``?fields=id`` answers
from the created record without converting the rest of it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, g, request

from engine.filters import FilterError
from engine.records.errors import PermissionDenied, ValidationFailed
from engine.storage.versions import ModelOutdated
from web.api import jsontext, strict
from web.api.problems import IF_MATCH_FLAG, actor_lang, entity_plan
from web.api.query import from_query_string, names_param, parse_list
from web.auth import current_actor
from web.errors import problem
from web.state import loom_state, runtime

#: Most records one bulk call may carry (more -> 413; split the load into several calls).
MAX_BULK_ROWS = 10_000
#: Bulk modes: one transaction for all rows, or one create per row with per-row results.
BULK_MODES = ("atomic", "per_row")
#: Query parameters of the single-record calls.
RECORD_PARAMS = frozenset({"fields", "expand"})
#: Longest version an If-Match header may carry (a BIGINT has 19 digits).
MAX_VERSION_DIGITS = 19
#: Media type of every successful JSON response.
JSON_TYPE = "application/json"

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# -- helpers -----------------------------------------------------------------
def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status=status, mimetype=JSON_TYPE, headers=headers)


def _etag(version: Any) -> str:
    return f'"{version}"'


def _location(entity: str, record_id: Any) -> str:
    return f"{request.script_root}/api/v1/{entity}/{record_id}"


def _body() -> Any:
    """The request's JSON document: 415 unless JSON, 400 when it does not parse."""
    if not request.is_json:
        abort(415, description="send the body as application/json")
    raw = request.get_data(cache=False)  # 413 beyond MAX_CONTENT_LENGTH (werkzeug)
    try:
        return jsontext.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, description=f"the body is not valid JSON: {exc}")


def _object() -> dict[str, Any]:
    body = _body()
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object of field values")
    return body


def _only_params(allowed: frozenset[str]) -> None:
    if not request.query_string:
        return
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise FilterError([f"unknown parameter(s) {', '.join(unknown)}; known: {known}"])


def _select(record: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Only ``fields`` of ``record`` (id and version always); unknown names -> 400."""
    if fields is None:
        return record
    missing = [n for n in fields if n not in record or n.startswith("_")]
    if missing:
        known = ", ".join(n for n in record if not n.startswith("_"))
        raise FilterError([f"unknown field {n!r}; known: {known}" for n in missing])
    wanted = {"id", "version", *fields}
    return {k: v for k, v in record.items() if k in wanted or k == "_expand"}


def _version(values: dict[str, Any] | None) -> Any:
    """The version the caller read: If-Match (flagged on ``g``) or the body's ``version``."""
    header = request.headers.get("If-Match")
    body_version = values.pop("version", None) if values is not None else None
    if header is None:
        return body_version
    tag = header.strip()
    if tag == "*":  # "whatever it is now": fine for a delete, not enough for a change
        return body_version
    tag = tag.removeprefix("W/").strip().strip('"')
    if not (tag.isascii() and tag.isdigit() and len(tag) <= MAX_VERSION_DIGITS):
        abort(400, description='If-Match must carry the ETag you read, like "3"')
    if body_version is not None and str(body_version) != tag:
        abort(400, description="If-Match and the body's version disagree")
    g.setdefault(IF_MATCH_FLAG, True)
    return int(tag)


def _page_links(entity: str, query: Any, next_after: str | None) -> dict[str, str]:
    if next_after is None or request.method != "GET":
        return {}
    args = request.args.to_dict(flat=False)
    if query.after is not None:
        args["after"] = [next_after]
    else:
        args["page"] = [str(query.page + 1)]
    return {"next": f"{request.script_root}/api/v1/{entity}?{urlencode(args, doseq=True)}"}


# -- views -------------------------------------------------------------------
def list_records(entity: str) -> Response:
    entity_plan(entity)
    if request.method == "GET":
        query = from_query_string(request.query_string)
    else:
        _only_params(frozenset())
        query = parse_list(_object())
    svc = runtime().service
    page = svc.list(current_actor(), entity, **query.service_args())
    to_json = svc.to_json
    data = [to_json(entity, r) for r in page.rows]
    meta: dict[str, Any] = {"page": query.page, "per_page": query.per_page, "count": len(data)}
    if query.total:
        meta["total"] = page.total
    if page.next_after is not None:
        meta["next_after"] = page.next_after
    return _json({"data": data, "meta": meta, "links": _page_links(entity, query, page.next_after)})


def create_record(entity: str) -> Response:
    entity_plan(entity)
    _only_params(frozenset({"fields"}))
    fields = names_param(request.args.get("fields"))
    values = _object()
    svc = runtime().service
    strict.check(svc.model.entity(entity), values)
    record = svc.create(current_actor(), entity, values)
    headers = {"Location": _location(entity, record["id"]), "ETag": _etag(record["version"])}
    if fields == ("id",):  # the fast path: nothing else to convert
        return _json({"id": record["id"]}, 201, headers)
    return _json(_select(svc.to_json(entity, record, actor_lang()), fields), 201, headers)


def get_record(entity: str, record_id: int) -> Response:
    entity_plan(entity)
    _only_params(RECORD_PARAMS)
    fields = names_param(request.args.get("fields"))
    expand = names_param(request.args.get("expand"), "expand") or ()
    svc = runtime().service
    record = svc.get(current_actor(), entity, record_id, expand=expand)
    etag = _etag(record["version"])
    if request.if_none_match.contains(etag.strip('"')):
        return Response(status=304, headers={"ETag": etag})
    return _json(_select(svc.to_json(entity, record), fields), 200, {"ETag": etag})


def update_record(entity: str, record_id: int) -> Response:
    entity_plan(entity)
    _only_params(frozenset({"fields"}))
    fields = names_param(request.args.get("fields"))
    values = _object()
    version = _version(values)
    if version is None:
        return problem(428, "Precondition required", slug="precondition-required",
                       detail='send the version you read: If-Match: "<version>" (the ETag) '
                              'or "version" in the body')
    svc = runtime().service
    strict.check(svc.model.entity(entity), values)
    record = svc.update(current_actor(), entity, record_id, values, version=version)
    return _json(_select(svc.to_json(entity, record, actor_lang()), fields), 200,
                 {"ETag": _etag(record["version"])})


def delete_record(entity: str, record_id: int) -> Response:
    entity_plan(entity)
    _only_params(frozenset())
    runtime().service.delete(current_actor(), entity, record_id, version=_version(None))
    return Response(status=204)


def bulk_records(entity: str) -> Response:
    entity_plan(entity)
    _only_params(frozenset({"fields"}))
    fields = names_param(request.args.get("fields"))
    if fields not in (None, ("id",)):
        raise FilterError(["a bulk call returns the new ids only: fields=id or nothing"])
    rows, mode = _bulk_body()
    if len(rows) > MAX_BULK_ROWS:
        return problem(413, "Payload too large", slug="too-many-rows",
                       detail=f"{len(rows)} records; at most {MAX_BULK_ROWS} per call")
    svc, actor = runtime().service, current_actor()
    if not rows:
        abort(400, description="send at least one record")
    if mode == "atomic":
        strict.check_rows(svc.model.entity(entity), rows)
        ids = svc.bulk_create(actor, entity, rows)
        return _json({"data": [{"id": i} for i in ids], "count": len(ids)}, 201)
    if not svc.policy.can(actor, entity, "create"):
        raise PermissionDenied(entity, "create")
    results, lang = [], actor_lang()
    for index, row in enumerate(rows):
        try:
            results.append(_one_row(svc, actor, entity, index, row, lang))
        except ModelOutdated:
            # The rows before this one are stored; this one and the rest are not tried.
            # Each says so (503), so the client sends exactly those again.
            try:
                loom_state().reload()
            except Exception:  # noqa: BLE001 - the results below must still reach the client
                current_app.logger.exception("reloading the model failed")
            results += [{"index": i, "status": 503, "errors": [
                {"field": None, "code": "model-changed",
                 "message": "not created: the data model changed during this call; send it again"}]}
                for i in range(index, len(rows))]
            break
    created = sum(1 for r in results if r["status"] == 201)
    return _json({"results": results, "created": created, "failed": len(results) - created})


def _bulk_body() -> tuple[list[Any], str]:
    body = _body()
    if isinstance(body, list):
        return body, "atomic"
    if not isinstance(body, dict):
        abort(400, description='send a JSON array of records or {"records": [...], "mode": ...}')
    unknown = sorted(set(body) - {"records", "mode"})
    if unknown:
        abort(400, description=f"unknown key(s) {', '.join(unknown)}; known: records, mode")
    rows, mode = body.get("records"), body.get("mode", "atomic")
    if not isinstance(rows, list):
        abort(400, description='"records" must be a JSON array of records')
    if mode not in BULK_MODES:
        abort(400, description=f"unknown mode {mode!r}; known: {', '.join(BULK_MODES)}")
    return rows, mode


def _one_row(svc: Any, actor: Any, entity: str, index: int, row: Any, lang: str) -> dict[str, Any]:
    """Create one row of a per-row bulk call; its outcome as a result entry."""
    try:
        strict.check(svc.model.entity(entity), row)
        record = svc.create(actor, entity, row)  # a row that is not an object: 422 too
    except ValidationFailed as error:
        return {"index": index, "status": 422,
                "errors": [e.as_dict(lang) for e in error.errors]}
    except PermissionDenied as error:
        return {"index": index, "status": 403,
                "errors": [{"field": None, "code": "forbidden", "message": error.message.get(lang)}]}
    return {"index": index, "status": 201, "id": record["id"]}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/<entity>", "list_records", list_records, methods=["GET"])
    bp.add_url_rule("/<entity>", "create_record", create_record, methods=["POST"])
    bp.add_url_rule("/<entity>/query", "query_records", list_records, methods=["POST"])
    bp.add_url_rule("/<entity>/bulk", "bulk_records", bulk_records, methods=["POST"])
    bp.add_url_rule("/<entity>/<int:record_id>", "get_record", get_record, methods=["GET"])
    bp.add_url_rule("/<entity>/<int:record_id>", "update_record", update_record,
                    methods=["PATCH"])
    bp.add_url_rule("/<entity>/<int:record_id>", "delete_record", delete_record,
                    methods=["DELETE"])
