"""Create, edit and delete records through generated forms.

``records.new`` (GET/POST ``/r/<entity>/new``), ``records.edit`` (GET/POST
``/r/<entity>/<id>/edit``) and ``records.delete`` (POST ``/r/<entity>/<id>/delete``).
A post goes through the entity's generated form (:mod:`web.forms`) to the record
service with the request's actor; this module only maps the outcome:

- success: a flash message and a redirect to the record page;
- ``ValidationFailed``: the form again (422), each message next to its field
  (errors of no field, such as rules, at the top), every entered value kept;
- ``VersionConflict``: the form again (409) with the user's values, a message, and
  next to each field what the other person saved; the form now carries the current
  version, so saving again keeps the user's values (knowingly);
- an expired or missing CSRF token: the form again (400), values kept, "submit
  again" (these two views check the token through the form instead of the app-wide
  guard, which would answer with a bare error page and lose the input);
- ``PermissionDenied`` / ``RecordNotFound`` before anything was entered (no right
  to create or update, a record out of sight): the app-wide 403 / 404 pages; a
  refusal met while saving (a record left without an owner outside the actor's
  scope): the form again (403) with the reason at the top and the values kept. An
  owner the actor may not give records to is a ``ValidationFailed`` on ``owner``,
  shown next to the Owner field like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.permissions import Actor
from engine.records.errors import (
    FieldError,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)
from web.auth import login_required
from web.extensions import csrf
from web.forms import (
    FormCache,
    FormSpec,
    WidgetContext,
    collect,
    conditions,
    defaults,
    initial_data,
    keep_posted,
)
from web.forms.binding import error_field, same_value
from web.forms.builder import FORM_STANDARD_FIELDS
from web.forms.widgets import FormValueError
from web.i18n import lang, time_zone
from web.records import bp
from web.records.common import (
    actor_or_401,
    endpoint_url,
    entity_or_404,
    labels_for,
    labels_through,
    owner_search_url,
    search_url,
)
from web.state import Snapshot, runtime

#: Key of the form cache in ``app.extensions``.
CACHE_KEY = "loom.forms"
#: Values one prefilled field takes from the query string (a multi-valued field's choices).
MAX_PREFILLED_VALUES = 100
#: HTTP statuses of a form shown again.
INVALID, CONFLICT, EXPIRED, FORBIDDEN = 422, 409, 400, 403


def _cache() -> FormCache:
    return current_app.extensions.setdefault(CACHE_KEY, FormCache())


def form_spec(rt: Snapshot, actor: Actor, entity: str) -> FormSpec:
    """The entity's form for ``actor`` in the current language (cached)."""
    ent = rt.model.entity(entity)
    names = [*ent.field_names, *FORM_STANDARD_FIELDS]
    access = {n: rt.policy.field_access(actor, entity, n) for n in names}
    return _cache().get(rt.model, entity, access, lang())


def _record_url(entity: str, record_id: int) -> str:
    return (endpoint_url("records.detail", entity=entity, id=record_id)
            or url_for("records.edit", entity=entity, id=record_id))


def _render(rt: Snapshot, actor: Actor, spec: FormSpec, form: Any, *, status: int = 200,
            record: Mapping[str, Any] | None = None, errors: list[FieldError] = (),
            notice: str = "", notes: Mapping[str, str] | None = None,
            start: Mapping[str, Any] | None = None):
    code = lang()
    labels = labels_for(rt, actor)
    if record is not None:  # names of parents the actor can't open, read through this record
        labels = labels_through(rt, actor, spec.entity.name, record["id"], labels)
    ctx = WidgetContext(labels, search_url, code, time_zone(),
                        owners_url=owner_search_url(spec.entity.name))
    by_field: dict[str, list[str]] = {}
    top: list[str] = []
    for error in errors:
        where = error_field(spec, error)
        message = error.message.get(code)
        if where is not None:
            by_field.setdefault(where, []).append(message)
        else:
            top.append(f"{error.field}: {message}" if error.field else message)
    views = {}
    for s in spec.fields.values():
        bound = form[s.attr]
        extra = s.widget.prepare(bound, s.field, ctx)
        views[s.name] = {"name": s.name, "spec": s, "field": bound, "extra": extra,
                         "writable": s.writable, "attrs": s.widget.attrs(s.field),
                         "errors": by_field.get(s.name, []), "note": (notes or {}).get(s.name)}
    entity = spec.entity
    json_now = rt.service.to_json(entity.name, dict(start or record or {}))
    stored = rt.service.to_json(entity.name, dict(record)) if record is not None else None
    editing = record is not None
    return render_template(
        "records/form.html", spec=spec, form=form, views=views, top_errors=top, notice=notice,
        conditions=conditions(spec, json_now, stored), record=record,
        title=(_("Edit %(entity)s", entity=entity.label.get(code)) if editing
               else _("New %(entity)s", entity=entity.label.get(code))),
        action=(url_for("records.edit", entity=entity.name, id=record["id"]) if editing
                else url_for("records.new", entity=entity.name)),
        cancel=(_record_url(entity.name, record["id"]) if editing
                else endpoint_url("records.list", entity=entity.name) or url_for("home")),
    ), status


def _prefill(spec: FormSpec, form: Any, args: Any, shown: Mapping[str, Any],
             start: Mapping[str, Any]) -> dict[str, Any]:
    """Values given in the query string (``/r/contact/new?account=7``, ``?stage=lost``)
    put in the form's writable fields, as a post would give them; ``start`` with them.

    Only a prefill: nothing is saved, and a value no widget can take is dropped (the form
    shows what it would have shown). Read-only and hidden fields are never prefilled.
    """
    out = dict(start)
    for s in spec.writable():
        given = [v for v in args.getlist(s.name) if v.strip()][:MAX_PREFILLED_VALUES]
        if not given:
            continue
        bound = form[s.attr]
        bound.process_formdata(given)
        try:
            value = s.widget.from_form(s.field, bound.data, time_zone())
            # What the service would refuse (a word for an amount, an option the field
            # lacks) is not shown as if it were accepted.
            if value is not None and any(s.field.type.check(
                    s.field, s.field.type.coerce(s.field, value))):
                raise ValueError(s.name)
        except (FormValueError, ValueError, TypeError, ArithmeticError):
            bound.data = shown.get(s.attr)
            continue
        out[s.name] = value
    return out


def _denied(exc: PermissionDenied) -> FieldError:
    """A refusal met while saving (the action itself was allowed), shown above the form."""
    return FieldError(None, "forbidden", exc.message)


def _expired() -> str:
    return _("The form expired. Your values are kept: submit again.")


@bp.route("/<entity>/new", methods=["GET", "POST"], endpoint="new")
@login_required
def new_record(entity: str):
    rt = runtime()
    entity_or_404(rt, entity)
    actor = actor_or_401()
    if not rt.policy.can(actor, entity, "create"):
        raise PermissionDenied(entity, "create")
    spec = form_spec(rt, actor, entity)
    start = defaults(spec, actor.user_id)
    shown = initial_data(spec, start, time_zone())
    form = spec.form_class(data=shown)
    if request.method == "GET":
        start = _prefill(spec, form, request.args, shown, start)
        return _render(rt, actor, spec, form, start=start)
    keep_posted(spec, form, shown)
    if not form.validate():
        return _render(rt, actor, spec, form, status=EXPIRED, notice=_expired(), start=start)
    values, errors = collect(spec, form, request.form, zone=time_zone())
    if errors:
        return _render(rt, actor, spec, form, status=INVALID, errors=errors, start=start)
    try:
        created = rt.service.create(actor, entity, values)
    except ValidationFailed as exc:
        return _render(rt, actor, spec, form, status=INVALID, errors=exc.errors, start=start)
    except PermissionDenied as exc:  # e.g. no owner, outside the actor's scope
        return _render(rt, actor, spec, form, status=FORBIDDEN, errors=[_denied(exc)], start=start)
    _flash_saved(spec, created, _("Created."))
    return redirect(_record_url(entity, created["id"]))


@bp.route("/<entity>/<int:id>/edit", methods=["GET", "POST"], endpoint="edit")
@login_required
def edit_record(entity: str, id: int):
    rt = runtime()
    entity_or_404(rt, entity)
    actor = actor_or_401()
    if not rt.policy.can(actor, entity, "update"):
        raise PermissionDenied(entity, "update")
    spec = form_spec(rt, actor, entity)
    record = rt.service.get(actor, entity, id)  # RecordNotFound -> 404
    shown = initial_data(spec, record, time_zone())
    form = spec.form_class(data={**shown, "version": str(record["version"])})
    if request.method == "GET":  # the board sends ?stage=lost: the move, finished here
        start = _prefill(spec, form, request.args, shown, record)
        return _render(rt, actor, spec, form, record=record, start=start)
    keep_posted(spec, form, shown)
    if not form.validate():
        return _render(rt, actor, spec, form, status=EXPIRED, notice=_expired(), record=record)
    values, errors = collect(spec, form, request.form, old=record, zone=time_zone())
    if errors:
        return _render(rt, actor, spec, form, status=INVALID, errors=errors, record=record)
    try:
        saved = rt.service.update(actor, entity, id, values, version=form.version.data or None)
    except ValidationFailed as exc:
        return _render(rt, actor, spec, form, status=INVALID, errors=exc.errors, record=record)
    except VersionConflict as exc:
        return _conflict(rt, actor, spec, form, entity, id, exc)
    except PermissionDenied as exc:
        return _render(rt, actor, spec, form, status=FORBIDDEN, errors=[_denied(exc)],
                       record=record)
    _flash_saved(spec, saved, _("Saved."))
    return redirect(_record_url(entity, id))


def _conflict(rt: Snapshot, actor: Actor, spec: FormSpec, form: Any, entity: str, record_id: int,
              exc: VersionConflict):
    """The form again with the user's values, the current version and what changed."""
    current = rt.service.get(actor, entity, record_id)
    theirs = initial_data(spec, current, time_zone())
    notes = {}
    for s in spec.writable():
        if not same_value(theirs[s.attr], form[s.attr].data):
            notes[s.name] = _display(s, theirs[s.attr])
    keep_posted(spec, form, theirs)
    form.version.data = str(current["version"])
    notice = _("Someone else saved this record while you were editing it. Your values are "
               "kept below, with theirs next to each field that differs; save again to keep "
               "yours.")
    return _render(rt, actor, spec, form, status=CONFLICT, record=current, notice=notice,
                   notes=notes)


def _display(s: Any, value: Any) -> str:
    """What another person saved, as a short text (option labels for choices)."""
    labels = {o.value: o.label.get(lang()) for o in s.field.options}
    if isinstance(value, list):
        return ", ".join(labels.get(v, str(v)) for v in value) or "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return labels.get(value, str(value)) if value not in (None, "") else "—"


def _flash_saved(spec: FormSpec, record: Mapping[str, Any], message: str) -> None:
    flash(message, "success")
    for warning in record.get("_warnings") or ():
        flash(warning.message.get(lang()), "warning")


@bp.route("/<entity>/<int:id>/delete", methods=["POST"], endpoint="delete")
@login_required
def delete_record(entity: str, id: int):
    """Delete one record (the app-wide CSRF guard applies: there is nothing to keep)."""
    rt = runtime()
    entity_or_404(rt, entity)
    actor = actor_or_401()
    version = request.form.get("version") or None
    try:
        rt.service.delete(actor, entity, id, version=version)
    except (ValidationFailed, VersionConflict) as exc:
        problems = exc.errors if isinstance(exc, ValidationFailed) else [exc]
        for problem in problems:
            flash(problem.message.get(lang()), "danger")
        return redirect(_record_url(entity, id))
    flash(_("Deleted."), "success")
    return redirect(endpoint_url("records.list", entity=entity) or url_for("home"))


# The form views check CSRF through their form (to keep the input when it fails).
csrf.exempt(new_record)
csrf.exempt(edit_record)
