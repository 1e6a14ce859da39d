"""The bell in the top bar and the ``/notifications`` page of the logged-in user.

The bell shows the user's unread count on every page (one COUNT on the indexed
``(user_id, read_at, id)``) and refreshes itself every :data:`POLL_SECONDS` through
htmx (``GET /notifications/badge`` returns the bell alone). The page lists the
user's notifications newest first, pages by ``before_id``, and marks one or all read
(POST, CSRF). Every query names the session user's id: nobody reads or marks another
user's notifications. Reads and writes go through :mod:`engine.automation.notifications`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from engine.automation import notifications as inbox
from web.auth import auth_method, current_actor, login_required, safe_next
from web.i18n import lang, text
from web.records.display import format_moment
from web.state import runtime

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

#: Notifications per page.
PAGE_SIZE = 20
#: How often an open page asks for the unread count again (htmx polling).
POLL_SECONDS = 60
#: The badge shows at most this number, then "99+".
BADGE_MAX = 99


class MarkForm(FlaskForm):
    """A mark-as-read button: only its CSRF token; the ids come from the button."""


def _session_user_id() -> int | None:
    """The logged-in person's id (pages only; API tokens have their own endpoint)."""
    if current_actor() is None or auth_method() != "session":
        return None
    return int(current_user.id)


def unread_notifications() -> int | None:
    """The logged-in user's unread count (once per request), None without a session."""
    if "loom_unread" not in g:
        user_id = _session_user_id()
        if user_id is None:
            g.loom_unread = None
        else:
            rt = runtime()
            with rt.db.read() as conn:
                g.loom_unread = inbox.unread_count(conn, rt.tables, user_id)
    return g.loom_unread


def bell_label(count: int | None) -> str:
    """The bell's accessible name: "Notifications (3 unread)"."""
    if not count:
        return _("Notifications")
    return _("Notifications (%(count)d unread)", count=count)


def _entity_label(entity: str | None) -> str:
    model = runtime().model
    if entity and model.has_entity(entity):
        return text(model.entities[entity].label)
    return entity or ""


def _shown(row: dict[str, Any], current: str) -> dict[str, Any]:
    link = None
    if row["entity"] and row["record_id"] is not None and runtime().model.has_entity(row["entity"]):
        link = url_for("records.detail", entity=row["entity"], id=row["record_id"])
    return {"id": row["id"], "kind": row["kind"], "unread": row["read_at"] is None,
            "title": inbox.localized(row["title"], current),
            "body": inbox.localized(row["body"], current),
            "at": format_moment(row["created_at"]), "link": link,
            "entity": _entity_label(row["entity"])}


def _positive_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= inbox.MAX_ID:
        abort(400, description=_("Not a page of notifications."))
    return int(raw)


@bp.route("", endpoint="page")
@login_required
def page():
    user_id = int(current_user.id)
    unread_only = request.args.get("unread") == "1"
    before_id = _positive_arg("before_id")
    rt = runtime()
    with rt.db.read() as conn:
        found = inbox.recent(conn, rt.tables, user_id, limit=PAGE_SIZE, unread_only=unread_only,
                             before_id=before_id)
    current = lang()
    older = None
    if found.next_before_id is not None:
        older = url_for("notifications.page", before_id=found.next_before_id,
                        **({"unread": "1"} if unread_only else {}))
    return render_template("notifications/list.html", items=[_shown(r, current) for r in found.items],
                           unread_only=unread_only, first_page=before_id is None, older=older,
                           form=MarkForm(), here=request.full_path.rstrip("?"))


@bp.route("/read", methods=["POST"], endpoint="read")
@login_required
def read():
    form = MarkForm()
    if not form.validate_on_submit():
        abort(400, description=_("The form expired; please submit it again."))
    ids = None
    if request.form.get("all") != "1":
        try:
            ids = [int(v) for v in request.form.getlist("id")]
        except ValueError:
            abort(400, description=_("Not a notification."))
    rt = runtime()
    try:
        with rt.db.write() as conn:
            inbox.mark_read(conn, rt.tables, int(current_user.id), ids, at=rt.clock.now())
    except inbox.NotificationError:
        abort(400, description=_("Not a notification."))
    return redirect(safe_next(request.form.get("next"), url_for("notifications.page")))


@bp.route("/badge", endpoint="badge")
def badge():
    """The bell alone, for htmx polling; 204 (nothing to swap) without a session, so an
    expired session never swaps a login page into the top bar."""
    if unread_notifications() is None:
        return "", 204
    return render_template("notifications/_bell.html")


def init_app(app: Any) -> None:
    """Register the pages and the bell's template helpers."""
    app.register_blueprint(bp)
    app.jinja_env.globals.update(unread_notifications=unread_notifications,
                                 bell_label=bell_label, bell_poll_seconds=POLL_SECONDS,
                                 bell_max=BADGE_MAX)
