"""Generated pages for people: lists, record pages and forms of every entity.

Routes live in the sub-modules (lists, pages, editing, search); each registers on
:data:`bp`. Every page reads and writes through the record service with the
request's actor, so what a page shows is what the engine allows.
"""

from __future__ import annotations

from flask import Blueprint, redirect

from web.auth import current_actor, login_required

bp = Blueprint("records", __name__, url_prefix="/r")


@bp.route("/")
@login_required
def home():
    """The first entity the user may read (the shipped CRM starts with accounts)."""
    from web.nav import navigation

    items = navigation()
    preferred = [i for i in items if i["entity"] in ("deal", "account")]
    target = (preferred or items)
    if not target:
        from flask import render_template

        return render_template("records/empty.html", actor=current_actor())
    return redirect(target[0]["url"])


from web.records import editing, export, lists, pages, search, workflows  # noqa: F401  (routes register on bp)
