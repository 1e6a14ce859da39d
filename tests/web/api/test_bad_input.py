"""Bad requests to the records API: each gets its status and a problem+json body, never a traceback."""

from __future__ import annotations

from engine import accounts
from tests.web.api.records_support import first_id, new_deal, url
from tests.web.support import ApiClient, make_app, token_for

PROBLEM = "application/problem+json"


def test_no_token_a_wrong_token_and_a_revoked_token_are_401(any_app):
    client = any_app.test_client()
    assert client.get(url("deal")).status_code == 401
    for token in ("nonsense", "loom_1_" + "x" * 40):
        response = ApiClient(client, token).get(url("deal"))
        assert response.status_code == 401 and response.mimetype == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    token = token_for(any_app, "sales1")
    api = ApiClient(client, token)
    assert api.get(url("deal")).status_code == 200
    rt = any_app.extensions["loom"].current
    accounts.revoke_token(rt.db, rt.tables, int(token.split("_")[1]))
    refused = api.post(url("deal"), json={"title": "after revoke"})
    assert refused.status_code == 401
    assert "deal" not in refused.get_data(as_text=True).replace("/api/v1/deal", "")


def test_bodies_must_be_json_objects(api):
    admin = api("admin")
    as_form = admin.post(url("deal"), data={"title": "x"})
    assert as_form.status_code == 415 and as_form.mimetype == PROBLEM
    as_text = admin.post(url("deal"), data='{"title": "x"}', content_type="text/plain")
    assert as_text.status_code == 415
    broken = admin.post(url("deal"), data='{"title": ', content_type="application/json")
    assert broken.status_code == 400 and "not valid JSON" in broken.get_json()["detail"]
    bad_utf8 = admin.post(url("deal"), data=b'{"title": "\xff"}', content_type="application/json")
    assert bad_utf8.status_code == 400
    for body in ([{"title": "x"}], "x", 3):
        response = admin.post(url("deal"), json=body)
        assert response.status_code == 400, body
    deal = new_deal(admin)
    assert admin.patch(url("deal", deal["id"]), data="version=1").status_code == 415
    assert admin.patch(url("deal", deal["id"]), json=[1]).status_code == 400


def test_wrong_types_are_422_per_field(api):
    api = api("admin")
    response = api.post(url("deal"), json={
        "title": ["a list"], "account": "abc", "amount": {"value": 1},
        "expected_close_date": 20260101, "closed_at": True, "stage": 7})
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"title", "account", "amount", "expected_close_date", "closed_at", "stage"} <= fields


def test_a_version_that_is_not_a_number(api):
    admin = api("admin")
    deal = new_deal(admin)
    assert admin.patch(url("deal", deal["id"]), json={"title": "x", "version": "abc"}
                       ).status_code == 422
    for tag in ('"abc"', '"²"', '"' + "9" * 30 + '"'):
        assert admin.patch(url("deal", deal["id"]), json={"title": "x"},
                           headers={"If-Match": tag}).status_code == 400, tag
    assert admin.patch(url("deal", deal["id"]), json={"title": "x", "version": 2},
                       headers={"If-Match": '"1"'}).status_code == 400


def test_an_oversized_body_is_413(crm_sqlite_file, tmp_path):
    import shutil

    path = tmp_path / "small.db"
    shutil.copy(crm_sqlite_file, path)
    app = make_app(f"sqlite:///{path}", tmp_path, MAX_CONTENT_LENGTH=2048)
    try:
        api = ApiClient(app.test_client(), token_for(app, "admin"))
        account = first_id(api, "account")
        big = api.post(url("deal"), json={"title": "x", "account": account,
                                          "description": "y" * 4096})
        assert big.status_code == 413 and big.mimetype == PROBLEM
        bulk = api.post(url("deal", "bulk"), json=[{"title": "x" * 100}] * 50)
        assert bulk.status_code == 413
        assert api.post(url("deal"), json={"title": "x", "account": account}).status_code == 201
    finally:
        app.extensions["loom"].db.dispose()


def test_unknown_parameters_methods_and_paths(api):
    admin = api("admin")
    deal = new_deal(admin)
    assert admin.get(url("deal", deal["id"], colour="red")).status_code == 400
    assert admin.post(url("deal", colour="red"), json={}).status_code == 400
    assert admin.open("PUT", url("deal", deal["id"]), json={}).status_code == 405
    assert admin.get(url("deal", "bulk")).status_code == 405
    assert admin.get(url("deal", "-1")).status_code in (404, 405)


def test_a_session_caller_needs_the_csrf_header_to_write(app, login):
    from tests.web.support import form_token

    client = login("admin")
    assert client.get(url("deal", per_page=1)).status_code == 200
    refused = client.post(url("deal"), json={"title": "no csrf"})
    assert refused.status_code == 400 and refused.get_json()["type"].endswith("csrf")
    token = form_token(client, "/login")
    account = client.get(url("account", per_page=1)).get_json()["data"][0]["id"]
    created = client.post(url("deal"), json={"title": "with csrf", "account": account},
                          headers={"X-CSRFToken": token})
    assert created.status_code == 201, created.get_json()


def _nested(depth: int, leaf: str) -> str:
    """``{"not": {"not": ... leaf ...}}`` ``depth`` levels deep, as JSON text."""
    return '{"not": ' * depth + leaf + "}" * depth


def test_deeply_nested_json_is_a_400_problem_not_a_server_error(api):
    admin = api("admin")
    condition = '{"field": "stage", "op": "eq", "value": "won"}'
    for depth in (100, 1_000, 3_000, 100_000):
        listed = admin.get(url("deal"), query_string={"filter": _nested(depth, condition)})
        assert listed.status_code == 400 and listed.mimetype == PROBLEM, depth
        queried = admin.post(url("deal") + "/query", data='{"filter": ' + _nested(depth, condition) + "}",
                             content_type="application/json")
        assert queried.status_code == 400 and queried.mimetype == PROBLEM, depth
        created = admin.post(url("deal"), data='{"title": "deep", "notes": ' + "[" * depth
                             + "]" * depth + "}", content_type="application/json")
        assert created.status_code in (400, 422) and created.mimetype == PROBLEM, depth
        grouped = admin.get(url("deal") + "/aggregate",
                            query_string={"filter": _nested(depth, condition)})
        assert grouped.status_code == 400 and grouped.mimetype == PROBLEM, depth
        posted = admin.post(url("deal") + "/aggregate", data='{"filter": ' + _nested(depth, condition)
                            + "}", content_type="application/json")
        assert posted.status_code == 400 and posted.mimetype == PROBLEM, depth
    assert "nested" in listed.get_json()["detail"]
