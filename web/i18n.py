"""The interface language and time zone: user preferences, else defaults.

The language is the session's, then the profile's, else the browser's. Loom speaks
of languages as ``en`` and ``zh-CN`` (the keys of metadata labels); Babel calls the
second ``zh_CN``.

The time zone is the logged-in user's (``loom_users.time_zone``), else the
organisation's (``LOOM_TIMEZONE``, the runtime clock's). Pages show datetimes in it,
with its name, and forms read typed datetimes in it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import has_request_context, request, session

from engine.clock import ConfigurationError, zone
from engine.model import LANGUAGES, Text

#: Session key of the chosen language.
SESSION_KEY = "lang"
#: Language used when nothing else decides.
DEFAULT_LANG = LANGUAGES[0]


def babel_locale(lang_code: str) -> str:
    return lang_code.replace("-", "_")


def lang() -> str:
    """The current request's language, one of :data:`engine.model.LANGUAGES`."""
    if not has_request_context():
        return DEFAULT_LANG
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["en", "zh-CN", "zh"], default=DEFAULT_LANG)
    return "zh-CN" if best.startswith("zh") else "en"


def time_zone() -> ZoneInfo:
    """The current user's time zone, else the organisation's."""
    from flask_login import current_user

    from web.state import loom_state

    if has_request_context() and getattr(current_user, "is_authenticated", False):
        name = getattr(current_user, "time_zone", None)
        if name:
            try:
                return zone(name)
            except ConfigurationError:  # stored before the zone database dropped it
                pass
    return loom_state().clock.zone


def select_timezone() -> str:
    """Flask-Babel's time zone selector: format_datetime converts into this zone."""
    return time_zone().key


def select_locale() -> str:
    """Flask-Babel's locale selector."""
    return babel_locale(lang())


def text(value: Text | str | None) -> str:
    """A metadata label in the current language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(lang())
