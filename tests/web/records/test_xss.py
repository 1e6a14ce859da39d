"""Values from users are text on every page: lists, record pages, history, lookups.

A probe entity adds one field of each string-ish type (string, text, email, url, json)
plus a select and a relation, so every formatter is walked with hostile values.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine.config import SHIPPED_METADATA, load_model
from engine.permissions import Actor
from engine.storage.migrate import apply_plan
from tests.web.support import login_client, make_app

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
#: E-mail and URL fields only take values of their shape (no spaces).
EMAIL = "<script>alert(1)</script>@example.com"
URL = 'https://example.com/"><script>alert(1)</script>'

PROBE = """
entity: xss_probe
label: {en: Probe, zh-CN: 探针}
plural_label: {en: Probes, zh-CN: 探针}
display_field: name
fields:
  - {name: name, type: string, required: true, label: {en: Name, zh-CN: 名称}}
  - {name: notes, type: text, label: {en: Notes, zh-CN: 备注}}
  - {name: email, type: email, label: {en: Email, zh-CN: 邮箱}}
  - {name: website, type: url, label: {en: Website, zh-CN: 网址}}
  - {name: data, type: json, label: {en: Data, zh-CN: 数据}}
  - name: kind
    type: select
    label: {en: Kind, zh-CN: 类型}
    options: [{value: a, label: {en: A, zh-CN: 甲}}]
  - name: account
    type: relation
    target: account
    label: {en: Account, zh-CN: 客户}
    inverse: {name: probes, label: {en: Probes, zh-CN: 探针}}
list_view:
  columns: [name, notes, email, website, data, kind, account, owner]
  search: [name, notes]
"""

#: A raw tag or attribute injected from data (the pages' own markup never has these).
RAW = re.compile(r"<script>alert|<img src=x|onerror=alert\(1\)>")


@pytest.fixture
def probe_app(crm_sqlite_file, tmp_path):
    metadata = tmp_path / "probe"
    metadata.mkdir()
    (metadata / "xss_probe.yaml").write_text(PROBE, encoding="utf-8")
    path = tmp_path / "loom.db"
    shutil.copy(crm_sqlite_file, path)
    app = make_app(f"sqlite:///{path}", tmp_path,
                   LOOM_METADATA_DIRS=[*(str(d) for d in SHIPPED_METADATA), str(metadata)])
    state = app.extensions["loom"]
    apply_plan(state.db, load_model(state.config, db=state.db), actor="tests")
    state.reload()
    yield app
    state.db.dispose()


def _assert_escaped(body: str) -> None:
    assert not RAW.search(body), RAW.search(body).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_hostile_values_are_escaped_on_lists_record_pages_history_and_lookups(probe_app):
    rt = probe_app.extensions["loom"].current
    system = Actor.system()
    account = rt.service.create(system, "account", {"name": SCRIPT + IMG})
    probe = rt.service.create(system, "xss_probe", {
        "name": SCRIPT + IMG, "notes": f"{SCRIPT}\n{IMG}", "email": EMAIL, "website": URL,
        "data": {"html": SCRIPT, SCRIPT: [IMG]}, "kind": "a", "account": account["id"]})
    rt.service.update(system, "xss_probe", probe["id"], {"name": IMG + SCRIPT, "notes": IMG},
                      version=probe["version"])
    client = login_client(probe_app, "admin")

    listing = client.get("/r/xss_probe").get_data(as_text=True)
    _assert_escaped(listing)
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in listing
    searched = client.get("/r/xss_probe?q=script").get_data(as_text=True)
    _assert_escaped(searched)
    assert f'<tr data-id="{probe["id"]}"' in searched

    page = client.get(f"/r/xss_probe/{probe['id']}").get_data(as_text=True)
    _assert_escaped(page)
    history = page[page.index('data-testid="history"'):]
    assert "&lt;script&gt;" in history and "onerror=alert(1)&gt;" in history

    account_page = client.get(f"/r/account/{account['id']}").get_data(as_text=True)
    _assert_escaped(account_page)  # the title, and the related probes list
    assert 'data-related="xss_probe.account"' in account_page

    found = client.get("/r/xss_probe/search?q=alert")
    assert found.mimetype == "application/json"
    assert found.get_json() == [{"id": probe["id"], "label": IMG + SCRIPT}]
    # Data in JSON is never HTML: the browser is told so and may not guess otherwise.
    assert found.headers["X-Content-Type-Options"] == "nosniff"


def test_filter_values_from_the_url_are_escaped_when_the_form_shows_them_again(probe_app):
    client = login_client(probe_app, "admin")
    body = client.get("/r/xss_probe", query_string={"q": SCRIPT, "f.name": IMG,
                                                    "sort": IMG}).get_data(as_text=True)
    assert not RAW.search(body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_probe_metadata_is_only_in_the_temporary_folder():
    assert not (Path(SHIPPED_METADATA[0]) / "xss_probe.yaml").exists()
