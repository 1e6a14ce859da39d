"""List pages: scope, filters, sort, paging and quick search give the service's rows."""

from __future__ import annotations

import re

from engine import accounts
from tests.web.support import form_token, login_client

ROW = re.compile(r'<tr data-id="(\d+)"')


def row_ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return [int(i) for i in ROW.findall(response.get_data(as_text=True))]


def actor(app, username: str):
    rt = app.extensions["loom"].current
    user = next(u for u in accounts.list_users(rt.db, rt.tables) if u["username"] == username)
    return accounts.actor_for(rt.db, rt.tables, user["id"])


def service_ids(app, username: str, entity: str, **kw) -> list[int]:
    rt = app.extensions["loom"].current
    kw.setdefault("sort", list(rt.model.entity(entity).list_view.get("sort", ())))
    kw.setdefault("limit", 50)
    return [r["id"] for r in rt.service.list(actor(app, username), entity, **kw).rows]


def test_list_shows_exactly_the_records_in_the_actors_scope(any_app):
    client = login_client(any_app, "sales1")
    shown = row_ids(client.get("/r/deal?per_page=500"))
    rt = any_app.extensions["loom"].current
    everything = rt.service.list(actor(any_app, "admin"), "deal", limit=1000).rows
    team = {u for u in actor(any_app, "sales1").team_ids}
    assert team, "sales1 belongs to a team"
    mine = service_ids(any_app, "sales1", "deal", limit=500)
    assert shown == mine
    others = {r["id"] for r in everything} - set(shown)
    assert others, "the demo data has deals of the other team"
    stranger = min(others)
    assert client.get(f"/r/deal/{stranger}").status_code == 404


def test_list_of_an_entity_the_actor_may_not_read_is_forbidden(login):
    assert login("service1").get("/r/deal").status_code == 403


def test_unknown_entity_is_not_found_and_anonymous_users_go_to_login(app, login):
    assert login("admin").get("/r/nothing").status_code == 404
    response = app.test_client().get("/r/deal?q=x")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_select_filter_gives_the_services_rows(any_app):
    client = login_client(any_app, "sales1")
    shown = row_ids(client.get("/r/deal?f.stage=won&per_page=50"))
    expected = service_ids(any_app, "sales1", "deal",
                           filter=[{"field": "stage", "op": "eq", "value": "won"}])
    assert shown == expected and shown


def test_number_and_date_ranges_give_the_services_rows(app, login):
    client = login("manager")
    shown = row_ids(client.get("/r/deal?f.amount.from=100000&f.amount.to=900000"
                               "&f.expected_close_date.from=2026-01-01&per_page=200"))
    expected = service_ids(app, "manager", "deal", limit=200, filter=[
        {"field": "amount", "op": "gte", "value": "100000"},
        {"field": "amount", "op": "lte", "value": "900000"},
        {"field": "expected_close_date", "op": "gte", "value": "2026-01-01"}])
    assert shown == expected and shown


def test_relation_and_owner_filters_give_the_services_rows(app, login):
    rt = app.extensions["loom"].current
    some = rt.service.list(actor(app, "admin"), "deal", limit=1).rows[0]
    client = login("admin")
    shown = row_ids(client.get(f"/r/deal?f.account={some['account']}&f.owner={some['owner']}"))
    expected = service_ids(app, "admin", "deal", filter=[
        {"field": "account", "op": "eq", "value": some["account"]},
        {"field": "owner", "op": "eq", "value": some["owner"]}])
    assert some["id"] in shown and shown == expected


def _filter_box(page: str, name: str) -> tuple[str, str]:
    """(hidden id, shown label) of the relation filter ``name`` on a list page."""
    block = page[page.index(f'data-filter="{name}"'):]
    block = block[:block.index("data-loom-typeahead-menu")]
    hidden = re.search(rf'name="f\.{name}" value="([^"]*)"', block).group(1)
    shown = re.search(r'id="filter-[^"]+"[^>]*value="([^"]*)"', block, re.S).group(1)
    return hidden, shown


def test_chosen_relation_and_user_filters_show_their_labels(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    deal = rt.service.list(admin, "deal", limit=1).rows[0]
    account = rt.service.get(admin, "account", deal["account"])
    owner = next(u for u in accounts.list_users(rt.db, rt.tables) if u["id"] == deal["owner"])
    page = login("admin").get(f"/r/deal?f.account={deal['account']}&f.owner={deal['owner']}")
    text = page.get_data(as_text=True)
    assert _filter_box(text, "account") == (str(deal["account"]), account["name"])
    assert _filter_box(text, "owner") == (str(deal["owner"]),
                                          owner.get("display_name") or owner["username"])


def test_relation_filter_on_a_record_out_of_scope_shows_no_label(any_app):
    rt = any_app.extensions["loom"].current
    admin, sales1 = actor(any_app, "admin"), actor(any_app, "sales1")
    some = rt.service.list(admin, "account", limit=1000).rows
    readable = {r["id"] for r in rt.service.list(
        sales1, "account", limit=1000,
        filter=[{"field": "id", "op": "in", "value": [r["id"] for r in some]}]).rows}
    stranger = next(r for r in some if r["id"] not in readable)
    text = login_client(any_app, "sales1").get(
        f"/r/deal?f.account={stranger['id']}").get_data(as_text=True)
    assert _filter_box(text, "account") == (str(stranger["id"]), str(stranger["id"]))
    assert stranger["name"] not in text


def test_sort_by_header_ascending_and_descending(any_app):
    client = login_client(any_app, "admin")
    page = client.get("/r/deal").get_data(as_text=True)
    assert 'data-sort="amount"' in page  # the header link
    for sort in ("amount", "-amount"):
        shown = row_ids(client.get(f"/r/deal?sort={sort}"))
        assert shown == service_ids(any_app, "admin", "deal", sort=[sort])
    desc = client.get("/r/deal?sort=amount").get_data(as_text=True)
    assert 'data-sort="-amount"' in desc  # clicking again reverses


def test_pagination_pages_through_with_the_total(any_app):
    client = login_client(any_app, "admin")
    response = client.get("/r/deal?per_page=5&page=3&sort=title")
    shown = row_ids(response)
    assert shown == service_ids(any_app, "admin", "deal", sort=["title"], limit=5, offset=10)
    rt = any_app.extensions["loom"].current
    total = rt.service.list(actor(any_app, "admin"), "deal", limit=1, with_total=True).total
    shown_total = re.search(r'data-testid="total">\D*(\d+)', response.get_data(as_text=True))
    assert int(shown_total.group(1)) == total


def test_quick_search_looks_in_the_display_and_search_fields(app, login):
    rt = app.extensions["loom"].current
    deal = rt.service.list(actor(app, "sales1"), "deal", limit=1).rows[0]
    word = deal["title"][:2]
    shown = row_ids(login("sales1").get(f"/r/deal?q={word}&per_page=200"))
    expected = service_ids(app, "sales1", "deal", limit=200, filter={"or": [
        {"field": "title", "op": "contains", "value": word},
        {"field": "competitor", "op": "contains", "value": word}]})
    assert deal["id"] in shown and shown == expected


def test_a_bad_filter_value_is_reported_and_the_list_still_shows(login):
    response = login("admin").get("/r/deal?f.amount.from=lots")
    assert response.status_code == 200
    assert 'data-testid="list-notice"' in response.get_data(as_text=True)


def test_htmx_requests_get_the_table_alone(login):
    response = login("admin").get("/r/deal", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="records-table"' in body and ROW.search(body)


def test_relation_cells_show_the_related_label_with_a_link(app, login):
    rt = app.extensions["loom"].current
    deal = rt.service.list(actor(app, "admin"), "deal", limit=1, sort=["id"],
                           expand=("account",)).rows[0]
    body = login("admin").get("/r/deal?sort=id").get_data(as_text=True)
    label = deal["_expand"]["account"]["_display"]
    assert f'<a href="/r/account/{deal["account"]}">{label}</a>' in body


def _bulk(client, entity: str, data: dict, *, token: bool = True):
    if token:
        data = {**data, "csrf_token": form_token(client, f"/r/{entity}")}
    return client.post(f"/r/{entity}/bulk", data=data)


def test_bulk_transfer_changes_the_owner_of_every_selected_record(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    ids = [r["id"] for r in rt.service.list(admin, "deal", limit=3, sort=["id"]).rows]
    target = actor(app, "sales2").user_id
    client = login("admin")
    response = _bulk(client, "deal", {"action": "transfer", "owner": target, "ids": ids})
    assert response.status_code == 303
    assert all(rt.service.get(admin, "deal", i)["owner"] == target for i in ids)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3" in page and "alert-success" in page


def test_bulk_transfer_reports_records_the_actor_may_not_change_and_does_the_rest(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    mine = service_ids(app, "sales1", "deal", limit=2)
    outside = min({r["id"] for r in rt.service.list(admin, "deal", limit=1000).rows} - set(
        service_ids(app, "sales1", "deal", limit=1000)))
    target = actor(app, "sales2").user_id
    client = login("sales1")
    response = _bulk(client, "deal", {"action": "transfer", "owner": target,
                                      "ids": [*mine, outside]})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"#{outside}" in page and "alert-danger" in page
    assert all(rt.service.get(admin, "deal", i)["owner"] == target for i in mine)
    assert rt.service.get(admin, "deal", outside)["owner"] != target


def test_bulk_delete_deletes_the_selected_records(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    # Activities point at nothing that restricts a delete.
    ids = [r["id"] for r in rt.service.list(admin, "activity", limit=2, sort=["id"]).rows]
    response = _bulk(login("admin"), "activity", {"action": "delete", "ids": ids})
    assert response.status_code == 303
    left = rt.service.list(admin, "activity", filter=[{"field": "id", "op": "in", "value": ids}])
    assert left.rows == []


def test_bulk_without_a_csrf_token_is_refused(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    ids = [r["id"] for r in rt.service.list(admin, "activity", limit=2).rows]
    response = _bulk(login("admin"), "activity", {"action": "delete", "ids": ids}, token=False)
    assert response.status_code == 400
    assert len(rt.service.list(admin, "activity", filter=[
        {"field": "id", "op": "in", "value": ids}]).rows) == 2


def test_bulk_buttons_show_only_for_actions_the_policy_allows(login):
    service = login("service1").get("/r/account").get_data(as_text=True)
    assert 'id="bulk-form"' not in service and 'name="ids" value=' not in service
    sales = login("sales1").get("/r/account").get_data(as_text=True)
    assert 'value="transfer"' in sales and 'value="delete"' not in sales


def test_every_field_type_names_a_display_and_a_list_filter_the_web_knows():
    from engine.fields import registry
    from web.records.display import FORMATTERS, PLAIN_DISPLAYS
    from web.records.filtering import FILTER_KINDS

    types = [registry.get(name) for name in registry.names()]
    assert {t.name: t.display for t in types if t.display not in FORMATTERS} == {}
    assert {t.name: t.list_filter for t in types
            if t.list_filter is not None and t.list_filter not in FILTER_KINDS} == {}
    assert PLAIN_DISPLAYS <= set(FORMATTERS)
    assert [t.name for t in types if t.refers_to_users] == ["user"]


def test_boolean_and_multiselect_filters_give_the_services_rows(app, login):
    client = login("admin")
    primary = row_ids(client.get("/r/contact?f.is_primary=true&per_page=200"))
    assert primary == service_ids(app, "admin", "contact", limit=200, filter=[
        {"field": "is_primary", "op": "eq", "value": True}])
    tagged = row_ids(client.get("/r/account?f.tags=key_account&per_page=200"))
    assert tagged == service_ids(app, "admin", "account", limit=200, filter=[
        {"field": "tags", "op": "contains", "value": "key_account"}])
    assert primary


def test_odd_relation_and_user_filter_values_never_break_the_list(app, login):
    client = login("admin")
    for value in ("²", "9" * 5000, "9" * 23, "-3", "0", "abc"):
        for name in ("account", "owner"):
            response = client.get(f"/r/deal?f.{name}={value}")
            assert response.status_code == 200, (name, value[:30], response.status_code)


def test_bulk_transfer_is_one_transfer_job_in_the_records_history(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    ids = [r["id"] for r in rt.service.list(admin, "deal", limit=3, sort=["id"]).rows]
    target = actor(app, "sales2").user_id
    _bulk(login("admin"), "deal", {"action": "transfer", "owner": target, "ids": ids})
    causes = [rt.service.history(admin, "deal", i)[-1]["cause"] for i in ids]
    assert {c["kind"] for c in causes} == {"transfer"}
    assert len({c["id"] for c in causes}) == 1  # one job


def test_bulk_delete_reports_a_restricted_record_and_deletes_the_rest(app, login):
    rt = app.extensions["loom"].current
    admin = actor(app, "admin")
    activities = [r["id"] for r in rt.service.list(admin, "activity", limit=2, sort=["id"]).rows]
    # An account with deals can't go (deal.account restricts the delete).
    deal = rt.service.list(admin, "deal", limit=1, sort=["id"]).rows[0]
    client = login("admin")
    response = _bulk(client, "account", {"action": "delete", "ids": [deal["account"]]})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"#{deal['account']}" in page and "alert-danger" in page
    assert rt.service.get(admin, "account", deal["account"])["id"] == deal["account"]
    response = _bulk(client, "activity", {"action": "delete", "ids": [*activities, 999999999]})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "#999999999" in page and "alert-success" in page
    assert rt.service.list(admin, "activity", filter=[
        {"field": "id", "op": "in", "value": activities}]).rows == []
