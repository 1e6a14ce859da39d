"""Fixtures of the browser tests: a live Loom server, the system chromium, a page per test.

``live_server`` serves ``make_app`` (tests/web/support.py) from a werkzeug server in a
background thread on a free 127.0.0.1 port, on a copy of a SQLite CRM prepared once per
session, one server per test module. ``browser`` drives the chromium the system provides
(``LOOM_TEST_CHROMIUM`` or ``chromium`` on PATH; Playwright's own browsers are never
downloaded), one per module: Playwright's sync API keeps an asyncio loop running in this
thread until it stops, and the tests of other folders must not inherit it. ``page`` opens a new
context per test and records every request and console error (``page_watch``); when a test
fails, its screenshot and HTML land in ``tests/e2e/artifacts/<test>.png|.html``.

Without a chromium the tests skip, unless ``LOOM_TEST_CHROMIUM`` is set (CI): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.support import log_in, use_language
from tests.web.support import make_app, prepare_sqlite_file

#: Environment variable naming the chromium executable (set by CI).
CHROMIUM_ENV = "LOOM_TEST_CHROMIUM"
#: Executable looked up on PATH when the variable is not set.
CHROMIUM_NAME = "chromium"
#: Switches for a headless chromium in a container that must not reach the network.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
#: Where a failed test leaves its screenshot and HTML.
ARTIFACTS = Path(__file__).parent / "artifacts"
#: Milliseconds Playwright waits for an element, a navigation or an ``expect`` before failing.
TIMEOUT_MS = 10_000
#: Host the live server listens on (never a public interface).
HOST = "127.0.0.1"
#: Paths the browser asks for on its own, not the page: a 404 there is no page error.
BROWSER_OWN_PATHS = ("/favicon.ico",)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark the item (``item.e2e_failed``) when its setup or call failed, for the page fixture."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        item.e2e_failed = True
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The chromium to drive: fail if ``LOOM_TEST_CHROMIUM`` is set (even empty) but unusable."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured is not None:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            pytest.fail(f"{CHROMIUM_ENV}={configured!r} is not an executable chromium "
                        "(CI installs it with apt-get install chromium)", pytrace=False)
        return configured
    path = shutil.which(CHROMIUM_NAME)
    if not path:
        pytest.skip(f"no chromium: install it (apt-get install chromium) or set {CHROMIUM_ENV}")
    return path


@pytest.fixture(scope="session")
def crm_file(tmp_path_factory) -> Path:
    """A SQLite CRM (migrated, demo users, a little demo data) prepared once."""
    return prepare_sqlite_file(tmp_path_factory.mktemp("e2e-crm") / "template.db")


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: object


@pytest.fixture(scope="module")
def live_server(crm_file, tmp_path_factory) -> Iterator[LiveServer]:
    """The app served over real HTTP from a background thread (fresh data for each module)."""
    from werkzeug.serving import make_server

    root = tmp_path_factory.mktemp("e2e-app")
    path = root / "loom.db"
    shutil.copy(crm_file, path)
    app = make_app(f"sqlite:///{path}", root)
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="loom-e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://{HOST}:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        app.extensions["loom"].db.dispose()


@pytest.fixture(scope="module")
def browser(chromium_path) -> Iterator[object]:
    """Chromium driven by Playwright's sync API, for one module at most.

    While it runs, Playwright's event loop counts as this thread's running loop, so
    ``asyncio.run`` fails: it must be stopped before the tests of other folders run.
    """
    from playwright.sync_api import Error, expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                             args=list(CHROMIUM_ARGS))
    except Error as exc:
        playwright.stop()
        pytest.fail(f"chromium at {chromium_path} did not start: {exc}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@dataclass
class PageWatch:
    """What the page did: every request URL, console errors and uncaught exceptions."""

    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected_statuses: set[tuple[str, int]] = field(default_factory=set)

    def expect_status(self, path: str, status: int) -> None:
        """The test expects ``path`` to answer ``status`` (chromium logs any 4xx page as an error)."""
        self.expected_statuses.add((self.origin + path, status))

    def console(self, message) -> None:
        where = message.location.get("url") or ""
        if message.type != "error" or where in [self.origin + p for p in BROWSER_OWN_PATHS]:
            return
        if any(where == url and f"status of {status} " in message.text
               for url, status in self.expected_statuses):
            return
        self.errors.append(f"console: {message.text} ({where})")

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests
                if not (url == self.origin or url.startswith(self.origin + "/"))]

    def assert_clean(self) -> None:
        """No request left the live server and nothing went wrong in the page's scripts."""
        assert self.foreign_requests() == [], "requests left the server"
        assert self.errors == [], "console errors"


@pytest.fixture
def page_watch(live_server) -> PageWatch:
    return PageWatch(live_server.url)


@pytest.fixture
def page(request, browser, live_server, page_watch) -> Iterator[object]:
    """A page in a fresh context (own cookies), watched; artifacts saved if the test fails."""
    stem = _artifact_stem(request.node.name)
    for stale in ARTIFACTS.glob(f"{stem}.*"):
        stale.unlink()
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    context.on("request", lambda req: page_watch.requests.append(req.url))
    context.on("console", page_watch.console)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_watch.errors.append(f"page error: {exc}"))
    try:
        yield page
        if getattr(request.node, "e2e_failed", False):
            _save_artifacts(stem, page)
        else:  # also after the test's own last check
            page_watch.assert_clean()
    finally:
        context.close()


@pytest.fixture(scope="module")
def _sessions(live_server) -> dict[str, list]:
    """Session cookies of users who logged in once (a login is slow on purpose: argon2)."""
    return {}


@pytest.fixture
def signed_in(page, _sessions):
    """``signed_in("sales1", lang="en")``: the page logged in as that user, speaking ``lang``.

    The first time through the login form; later by reusing that login's cookies.
    """

    def sign_in(username: str, *, lang: str = "en", start: str = "/") -> None:
        if username in _sessions:
            page.context.add_cookies(_sessions[username])
            page.goto(start)
        else:
            log_in(page, username)
            _sessions[username] = page.context.cookies()
            if start != "/":
                page.goto(start)
        use_language(page, lang)

    return sign_in


def _artifact_stem(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)


def _save_artifacts(stem: str, page) -> None:
    from playwright.sync_api import Error

    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
        (ARTIFACTS / f"{stem}.html").write_text(page.content(), encoding="utf-8")
    except (Error, OSError) as exc:  # a crashed page must not hide the test's own failure
        print(f"could not save artifacts of {stem}: {exc}")
