"""Owner pickers offer only the people a record may be given to (the record service's
own rule), and giving it to anyone else is an error on the Owner field (issue 11, 4)."""

from __future__ import annotations

import re

import pytest

from engine import accounts
from tests.web.records.test_forms import _account, _field, _new_deal_page
from tests.web.support import csrf_from, login_client

EAST = {"sales1", "sales2", "sales3", "sales4"}
WEST = {"sales5", "sales6", "sales7", "sales8"}


@pytest.fixture
def english_login(login):
    """Logged-in clients speaking English (demo users prefer 中文)."""

    def english(username: str):
        client = login(username)
        with client.session_transaction() as session:
            session["lang"] = "en"
        return client

    return english


def _ids(app) -> dict[str, int]:
    rt = app.extensions["loom"].current
    return {u["username"]: u["id"] for u in accounts.list_users(rt.db, rt.tables)}


def _names(app, found) -> set[str]:
    by_id = {v: k for k, v in _ids(app).items()}
    return {by_id[item["id"]] for item in found}


def test_the_owner_search_offers_a_salesperson_only_their_team(any_app):
    found = login_client(any_app, "sales1").get("/r/deal/owners?limit=100")
    assert found.status_code == 200
    assert _names(any_app, found.get_json()) == EAST  # not West, the admin or service staff


def test_the_owner_search_offers_a_manager_the_teams_below_and_an_admin_everyone(app, login):
    assert _names(app, login("manager").get("/r/deal/owners?limit=100").get_json()) == (
        EAST | WEST | {"manager"})
    everyone = {u for u, _ in _ids(app).items()}
    assert _names(app, login("admin").get("/r/deal/owners?limit=100").get_json()) == everyone


def test_the_owner_search_leaves_out_inactive_users_and_filters_by_name(app, login):
    rt = app.extensions["loom"].current
    accounts.deactivate_user(rt.db, rt.tables, "sales4")
    client = login("sales1")
    assert _names(app, client.get("/r/deal/owners?limit=100").get_json()) == EAST - {"sales4"}
    sales2 = accounts.find_user(rt.db, rt.tables, "sales2")
    named = client.get(f"/r/deal/owners?q={sales2['display_name']}").get_json()
    assert named == [{"id": sales2["id"], "label": sales2["display_name"]}]


def test_the_owner_search_of_an_entity_one_cannot_read_is_forbidden(login):
    assert login("service1").get("/r/deal/owners").status_code == 403
    assert login("sales1").get("/r/nothing/owners").status_code == 404


def test_the_deal_form_owner_picker_searches_the_assignable_owners(app, english_login):
    page, _ = _new_deal_page(english_login("sales1"))
    assert 'data-search-url="/r/deal/owners"' in _field(page, "owner")


def test_the_bulk_transfer_offers_only_assignable_owners(app, login):
    page = login("sales1").get("/r/deal").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="owner".*?</select>', page, re.DOTALL).group(0)
    offered = {int(v) for v in re.findall(r'<option value="(\d+)"', select)}
    ids = _ids(app)
    assert offered == {ids[u] for u in EAST}


def test_an_owner_out_of_reach_is_an_error_on_the_owner_field_when_editing(app, english_login):
    client = english_login("sales1")
    _, token = _new_deal_page(client)
    created = client.post("/r/deal/new", data={"csrf_token": token, "title": "Mine",
                                                "account": str(_account(app))})
    assert created.status_code == 302
    deal_id = int(created.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/r/deal/{deal_id}/edit").get_data(as_text=True)
    response = client.post(f"/r/deal/{deal_id}/edit", data={
        "csrf_token": csrf_from(page), "version": "1", "title": "Mine",
        "owner": str(_ids(app)["sales5"])})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "be given this record" in _field(page, "owner")
    assert 'data-testid="form-errors"' not in page  # not at the top of the form


def test_the_api_names_the_owner_field_when_the_owner_is_out_of_reach(app, api):
    sales5 = _ids(app)["sales5"]
    response = api("sales1").post("/api/v1/deal", json={"title": "Gift", "owner": sales5,
                                                        "account": _account(app)})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("owner", "assignable")]
