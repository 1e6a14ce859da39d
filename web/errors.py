"""Errors as responses: RFC 9457 problem details for the API, pages for people.

The web layer only maps errors; the engine decides them. ``problem()`` is the one
way an API error leaves Loom, so every error has the same shape.

Everything a person reads is in their language (:func:`web.i18n.lang`: the session's,
else the browser's): a problem's ``title`` is translated through the Babel catalogue,
keyed by the English title (every title Loom gives is in :data:`PROBLEM_TITLES`, so
extraction keeps the catalogue complete); record errors are worded with the entity's
label (:func:`record_error_text`); an error page never shows an English explanation
to a Chinese reader: an unknown one gives way to the status's own (:data:`PAGE_DETAILS`).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from flask import Flask, Response, has_request_context, json, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from engine.records.errors import EntityError, PermissionDenied, RecordNotFound
from engine.storage.versions import ModelOutdated
from web.i18n import DEFAULT_LANG, lang

#: Media type of problem details (RFC 9457).
PROBLEM_JSON = "application/problem+json"
#: Prefix of every problem type; the slug names the kind of error.
PROBLEM_TYPE = "urn:loom:problem:"
#: Path prefix of the REST API (errors there are problem details, never pages).
API_PREFIX = "/api/"


def N_(message: str) -> str:  # noqa: N802 - the name pybabel extracts by default
    """Mark ``message`` for the catalogue without translating it here."""
    return message


#: Every problem title Loom gives, in English: the HTTP reasons in sentence case and
#: Loom's own. Listed so that pybabel extracts them (the catalogue test then requires
#: their translation); :func:`translated` looks them up by the English title.
PROBLEM_TITLES = frozenset({
    N_("Bad request"), N_("Unauthorized"), N_("Forbidden"), N_("Not found"),
    N_("Method not allowed"), N_("Not acceptable"), N_("Request timeout"), N_("Conflict"),
    N_("Gone"), N_("Length required"), N_("Precondition failed"),
    N_("Request entity too large"), N_("Request uri too long"), N_("Unsupported media type"),
    N_("Requested range not satisfiable"), N_("Expectation failed"), N_("I'm a teapot"),
    N_("Misdirected request"), N_("Unprocessable entity"), N_("Locked"),
    N_("Failed dependency"), N_("Precondition required"), N_("Too many requests"),
    N_("Request header fields too large"), N_("Unavailable for legal reasons"),
    N_("Internal server error"), N_("Not implemented"), N_("Bad gateway"),
    N_("Service unavailable"), N_("Gateway timeout"), N_("Http version not supported"),
    # Loom's own titles.
    N_("Bad parameter"), N_("CSRF token missing or invalid"), N_("Metadata conflict"),
    N_("Migration refused"), N_("Version conflict"), N_("Payload too large"),
    N_("Invalid metadata"), N_("Validation failed"), N_("Workflow failed"),
    N_("Model changed"), N_("Refused by the pool"), N_("Workflow not available"),
    N_("Approval refused"),
})

#: What an error page says under its title when the error's own explanation has no
#: translation (an ``abort(404, description=f"unknown entity {name!r}")``, say).
PAGE_DETAILS = {
    400: N_("The request could not be understood. Go back and try again."),
    401: N_("Please log in first."),
    403: N_("You don't have access to this page."),
    404: N_("There is nothing at this address. It may have been deleted, or the link is wrong."),
    405: N_("This page can't be used that way."),
    413: N_("What you sent is too large."),
    415: N_("What you sent is not in a form this page accepts."),
    429: N_("Too many requests. Wait a moment and try again."),
    500: N_("Something went wrong on our side. Try again later."),
    503: N_("Loom is busy or being updated. Try again in a moment."),
}
#: :data:`PAGE_DETAILS` for a status it does not list.
OTHER_DETAIL = N_("This request could not be completed.")

#: Explanations other modules pass to ``abort()`` in English; listed for the catalogue,
#: which translates them on pages.
KNOWN_DETAILS = (
    N_("this page is for administrators"),
    N_("the form expired; reload the page and try again"),
    N_("no such user"),
    N_("no such team"),
    N_("The data model changed while this request ran; retry it."),
)

#: Han characters: a text holding some is already written for a Chinese reader.
_HAN = re.compile(r"[\u3400-\u9fff]")


def translated(message: str) -> str:
    """``message`` in the request's language when the catalogue has it, else unchanged.

    >>> translated("Not found")   # under zh-CN                    # doctest: +SKIP
    '未找到'
    """
    if not message or not has_request_context():
        return message
    return gettext(message)


def record_error_text(error: EntityError, lang_code: str | None = None) -> str:
    """A record error's message in ``lang_code`` (the request's by default), naming the
    entity by its label even when the error was raised without it."""
    label = error.label
    if label is None:
        from web.state import runtime

        model = runtime().model
        if model.has_entity(error.entity):
            label = model.entity(error.entity).label
    return error.message_for(label).get(lang_code or lang())


def page_detail(status: int, detail: str) -> str:
    """The explanation an error page shows: ``detail`` when the reader can read it."""
    if not detail or lang() == DEFAULT_LANG:
        return detail
    shown = translated(detail)
    if shown != detail or _HAN.search(detail):
        return shown
    return translated(PAGE_DETAILS.get(status, OTHER_DETAIL))


def problem(status: int, title: str, *, slug: str, detail: str | None = None,
            errors: Iterable[Mapping[str, Any]] | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """A problem-details response; ``title`` (one of :data:`PROBLEM_TITLES`) and a
    catalogued ``detail`` are translated into the caller's language.

    >>> problem(404, "Not found", slug="not-found", detail="no deal 7")   # doctest: +SKIP
    """
    body: dict[str, Any] = {"type": PROBLEM_TYPE + slug, "title": translated(title),
                            "status": status}
    if detail:
        body["detail"] = translated(detail)
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


def _sentence(name: str) -> str:
    """Sentence case like Loom's own titles ("Bad request", not "Bad Request")."""
    return name[:1] + name[1:].lower()


def _page(status: int, title: str, detail: str = "") -> tuple[str, int]:
    return render_template("error.html", status=status, title=translated(title),
                           detail=page_detail(status, detail)), status


def register(app: Flask) -> None:
    """App-wide handlers; the API blueprint adds its own for engine errors."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # noqa: ANN202
        detail = error.description or ""
        if detail == type(error).description and lang() != DEFAULT_LANG:
            # Werkzeug's own explanation, in English only.
            detail = PAGE_DETAILS.get(error.code or 500, OTHER_DETAIL)
        if wants_problem():
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            return problem(error.code or 500, _sentence(error.name), slug=_slug(error.name),
                           detail=detail, headers=headers)
        return _page(error.code or 500, _sentence(error.name), detail)

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
            return problem(404, "Not found", slug="not-found", detail=record_error_text(error))
        return _page(404, "Not found", record_error_text(error))

    @app.errorhandler(PermissionDenied)
    def denied(error: PermissionDenied):  # noqa: ANN202
        if wants_problem():
            return problem(403, "Forbidden", slug="forbidden", detail=record_error_text(error))
        return _page(403, "Forbidden", record_error_text(error))

    @app.errorhandler(500)
    def server_error(error: Exception):  # noqa: ANN202
        if wants_problem():
            return problem(500, "Internal server error", slug="internal")
        return _page(500, "Internal server error")
