"""Who is asking: login and logout for people, bearer tokens for programs.

People log in with a password (argon2id, checked by :mod:`engine.accounts`); failed
attempts are throttled per user name and address across all processes. A login starts
a server-side session (:mod:`engine.accounts.sessions`) whose key the signed cookie
carries: logout, a password change or a deactivation ends it wherever the cookie is
presented. Programs send ``Authorization: Bearer <token>`` (tokens are stored hashed
and can be revoked, by an admin or by their user on the profile page).
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
#: Key of the server-side session's key in the signed cookie.
SESSION_ID_KEY = "_loom_session"


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login sees it (the id only; the Actor has the rest)."""

    def __init__(self, found: accounts.SessionUser) -> None:
        self.id = found.user_id
        self.username = found.username
        self.display_name = found.display_name or found.username
        self.lang = found.lang or "en"
        #: An IANA name, or None for the organisation's zone.
        self.time_zone = found.time_zone
        #: The user's authorisation stamp read with the session (see Runtime.actor).
        self.authz_epoch = found.authz_epoch


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    """The user of the cookie's server-side session, if it is still live and theirs."""
    rt = runtime()
    found = accounts.session_user(rt.db, rt.tables, session.get(SESSION_ID_KEY), clock=rt.clock)
    if found is None or str(found.user_id) != str(user_id):
        return None
    return SessionUser(found)


def client_address() -> str:
    """The client's address (``X-Forwarded-For`` counts only from trusted proxies, see
    :mod:`web.proxies`)."""
    return request.remote_addr or "?"


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
        found = accounts.token_user(rt.db, rt.tables, token, clock=rt.clock)
        if found is not None:
            actor = loom_state().actor(found[0], lang(), epoch=found[1])
        g.loom_auth = "token"
    elif current_user.is_authenticated:
        actor = loom_state().actor(current_user.id, lang(), epoch=current_user.authz_epoch)
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
        address = client_address()
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
                chosen = session.get(SESSION_KEY)
                session.clear()  # a new session on login: no fixation
                key = accounts.start_session(rt.db, rt.tables, user_id, address=address,
                                             agent=request.user_agent.string, clock=rt.clock)
                found = accounts.session_user(rt.db, rt.tables, key, clock=rt.clock)
                if found is None:  # deactivated between the two reads
                    abort(401)
                session[SESSION_ID_KEY] = key
                login_user(SessionUser(found))
                session[SESSION_KEY] = chosen if chosen in LANGUAGES else found.lang
                return redirect(safe_next(form.next.data, url_for("home")))
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():  # noqa: ANN201
    rt = runtime()
    accounts.end_session(rt.db, rt.tables, session.get(SESSION_ID_KEY))
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


def _checked_form() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400, description="the form expired; reload the page and try again")


@bp.route("/profile")
@login_required
def profile():  # noqa: ANN201
    """The user's own page: their live sessions and their API tokens (revocable here)."""
    from web.records.display import format_moment

    rt = runtime()
    sessions = accounts.list_sessions(rt.db, rt.tables, current_user.id,
                                      current=session.get(SESSION_ID_KEY), clock=rt.clock)
    tokens = accounts.list_tokens(rt.db, rt.tables, current_user.username)
    return render_template("auth/profile.html", sessions=sessions, tokens=tokens,
                           now=rt.clock.naive_now(), format_at=format_moment)


@bp.route("/profile/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():  # noqa: ANN201
    """Log out every other browser of this user (this one stays logged in)."""
    from flask_babel import gettext as _

    _checked_form()
    rt = runtime()
    ended = accounts.end_other_sessions(rt.db, rt.tables, current_user.id,
                                        session.get(SESSION_ID_KEY))
    flash(_("Other sessions ended: %(count)d.", count=ended), "success")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_own_token(token_id: int):  # noqa: ANN201
    """Revoke one of the user's own API tokens (another's is a 404)."""
    from flask_babel import gettext as _

    _checked_form()
    rt = runtime()
    try:
        accounts.revoke_token(rt.db, rt.tables, token_id, clock=rt.clock, owner=current_user.id)
    except accounts.AccountError:
        abort(404, description="no such token of yours")
    flash(_("Token %(id)d revoked.", id=token_id), "success")
    return redirect(url_for("auth.profile"))


def init_app(app: Any) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.unauthorized_handler
    def _unauthorized():  # noqa: ANN202
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    app.register_blueprint(bp)
