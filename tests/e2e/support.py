"""Browser steps shared by the e2e tests (the fixtures in ``conftest.py`` build on them)."""

from __future__ import annotations

from engine.demo.users import DEMO_PASSWORD


def log_in(page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the login form and wait for the logged-in page."""
    page.goto("/login")
    form = page.get_by_test_id("login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    page.get_by_test_id("logout").wait_for()


def use_language(page, lang: str) -> None:
    """Switch the interface to ``lang`` with the navbar's language buttons (if not spoken yet)."""
    if page.evaluate("document.documentElement.lang") != lang:
        page.get_by_test_id("lang-switch").locator(f'button[data-lang="{lang}"]').click()
        page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang)
