"""Admin pages: the schema browser and the users page, for admins only, with CSRF on forms."""

from __future__ import annotations

from engine import accounts
from engine.demo.users import DEMO_PASSWORD
from tests.web.support import csrf_from, form_token, login_client


def test_people_who_are_not_logged_in_go_to_the_login_page(client):
    response = client.get("/admin/schema")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_non_admins_are_refused(login):
    assert login("sales1").get("/admin/schema").status_code == 403
    assert login("sales1").get("/admin/users").status_code == 403


def test_schema_lists_every_entity_with_its_label(app, login):
    page = login("admin").get("/admin/schema")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in app.extensions["loom"].current.model.entities:
        assert f'data-entity="{name}"' in html


def test_entity_page_shows_fields_types_rules_and_relations(app, login):
    model = app.extensions["loom"].current.model
    deal = model.entity("deal")
    html = login("admin").get("/admin/schema/deal").get_data(as_text=True)
    for field in deal.fields:
        assert f'data-field="{field.name}"' in html
    for rule in deal.rules:
        assert f'data-rule="{rule.name}"' in html
    assert "relation" in html and deal.label.get("en") in html


def test_entity_page_speaks_the_chosen_language(app, login):
    client = login("admin")
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": form_token(client, "/admin/schema")})
    html = client.get("/admin/schema/deal").get_data(as_text=True)
    assert app.extensions["loom"].current.model.entity("deal").label.get("zh-CN") in html


def test_unknown_entity_is_404(login):
    assert login("admin").get("/admin/schema/nowhere").status_code == 404


def test_users_page_lists_users_roles_and_teams(login):
    html = login("admin").get("/admin/users").get_data(as_text=True)
    assert 'data-user="sales1"' in html and 'data-user="manager"' in html
    assert 'data-testid="teams"' in html


def test_admin_creates_a_user_who_can_log_in(app, login):
    client = login("admin")
    token = form_token(client, "/admin/users")
    response = client.post("/admin/users", data={
        "csrf_token": token, "username": "newbie", "display_name": "New <b>Bie</b>",
        "email": "newbie@example.com", "password": "long enough pw", "lang": "en",
        "roles": ["sales"]})
    assert response.status_code == 302
    html = client.get("/admin/users").get_data(as_text=True)
    assert 'data-user="newbie"' in html
    assert "New &lt;b&gt;Bie&lt;/b&gt;" in html
    login_client(app, "newbie", "long enough pw")


def test_user_form_without_csrf_token_is_refused_and_creates_nobody(app, login):
    client = login("admin")
    response = client.post("/admin/users", data={"username": "sneaky", "password": "12345678901",
                                                 "lang": "en"})
    assert response.status_code in (400, 422)
    rt = app.extensions["loom"].current
    assert "sneaky" not in {u["username"] for u in accounts.list_users(rt.db, rt.tables)}


def test_invalid_user_is_shown_again_with_the_error(login):
    client = login("admin")
    token = form_token(client, "/admin/users")
    response = client.post("/admin/users", data={"csrf_token": token, "username": "sales1",
                                                 "password": "long enough pw", "lang": "en"})
    assert response.status_code == 422
    assert 'data-testid="new-user"' in response.get_data(as_text=True)


def test_admin_deactivates_a_user_who_then_cannot_log_in(app, login):
    client = login("admin")
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    response = client.post("/admin/users/sales2/deactivate",
                           data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 302
    rt = app.extensions["loom"].current
    sales2 = next(u for u in accounts.list_users(rt.db, rt.tables) if u["username"] == "sales2")
    assert not sales2["active"]
    refused = app.test_client()
    token = form_token(refused, "/login")
    assert refused.post("/login", data={"username": "sales2", "password": DEMO_PASSWORD,
                                        "csrf_token": token}).status_code == 401


def test_admin_cannot_deactivate_themselves(app, login):
    client = login("admin")
    token = form_token(client, "/admin/users")
    client.post("/admin/users/admin/deactivate", data={"csrf_token": token, "confirm": "yes"})
    rt = app.extensions["loom"].current
    admin = next(u for u in accounts.list_users(rt.db, rt.tables) if u["username"] == "admin")
    assert admin["active"]
