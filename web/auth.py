"""Who is asking: login and logout for people, bearer tokens for programs.

People log in with a password (argon2id, checked by :mod:`engine.accounts`); failed
attempts are throttled per user name and address across all processes. Programs send
``Authorization: Bearer <token>`` (tokens are stored hashed and can be revoked).
Either way the request gets one engine :class:`~engine.permissions.Actor`, which the
record service checks on every call: this module decides *who*, never *what*.
"""

from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import (Blueprint, abort, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine import accounts
from engine.model import LANGUAGES
from engine.permissions import Actor
from web.extensions import csrf, login_manager
from web.i18n import SESSION_KEY, lang
from web.state import loom_state, runtime

bp = Blueprint("auth", __name__)

#: Prefix of the Authorization header value carrying an API token.
BEARER = "bearer "


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login sees it (the id only; the Actor has the rest)."""

    def __init__(self, user: dict[str, Any]) -> None:
        self.id = user["id"]
        self.username = user["username"]
        self.display_name = user.get("display_name") or user["username"]
        self.lang = user.get("lang") or "en"
        #: An IANA name, or None for the organisation's zone.
        self.time_zone = user.get("time_zone")


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    rt = runtime()
    try:
        user = accounts.get_user(rt.db, rt.tables, int(user_id))
    except (TypeError, ValueError):
        return None
    return SessionUser(user) if user and user.get("active") else None


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:len(BEARER)].lower() == BEARER:
        return header[len(BEARER):].strip()
    return None


def current_actor() -> Actor | None:
    """The engine actor of this request: its bearer token's user, else the session's user."""
    if "loom_actor" in g:
        return g.loom_actor
    rt = runtime()
    actor = None
    token = _bearer_token()
    if token is not None:
        user_id = accounts.verify_token(rt.db, rt.tables, token, clock=rt.clock)
        if user_id is not None:
            actor = loom_state().actor(user_id, lang())
        g.loom_auth = "token"
    elif current_user.is_authenticated:
        actor = loom_state().actor(current_user.id, lang())
        g.loom_auth = "session"
    g.loom_actor = actor
    return actor


def auth_method() -> str | None:
    """``token``, ``session`` or ``None``, after :func:`current_actor` ran."""
    current_actor()
    return g.get("loom_auth")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """For pages: people who are not logged in go to the login page and come back."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_actor() is None or auth_method() != "session":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so an expired one re-shows the form (400)
def login():  # noqa: ANN201
    from flask_babel import gettext as _

    form = LoginForm()
    status = 200
    if request.method == "POST" and not form.validate():
        status = 400
        form.password.data = ""
    elif form.validate_on_submit():
        rt = runtime()
        username = form.username.data.strip()
        address = request.remote_addr or "?"
        throttle = accounts.LoginThrottle(rt.db, rt.tables, clock=rt.clock)
        wait = throttle.retry_after(username, address)
        if wait:
            flash(_("Too many failed attempts. Try again in %(seconds)d seconds.", seconds=wait),
                  "danger")
            status = 429
        else:
            user_id = accounts.authenticate(rt.db, rt.tables, username, form.password.data,
                                            clock=rt.clock)
            if user_id is None:
                throttle.failed(username, address)
                flash(_("Wrong user name or password."), "danger")
                status = 401
            else:
                throttle.succeeded(username, address)
                user = accounts.get_user(rt.db, rt.tables, user_id)
                chosen = session.get(SESSION_KEY)
                session.clear()  # a new session on login: no fixation
                login_user(SessionUser(user))
                session[SESSION_KEY] = chosen if chosen in LANGUAGES else user.get("lang", "en")
                return redirect(safe_next(form.next.data, url_for("home")))
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():  # noqa: ANN201
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/lang", methods=["POST"])
def switch_language():  # noqa: ANN201
    """Switch the interface language (kept in the session and the user's profile)."""
    chosen = request.form.get("lang", "")
    if chosen not in LANGUAGES:
        abort(400, description=f"unknown language {chosen!r}; known: {', '.join(LANGUAGES)}")
    session[SESSION_KEY] = chosen
    if current_user.is_authenticated:
        rt = runtime()
        accounts.set_lang(rt.db, rt.tables, current_user.id, chosen)
    return redirect(safe_next(request.form.get("next"), url_for("home")))


@functools.lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """The IANA zones a user may choose (tzdata's, without the legacy aliases)."""
    import zoneinfo

    return tuple(sorted(z for z in zoneinfo.available_timezones()
                        if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/")))) + ("UTC",)


@bp.route("/time-zone", methods=["GET", "POST"])
@login_required
def time_zone_page():  # noqa: ANN201
    """Show and change the user's time zone (empty: the organisation's)."""
    from flask_babel import gettext as _

    rt = runtime()
    if request.method == "POST":
        form = FlaskForm()
        if not form.validate_on_submit():
            abort(400, description="the form expired; reload the page and try again")
        chosen = request.form.get("time_zone", "").strip()
        try:
            accounts.set_time_zone(rt.db, rt.tables, current_user.id, chosen or None)
        except accounts.AccountError as error:
            flash(str(error), "danger")
            return redirect(url_for("auth.time_zone_page"))
        flash(_("Time zone saved."), "success")
        return redirect(url_for("auth.time_zone_page"))
    user = accounts.get_user(rt.db, rt.tables, current_user.id) or {}
    return render_template("auth/time_zone.html", zones=zone_names(),
                           chosen=user.get("time_zone") or "",
                           organisation=rt.clock.zone_name)


def init_app(app: Any) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.unauthorized_handler
    def _unauthorized():  # noqa: ANN202
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    app.register_blueprint(bp)
