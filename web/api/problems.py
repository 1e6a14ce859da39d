"""Engine errors raised in ``/api/v1`` views, as RFC 9457 problem details.

The engine decides every error; this module only maps each kind to a status and a
body built by :func:`web.errors.problem`, with messages in the caller's language:

- :class:`ValidationFailed` -> 422, ``errors: [{field, code, message, rule?, row?}]``;
- :class:`VersionConflict` -> 409, or 412 when the version came from ``If-Match``
  (the view sets :data:`IF_MATCH_FLAG` on ``flask.g``);
- :class:`RecordNotFound` -> 404; :class:`PermissionDenied` -> 403 (the message names
  the action and the entity only, never a record's data);
- :class:`FilterError` -> 400 with every problem of the filter, sort, cursor or
  field list.

``ModelOutdated`` is handled app-wide (503, see :mod:`web.errors`). Blueprint error
handlers only see errors raised in this blueprint's views, which is all we need.
Unknown entities are not a ``KeyError`` here: views check the name with
:func:`entity_plan` first, so a bug's ``KeyError`` still shows as a 500.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g

from engine.filters import FilterError
from engine.records.errors import (PermissionDenied, RecordNotFound, ValidationFailed,
                                   VersionConflict)
from web.auth import current_actor
from web.errors import problem, record_error_text
from web.i18n import lang

#: Name of the ``flask.g`` flag telling that the request's version came from If-Match.
IF_MATCH_FLAG = "loom_if_match"


def actor_lang() -> str:
    """The language of error messages: the actor's, else the request's."""
    actor = current_actor()  # cached on flask.g by the authentication that ran first
    return getattr(actor, "lang", None) or lang()


def entity_plan(name: str) -> Any:
    """The record service's plan of entity ``name``; 404 when the model has no such entity."""
    from web.state import runtime_for

    plans = runtime_for(name).service.plans
    if name not in plans:
        abort(404, description=f"unknown entity {name!r}; known: {', '.join(sorted(plans))}")
    return plans[name]


def validation_failed(error: ValidationFailed):
    body = error.as_dict(actor_lang())
    return problem(422, "Validation failed", slug="validation", detail=body["message"],
                   errors=body["errors"])


def version_conflict(error: VersionConflict):
    detail = record_error_text(error, actor_lang())
    extra = {"current_version": error.actual} if error.actual is not None else {}
    if g.get(IF_MATCH_FLAG):
        return problem(412, "Precondition failed", slug="precondition-failed", detail=detail,
                       **extra)
    return problem(409, "Version conflict", slug="version-conflict", detail=detail, **extra)


def not_found(error: RecordNotFound):
    return problem(404, "Not found", slug="not-found",
                   detail=record_error_text(error, actor_lang()))


def denied(error: PermissionDenied):
    return problem(403, "Forbidden", slug="forbidden",
                   detail=record_error_text(error, actor_lang()))


def bad_query(error: FilterError):
    return problem(400, "Bad request", slug="bad-query", detail=str(error),
                   errors=[{"message": p} for p in error.problems])


def register(bp: Any) -> None:
    """Attach the handlers to the API blueprint."""
    bp.register_error_handler(ValidationFailed, validation_failed)
    bp.register_error_handler(VersionConflict, version_conflict)
    bp.register_error_handler(RecordNotFound, not_found)
    bp.register_error_handler(PermissionDenied, denied)
    bp.register_error_handler(FilterError, bad_query)
