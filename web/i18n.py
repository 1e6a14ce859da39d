"""The interface language: a user preference (session, then profile), else the browser's.

Loom speaks of languages as ``en`` and ``zh-CN`` (the keys of metadata labels);
Babel calls the second ``zh_CN``.
"""

from __future__ import annotations

from flask import has_request_context, request, session

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
