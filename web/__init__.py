"""Loom's web application: generated pages for people, the REST API for programs.

``create_app(config)`` builds one app; extensions attach with ``init_app``. Every
request reaches the engine through the record service of the engine runtime
(:mod:`engine.runtime`, kept by :mod:`web.state`); this
package maps requests to calls and engine errors to responses, nothing more.

>>> app = create_app({"LOOM_DATABASE_URL": "sqlite:///instance/loom.db"})   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, redirect, url_for
from flask.sessions import SecureCookieSessionInterface

from engine.config import Config
from web.config import secret_key, settings

__all__ = ["create_app"]

#: The Content-Security-Policy of every response: scripts only from Loom's own files (no
#: inline scripts or event handlers), no plugins, no framing, no foreign base or forms.
#: Inline ``style=`` attributes stay allowed (style-src only): they carry layout, never code.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'self'; form-action 'self'; "
                           "frame-ancestors 'none'")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Loom web application.

    ``config`` overrides the defaults and the environment (see :mod:`web.config`):
    ``LOOM_DATABASE_URL``, ``LOOM_METADATA_DIRS`` (a path list or a sequence),
    ``SECRET_KEY``, ``MAX_CONTENT_LENGTH``, ``LOOM_MODEL_CHECK_INTERVAL``, ``LOOM_WARM_UP``
    (default: on unless ``TESTING``), ``LOOM_TIMEZONE`` (an IANA name; an unknown one
    raises :class:`~engine.clock.ConfigurationError`), ``TESTING``...
    """
    app = Flask(__name__, instance_relative_config=False)
    app.session_interface = CookieSessions()
    app.config.from_mapping(settings(config))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.config["LOOM_INSTANCE_DIR"])

    from web import auth, errors, extensions, i18n, notifications, proxies
    from engine.runtime import Runtime
    from web.state import EXTENSION_KEY

    dirs = app.config.get("LOOM_METADATA_DIRS")
    if isinstance(dirs, str):
        dirs = [d for d in dirs.split(os.pathsep) if d]
    # An unknown LOOM_TIMEZONE raises ConfigurationError here: the app is never built.
    loom_config = Config.from_env(database=app.config.get("LOOM_DATABASE_URL"),
                                  metadata=[str(Path(d)) for d in dirs] if dirs else None,
                                  time_zone=app.config.get("LOOM_TIMEZONE"))
    warm_up = app.config.get("LOOM_WARM_UP")
    app.extensions[EXTENSION_KEY] = Runtime(
        loom_config, check_interval=float(app.config["LOOM_MODEL_CHECK_INTERVAL"]),
        warm_up=not app.config.get("TESTING") if warm_up is None else bool(warm_up))

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          str(Path(__file__).resolve().parent / "translations"))
    extensions.babel.init_app(app, locale_selector=i18n.select_locale,
                              timezone_selector=i18n.select_timezone)
    extensions.csrf.init_app(app)
    extensions.login_manager.init_app(app)
    auth.init_app(app)
    proxies.init_app(app)
    errors.register(app)
    _jinja(app)

    from web import pool
    from web.admin import bp as admin_bp
    from web.api import bp as api_bp
    from web.records import bp as records_bp

    extensions.csrf.exempt(api_bp)  # the API checks CSRF itself for session callers
    app.register_blueprint(records_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    notifications.init_app(app)
    pool.init_app(app)

    @app.before_request
    def _refresh_model() -> None:
        app.extensions[EXTENSION_KEY].refresh()

    @app.route("/")
    def home():  # noqa: ANN202
        return redirect(url_for("records.home"))

    @app.after_request
    def _headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return app


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the signer's set-up on requests without a
    session cookie (API calls with a token): they get an empty session straight away."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def _jinja(app: Flask) -> None:
    from flask_wtf.csrf import generate_csrf

    from engine.model import LANGUAGES
    from web.auth import current_actor
    from web.admin.guard import may_administer
    from web.i18n import lang, text, time_zone
    from web.nav import navigation

    from web.records.workflows import run_status

    app.jinja_env.globals.update(run_status=run_status)
    app.jinja_env.globals.update(label=text, lang=lang, current_actor=current_actor,
                                 csrf_token=generate_csrf, languages=LANGUAGES,
                                 navigation=navigation, may_administer=may_administer,
                                 user_time_zone=lambda: time_zone().key)
