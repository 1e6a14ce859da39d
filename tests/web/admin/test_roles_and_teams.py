"""Admin pages for roles (per user) and teams: changes, refusals, CSRF, escaping, lock-out."""

from __future__ import annotations

import re

import pytest

from engine import accounts
from tests.web.support import form_token, login_client

XSS = "<script>alert(1)</script>"


def _admin(app, username="admin"):
    """A client logged in as ``username``, speaking English (the demo users speak Chinese)."""
    client = login_client(app, username)
    client.post("/lang", data={"lang": "en", "csrf_token": form_token(client, "/login")})
    return client


def _roles(app, username):
    rt = app.extensions["loom"].current
    return accounts.find_user(rt.db, rt.tables, username)["roles"]


def _teams(app):
    rt = app.extensions["loom"].current
    return {t["name"]: t for t in accounts.list_teams(rt.db, rt.tables)}


def _team_id(app, name):
    return _teams(app)[name]["id"]


def _post(client, page, url, **data):
    return client.post(url, data={"csrf_token": form_token(client, page), **data})


# -- roles ---------------------------------------------------------------------


def test_admin_grants_and_revokes_a_role_on_the_user_page(any_app):
    client = _admin(any_app)
    page = client.get("/admin/users/sales1")
    assert page.status_code == 200
    assert 'data-role="sales"' in page.get_data(as_text=True)
    assert 'data-role="service"' not in page.get_data(as_text=True)

    response = _post(client, "/admin/users/sales1", "/admin/users/sales1/roles", role="service")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users/sales1"
    assert _roles(any_app, "sales1") == ["sales", "service"]
    html = client.get("/admin/users/sales1").get_data(as_text=True)
    assert 'data-role="service"' in html and "sales1 now has the role Service agent." in html
    assert "service" in re.search(r'data-user="sales1".*?</tr>', client.get("/admin/users")
                                  .get_data(as_text=True), re.DOTALL).group(0).lower()

    response = _post(client, "/admin/users/sales1", "/admin/users/sales1/roles/revoke",
                     role="sales")
    assert response.status_code == 302
    assert _roles(any_app, "sales1") == ["service"]
    html = client.get("/admin/users/sales1").get_data(as_text=True)
    assert 'data-role="sales"' not in html and "sales1 no longer has the role Salesperson." in html


def test_role_changes_act_at_once_for_the_user(app):
    sales1 = login_client(app, "sales1")
    assert sales1.get("/admin/users").status_code == 403  # their roles are now cached
    client = _admin(app)
    _post(client, "/admin/users/sales1", "/admin/users/sales1/roles", role="admin")
    assert sales1.get("/admin/users").status_code == 200
    _post(client, "/admin/users/sales1", "/admin/users/sales1/roles/revoke", role="admin")
    assert sales1.get("/admin/users").status_code == 403


def test_unknown_role_is_refused_and_nothing_changes(app):
    client = _admin(app)
    for url in ("/admin/users/sales1/roles", "/admin/users/sales1/roles/revoke"):
        response = _post(client, "/admin/users/sales1", url, role="wizard")
        assert response.status_code == 422
        assert "Unknown role wizard." in response.get_data(as_text=True)
        assert _roles(app, "sales1") == ["sales"]
    response = _post(client, "/admin/users/sales1", "/admin/users/sales1/roles", role="")
    assert response.status_code == 422 and _roles(app, "sales1") == ["sales"]


def test_revoking_a_role_the_user_lacks_is_refused(app):
    client = _admin(app)
    response = _post(client, "/admin/users/sales1", "/admin/users/sales1/roles/revoke",
                     role="service")
    assert response.status_code == 422
    assert "sales1 does not have the role Service agent." in response.get_data(as_text=True)
    assert _roles(app, "sales1") == ["sales"]


def test_a_held_role_the_metadata_no_longer_declares_can_be_revoked(app):
    rt = app.extensions["loom"].current
    accounts.grant_role(rt.db, rt.tables, "sales1", "retired")
    client = _admin(app)
    assert 'data-role="retired"' in client.get("/admin/users/sales1").get_data(as_text=True)
    # It cannot be granted again, but it can be taken away.
    assert _post(client, "/admin/users/sales2", "/admin/users/sales2/roles",
                 role="retired").status_code == 422
    assert _post(client, "/admin/users/sales1", "/admin/users/sales1/roles/revoke",
                 role="retired").status_code == 302
    assert _roles(app, "sales1") == ["sales"] and _roles(app, "sales2") == ["sales"]


def test_role_name_is_escaped_in_the_refusal(app):
    response = _post(_admin(app), "/admin/users/sales1", "/admin/users/sales1/roles", role=XSS)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_unknown_user_page_is_404(app):
    client = _admin(app)
    assert client.get("/admin/users/ghost").status_code == 404
    token = form_token(client, "/admin/users")
    assert client.post("/admin/users/ghost/roles", data={"csrf_token": token,
                                                         "role": "sales"}).status_code == 404


def test_admin_cannot_revoke_their_own_last_admin_role(app):
    client = _admin(app)
    response = _post(client, "/admin/users/admin", "/admin/users/admin/roles/revoke", role="admin")
    assert response.status_code == 422
    assert "You cannot revoke your own last administrator role." in response.get_data(as_text=True)
    assert _roles(app, "admin") == ["admin"]
    assert client.get("/admin/users").status_code == 200
    # Their other roles can go, and another admin's admin role can too.
    _post(client, "/admin/users/admin", "/admin/users/admin/roles", role="sales")
    assert _post(client, "/admin/users/admin", "/admin/users/admin/roles/revoke",
                 role="sales").status_code == 302
    assert _roles(app, "admin") == ["admin"]
    _post(client, "/admin/users/manager", "/admin/users/manager/roles", role="admin")
    assert _post(client, "/admin/users/manager", "/admin/users/manager/roles/revoke",
                 role="admin").status_code == 302
    assert _roles(app, "manager") == ["sales_manager"]


def test_a_second_admin_can_revoke_the_first_admins_role(app):
    _post(_admin(app), "/admin/users/manager", "/admin/users/manager/roles", role="admin")
    other = _admin(app, "manager")
    assert _post(other, "/admin/users/admin", "/admin/users/admin/roles/revoke",
                 role="admin").status_code == 302
    assert _roles(app, "admin") == []


# -- who may, and CSRF --------------------------------------------------------------


def _routes(app):
    east = _team_id(app, "East")
    return [("/admin/users/sales1/roles", {"role": "admin"}),
            ("/admin/users/sales1/roles/revoke", {"role": "sales"}),
            ("/admin/teams", {"name": "Mine"}),
            (f"/admin/teams/{east}/manager", {"manager": "sales1"}),
            (f"/admin/teams/{east}/parent", {"parent": ""}),
            (f"/admin/teams/{east}/members", {"username": "sales5"}),
            (f"/admin/teams/{east}/members/remove", {"username": "sales1"})]


def _snapshot(app):
    rt = app.extensions["loom"].current
    return (accounts.list_users(rt.db, rt.tables), accounts.list_teams(rt.db, rt.tables))


def test_non_admins_are_refused_on_every_new_route(app):
    client = login_client(app, "sales1")
    for url in ("/admin/users/sales1", "/admin/users/admin", "/admin/teams"):
        assert client.get(url).status_code == 403, url
    before = _snapshot(app)
    token = form_token(client, "/r/deal")
    for url, data in _routes(app):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert _snapshot(app) == before


def test_people_not_logged_in_go_to_the_login_page(app):
    client = app.test_client()
    for url in ("/admin/users/sales1", "/admin/teams"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    before = _snapshot(app)
    token = form_token(client, "/login")
    for url, data in _routes(app):
        assert client.post(url, data={"csrf_token": token, **data}).status_code in (302, 400), url
    assert _snapshot(app) == before


def test_forms_without_a_csrf_token_are_refused_and_change_nothing(app):
    client = _admin(app)
    before = _snapshot(app)
    for url, data in _routes(app):
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data={"csrf_token": "forged", **data}).status_code == 400, url
    assert _snapshot(app) == before


def test_expired_csrf_token_is_refused(app):
    client = _admin(app)
    token = form_token(client, "/admin/teams")
    before = _snapshot(app)
    app.config["WTF_CSRF_TIME_LIMIT"] = -1  # every token is older than that
    for url, data in _routes(app):
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 400, url
        assert "expired" in response.get_data(as_text=True)
    assert _snapshot(app) == before
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    assert client.post("/admin/teams", data={"csrf_token": token,
                                             "name": "Fresh"}).status_code == 302


def test_every_new_form_carries_a_csrf_token(app):
    client = _admin(app)
    for url in ("/admin/users/sales1", "/admin/teams"):
        html = client.get(url).get_data(as_text=True)
        forms = re.findall(r"<form method=\"post\".*?</form>", html, re.DOTALL)
        assert len(forms) >= 2
        for form in forms:
            assert 'name="csrf_token"' in form, form[:200]


# -- teams ----------------------------------------------------------------------------


def test_teams_page_shows_the_tree_with_managers_and_members(app):
    client = _admin(app)
    html = client.get("/admin/teams").get_data(as_text=True)
    rows = re.findall(r'data-team="([^"]+)" data-depth="(\d+)"', html)
    assert rows == [("Sales", "0"), ("East", "1"), ("West", "1")]
    sales = re.search(r'data-team="Sales".*?</tr>', html, re.DOTALL).group(0)
    assert '<option value="manager" selected>' in sales
    east = re.search(r'data-team="East".*?</tr>', html, re.DOTALL).group(0)
    assert '<option value="Sales" selected>' in east
    assert 'data-member="sales1"' in east and 'data-member="sales5"' not in east
    assert 'href="/admin/teams"' in client.get("/admin/users").get_data(as_text=True)


def test_admin_creates_nested_teams(any_app):
    client = _admin(any_app)
    response = _post(client, "/admin/teams", "/admin/teams", name="  North  ", parent=" East ",
                     manager=" sales1 ")  # names are trimmed, as typed names often need
    assert response.status_code == 302 and response.headers["Location"] == "/admin/teams"
    _post(client, "/admin/teams", "/admin/teams", name="Far North", parent="North")
    teams = _teams(any_app)
    assert teams["North"]["parent"] == "East" and teams["North"]["manager"] == "sales1"
    assert teams["Far North"]["parent"] == "North" and teams["Far North"]["manager"] is None
    html = client.get("/admin/teams").get_data(as_text=True)
    assert "Team North created." not in html  # the message was shown once, on the redirect
    rows = re.findall(r'data-team="([^"]+)" data-depth="(\d+)"', html)
    assert rows == [("Sales", "0"), ("East", "1"), ("North", "2"), ("Far North", "3"),
                    ("West", "1")]


def test_duplicate_or_empty_team_name_is_refused(app):
    client = _admin(app)
    response = _post(client, "/admin/teams", "/admin/teams", name="East")
    assert response.status_code == 422
    assert "team &#39;East&#39; already exists" in response.get_data(as_text=True)
    response = _post(client, "/admin/teams", "/admin/teams", name="   ")
    assert response.status_code == 422
    response = _post(client, "/admin/teams", "/admin/teams", name="x" * 151)
    assert response.status_code == 422
    response = _post(client, "/admin/teams", "/admin/teams", name="North", parent="Nowhere")
    assert response.status_code == 422 and "unknown team" in response.get_data(as_text=True)
    assert sorted(_teams(app)) == ["East", "Sales", "West"]


def test_team_name_is_escaped(app):
    client = _admin(app)
    assert _post(client, "/admin/teams", "/admin/teams", name=XSS, parent="East").status_code == 302
    for url in ("/admin/teams", "/admin/users", "/admin/users/admin"):
        html = client.get(url).get_data(as_text=True)
        assert XSS not in html, url
    html = client.get("/admin/teams").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    _post(client, "/admin/teams", f"/admin/teams/{_team_id(app, XSS)}/members", username="sales1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin/users/sales1").get_data(
        as_text=True)


def test_manager_is_changed_and_cleared(app):
    client = _admin(app)
    east = _team_id(app, "East")
    response = _post(client, "/admin/teams", f"/admin/teams/{east}/manager", manager="sales2")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/teams#team-{east}"
    assert _teams(app)["East"]["manager"] == "sales2"
    assert "Manager of East changed." in client.get("/admin/teams").get_data(as_text=True)
    _post(client, "/admin/teams", f"/admin/teams/{east}/manager", manager="")
    assert _teams(app)["East"]["manager"] is None
    response = _post(client, "/admin/teams", f"/admin/teams/{east}/manager", manager="ghost")
    assert response.status_code == 422 and "unknown user" in response.get_data(as_text=True)
    assert _teams(app)["East"]["manager"] is None


def test_parent_is_changed_and_cycles_are_refused(any_app):
    client = _admin(any_app)
    sales, east, west = (_team_id(any_app, n) for n in ("Sales", "East", "West"))
    assert _post(client, "/admin/teams", f"/admin/teams/{west}/parent",
                 parent="East").status_code == 302
    assert _teams(any_app)["West"]["parent"] == "East"
    for team, parent in ((sales, "West"), (sales, "East"), (east, "West"), (east, "East")):
        response = _post(client, "/admin/teams", f"/admin/teams/{team}/parent", parent=parent)
        assert response.status_code == 422
        assert "own ancestor" in response.get_data(as_text=True)
    teams = _teams(any_app)
    assert teams["Sales"]["parent"] is None and teams["East"]["parent"] == "Sales"
    assert teams["West"]["parent"] == "East"
    # The page only offers parents that make no cycle.
    html = client.get("/admin/teams").get_data(as_text=True)
    row = re.search(r'data-team="East".*?data-testid="set-manager"', html, re.DOTALL).group(0)
    assert '<option value="West"' not in row and '<option value="East"' not in row
    assert _post(client, "/admin/teams", f"/admin/teams/{east}/parent",
                 parent="").status_code == 302
    assert _teams(any_app)["East"]["parent"] is None


def test_members_are_added_and_removed(any_app):
    client = _admin(any_app)
    east = _team_id(any_app, "East")
    response = _post(client, "/admin/teams", f"/admin/teams/{east}/members", username="sales5")
    assert response.status_code == 302
    assert "sales5" in _teams(any_app)["East"]["members"]
    response = _post(client, "/admin/teams", f"/admin/teams/{east}/members/remove",
                     username="sales1")
    assert response.status_code == 302
    assert _teams(any_app)["East"]["members"] == ["sales2", "sales3", "sales4", "sales5"]
    html = client.get("/admin/teams").get_data(as_text=True)
    assert "Member removed from East." in html
    row = re.search(r'data-team="East".*?</tr>', html, re.DOTALL).group(0)
    assert 'data-member="sales5"' in row and 'data-member="sales1"' not in row


def test_bad_member_changes_are_refused(app):
    client = _admin(app)
    east = _team_id(app, "East")
    before = _teams(app)["East"]["members"]
    for url, name, message in (("members", "ghost", "unknown user"),
                               ("members", "", "This field is required."),
                               ("members/remove", "sales5", "not a member")):
        response = _post(client, "/admin/teams", f"/admin/teams/{east}/{url}", username=name)
        assert response.status_code == 422, url
        assert message in response.get_data(as_text=True)
    assert _teams(app)["East"]["members"] == before


def test_unknown_team_is_404(app):
    client = _admin(app)
    token = form_token(client, "/admin/teams")
    assert client.post("/admin/teams/9999/members", data={"csrf_token": token,
                                                          "username": "sales1"}).status_code == 404


@pytest.mark.parametrize("url", ["/admin/teams", "/admin/users/sales1"])
def test_new_pages_speak_chinese(app, url):
    html = login_client(app, "admin").get(url).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "团队" in html
    for english in ("Grant a role", "New team", "Create team", "Revoke", "(top level)"):
        assert english not in html
