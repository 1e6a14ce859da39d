"""The engine runtime one web app serves with, kept in ``app.extensions``.

Everything about building and reloading the model lives in :mod:`engine.runtime`;
this module only finds the app's :class:`~engine.runtime.Runtime` for a request.
Before each request the app asks it to :meth:`~engine.runtime.Runtime.refresh`
(every ``LOOM_MODEL_CHECK_INTERVAL`` seconds): a model, label, layout or role
change another process applied is then served here too.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from engine.runtime import Runtime, Snapshot

__all__ = ["EXTENSION_KEY", "Runtime", "Snapshot", "loom_state",
           "runtime", "runtime_for"]

#: Key of Loom's runtime in ``app.extensions``.
EXTENSION_KEY = "loom"


def loom_state(app: Any = None) -> Runtime:
    """The app's engine runtime (the current app's by default)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def runtime() -> Snapshot:
    """The snapshot (model, tables, policy, service) serving the current request."""
    return loom_state().current


def runtime_for(entity: str) -> Snapshot:
    """The snapshot, checked for a newer model first when it doesn't know ``entity``.

    Another worker may just have created the entity; answering 404 before looking
    would make a client that created it and then used it fail at random.
    """
    state = loom_state()
    rt = state.current
    if not rt.model.has_entity(entity):
        state.refresh(force=True)
        rt = state.current
    return rt
