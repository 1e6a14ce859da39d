"""The REST API, ``/api/v1``: records of every entity, aggregates, metadata, OpenAPI.

Every call authenticates (bearer token, or the browser session with its CSRF token
on unsafe methods) and then goes through the record service as that actor. Errors
leave as RFC 9457 problem details (:func:`web.errors.problem`), mapped from engine
errors in :mod:`web.api.problems`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable

from flask import Blueprint, request
from flask_wtf.csrf import CSRFError, validate_csrf

from web.auth import auth_method, current_actor
from web.errors import problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Methods that change nothing: a session caller needs no CSRF token for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Header carrying the CSRF token of a session (browser) caller.
CSRF_HEADER = "X-CSRFToken"


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an API view as open to callers who are not authenticated."""
    view.loom_public = True  # type: ignore[attr-defined]
    return view


@bp.before_request
def _authenticate():  # noqa: ANN202
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "loom_public", False):
        return None
    if current_actor() is None:
        return problem(401, "Unauthorized", slug="unauthorized",
                       detail="Send 'Authorization: Bearer <token>' (see `loom token create`).",
                       headers={"WWW-Authenticate": 'Bearer realm="loom"'})
    if auth_method() == "session" and request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get(CSRF_HEADER, ""))
        except Exception as error:  # noqa: BLE001 - wtforms raises ValidationError
            return problem(400, "CSRF token missing or invalid", slug="csrf",
                           detail=str(error))
    return None


@bp.errorhandler(CSRFError)
def _csrf(error: CSRFError):  # noqa: ANN202
    return problem(400, "CSRF token missing or invalid", slug="csrf", detail=error.description)


def _load_views() -> None:
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        register = getattr(loaded, "register", None)
        if callable(register):
            register(bp)


_load_views()
