"""The app factory, the shared page chrome and the API's authentication gate."""

from __future__ import annotations

from tests.web.support import csrf_from, form_token, make_app


def test_login_page_renders_with_a_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert csrf_from(response.get_data(as_text=True))


def test_pages_send_people_to_the_login_page(client):
    response = client.get("/r/deal")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/r/deal")


def test_a_logged_in_user_lands_on_a_list_they_may_read(login):
    client = login("sales1")
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="nav"' in html and 'data-entity="deal"' in html


def test_the_api_refuses_anonymous_callers_with_a_problem(client):
    response = client.get("/api/v1/deal")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 401 and body["type"] == "urn:loom:problem:unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_api_paths_answer_problem_details(api):
    response = api("admin").get("/api/v1/deal/1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_session_caller_needs_the_csrf_header_on_unsafe_api_calls(login):
    client = login("admin")
    response = client.post("/api/v1/account", json={"name": "No token"})
    assert response.status_code == 400
    assert response.get_json()["type"] == "urn:loom:problem:csrf"


def test_switching_language_is_kept_in_the_session(login):
    client = login("sales1")
    token = form_token(client, "/login")
    response = client.post("/lang", data={"lang": "zh-CN", "next": "/r/deal", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/r/deal"
    with client.session_transaction() as session:
        assert session["lang"] == "zh-CN"


def test_an_unknown_language_is_refused(login):
    client = login("sales1")
    token = form_token(client, "/login")
    response = client.post("/lang", data={"lang": "xx", "csrf_token": token})
    assert response.status_code == 400


def test_security_headers_are_set(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path, crm_sqlite_file):
    import os
    import shutil
    import stat

    path = tmp_path / "loom.db"
    shutil.copy(crm_sqlite_file, path)
    first = make_app(f"sqlite:///{path}", tmp_path, SECRET_KEY=None)
    second = make_app(f"sqlite:///{path}", tmp_path, SECRET_KEY=None)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    for app in (first, second):
        app.extensions["loom"].db.dispose()
