"""The users page: users with their roles and teams, create a user; a page per user to
edit their name, e-mail, language and time zone, set a new password (the admin types it;
it is never shown), deactivate them (after a confirmation page, which works without
JavaScript and offers to give their open records to someone else, see
:mod:`web.admin.transfers`) or reactivate them, and grant and revoke roles.

Admins only; every form carries a CSRF token (Flask-WTF). Accounts are read and
written through :mod:`engine.accounts` (users are not an entity); its
``AccountError`` messages are shown as they are (they are safe to show).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from engine import accounts
from engine.accounts import users as accounts_limits
from engine.automation import transfer
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
    """A button that only needs its CSRF token (reactivate, revoke)."""


#: The value of ``confirm`` the deactivation page posts (a post without it asks first).
CONFIRMED = "yes"
#: What an e-mail address must look like here (the engine checks again).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class DetailsForm(FlaskForm):
    """What an admin may change of a user: name, e-mail, language and time zone."""

    display_name = StringField("display_name", validators=[
        Optional(), Length(max=accounts_limits.MAX_DISPLAY_NAME,
                           message=_l("At most %(max)d characters."))])
    email = StringField("email", validators=[
        Optional(), Length(max=accounts_limits.MAX_EMAIL, message=_l("At most %(max)d characters.")),
        Regexp(EMAIL_PATTERN, message=_l("Enter an e-mail address such as name@example.com."))])
    lang = SelectField("lang", choices=[SelectChoice(code, code) for code in LANGUAGES])
    time_zone = SelectField("time_zone", choices=[], default="")


class PasswordForm(FlaskForm):
    """A new password for a user, typed twice by the admin."""

    password = PasswordField("password", validators=[
        DataRequired(message=_l("Enter the new password.")),
        Length(min=MIN_PASSWORD, max=1024,
               message=_l("Between %(min)d and %(max)d characters."))])
    confirm = PasswordField("confirm", validators=[
        EqualTo("password", message=_l("The two passwords differ."))])


class RoleForm(FlaskForm):
    """One role to grant or revoke."""

    role = StringField("role", validators=[DataRequired(), Length(max=63)])


def _user_form() -> UserForm:
    form = UserForm()
    current = lang()
    form.roles.choices = [SelectChoice(name, role.label.get(current))
                          for name, role in sorted(runtime().model.roles.items())]
    form.time_zone.choices = _zone_choices()
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


def _user_or_404(username: str) -> dict:
    rt = runtime()
    user = accounts.find_user(rt.db, rt.tables, username)
    if user is None:
        abort(404, description="no such user")
    return user


def _zone_choices() -> list[SelectChoice]:
    organisation = runtime().clock.zone_name
    return [SelectChoice("", _("The organisation's (%(zone)s)", zone=organisation)),
            *(SelectChoice(z, z) for z in zone_names())]


def _details_form(user: dict, formdata: bool = False) -> DetailsForm:
    """The details form, filled from ``user`` (or from the post when ``formdata``)."""
    data = {"display_name": user["display_name"], "email": user["email"] or "",
            "lang": user["lang"], "time_zone": user["time_zone"] or ""}
    form = DetailsForm() if formdata else DetailsForm(formdata=None, data=data)
    form.time_zone.choices = _zone_choices()
    return form


def _user_page(user: dict, form: RoleForm | None = None, status: int = 200, *,
               details: DetailsForm | None = None,
               password: PasswordForm | None = None):  # noqa: ANN202
    rt = runtime()
    current = lang()
    role_labels = {name: role.label.get(current) for name, role in rt.model.roles.items()}
    grantable = sorted(name for name in rt.model.roles if name not in user["roles"])
    teams = [t for t in accounts.list_teams(rt.db, rt.tables)
             if user["username"] in t["members"] or t["manager"] == user["username"]]
    return render_template("admin/user.html", user=user, role_labels=role_labels,
                           grantable=grantable, teams=teams, form=form or RoleForm(formdata=None),
                           confirm=ConfirmForm(), details=details or _details_form(user),
                           password=password or PasswordForm(formdata=None),
                           me=_is_me(user["username"])), status


def _expired(form: FlaskForm) -> bool:
    """True when the form failed on its CSRF token only (the page was open too long)."""
    return bool(form.csrf_token.errors) if hasattr(form, "csrf_token") else False


@bp.route("/users/<username>/details", methods=["POST"])
@admin_required
def edit_user(username: str):  # noqa: ANN201
    user = _user_or_404(username)
    form = _details_form(user, formdata=True)
    if not form.validate_on_submit():
        return _user_page(user, details=form, status=400 if _expired(form) else 422)
    rt = runtime()
    try:
        accounts.update_user(rt.db, rt.tables, username,
                             display_name=(form.display_name.data or "").strip(),
                             email=(form.email.data or "").strip() or None, lang=form.lang.data,
                             time_zone=form.time_zone.data or None)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return _user_page(user, details=form, status=422)
    forget_cached_actors()  # the language and time zone travel with the actor
    flash(_("The details of %(name)s were saved.", name=username), "success")
    return redirect(url_for("admin.user_detail", username=username))


@bp.route("/users/<username>/password", methods=["POST"])
@admin_required
def reset_password(username: str):  # noqa: ANN201
    user = _user_or_404(username)
    form = PasswordForm()
    if not form.validate_on_submit():
        return _user_page(user, password=form, status=400 if _expired(form) else 422)
    rt = runtime()
    try:
        accounts.set_password(rt.db, rt.tables, username, form.password.data, clock=rt.clock)
    except accounts.AccountError as error:  # PasswordTooWeak is one
        form.password.errors = [str(error)]
        return _user_page(user, password=form, status=422)
    flash(_("%(name)s has a new password. Tell them in person or over a channel you trust.",
            name=username), "success")
    return redirect(url_for("admin.user_detail", username=username))


@bp.route("/users/<username>/deactivate", methods=["GET", "POST"])
@admin_required
def deactivate_user(username: str):  # noqa: ANN201
    """GET: the confirmation page; POST from it (``confirm=yes``): deactivate."""
    user = _user_or_404(username)
    back = url_for("admin.user_detail", username=username)
    if _is_me(username):
        flash(_("You cannot deactivate your own account."), "danger")
        return redirect(back)
    if not user["active"]:
        flash(_("%(name)s is already inactive.", name=username), "info")
        return redirect(back)
    form = ConfirmForm()
    if request.method == "GET" or request.form.get("confirm") != CONFIRMED:
        if request.method == "POST" and not form.validate_on_submit():
            abort(400, description="the form expired; reload the page and try again")
        return _deactivate_page(user, form)
    if not form.validate_on_submit():
        abort(400, description="the form expired; reload the page and try again")
    rt = runtime()
    job_id = None
    heir = (request.form.get("transfer_to") or "").strip()
    if heir:  # one-click transfer of their open records first (see web.admin.transfers)
        receiver = accounts.find_user(rt.db, rt.tables, heir)
        try:
            if receiver is None:
                raise transfer.TransferError(_("Unknown user %(name)s.", name=heir))
            job_id = transfer.request(rt, current_actor(), user["id"], receiver["id"])
        except transfer.TransferError as error:
            flash(error.message.get(lang()), "danger")
            return _deactivate_page(user, form, 422)
    try:
        accounts.deactivate_user(rt.db, rt.tables, username, clock=rt.clock)
    except accounts.AccountError as error:
        flash(str(error), "danger")
        return redirect(back)
    forget_cached_actors()
    flash(_("User %(name)s deactivated.", name=username), "success")
    if job_id is not None:
        return redirect(url_for("admin.transfer_job", job_id=job_id))
    return redirect(url_for("admin.users"))


def _deactivate_page(user: dict, form: ConfirmForm, status: int = 200):  # noqa: ANN202
    """The confirmation page, offering to give the user's open records to someone else."""
    rt = runtime()
    model, current = rt.model, lang()
    labels = {name: model.entity(name).plural_label.get(current)
              for name in transfer.entities_of(model)}
    heirs = [u for u in accounts.list_users(rt.db, rt.tables)
             if u["active"] and u["username"] != user["username"]]
    return render_template("admin/deactivate.html", user=user, confirm=form,
                           confirmed=CONFIRMED, labels=labels, heirs=heirs,
                           counts=transfer.counts(rt, user["id"])), status


@bp.route("/users/<username>/reactivate", methods=["POST"])
@admin_required
def reactivate_user(username: str):  # noqa: ANN201
    _user_or_404(username)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, description="the form expired; reload the page and try again")
    rt = runtime()
    accounts.reactivate_user(rt.db, rt.tables, username)
    forget_cached_actors()
    flash(_("User %(name)s can log in again.", name=username), "success")
    return redirect(url_for("admin.user_detail", username=username))


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
