"""Who may see the admin pages: logged-in people holding an admin role (``admin: true``);
and making this process forget the roles and teams it cached after an admin changed them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort

from engine.access import is_admin
from web.auth import current_actor, login_required
from web.state import loom_state, runtime


def may_administer() -> bool:
    """True when the current actor holds a role with ``admin: true`` (whatever its name).

    The one test for the admin pages and the navigation's Admin link.
    """
    return is_admin(runtime().model, current_actor())


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Log in first (redirect), then 403 unless the actor is an admin."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not may_administer():
            abort(403, description="this page is for administrators")
        return view(*args, **kwargs)

    return login_required(wrapper)


def forget_cached_actors() -> None:
    """Make this process reread everyone's roles and teams at their next request.

    Requests need it no more: every role, team or state change moves the users'
    ``authz_epoch`` (engine.accounts), which requests read with their session or token,
    so every process rereads at the next request. It still frees this process's cache
    (and the actors of callers that name no epoch) at once.
    """
    loom_state().forget_actors()
