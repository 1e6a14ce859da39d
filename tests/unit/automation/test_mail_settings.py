"""SMTP settings from the environment and the notification mail's templates (no network)."""

from __future__ import annotations

import pytest

from engine.automation.mail import (
    DEFAULT_TIMEOUT,
    MailSettings,
    record_link,
    render_notification,
)
from engine.clock import ConfigurationError

BASE = {"LOOM_SMTP_HOST": "mail.example.com", "LOOM_SMTP_FROM": "Loom <crm@example.com>"}


def test_no_host_means_no_mail():
    assert MailSettings.from_env({}) is None
    assert MailSettings.from_env({"LOOM_SMTP_HOST": "  ", "LOOM_SMTP_FROM": "x@y"}) is None


@pytest.mark.parametrize("extra, port", [({}, 25), ({"LOOM_SMTP_STARTTLS": "true"}, 587),
                                         ({"LOOM_SMTP_SSL": "yes"}, 465),
                                         ({"LOOM_SMTP_PORT": "2525"}, 2525)])
def test_the_port_defaults_to_what_the_connection_speaks(extra, port):
    settings = MailSettings.from_env({**BASE, **extra})
    assert settings.port == port
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.sender == "Loom <crm@example.com>"


def test_the_password_never_shows_in_the_settings_repr():
    settings = MailSettings.from_env({**BASE, "LOOM_SMTP_USER": "crm",
                                      "LOOM_SMTP_PASSWORD": "s3cret-pw", "LOOM_SMTP_TIMEOUT": "2.5"})
    assert (settings.user, settings.password, settings.timeout) == ("crm", "s3cret-pw", 2.5)
    assert "s3cret-pw" not in repr(settings)


@pytest.mark.parametrize("extra, message", [
    ({"LOOM_SMTP_PORT": "smtp"}, "LOOM_SMTP_PORT must be a number"),
    ({"LOOM_SMTP_PORT": "70000"}, "port number"),
    ({"LOOM_SMTP_TIMEOUT": "0"}, "above 0"),
    ({"LOOM_SMTP_SSL": "1", "LOOM_SMTP_STARTTLS": "1"}, "not both"),
    ({"LOOM_SMTP_STARTTLS": "maybe"}, "true or false"),
    ({"LOOM_SMTP_USER": "crm"}, "both LOOM_SMTP_USER and LOOM_SMTP_PASSWORD"),
    ({"LOOM_SMTP_FROM": ""}, "LOOM_SMTP_FROM"),
    ({"LOOM_BASE_URL": "crm.example.com"}, "http"),
])
def test_unusable_settings_are_refused_naming_the_variable(extra, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        MailSettings.from_env({**BASE, "LOOM_SMTP_PASSWORD": "", **extra})
    assert "s3cret" not in str(caught.value)


def test_links_need_a_base_url():
    settings = MailSettings.from_env({**BASE, "LOOM_BASE_URL": "https://crm.example.com/"})
    assert record_link(settings, "deal", 7) == "https://crm.example.com/r/deal/7"
    assert record_link(settings, None, None) == "https://crm.example.com/notifications"
    assert record_link(MailSettings.from_env(BASE), "deal", 7) is None


def test_the_html_mail_escapes_every_value_and_keeps_only_web_links():
    subject, text, html = render_notification(
        "en", name="<Ann>", title='Deal "A&B" <b>won</b>', body="<script>x</script>\n\nnext",
        link="https://crm.example.com/r/deal/1?a=1&b=2")
    assert subject == '[Loom] Deal "A&B" <b>won</b>'  # a subject is not HTML
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "Deal &quot;A&amp;B&quot; &lt;b&gt;won&lt;/b&gt;" in html
    assert "Hello &lt;Ann&gt;," in html
    assert 'href="https://crm.example.com/r/deal/1?a=1&amp;b=2"' in html
    assert "Hello <Ann>," in text and "https://crm.example.com/r/deal/1?a=1&b=2" in text
    _, text, html = render_notification("en", name="Ann", title="t", body="",
                                        link="javascript:alert(1)")
    assert "javascript" not in html and "javascript" not in text


def test_the_chinese_template_greets_and_links_in_chinese():
    subject, text, html = render_notification("zh-CN", name="王芳", title="商机赢单", body="",
                                              link="https://crm.example.com/r/deal/1")
    assert subject == "[Loom] 商机赢单"
    assert text.startswith("王芳，您好：")
    assert "在 Loom 中查看：https://crm.example.com/r/deal/1" in text
    assert '<html lang="zh-CN">' in html
