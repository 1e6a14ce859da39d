"""Manual workflows from the record page: the button's POST runs the workflow now."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from engine.automation.runs import WorkflowRefused, start_manual
from engine.records.errors import RecordError
from web.auth import login_required
from web.i18n import lang
from web.records import bp
from web.records.common import readable


@bp.route("/<entity>/<int:id>/workflows/<name>", methods=["POST"], endpoint="run_workflow")
@login_required
def run_workflow(entity: str, id: int, name: str):
    """Run manual workflow ``name`` on the record (the app-wide CSRF guard applies)."""
    rt, _ent, actor = readable(entity)
    try:
        outcome = start_manual(rt, actor, name, entity, id)
    except WorkflowRefused as exc:
        flash(exc.message.get(lang()), "danger")
    else:
        if outcome.status == "succeeded":
            flash(_("Done."), "success")
        elif outcome.status == "skipped":
            flash(_("Nothing to do: the workflow's condition does not hold."), "warning")
        else:
            flash(_("The workflow failed and changed nothing: %(error)s",
                    error=outcome.error or ""), "danger")
    return redirect(url_for("records.detail", entity=entity, id=id))


def run_status(status: str) -> str:
    """A run's status as the user reads it."""
    return {"queued": _("queued"), "succeeded": _("succeeded"),
            "skipped": _("skipped"), "failed": _("failed"), "stopped": _("stopped")}.get(
        status, status)


@bp.route("/approvals/<int:approval_id>/<verdict>", methods=["POST"], endpoint="decide_approval")
@login_required
def decide_approval(approval_id: int, verdict: str):
    """Approve or reject (the app-wide CSRF guard applies); back to the record."""
    from flask import abort, request

    from engine.automation.approvals import ApprovalRefused, decide
    from web.auth import current_actor
    from web.state import runtime

    if verdict not in ("approve", "reject"):
        abort(404)
    rt = runtime()
    comment = (request.form.get("comment") or "").strip() or None
    try:
        result = decide(rt, current_actor(), approval_id, approve=verdict == "approve",
                        comment=comment)
    except ApprovalRefused as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message.get(lang()), "danger")
        return redirect(request.referrer or url_for("records.home"))
    except RecordError as exc:
        flash(_("The decision could not be saved: %(error)s",
                error=getattr(exc, "message", None) and exc.message.get(lang()) or str(exc)),
              "danger")
        return redirect(request.referrer or url_for("records.home"))
    flash(_("Approved.") if result["status"] == "approved" else _("Rejected."), "success")
    record = result["record"]
    return redirect(url_for("records.detail", entity=request.form.get("entity") or "contract",
                            id=record["id"]))
