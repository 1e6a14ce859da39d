"""The Content-Security-Policy: on every response, with no inline script anywhere for it
to have to allow (the browser tests in tests/e2e fail on any violation it reports)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
#: A <script> element with content (no src), and on...= event handler attributes.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login", "/r/deal", "/r/deal/new", "/profile", "/api/v1/docs",
                                  "/admin/users", "/no-such-page"])
def test_every_page_sends_the_policy(login, path):
    response = login("admin").get(path)
    assert response.status_code == (404 if path == "/no-such-page" else 200)
    d = _directives(response)
    assert d["default-src"] == "default-src 'self'"
    assert d["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert d["object-src"] == "object-src 'none'"
    assert d["base-uri"] == "base-uri 'self'"
    assert d["frame-ancestors"] == "frame-ancestors 'none'"


def test_a_record_page_has_no_inline_script_or_handler(login):
    client = login("sales1")
    listing = client.get("/r/deal").get_data(as_text=True)
    first = re.search(r'href="(/r/deal/\d+)"', listing).group(1)
    for body in (listing, client.get(first).get_data(as_text=True)):
        assert not INLINE_SCRIPT.search(body)
        assert not HANDLER.search(body)


def test_no_template_has_an_inline_script_or_event_handler():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)}"
                  for m in (*INLINE_SCRIPT.finditer(text), *HANDLER.finditer(text))]
        assert "javascript:" not in text, path
    assert found == []
