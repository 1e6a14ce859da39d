"""The navigation bar, built from the compiled model and what the actor may read."""

from __future__ import annotations

from typing import Any

from flask import url_for

from web.i18n import text


def navigation() -> list[dict[str, Any]]:
    """``[{"entity", "label", "url"}]`` for every entity the current actor may read."""
    from web.auth import current_actor
    from web.state import runtime

    actor = current_actor()
    if actor is None:
        return []
    rt = runtime()
    items = []
    for name, entity in rt.model.entities.items():
        if rt.policy.can(actor, name, "read"):
            items.append({"entity": name, "label": text(entity.plural_label),
                          "url": url_for("records.list", entity=name)})
    return items
