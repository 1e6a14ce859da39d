"""Mail over SMTP against a real local server (aiosmtpd on 127.0.0.1, a free port):
headers, the reader's language, escaping, login, and the failures a worker meets."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from engine.automation.mail import MailError, MailSettings, send, send_notification_mail

PASSWORD = "pw-Very-Secret-42"
LINK = "https://crm.example.com/r/deal/7"


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def message(self, index: int = -1):
        return email.message_from_bytes(self.envelopes[index].content, policy=email.policy.default)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"crm" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def smtp():
    """A local SMTP server that also accepts a login (crm / PASSWORD) without TLS."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(),
                            authenticator=_authenticate, auth_require_tls=False)
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def _settings(port: int, **kw) -> MailSettings:
    env = {"LOOM_SMTP_HOST": "127.0.0.1", "LOOM_SMTP_PORT": str(port),
           "LOOM_SMTP_FROM": "Loom CRM <crm@example.com>", "LOOM_SMTP_TIMEOUT": "5", **kw}
    return MailSettings.from_env(env)


def test_a_mail_arrives_with_its_headers_text_and_html(smtp):
    message_id = send(_settings(smtp.port), "ann@example.com", "Deal\nwon", "plain text",
                      html="<p>html</p>")
    envelope = smtp.envelopes[0]
    assert envelope.mail_from == "crm@example.com"
    assert envelope.rcpt_tos == ["ann@example.com"]
    message = smtp.message()
    assert message["From"] == "Loom CRM <crm@example.com>"
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Deal won"  # a line break can't start a new header
    assert message["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert message["Date"]
    assert message.get_body(("plain",)).get_content().strip() == "plain text"
    assert message.get_body(("html",)).get_content().strip() == "<p>html</p>"


def test_a_login_is_used_when_configured(smtp):
    send(_settings(smtp.port, LOOM_SMTP_USER="crm", LOOM_SMTP_PASSWORD=PASSWORD),
         "ann@example.com", "s", "t")
    assert len(smtp.envelopes) == 1


def test_a_refused_login_is_a_mail_error_without_the_password(smtp):
    with pytest.raises(MailError, match="refused the login") as caught:
        send(_settings(smtp.port, LOOM_SMTP_USER="crm", LOOM_SMTP_PASSWORD=PASSWORD + "x"),
             "ann@example.com", "s", "t")
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert smtp.envelopes == []


def test_the_notification_mail_speaks_the_users_language_and_escapes(smtp):
    title = {"en": "Deal <Acme & Co> won", "zh-CN": "商机 <Acme & Co> 赢单"}
    body = {"en": "Amount: 500,000", "zh-CN": "金额：500,000"}
    wang = {"username": "wang", "display_name": "王芳", "email": "wang@example.com",
            "lang": "zh-CN"}
    ann = {"username": "ann", "display_name": "", "email": "ann@example.com", "lang": "en"}
    assert send_notification_mail(_settings(smtp.port), wang, title, body, LINK)
    assert send_notification_mail(_settings(smtp.port), ann, title, body, LINK)

    chinese, english = smtp.message(0), smtp.message(1)
    assert chinese["Subject"] == "[Loom] 商机 <Acme & Co> 赢单"
    text = chinese.get_body(("plain",)).get_content()
    assert text.startswith("王芳，您好：") and "金额：500,000" in text and LINK in text
    html = chinese.get_body(("html",)).get_content()
    assert "商机 &lt;Acme &amp; Co&gt; 赢单" in html and "<Acme" not in html
    assert f'<a href="{LINK}">在 Loom 中查看</a>' in html

    assert english["Subject"] == "[Loom] Deal <Acme & Co> won"
    assert english.get_body(("plain",)).get_content().startswith("Hello ann,")
    assert "Deal &lt;Acme &amp; Co&gt; won" in english.get_body(("html",)).get_content()


def test_a_user_without_an_address_gets_no_mail(smtp):
    user = {"username": "bob", "display_name": "Bob", "email": None, "lang": "en"}
    assert send_notification_mail(_settings(smtp.port), user, "t", None, None) is False
    assert smtp.envelopes == []


@pytest.mark.parametrize("address", ["", "not-an-address", "a@b\r\nBcc: x@evil.example"])
def test_an_unusable_address_is_a_mail_error(smtp, address):
    with pytest.raises(MailError, match="not an e-mail address"):
        send(_settings(smtp.port), address, "s", "t")
    assert smtp.envelopes == []


def test_a_refused_connection_is_a_mail_error_naming_the_server():
    port = _free_port()  # nothing listens there any more
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{port}: connection refused"):
        send(_settings(port), "ann@example.com", "s", "t")


def test_a_server_that_never_answers_is_a_timeout_not_a_stuck_worker():
    with socket.socket() as silent:  # accepts connections (backlog) and never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(MailError, match="no answer within 0.5 s"):
            send(_settings(port, LOOM_SMTP_TIMEOUT="0.5"), "ann@example.com", "s", "t")


def test_a_database_row_and_a_path_joined_to_the_base_url_are_accepted(smtp, sqlite_database):
    import sqlalchemy as sa

    from engine.accounts import create_user
    from engine.storage.migrate import apply_plan
    from engine.storage.tables import build_tables
    from tests.conftest import compile_specs

    model = compile_specs({"entity": "deal", "label": "Deal",
                           "fields": [{"name": "title", "type": "string"}]})
    apply_plan(sqlite_database, model, actor="test")
    tables = build_tables(model)
    create_user(sqlite_database, tables, "ann", email="ann@example.com", lang="zh-CN")
    with sqlite_database.read() as conn:
        row = conn.execute(sa.select(tables.users)).one()
    with_base = _settings(smtp.port, LOOM_BASE_URL="https://crm.example.com")
    assert send_notification_mail(with_base, row, {"en": "Won", "zh-CN": "赢单"}, None, "/r/deal/7")
    assert send_notification_mail(_settings(smtp.port), row, "Won", None, "/r/deal/7")
    linked, unlinked = smtp.message(0), smtp.message(1)
    assert linked["To"] == "ann@example.com" and linked["Subject"] == "[Loom] 赢单"
    assert "在 Loom 中查看：https://crm.example.com/r/deal/7" in linked.get_body(("plain",)).get_content()
    assert "/r/deal/7" not in unlinked.get_body(("plain",)).get_content()
