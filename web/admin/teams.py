"""The teams page: the team tree with managers and members; create a team, change
its manager or parent, add and remove members.

Admins only; every form carries a CSRF token (Flask-WTF). Teams are read and
written through :mod:`engine.accounts`; its ``AccountError`` messages (an unknown
user or team, a duplicate name, a cycle) are shown as they are.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from engine import accounts
from engine.accounts.teams import MAX_TEAM_NAME
from web.admin import bp
from web.admin.guard import admin_required, forget_cached_actors
from web.state import runtime


class TeamForm(FlaskForm):
    """A new team: its name, and optionally its parent team and manager."""

    name = StringField("name", validators=[DataRequired(), Length(max=MAX_TEAM_NAME)])
    parent = StringField("parent", validators=[Optional(), Length(max=MAX_TEAM_NAME)])
    manager = StringField("manager", validators=[Optional(), Length(max=150)])


class ManagerForm(FlaskForm):
    """A team's manager (empty: none)."""

    manager = StringField("manager", validators=[Optional(), Length(max=150)])


class ParentForm(FlaskForm):
    """A team's parent (empty: a top-level team)."""

    parent = StringField("parent", validators=[Optional(), Length(max=MAX_TEAM_NAME)])


class MemberForm(FlaskForm):
    """A user to add to a team or take out of it."""

    username = StringField("username", validators=[DataRequired(), Length(max=150)])


class ConfirmForm(FlaskForm):
    """Only the CSRF token, for the forms written out row by row in the template."""


def _name(value: str | None) -> str | None:
    """A team or user name from a form, trimmed; ``None`` when left empty."""
    return (value or "").strip() or None


def tree(teams: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """``(depth, team)`` pairs, each team followed by the teams below it (by name).

    >>> [(d, t["name"]) for d, t in tree([{"name": "B", "parent": "A"}, {"name": "A", "parent": None}])]
    [(0, 'A'), (1, 'B')]
    """
    names = {t["name"] for t in teams}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for team in teams:
        parent = team["parent"] if team["parent"] in names else None
        children.setdefault(parent, []).append(team)
    out: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    todo = [(0, t) for t in sorted(children.get(None, []), key=lambda t: t["name"], reverse=True)]
    while todo:
        depth, team = todo.pop()
        if team["name"] in seen:
            continue
        seen.add(team["name"])
        out.append((depth, team))
        below = sorted(children.get(team["name"], []), key=lambda t: t["name"])
        todo.extend((depth + 1, t) for t in reversed(below))
    # Teams caught in a loop (never made here, but the tables allow it) are still listed.
    out.extend((0, t) for t in teams if t["name"] not in seen)
    return out


def _below(teams: list[dict[str, Any]], name: str) -> set[str]:
    """``name`` and the names of every team below it (not allowed as its parent)."""
    found, grew = {name}, True
    while grew:
        more = {t["name"] for t in teams if t["parent"] in found} - found
        found |= more
        grew = bool(more)
    return found


def _page(form: TeamForm | None = None, status: int = 200):  # noqa: ANN202
    rt = runtime()
    teams = accounts.list_teams(rt.db, rt.tables)
    users = [u for u in accounts.list_users(rt.db, rt.tables) if u["active"]]
    parents: dict[str, list[str]] = {}
    for team in teams:
        below = _below(teams, team["name"])
        parents[team["name"]] = [t["name"] for t in teams if t["name"] not in below]
    return render_template("admin/teams.html", rows=tree(teams), teams=teams, parents=parents,
                           usernames=[u["username"] for u in users], form=form or TeamForm(),
                           confirm=ConfirmForm()), status


def _team_or_404(team_id: int) -> str:
    rt = runtime()
    for team in accounts.list_teams(rt.db, rt.tables):
        if team["id"] == team_id:
            return team["name"]
    abort(404, description="no such team")


@bp.route("/teams")
@admin_required
def teams():  # noqa: ANN201
    return _page()


@bp.route("/teams", methods=["POST"])
@admin_required
def create_team():  # noqa: ANN201
    form = TeamForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    rt = runtime()
    name = form.name.data.strip()
    try:
        accounts.create_team(rt.db, rt.tables, name, parent=_name(form.parent.data),
                             manager=_name(form.manager.data))
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return _page(form, 422)
    forget_cached_actors()
    flash(_("Team %(name)s created.", name=name), "success")
    return redirect(url_for("admin.teams"))


def _change(team_id: int, form: FlaskForm, change: Any, done: Any):  # noqa: ANN202
    """Check ``form``, run ``change(team_name)``, then redirect with the message
    ``done(team_name)``; show the page again (422) with the error instead."""
    team = _team_or_404(team_id)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "danger")
        return _page(status=422)
    try:
        change(team)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return _page(status=422)
    forget_cached_actors()
    flash(done(team), "success")
    return redirect(url_for("admin.teams", _anchor=f"team-{team_id}"))


@bp.route("/teams/<int:team_id>/manager", methods=["POST"])
@admin_required
def set_team_manager(team_id: int):  # noqa: ANN201
    form = ManagerForm()
    rt = runtime()
    return _change(team_id, form, lambda team: accounts.set_manager(
        rt.db, rt.tables, team, _name(form.manager.data)),
        lambda team: _("Manager of %(team)s changed.", team=team))


@bp.route("/teams/<int:team_id>/parent", methods=["POST"])
@admin_required
def set_team_parent(team_id: int):  # noqa: ANN201
    form = ParentForm()
    rt = runtime()
    return _change(team_id, form, lambda team: accounts.set_parent(
        rt.db, rt.tables, team, _name(form.parent.data)),
        lambda team: _("Parent of %(team)s changed.", team=team))


@bp.route("/teams/<int:team_id>/members", methods=["POST"])
@admin_required
def add_team_member(team_id: int):  # noqa: ANN201
    form = MemberForm()
    rt = runtime()
    return _change(team_id, form, lambda team: accounts.add_member(
        rt.db, rt.tables, team, form.username.data.strip()),
        lambda team: _("Member added to %(team)s.", team=team))


@bp.route("/teams/<int:team_id>/members/remove", methods=["POST"])
@admin_required
def remove_team_member(team_id: int):  # noqa: ANN201
    form = MemberForm()
    rt = runtime()
    return _change(team_id, form, lambda team: accounts.remove_member(
        rt.db, rt.tables, team, form.username.data.strip()),
        lambda team: _("Member removed from %(team)s.", team=team))
