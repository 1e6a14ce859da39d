"""Which address a login comes from, and what failures from one address may do:
``X-Forwarded-For`` is believed from configured proxies only, and failures of other
accounts from one address slow guessing down but never refuse a right password."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.accounts.throttle import ADDRESS_FACTOR, MAX_FAILURES
from engine.demo.users import DEMO_PASSWORD
from tests.web.support import form_token, make_app
from web.proxies import TrustedProxies, parse


def _login(client, username: str, password: str, forwarded: str | None = None,
           remote: str = "127.0.0.1"):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    token = form_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       headers=headers, environ_base={"REMOTE_ADDR": remote})


def _failed_addresses(app) -> set[str]:
    rt = app.extensions["loom"].current
    with rt.db.read() as conn:
        return set(conn.execute(sa.select(rt.tables.login_attempts.c.ip)).scalars())


def _record_failures(app, count: int, ip: str) -> None:
    """``count`` failures of different usernames from ``ip`` (as a guessing script leaves)."""
    from engine.accounts import LoginThrottle

    rt = app.extensions["loom"].current
    throttle = LoginThrottle(rt.db, rt.tables, clock=rt.clock)
    for i in range(count):
        throttle.failed(f"guess{i}", ip)


def test_failures_of_other_accounts_never_refuse_a_right_password(app):
    _record_failures(app, MAX_FAILURES * ADDRESS_FACTOR, "127.0.0.1")
    assert _login(app.test_client(), "sales3", DEMO_PASSWORD).status_code == 302


def test_from_a_suspect_address_one_failure_locks_that_username(app):
    _record_failures(app, MAX_FAILURES * ADDRESS_FACTOR, "127.0.0.1")
    client = app.test_client()
    assert _login(client, "sales4", "wrong-password").status_code == 401
    assert _login(client, "sales4", DEMO_PASSWORD).status_code == 429
    # Elsewhere sales4 still has its usual allowance.
    assert _login(client, "sales4", DEMO_PASSWORD, remote="10.9.9.9").status_code == 302


def test_x_forwarded_for_is_ignored_without_trusted_proxies(app):
    client = app.test_client()
    for i in range(MAX_FAILURES):
        assert _login(client, "sales2", "wrong", forwarded=f"203.0.113.{i}").status_code == 401
    assert _failed_addresses(app) == {"127.0.0.1"}
    # A forged header does not buy a fresh allowance.
    assert _login(client, "sales2", DEMO_PASSWORD, forwarded="198.51.100.7").status_code == 429


@pytest.mark.parametrize("trusted", ["1", "127.0.0.1, 10.0.0.0/8"])
def test_a_trusted_proxy_gives_each_client_its_own_address(app, tmp_path, trusted):
    url = app.extensions["loom"].db.url
    behind = make_app(url, tmp_path / "behind", LOOM_TRUSTED_PROXIES=trusted)
    try:
        client = behind.test_client()
        for _ in range(MAX_FAILURES):
            assert _login(client, "sales2", "wrong", forwarded="203.0.113.9").status_code == 401
        assert _failed_addresses(behind) == {"203.0.113.9"}
        assert _login(client, "sales2", DEMO_PASSWORD,
                      forwarded="203.0.113.9").status_code == 429
        assert _login(client, "sales2", DEMO_PASSWORD,
                      forwarded="198.51.100.7").status_code == 302
    finally:
        behind.extensions["loom"].db.dispose()


def _seen(networks, remote: str, forwarded: str | None) -> str:
    seen = {}

    def inner(environ, start_response):
        seen["addr"] = environ["REMOTE_ADDR"]
        return []

    environ = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    TrustedProxies(inner, parse(networks))(environ, lambda *a: None)
    return seen["addr"]


def test_a_list_of_proxies_is_walked_from_the_right_past_trusted_addresses_only():
    trusted = "10.0.0.0/8, 192.0.2.1"
    assert _seen(trusted, "10.0.0.2", "198.51.100.1, 203.0.113.5, 192.0.2.1") == "203.0.113.5"
    assert _seen(trusted, "10.0.0.2", None) == "10.0.0.2"
    # A client that is no proxy cannot choose its address.
    assert _seen(trusted, "203.0.113.66", "10.0.0.9, 1.2.3.4") == "203.0.113.66"


def test_the_proxy_setting_is_a_count_or_addresses_and_nonsense_is_refused():
    assert parse("") == 0 and parse("2") == 2
    with pytest.raises(ValueError, match="LOOM_TRUSTED_PROXIES"):
        parse("proxy.example")
