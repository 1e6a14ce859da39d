"""In 中文, every page and every catalogue message is Chinese: no English left behind.

The check reads what a person reads (text, and the ``title``, ``placeholder``,
``aria-label`` and ``alt`` attributes; never scripts, styles, or ``<code>``), and
finds English words: runs of three or more ASCII letters. Allowed are what is not
prose: words of the records and people shown (taken from the database itself, so the
demo data's randomness can't make the test flaky), of the URL the user typed and of the
browser's User-Agent (the profile's sessions), acronyms and codes in capitals
(CSV, CNY, UTC, API), time-zone names, e-mail addresses and links, placeholders of
the catalogue, and the product's name. Everything else is an untranslated string.
"""

from __future__ import annotations

import re
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po

from engine.storage.tables import TEAMS, USERS
from tests.web.support import form_token

CATALOG = (Path(__file__).resolve().parents[2] / "web" / "translations" / "zh_Hans_CN"
           / "LC_MESSAGES" / "messages.po")
#: An English word: three or more ASCII letters (an apostrophe inside: "don't").
WORD = re.compile(r"[A-Za-z][A-Za-z']+[A-Za-z]")
#: Not prose: placeholders, e-mail addresses, links, dates like YYYY-MM-DD.
NOT_PROSE = re.compile(r"%\(\w+\)[sdfr]|%[sd]|\S+@\S+|https?://\S+|\S+\.(?:csv|yaml|json)\b")
#: Names that stay as they are in every language.
NAMES = frozenset({"Loom", "English"})
#: Attributes a person reads (or hears, with a screen reader).
READ_ATTRIBUTES = frozenset({"title", "placeholder", "aria-label", "alt"})
#: Elements whose content is code, shown as is.
CODE_ELEMENTS = frozenset({"code", "kbd", "samp"})
SKIPPED_ELEMENTS = frozenset({"script", "style"})
ZONE_WORDS = frozenset(w for z in zoneinfo.available_timezones() for w in WORD.findall(z))


def english_words(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The English words of ``text`` that are neither codes nor names nor ``allowed``."""
    words = WORD.findall(NOT_PROSE.sub(" ", text))
    return [w for w in words if not w.isupper() and w not in NAMES and w not in allowed]


class _Reader(HTMLParser):
    """What a person reads on a page: (where, text) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped = self.code = 0
        self.read: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN201
        if tag in SKIPPED_ELEMENTS:
            self.skipped += 1
        if tag in CODE_ELEMENTS:
            self.code += 1
        self.read += [(f"<{tag} {k}>", v) for k, v in attrs if k in READ_ATTRIBUTES and v]

    def handle_endtag(self, tag):  # noqa: ANN001, ANN201
        if tag in SKIPPED_ELEMENTS:
            self.skipped -= 1
        if tag in CODE_ELEMENTS:
            self.code -= 1

    def handle_data(self, data):  # noqa: ANN001, ANN201
        if not self.skipped and not self.code and data.strip():
            self.read.append(("text", data.strip()))


def untranslated(html: str, allowed: frozenset[str]) -> list[tuple[str, str, list[str]]]:
    reader = _Reader()
    reader.feed(html)
    return [(where, text[:80], words) for where, text in reader.read
            if (words := english_words(text, allowed))]


@pytest.fixture
def data_words(app) -> frozenset[str]:
    """Every word of the records, people and teams in the database: data, not interface."""
    rt = app.extensions["loom"].current
    tables = [*rt.tables.entities.values(), *(rt.tables.metadata.tables[n] for n in (USERS, TEAMS))]
    words: set[str] = set()
    with rt.db.engine.connect() as conn:
        for table in tables:
            for row in conn.execute(sa.select(table)):
                words.update(w for v in row if isinstance(v, str) for w in WORD.findall(v))
    # The profile lists the user's sessions by browser: the test client's User-Agent.
    agent = app.test_client().environ_base.get("HTTP_USER_AGENT", "")
    return frozenset(words | ZONE_WORDS | set(WORD.findall(agent)))


def _chinese(login, username):
    client = login(username)
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": form_token(client, "/login")})
    return client


def _first_link(client, pattern: str, url: str) -> str | None:
    match = re.search(pattern, client.get(url).get_data(as_text=True))
    return match.group(0) if match else None


def _pages(app, login):
    """(client, url, expected status) of every kind of page, as its usual user sees it."""
    admin, sales = _chinese(login, "admin"), _chinese(login, "sales1")
    model = app.extensions["loom"].current.model
    pages = [(admin, "/", 200), (sales, "/", 200), (sales, "/time-zone", 200),
             (sales, "/profile", 200)]
    pages += [(sales, f"/r/{name}/board", 200) for name in ("deal", "lead")]
    for name in sorted(model.entities):
        pages += [(admin, f"/r/{name}", 200), (admin, f"/r/{name}/new", 200)]
        record = _first_link(admin, rf'/r/{name}/\d+(?=")', f"/r/{name}")
        if record:
            pages += [(admin, record, 200), (admin, f"{record}/edit", 200)]
    pages += [(sales, "/r/deal", 200), (sales, "/r/account?f.region=mars&sort=nonexistent", 200)]
    pages += [(admin, url, 200) for url in ("/admin/", "/admin/users", "/admin/users/sales1",
                                            "/admin/teams", "/admin/runs", "/admin/schema")]
    pages += [(sales, "/pool", 200), (sales, "/notifications", 200)]
    pool_bin = _first_link(sales, r'/pool/\d+/bin', "/pool")
    if pool_bin:
        pages.append((sales, pool_bin, 200))
    pages += [(sales, "/admin/users", 403), (sales, "/r/account/999999", 404),
              (sales, "/r/no_such_thing", 404), (admin, "/admin/runs?status=bogus", 400)]
    return pages


def test_every_page_in_chinese_has_no_english_left(app, login, data_words):
    found = {}
    seen = 0
    for client, url, status in _pages(app, login):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == status, url
        html = response.get_data(as_text=True)
        assert '<html lang="zh-CN">' in html, url
        seen += 1
        # What the user typed (a filter value in the URL) may come back, quoted.
        problems = untranslated(html, data_words | frozenset(WORD.findall(url)))
        if problems:
            found[url] = problems[:5]
    assert seen > 40  # every entity's list, form, record and edit page, and the rest
    assert not found, found


def test_a_400_page_with_an_english_explanation_shows_a_chinese_one(login):
    client = _chinese(login, "sales1")
    response = client.post("/lang", data={"lang": "klingon",
                                          "csrf_token": form_token(client, "/login")})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请求有误" in html and "无法理解此请求" in html
    assert not untranslated(html, frozenset())


def test_the_chinese_catalogue_has_no_english_left():
    with open(CATALOG, "rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    found = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in strings:
            if english_words(text) or (text in ids and english_words(ids[0])):
                found.append((ids[0], text))
    assert not found, found


def test_the_check_finds_english_and_lets_codes_names_and_data_pass():
    assert english_words("您无权创建 deal 记录 outside your own scope") == \
        ["deal", "outside", "your", "own", "scope"]
    assert english_words("导出 CSV · Loom · %(name)s · name@example.com · 2026-01-01 (UTC)") == []
    assert english_words("负责人：Alice", frozenset({"Alice"})) == []
    assert untranslated('<p title="Close">关闭</p><code>stage</code><script>var x;</script>',
                        frozenset()) == [("<p title>", "Close", ["Close"])]
