"""The workflow runs page: every run with its trigger, condition result, each action's
outcome, error, attempts and duration; filter by status and workflow; retry a failed run.

Admins only; the retry form carries a CSRF token (the app-wide guard).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.automation.runner import workflows_of
from engine.automation.runs import list_runs, retry
from web.admin import bp
from web.admin.guard import admin_required
from web.i18n import text
from web.records.display import format_moment
from web.state import runtime

#: Runs one page lists.
PAGE = 50
STATUSES = ("queued", "succeeded", "skipped", "failed", "stopped")


@bp.route("/runs")
@admin_required
def runs():
    rt = runtime()
    status = request.args.get("status") or None
    workflow = request.args.get("workflow") or None
    known = workflows_of(rt.model)
    if (status is not None and status not in STATUSES) or (
            workflow is not None and workflow not in known):
        abort(400, description=_("unknown status or workflow"))
    before = request.args.get("before", type=int)
    rows = list_runs(rt, status=status, workflow=workflow, limit=PAGE, before_id=before)
    return render_template("admin/runs.html", rows=rows, status=status, workflow=workflow,
                           statuses=STATUSES, workflows=sorted(known), format_at=format_moment,
                           # Runs of a workflow since removed keep its name.
                           workflow_label=lambda name: text(known[name].label) if name in known
                           else name,
                           next_before=rows[-1]["id"] if len(rows) == PAGE else None)


@bp.route("/runs/<int:run_id>/retry", methods=["POST"])
@admin_required
def retry_run(run_id: int):
    if retry(runtime(), run_id):
        flash(_("Run %(id)s will run again at the worker's next turn.", id=run_id), "success")
    else:
        flash(_("Run %(id)s neither failed nor stopped, so it can't be retried.", id=run_id),
              "warning")
    return redirect(request.referrer or url_for("admin.runs"))
