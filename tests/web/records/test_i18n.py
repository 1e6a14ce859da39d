"""Interface translations: complete, compiled, and used after the language switch."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.web.support import form_token

ROOT = Path(__file__).resolve().parents[3]
#: Babel resolves the ``zh_CN`` locale to ``zh_Hans_CN``; gettext looks for that folder.
CATALOG = ROOT / "web" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
#: Folders extraction never needs to walk (vendored and installed code).
SKIPPED_DIRS = {"node_modules", "static", "__pycache__"}


def _po():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f, locale="zh_Hans_CN")


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _strings(catalog) -> dict:
    return {_key(m.id): _key(m.string) for m in catalog if m.id}


def _used_msgids() -> set:
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)

    def wanted(path: str) -> bool:
        parts = Path(path).relative_to(ROOT).parts
        return parts[:1] in ((), ("web",)) and not (set(parts) & SKIPPED_DIRS) \
            and not any(p.startswith(".") for p in parts)

    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, directory_filter=wanted):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_compiled_catalog_matches_the_po_file():
    po = _po()
    with open(CATALOG / "messages.mo", "rb") as f:
        compiled = read_mo(f)
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    assert _strings(compiled) == _strings(read_mo(buffer)), \
        "messages.mo is stale: run `pybabel compile -d web/translations`"


def test_every_interface_string_has_a_chinese_translation():
    po = _po()
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in po if m.id}
    missing = sorted(m for m in _used_msgids()
                     if not translated.get(m) or (isinstance(translated[m], tuple)
                                                  and not all(translated[m])))
    assert not missing, ("untranslated (see babel.cfg for the extract/update/compile commands): "
                         f"{missing}")
    assert not [m.id for m in po if m.id and m.fuzzy], "fuzzy translations left in the catalog"


def test_translations_keep_the_placeholders_of_their_message():
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _po().check() if errors]
    assert not problems


def test_switching_to_chinese_shows_the_list_page_in_chinese(login):
    client = login("admin")
    client.post("/lang", data={"lang": "en", "csrf_token": form_token(client, "/login")})
    english = client.get("/r/deal").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert 'data-testid="page-title">Deals<' in english and ">Stage<" in english
    assert ">Apply<" in english and "Search" in english
    response = client.post("/lang", data={"lang": "zh-CN", "next": "/r/deal",
                                          "csrf_token": form_token(client, "/login")})
    assert response.status_code == 302 and response.headers["Location"] == "/r/deal"
    chinese = client.get("/r/deal").get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese
    # Metadata labels (zh-CN in the schema files) ...
    assert 'data-testid="page-title">商机<' in chinese and ">销售阶段<" in chinese
    assert ">赢单<" in chinese  # a select option label in the stage filter
    # ... and the interface strings from the catalog.
    for phrase in (">应用<", "搜索", "条记录", "退出登录", "新建商机", ">清除<"):
        assert phrase in chinese, phrase
    assert ">Apply<" not in chinese and "Log out" not in chinese


def test_the_chosen_language_formats_numbers_and_dates(app, login):
    client = login("admin")
    body = client.get("/r/deal?sort=-amount&per_page=1").get_data(as_text=True)
    assert "¥" in body  # money in CNY, Chinese locale
    client.post("/lang", data={"lang": "en", "csrf_token": form_token(client, "/login")})
    body = client.get("/r/deal?sort=-amount&per_page=1").get_data(as_text=True)
    assert "CN¥" in body


def test_the_language_is_kept_in_the_users_profile(app, login):
    from engine import accounts

    client = login("sales3")
    client.post("/lang", data={"lang": "en", "csrf_token": form_token(client, "/login")})
    rt = app.extensions["loom"].current
    user = next(u for u in accounts.list_users(rt.db, rt.tables) if u["username"] == "sales3")
    assert user["lang"] == "en"
    again = login("sales3").get("/r/deal").get_data(as_text=True)
    assert '<html lang="en">' in again

