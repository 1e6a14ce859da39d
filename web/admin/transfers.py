"""One-click transfer (一键转派) pages: give one user's open accounts, deals and activities
(all, or the kinds chosen) to another user, then watch the job's progress bar and read
its summary.

The request only writes a ``loom_transfer_jobs`` row (:func:`engine.automation.transfer.request`):
a worker (``loom worker``, or the one ``loom serve`` / ``loom demo`` start) runs it, so
the web needs no Redis. The job page polls its progress fragment with htmx every
:data:`POLL_SECONDS` until the job ends; without JavaScript, reloading shows the same.

Admins only (a sales manager's team is not offered it); every form carries a CSRF token.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from engine import accounts
from engine.automation import transfer
from web.admin import bp
from web.admin.guard import admin_required
from web.admin.users import _user_or_404
from web.auth import current_actor
from web.i18n import lang
from web.records.display import format_moment
from web.state import runtime

#: Seconds between two looks of the job page at its progress.
POLL_SECONDS = 1


class TransferForm(FlaskForm):
    """Who receives the records, and which kinds of records move."""

    to_user = SelectField("to_user", choices=[], validators=[DataRequired()])
    entities = SelectMultipleField("entities", choices=[])


def receivers(username: str) -> list[dict]:
    """The active users who may receive ``username``'s records, by username."""
    rt = runtime()
    return [u for u in accounts.list_users(rt.db, rt.tables)
            if u["active"] and u["username"] != username]


def entity_labels() -> dict[str, str]:
    """The transferable entities' plural labels in the reader's language, in order."""
    model, current = runtime().model, lang()
    return {name: model.entity(name).plural_label.get(current)
            for name in transfer.entities_of(model)}


def _form(username: str) -> TransferForm:
    form = TransferForm()
    form.to_user.choices = [SelectChoice("", _("Choose a user"))] + [
        SelectChoice(u["username"], u["display_name"] or u["username"])
        for u in receivers(username)]
    form.entities.choices = [SelectChoice(n, label) for n, label in entity_labels().items()]
    if not request.form:
        form.entities.data = list(entity_labels())
    return form


def _page(user: dict, form: TransferForm, status: int = 200):  # noqa: ANN202
    rt = runtime()
    return render_template(
        "admin/transfer.html", user=user, form=form, labels=entity_labels(),
        counts=transfer.counts(rt, user["id"]),
        jobs=transfer.recent(rt, user_id=user["id"], limit=10),
        format_at=format_moment), status


@bp.route("/users/<username>/transfer")
@admin_required
def transfer_form(username: str):  # noqa: ANN201
    user = _user_or_404(username)
    return _page(user, _form(username))


@bp.route("/users/<username>/transfer", methods=["POST"])
@admin_required
def start_transfer(username: str):  # noqa: ANN201
    user = _user_or_404(username)
    form = _form(username)
    if not form.validate_on_submit():
        return _page(user, form, 400 if form.csrf_token.errors else 422)
    if not form.entities.data:
        form.entities.errors = [_("Choose at least one kind of record.")]
        return _page(user, form, 422)
    rt = runtime()
    receiver = accounts.find_user(rt.db, rt.tables, form.to_user.data)
    try:
        job_id = transfer.request(rt, current_actor(), user["id"], receiver["id"],
                                  entities=form.entities.data)
    except transfer.TransferError as error:
        flash(error.message.get(lang()), "danger")
        return _page(user, form, 422)
    flash(_("The transfer of the records of %(name)s has started.", name=username), "success")
    return redirect(url_for("admin.transfer_job", job_id=job_id))


def _job_or_404(job_id: int) -> dict:
    job = transfer.get(runtime(), job_id)
    if job is None:
        abort(404, description="no such transfer")
    return job


def _progress_context(job: dict) -> dict:
    total = job["total"]
    handled = job["done"] + job["failed"]
    percent = 100 if job["status"] == transfer.DONE else (
        int(handled * 100 / total) if total else 0)
    return {"job": job, "percent": percent, "finished": job["status"] in (
        transfer.DONE, transfer.FAILED), "poll": POLL_SECONDS, "reader_lang": lang(),
        "format_at": format_moment}


@bp.route("/transfers/<int:job_id>")
@admin_required
def transfer_job(job_id: int):  # noqa: ANN201
    return render_template("admin/transfer_job.html", **_progress_context(_job_or_404(job_id)))


@bp.route("/transfers/<int:job_id>/progress")
@admin_required
def transfer_progress(job_id: int):  # noqa: ANN201
    return render_template("admin/_transfer_progress.html",
                           **_progress_context(_job_or_404(job_id)))
