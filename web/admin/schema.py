"""The schema browser: every entity, and one entity's fields, rules, relations and labels.

Reads the compiled model only (through :func:`engine.describe.describe_entity`),
labels in the current language. Changes go through the metadata API or files.
"""

from __future__ import annotations

from flask import abort, render_template

from engine.describe import describe_entity
from web.admin import bp
from web.admin.guard import admin_required
from web.i18n import lang
from web.state import runtime


@bp.route("/")
@admin_required
def index():  # noqa: ANN201
    rt = runtime()
    return render_template("admin/index.html", version=rt.model.version,
                           entities=len(rt.model.entities))


@bp.route("/schema")
@admin_required
def schema():  # noqa: ANN201
    model = runtime().model
    current = lang()
    entities = [{"name": name, "label": e.label.get(current),
                 "plural_label": e.plural_label.get(current), "fields": len(e.fields),
                 "rules": len(e.rules), "source": shown_file(e.source.file)}
                for name, e in model.entities.items()]
    return render_template("admin/schema.html", entities=entities, version=model.version)


@bp.route("/schema/<entity>")
@admin_required
def entity(entity: str):  # noqa: ANN201
    model = runtime().model
    if not model.has_entity(entity):
        abort(404, description=f"unknown entity {entity!r}")
    described = describe_entity(model.entity(entity), lang())
    relations = [f for f in described["fields"] if f["target"]]
    return render_template("admin/entity.html", entity=described, relations=relations,
                           version=model.version, shown_file=shown_file)


def shown_file(path: str) -> str:
    """A metadata file as the admin knows it (``schemas/deal.yaml``), never the server's
    absolute path."""
    from pathlib import Path

    from web.state import loom_state

    given = Path(path)
    if not given.is_absolute():
        return path
    for folder in loom_state().config.metadata_dirs:
        try:
            return f"{folder.name}/{given.resolve().relative_to(folder.resolve())}"
        except ValueError:
            continue
    return given.name
