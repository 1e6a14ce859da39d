"""The users page: users with their roles and teams, create a user, deactivate one;
a page per user to grant and revoke roles.

Admins only; every form carries a CSRF token (Flask-WTF). Accounts are read and
written through :mod:`engine.accounts` (users are not an entity); its
``AccountError`` messages are shown as they are (they are safe to show).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from engine import accounts
from engine.model import LANGUAGES
from web.admin import bp
from web.admin.guard import admin_required, forget_cached_actors
from web.auth import current_actor, zone_names
from web.i18n import lang
from web.state import runtime

#: Shortest password the form accepts (the engine checks again).
MIN_PASSWORD = 8


class UserForm(FlaskForm):
    """A new user: name, contact, first password, language, time zone and roles."""

    username = StringField("username", validators=[DataRequired(), Length(max=150)])
    display_name = StringField("display_name", validators=[Optional(), Length(max=255)])
    email = StringField("email", validators=[Optional(), Length(max=254)])
    password = PasswordField("password", validators=[DataRequired(),
                                                     Length(min=MIN_PASSWORD, max=1024)])
    lang = SelectField("lang", choices=[SelectChoice(code, code) for code in LANGUAGES],
                       default="en")
    time_zone = SelectField("time_zone", choices=[], default="")
    roles = SelectMultipleField("roles", choices=[])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (deactivate)."""


class RoleForm(FlaskForm):
    """One role to grant or revoke."""

    role = StringField("role", validators=[DataRequired(), Length(max=63)])


def _user_form() -> UserForm:
    form = UserForm()
    current = lang()
    form.roles.choices = [SelectChoice(name, role.label.get(current))
                          for name, role in sorted(runtime().model.roles.items())]
    organisation = runtime().clock.zone_name
    form.time_zone.choices = [SelectChoice("", _("The organisation's (%(zone)s)", zone=organisation)),
                              *(SelectChoice(z, z) for z in zone_names())]
    return form


def _page(form: UserForm, status: int = 200):  # noqa: ANN202
    rt = runtime()
    users = accounts.list_users(rt.db, rt.tables)
    teams = accounts.list_teams(rt.db, rt.tables)
    team_names: dict[str, list[str]] = {}
    for team in teams:
        for member in team["members"]:
            team_names.setdefault(member, []).append(team["name"])
    current = lang()
    role_labels = {name: role.label.get(current) for name, role in rt.model.roles.items()}
    return render_template("admin/users.html", users=users, teams=teams, team_names=team_names,
                           role_labels=role_labels, form=form, confirm=ConfirmForm()), status


@bp.route("/users")
@admin_required
def users():  # noqa: ANN201
    return _page(_user_form())


@bp.route("/users", methods=["POST"])
@admin_required
def create_user():  # noqa: ANN201
    form = _user_form()
    if not form.validate_on_submit():
        return _page(form, 422)
    rt = runtime()
    try:
        accounts.create_user(rt.db, rt.tables, form.username.data.strip(),
                             password=form.password.data, email=form.email.data or None,
                             display_name=form.display_name.data or "", lang=form.lang.data,
                             roles=form.roles.data, time_zone=form.time_zone.data or None,
                             clock=rt.clock)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return _page(form, 422)
    flash(_("User %(name)s created.", name=form.username.data.strip()), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<username>/deactivate", methods=["POST"])
@admin_required
def deactivate_user(username: str):  # noqa: ANN201
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, description="the form expired; reload the page and try again")
    rt = runtime()
    me = accounts.get_user(rt.db, rt.tables, current_actor().user_id)
    if me and me["username"] == username:
        flash(_("You cannot deactivate your own account."), "danger")
        return redirect(url_for("admin.users"))
    try:
        accounts.deactivate_user(rt.db, rt.tables, username, clock=rt.clock)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return redirect(url_for("admin.users"))
    flash(_("User %(name)s deactivated.", name=username), "success")
    return redirect(url_for("admin.users"))


def _user_or_404(username: str) -> dict:
    rt = runtime()
    user = accounts.find_user(rt.db, rt.tables, username)
    if user is None:
        abort(404, description="no such user")
    return user


def _user_page(user: dict, form: RoleForm | None = None, status: int = 200):  # noqa: ANN202
    rt = runtime()
    current = lang()
    role_labels = {name: role.label.get(current) for name, role in rt.model.roles.items()}
    grantable = sorted(name for name in rt.model.roles if name not in user["roles"])
    teams = [t for t in accounts.list_teams(rt.db, rt.tables)
             if user["username"] in t["members"] or t["manager"] == user["username"]]
    return render_template("admin/user.html", user=user, role_labels=role_labels,
                           grantable=grantable, teams=teams, form=form or RoleForm(),
                           confirm=ConfirmForm()), status


def _is_me(username: str) -> bool:
    rt = runtime()
    me = accounts.get_user(rt.db, rt.tables, current_actor().user_id)
    return me is not None and me["username"] == username


@bp.route("/users/<username>")
@admin_required
def user_detail(username: str):  # noqa: ANN201
    return _user_page(_user_or_404(username))


@bp.route("/users/<username>/roles", methods=["POST"])
@admin_required
def grant_role(username: str):  # noqa: ANN201
    user = _user_or_404(username)
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(user, form, 422)
    rt = runtime()
    role = form.role.data.strip()
    if role not in rt.model.roles:
        flash(_("Unknown role %(role)s.", role=role), "danger")
        return _user_page(user, form, 422)
    try:
        accounts.grant_role(rt.db, rt.tables, username, role)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return _user_page(user, form, 422)
    forget_cached_actors()
    flash(_("%(name)s now has the role %(role)s.", name=username,
            role=rt.model.roles[role].label.get(lang())), "success")
    return redirect(url_for("admin.user_detail", username=username))


@bp.route("/users/<username>/roles/revoke", methods=["POST"])
@admin_required
def revoke_role(username: str):  # noqa: ANN201
    user = _user_or_404(username)
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(user, form, 422)
    rt = runtime()
    role = form.role.data.strip()
    # A role the metadata no longer declares may still be held; it can be taken away.
    if role not in rt.model.roles and role not in user["roles"]:
        flash(_("Unknown role %(role)s.", role=role), "danger")
        return _user_page(user, form, 422)
    label = rt.model.roles[role].label.get(lang()) if role in rt.model.roles else role
    if role not in user["roles"]:
        flash(_("%(name)s does not have the role %(role)s.", name=username, role=label), "danger")
        return _user_page(user, form, 422)
    if _is_me(username) and _last_admin_role(user["roles"], role):
        flash(_("You cannot revoke your own last administrator role."), "danger")
        return _user_page(user, form, 422)
    try:
        accounts.revoke_role(rt.db, rt.tables, username, role)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return _user_page(user, form, 422)
    forget_cached_actors()
    flash(_("%(name)s no longer has the role %(role)s.", name=username, role=label), "success")
    return redirect(url_for("admin.user_detail", username=username))


def _last_admin_role(held: list[str], role: str) -> bool:
    """True when ``role`` makes its holder an admin and none of their other roles does."""
    roles = runtime().model.roles

    def admin(name: str) -> bool:
        return name in roles and bool(roles[name].admin)

    return admin(role) and not any(admin(r) for r in held if r != role)
