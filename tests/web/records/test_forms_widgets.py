"""Generated forms over a small model that has every field type, and a role with hidden
and read-only fields: every widget renders, hidden fields stay out, read-only ones are
never taken from a post, values convert to what the record service takes."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil

import pytest

from engine import accounts
from engine.config import Config, load_model
from engine.demo.users import DEMO_PASSWORD
from engine.fields import registry as field_types
from engine.permissions import Actor
from engine.storage.db import Database
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables
from tests.web.support import csrf_from, login_client, make_app
from web.forms import widgets

PART = {"entity": "part", "label": {"en": "Part", "zh-CN": "零件"}, "display_field": "name",
        "fields": [{"name": "name", "type": "string", "label": "Name", "required": True}]}
GADGET = {
    "entity": "gadget",
    "label": {"en": "Gadget", "zh-CN": "小工具"},
    "display_field": "name",
    "fields": [
        {"name": "name", "type": "string", "required": True, "max_length": 100,
         "label": {"en": "Name", "zh-CN": "名称"}, "help": {"en": "What people call it", "zh-CN": "叫法"}},
        {"name": "notes", "type": "text", "label": "Notes"},
        {"name": "mail", "type": "email", "label": "Mail"},
        {"name": "tel", "type": "phone", "label": "Tel"},
        {"name": "site", "type": "url", "label": "Site"},
        {"name": "count", "type": "integer", "min": 0, "label": "Count"},
        {"name": "ratio", "type": "decimal", "scale": 3, "label": "Ratio"},
        {"name": "price", "type": "money", "currency": "USD", "label": "Price"},
        {"name": "share", "type": "percent", "label": "Share"},
        {"name": "active", "type": "boolean", "default": True, "label": "Active"},
        {"name": "due", "type": "date", "label": "Due"},
        {"name": "at", "type": "datetime", "label": "At"},
        {"name": "kind", "type": "select", "label": "Kind", "default": "small",
         "options": [{"value": "small", "label": {"en": "Small", "zh-CN": "小"}},
                     {"value": "big", "label": {"en": "Big", "zh-CN": "大"}}]},
        {"name": "why_big", "type": "string", "label": "Why big",
         "visible_if": "kind == 'big'", "required_if": "kind == 'big'"},
        {"name": "lock_note", "type": "string", "label": "Lock note", "read_only_if": "kind == 'big'"},
        {"name": "tags", "type": "multiselect", "label": "Tags",
         "options": [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]},
        {"name": "part", "type": "relation", "target": "part", "label": "Part"},
        {"name": "parts", "type": "many_to_many", "target": "part", "label": "Parts"},
        {"name": "person", "type": "user", "label": "Person"},
        {"name": "code", "type": "autonumber", "format": "G-{seq:4}", "label": "Code"},
        {"name": "double_count", "type": "formula", "returns": "integer", "expr": "count * 2",
         "label": "Double count"},
        {"name": "extra", "type": "json", "label": "Extra"},
        {"name": "secret", "type": "string", "label": "Secret"},
        {"name": "frozen", "type": "string", "label": "Frozen"},
    ],
    "form_layout": {"sections": [
        {"title": {"en": "Main", "zh-CN": "主要"}, "columns": 2, "fields": ["name", "kind", "why_big", "secret"]},
    ]},
}
CLERK = {"role": "clerk", "label": "Clerk", "entities": {
    "gadget": {"actions": ["create", "read", "update"], "scope": "all",
               "fields": {"secret": "hidden", "frozen": "read"}},
    "part": {"actions": ["create", "read"], "scope": "all"}}}
BOSS = {"role": "boss", "label": "Boss", "admin": True}


@pytest.fixture(scope="module")
def gadget_template(tmp_path_factory):
    """A migrated SQLite database of the gadget model with its users, made once."""
    root = tmp_path_factory.mktemp("gadgets")
    meta = root / "meta"
    meta.mkdir()
    for name, doc in (("part", PART), ("gadget", GADGET), ("clerk", CLERK), ("boss", BOSS)):
        # JSON is YAML: the loader reads these as metadata files.
        (meta / f"{name}.yaml").write_text(json.dumps(doc), encoding="utf-8")
    path = root / "template.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    model = load_model(Config.from_env(database=url, metadata=[str(meta)]), db=db)
    apply_plan(db, model, actor="tests")
    tables = build_tables(model)
    accounts.create_user(db, tables, "clerk1", password=DEMO_PASSWORD, roles=("clerk",))
    accounts.create_user(db, tables, "boss", password=DEMO_PASSWORD, roles=("boss",),
                         display_name="The <b>Boss</b>")
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path, meta


@pytest.fixture
def gadget_app(gadget_template, tmp_path):
    template, meta = gadget_template
    path = tmp_path / "gadgets.db"
    shutil.copy(template, path)
    app = make_app(f"sqlite:///{path}", tmp_path, LOOM_METADATA_DIRS=[str(meta)])
    yield app
    app.extensions["loom"].db.dispose()


def _service(app):
    rt = app.extensions["loom"].current
    return rt, Actor.system()


def _part(app, name="Bolt") -> int:
    rt, system = _service(app)
    return rt.service.create(system, "part", {"name": name})["id"]


def _field_html(page: str, name: str) -> str:
    match = re.search(rf'<div class="mb-3[^"]*"\s+data-loom-field="{name}".*?(?=<div class="mb-3|</fieldset>)',
                      page, re.DOTALL)
    assert match, f"no field {name} on the page"
    return match.group(0)


def test_every_field_type_has_a_registered_widget_and_template(gadget_app):
    templates = gadget_app.jinja_env.loader
    for field_type in field_types.all():
        widget = widgets.registry.get(field_type.widget)
        assert widget.name == field_type.widget
        source, _, _ = templates.get_source(gadget_app.jinja_env, f"widgets/{widget.template}.html")
        assert source


def test_an_unknown_widget_name_names_the_known_ones():
    with pytest.raises(KeyError, match="known: .*checkbox"):
        widgets.registry.get("slider")


def test_the_form_renders_a_widget_for_every_field_type(gadget_app):
    client = login_client(gadget_app, "boss")
    page = client.get("/r/gadget/new").get_data(as_text=True)
    model = gadget_app.extensions["loom"].current.model
    for f in model.entity("gadget").fields:
        assert f'data-widget="{f.type.widget}"' in _field_html(page, f.name)
    assert 'type="email"' in _field_html(page, "mail")
    assert 'type="tel"' in _field_html(page, "tel")
    assert 'type="url"' in _field_html(page, "site")
    assert "<textarea" in _field_html(page, "notes")
    assert 'type="number"' in _field_html(page, "count") and 'min="0"' in _field_html(page, "count")
    assert 'step="0.001"' in _field_html(page, "ratio")
    price = _field_html(page, "price")
    assert "USD" in price and 'step="0.01"' in price
    assert "%" in _field_html(page, "share")
    assert 'type="checkbox"' in _field_html(page, "active") and "checked" in _field_html(page, "active")
    assert 'type="date"' in _field_html(page, "due")
    assert 'type="datetime-local"' in _field_html(page, "at")
    kind = _field_html(page, "kind")
    assert '<option value="small" selected>Small</option>' in kind
    assert 'value="red"' in _field_html(page, "tags")
    assert 'data-search-url="/r/part/search"' in _field_html(page, "part")
    assert 'data-multiple' in _field_html(page, "parts")
    assert 'data-search-url="/r/_users/search"' in _field_html(page, "person")
    for computed in ("code", "double_count"):
        assert "readonly" in _field_html(page, computed) and "name=" not in _field_html(page, computed)
    assert "<textarea" in _field_html(page, "extra")
    assert "What people call it" in _field_html(page, "name")
    assert "loom-required" in _field_html(page, "name")


def test_layout_sections_come_first_and_unplaced_fields_follow(gadget_app):
    client = login_client(gadget_app, "boss")
    page = client.get("/r/gadget/new").get_data(as_text=True)
    legends = re.findall(r"<legend[^>]*>([^<]*)</legend>", page)
    assert legends[:2] == ["Main", "Other"]
    assert page.index('data-loom-field="secret"') < page.index('data-loom-field="notes"')


def test_labels_and_choices_follow_the_interface_language(gadget_app):
    client = login_client(gadget_app, "boss")
    token = csrf_from(client.get("/r/gadget/new").get_data(as_text=True))
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": token, "next": "/r/gadget/new"})
    page = client.get("/r/gadget/new").get_data(as_text=True)
    assert ">名称</label>" in page and ">大</option>" in page and ">主要</legend>" in page


def test_live_conditions_carry_the_metadata_expressions(gadget_app):
    client = login_client(gadget_app, "boss")
    page = client.get("/r/gadget/new").get_data(as_text=True)
    raw = re.search(r"data-loom-conditions='([^']*)'", page).group(1)
    config = json.loads(html.unescape(raw))
    assert config["rules"] == [{"field": "why_big", "visible_if": "kind == 'big'",
                                "required_if": "kind == 'big'", "read_only_if": None},
                               {"field": "lock_note", "visible_if": None, "required_if": None,
                                "read_only_if": "kind == 'big'"}]
    assert config["fields"] == {"kind": {"cel_type": "string"}}
    assert "stored" not in config  # a new record: read_only_if has nothing to judge
    assert 'src="/static/loom/conditions.js"' in page


def test_every_widget_posts_a_value_the_service_stores(gadget_app):
    part_a, part_b = _part(gadget_app, "A"), _part(gadget_app, "B")
    client = login_client(gadget_app, "boss")
    token = csrf_from(client.get("/r/gadget/new").get_data(as_text=True))
    rt = gadget_app.extensions["loom"].current
    boss_id = next(u["id"] for u in accounts.list_users(rt.db, rt.tables) if u["username"] == "boss")
    response = client.post("/r/gadget/new", data={
        "csrf_token": token, "name": " Widget ", "notes": "line 1\nline 2", "mail": "a@b.example",
        "tel": "+1 555 0100", "site": "https://example.com", "count": "4", "ratio": "0.125",
        "price": "19.99", "share": "12.5", "active__present": "1", "due": "2026-03-01",
        "at": "2026-03-01T09:30", "kind": "big", "why_big": "it is", "tags": ["blue", "red"],
        "tags__present": "1", "part": str(part_a), "parts": [str(part_a), str(part_b)],
        "parts__present": "1", "person": str(boss_id), "extra": '{"a": [1, 2]}',
        "secret": "s", "frozen": "f"})
    assert response.status_code == 302, response.get_data(as_text=True)
    record_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    record = rt.service.get(Actor.system(), "gadget", record_id)
    assert record["name"] == "Widget" and record["notes"] == "line 1\nline 2"
    assert str(record["price"]) == "19.99" and str(record["ratio"]) == "0.125"
    assert record["active"] is False  # the box was on the page and left unchecked
    assert record["due"].isoformat() == "2026-03-01"
    assert record["at"].isoformat() == "2026-03-01T09:30:00+00:00"
    assert record["tags"] == ["blue", "red"] and record["parts"] == [part_a, part_b]
    assert record["part"] == part_a and record["person"] == boss_id
    assert record["extra"] == {"a": [1, 2]} and record["double_count"] == 8
    assert record["code"] == "G-0001"
    assert record["secret"] == "s" and record["frozen"] == "f"  # boss may write both


def test_an_edit_form_shows_stored_values_and_saving_unchanged_changes_nothing(gadget_app):
    part = _part(gadget_app)
    rt, system = _service(gadget_app)
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    saved = rt.service.create(system, "gadget", {
        "name": "Kept", "price": "5", "at": at, "tags": ["red"], "part": part, "parts": [part],
        "extra": {"k": "v"}, "active": True})
    client = login_client(gadget_app, "boss")
    page = client.get(f"/r/gadget/{saved['id']}/edit").get_data(as_text=True)
    assert 'value="5.00"' in _field_html(page, "price")
    assert 'value="2026-01-02T03:04:05"' in _field_html(page, "at")
    assert 'value="Bolt"' in _field_html(page, "part")
    assert ">Bolt</span>" in _field_html(page, "parts")
    assert "&#34;k&#34;: &#34;v&#34;" in _field_html(page, "extra")
    token = csrf_from(page)
    response = client.post(f"/r/gadget/{saved['id']}/edit", data={
        "csrf_token": token, "version": "1", "name": "Kept", "price": "5.00",
        "at": "2026-01-02T03:04:05", "tags": "red", "tags__present": "1", "part": str(part),
        "parts": str(part), "parts__present": "1", "extra": '{\n  "k": "v"\n}',
        "active": "true", "active__present": "1", "kind": "small"})
    assert response.status_code == 302, response.get_data(as_text=True)
    after = rt.service.get(system, "gadget", saved["id"])
    assert after["version"] == 1 and after["at"] == at


def test_broken_json_is_shown_next_to_its_field_with_the_input_kept(gadget_app):
    client = login_client(gadget_app, "boss")
    token = csrf_from(client.get("/r/gadget/new").get_data(as_text=True))
    response = client.post("/r/gadget/new", data={"csrf_token": token, "name": "J",
                                                  "extra": "{not json"})
    assert response.status_code == 422
    extra = _field_html(response.get_data(as_text=True), "extra")
    assert "must be valid JSON" in extra and "{not json</textarea>" in extra


def test_a_hidden_field_is_not_in_the_form_and_cannot_be_posted(gadget_app):
    client = login_client(gadget_app, "clerk1")
    page = client.get("/r/gadget/new").get_data(as_text=True)
    assert 'data-loom-field="secret"' not in page and 'name="secret"' not in page
    response = client.post("/r/gadget/new", data={"csrf_token": csrf_from(page), "name": "Mine",
                                                  "secret": "sneaky"})
    assert response.status_code == 302, response.get_data(as_text=True)
    record_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    rt, system = _service(gadget_app)
    assert rt.service.get(system, "gadget", record_id)["secret"] is None


def test_a_read_only_field_is_shown_disabled_and_a_posted_value_is_ignored(gadget_app):
    rt, system = _service(gadget_app)
    saved = rt.service.create(system, "gadget", {"name": "G", "frozen": "ice"})
    client = login_client(gadget_app, "clerk1")
    page = client.get(f"/r/gadget/{saved['id']}/edit").get_data(as_text=True)
    frozen = _field_html(page, "frozen")
    assert "disabled" in frozen and 'name="frozen"' not in frozen and 'value="ice"' in frozen
    response = client.post(f"/r/gadget/{saved['id']}/edit", data={
        "csrf_token": csrf_from(page), "version": "1", "name": "G2", "frozen": "melted"})
    assert response.status_code == 302, response.get_data(as_text=True)
    after = rt.service.get(system, "gadget", saved["id"])
    assert after["name"] == "G2" and after["frozen"] == "ice"


def test_required_if_error_is_shown_next_to_its_field(gadget_app):
    client = login_client(gadget_app, "boss")
    token = csrf_from(client.get("/r/gadget/new").get_data(as_text=True))
    response = client.post("/r/gadget/new", data={"csrf_token": token, "name": "N", "kind": "big"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-error-for="why_big">is required<' in page
    assert '<option value="big" selected>Big</option>' in page


def test_user_names_are_escaped_in_the_user_widget(gadget_app):
    rt, system = _service(gadget_app)
    boss_id = next(u["id"] for u in accounts.list_users(rt.db, rt.tables) if u["username"] == "boss")
    saved = rt.service.create(system, "gadget", {"name": "U", "person": boss_id})
    client = login_client(gadget_app, "boss")
    page = client.get(f"/r/gadget/{saved['id']}/edit").get_data(as_text=True)
    assert "The &lt;b&gt;Boss&lt;/b&gt;" in _field_html(page, "person")
    assert "<b>Boss</b>" not in page


def test_metadata_with_every_type_is_the_golden_list(gadget_app):
    """The gadget model above must keep one field of every registered type."""
    used = {f["type"] for f in GADGET["fields"]}
    assert used == set(field_types.names()), "add a field of the new type to GADGET"


def test_read_only_if_is_judged_on_the_stored_record_and_enforced_by_the_service(gadget_app):
    rt, system = _service(gadget_app)
    saved = rt.service.create(system, "gadget", {"name": "L", "kind": "big", "why_big": "yes",
                                                 "lock_note": "fixed"})
    client = login_client(gadget_app, "boss")
    page = client.get(f"/r/gadget/{saved['id']}/edit").get_data(as_text=True)
    raw = re.search(r"data-loom-conditions='([^']*)'", page).group(1)
    assert json.loads(html.unescape(raw))["stored"] == {"kind": "big"}
    response = client.post(f"/r/gadget/{saved['id']}/edit", data={
        "csrf_token": csrf_from(page), "version": "1", "lock_note": "changed"})
    assert response.status_code == 422
    lock = _field_html(response.get_data(as_text=True), "lock_note")
    assert "is read-only" in lock and 'value="changed"' in lock
