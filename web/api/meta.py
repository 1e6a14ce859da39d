"""The metadata API, ``/api/v1/meta``: read the compiled model, create entities, add and change
fields, store roles (``PUT /meta/roles/<name>``).

Every call needs an admin (the compiled model names fields some roles may not see). Every change goes
through the engine's use cases (:mod:`engine.meta`): validated, planned and applied
in one transaction, like ``loom plan`` / ``loom migrate`` but planned over the
tables of the entity it changes only (``loom plan`` compares them all). ``dry_run=true`` returns
the plan without applying; destructive steps need ``allow_destructive=true``.
After applying, this process reloads its model at once; other processes notice the
new revision at their next check (a label or role change refuses no write). This
module only maps requests and errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, request

from engine import accounts
from engine.access import is_admin
from engine.describe import describe_entity
from engine.meta import (
    MetadataConflict,
    UnknownMetadata,
    add_field,
    change_field,
    create_entity,
    put_role,
)
from engine.meta.documents import REQUEST_FILE
from engine.spec import FileSource
from engine.spec.errors import MetadataInvalid
from engine.storage.plan import MigrationRefused
from web.api import jsontext
from web.auth import current_actor
from web.errors import problem
from web.i18n import lang
from web.state import loom_state, runtime

#: Query values read as "yes" for ``dry_run`` and ``allow_destructive``.
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
#: Query values read as "no".
FALSE_VALUES = frozenset({"", "0", "false", "no", "off"})


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    abort(400, description=f"query parameter {name!r} must be true or false")


def _body() -> Any:
    if not request.is_json:
        abort(415, description="send the document as JSON (Content-Type: application/json)")
    try:
        return jsontext.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, description=f"the request body is not valid JSON: {exc}")


def _require_admin() -> str:
    """The admin's user name (for the version record); 403 for anyone else."""
    rt = runtime()
    actor = current_actor()
    if not is_admin(rt.model, actor):
        abort(403, description="the metadata API needs an admin role")
    user = accounts.get_user(rt.db, rt.tables, actor.user_id) if actor.user_id else None
    return user["username"] if user else "system"


def _errors(error: MetadataInvalid) -> list[dict[str, Any]]:
    out = []
    for e in error.errors:
        item = {"path": e.json_path, "message": e.message, "code": e.code}
        if e.line is not None:
            item["line"] = e.line
        if e.file != REQUEST_FILE:
            item["file"] = e.file
        out.append(item)
    return out


def _run(use_case: Callable[..., Any], *args: Any, created: bool = False):
    """Run a metadata use case for the admin and map its outcome to a response."""
    username = _require_admin()
    state = loom_state()
    dry_run = _flag("dry_run")
    try:
        change = use_case(state.db, FileSource(*state.config.metadata_dirs), *args,
                          actor=username, dry_run=dry_run,
                          allow_destructive=_flag("allow_destructive"), clock=state.config.clock)
    except MetadataInvalid as error:
        return problem(422, "Invalid metadata", slug="metadata-invalid",
                       detail=f"{len(error.errors)} error(s) in the metadata; nothing was changed",
                       errors=_errors(error))
    except UnknownMetadata as error:
        return problem(404, "Not found", slug="not-found", detail=str(error.args[0]))
    except MetadataConflict as error:
        return problem(409, "Metadata conflict", slug="metadata-conflict", detail=str(error))
    except MigrationRefused as error:
        plan = error.plan
        extra = {} if plan is None else {
            "plan": [s.as_dict() for s in plan.steps], "version": plan.model_version,
            "problems": plan.problems}
        slug = "destructive" if plan is not None and not plan.problems else "migration-refused"
        return problem(409, "Migration refused", slug=slug, detail=str(error), **extra)
    if change.applied:
        state.reload()
    status = 201 if created and change.applied else 200
    return change.as_dict(), status


def list_entities():  # noqa: ANN201
    _require_admin()
    model = runtime().model
    current = lang()
    data = [{"name": name, "label": entity.label.get(current), "labels": entity.label.as_dict(),
             "plural_label": entity.plural_label.get(current), "fields": len(entity.fields),
             "source": entity.source.file}
            for name, entity in model.entities.items()]
    return {"data": data, "version": model.version, "revision": model.revision}


def get_entity(name: str):  # noqa: ANN201
    _require_admin()
    model = runtime().model
    if not model.has_entity(name):
        abort(404, description=f"unknown entity {name!r}")
    return {"data": describe_entity(model.entity(name), lang()), "version": model.version,
            "revision": model.revision}


def post_entity():  # noqa: ANN201
    return _run(create_entity, _body(), created=True)


def post_field(name: str):  # noqa: ANN201
    return _run(add_field, name, _body(), created=True)


def patch_field(name: str, field: str):  # noqa: ANN201
    return _run(change_field, name, field, _body())


def put_role_document(name: str):  # noqa: ANN201
    # Cached actors carry role names only; the grants come from the model reloaded here.
    return _run(put_role, name, _body())


def register(bp: Any) -> None:
    """Add the metadata routes to the API blueprint."""
    bp.add_url_rule("/meta/entities", "meta_entities", list_entities, methods=["GET"])
    bp.add_url_rule("/meta/entities", "meta_create_entity", post_entity, methods=["POST"])
    bp.add_url_rule("/meta/entities/<name>", "meta_entity", get_entity, methods=["GET"])
    bp.add_url_rule("/meta/entities/<name>/fields", "meta_add_field", post_field,
                    methods=["POST"])
    bp.add_url_rule("/meta/entities/<name>/fields/<field>", "meta_change_field", patch_field,
                    methods=["PATCH"])
    bp.add_url_rule("/meta/roles/<name>", "meta_put_role", put_role_document, methods=["PUT"])
