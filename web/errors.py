"""Errors as responses: RFC 9457 problem details for the API, pages for people.

The web layer only maps errors; the engine decides them. ``problem()`` is the one
way an API error leaves Loom, so every error has the same shape.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from flask import Flask, Response, json, render_template, request
from werkzeug.exceptions import HTTPException

from engine.records.errors import PermissionDenied, RecordNotFound
from engine.storage.versions import ModelOutdated

#: Media type of problem details (RFC 9457).
PROBLEM_JSON = "application/problem+json"
#: Prefix of every problem type; the slug names the kind of error.
PROBLEM_TYPE = "urn:loom:problem:"
#: Path prefix of the REST API (errors there are problem details, never pages).
API_PREFIX = "/api/"


def problem(status: int, title: str, *, slug: str, detail: str | None = None,
            errors: Iterable[Mapping[str, Any]] | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """A problem-details response.

    >>> problem(404, "Not found", slug="not-found", detail="no deal 7")   # doctest: +SKIP
    """
    body: dict[str, Any] = {"type": PROBLEM_TYPE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def wants_problem() -> bool:
    return request.path.startswith(API_PREFIX)


def _slug(name: str) -> str:
    return "-".join(name.lower().replace("'", "").split())


def _page(status: int, title: str, detail: str = "") -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, detail=detail), status


def register(app: Flask) -> None:
    """App-wide handlers; the API blueprint adds its own for engine errors."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # noqa: ANN202
        if wants_problem():
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            # Sentence case like Loom's own titles ("Bad request", not "Bad Request").
            title = error.name[:1] + error.name[1:].lower()
            return problem(error.code or 500, title, slug=_slug(error.name),
                           detail=error.description, headers=headers)
        return _page(error.code or 500, error.name, error.description or "")

    @app.errorhandler(ModelOutdated)
    def model_outdated(error: ModelOutdated):  # noqa: ANN202
        from web.state import loom_state

        try:
            loom_state().reload()
        except Exception:  # noqa: BLE001 - the 503 below says what to do either way
            app.logger.exception("reloading the model failed")
        detail = "The data model changed while this request ran; retry it."
        if wants_problem():
            return problem(503, "Model changed", slug="model-changed", detail=detail,
                           headers={"Retry-After": "1"})
        return _page(503, "Model changed", detail)

    @app.errorhandler(RecordNotFound)
    def not_found(error: RecordNotFound):  # noqa: ANN202
        if wants_problem():
            return problem(404, "Not found", slug="not-found", detail=str(error))
        return _page(404, "Not found", str(error))

    @app.errorhandler(PermissionDenied)
    def denied(error: PermissionDenied):  # noqa: ANN202
        if wants_problem():
            return problem(403, "Forbidden", slug="forbidden", detail=str(error))
        return _page(403, "Forbidden", str(error))

    @app.errorhandler(500)
    def server_error(error: Exception):  # noqa: ANN202
        if wants_problem():
            return problem(500, "Internal server error", slug="internal")
        return _page(500, "Internal server error")
