"""E-mail over SMTP: settings from the environment, one send, and the notification mail.

Settings (read by :meth:`MailSettings.from_env`; no ``LOOM_SMTP_HOST`` means no mail):

- ``LOOM_SMTP_HOST`` — the SMTP server; unset or empty: Loom sends no e-mail;
- ``LOOM_SMTP_PORT`` — default 465 with ``LOOM_SMTP_SSL``, 587 with ``LOOM_SMTP_STARTTLS``,
  else 25;
- ``LOOM_SMTP_USER`` / ``LOOM_SMTP_PASSWORD`` — log in with them (both or neither);
- ``LOOM_SMTP_FROM`` — the sender address (required with a host);
- ``LOOM_SMTP_STARTTLS`` / ``LOOM_SMTP_SSL`` — ``true``/``false``: upgrade the connection
  with STARTTLS, or speak TLS from the start (not both);
- ``LOOM_SMTP_TIMEOUT`` — seconds to wait for the server (default 10), so a server that
  hangs fails the send instead of holding a worker;
- ``LOOM_BASE_URL`` — where people reach Loom (``https://crm.example.com``), for the links in
  mails (:func:`record_link`); unset: mails carry no link.

:func:`send` raises :class:`MailError` on any failure; its message names the server
and the reason, never the password or the message. Nothing here retries: the caller
(a workflow run) has its own retry policy. No Flask; the templates are plain strings
in each language, and the HTML one escapes everything it is given.

>>> settings = MailSettings.from_env()                           # doctest: +SKIP
>>> if settings:
...     send_notification_mail(settings, user, title, body, record_link(settings, "deal", 7))
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html import escape
from typing import Any

from engine.automation.notifications import localized
from engine.clock import ConfigurationError

__all__ = ["MailError", "MailSettings", "record_link", "send", "send_notification_mail"]

#: Port of plain SMTP (a relay on the local network).
SMTP_PORT = 25
#: Port of mail submission with STARTTLS.
SUBMISSION_PORT = 587
#: Port of SMTP over TLS from the first byte.
SMTPS_PORT = 465
#: Seconds to wait for the server when ``LOOM_SMTP_TIMEOUT`` is unset.
DEFAULT_TIMEOUT = 10.0
#: Values of a yes/no setting read as yes, and as no.
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"", "0", "false", "no", "off"})
#: The language of a user whose ``lang`` is unknown.
FALLBACK_LANG = "en"
#: Prefix of every subject, so mail filters can sort Loom's mail.
SUBJECT_PREFIX = "[Loom] "


class MailError(RuntimeError):
    """A mail that could not be sent (server unreachable, refused, bad address...)."""


@dataclass(frozen=True)
class MailSettings:
    """How to reach the SMTP server. ``password`` is kept out of ``repr``."""

    host: str
    sender: str
    port: int = SMTP_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = DEFAULT_TIMEOUT
    #: Where people reach Loom, without a trailing slash; None: mails carry no link.
    base_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailSettings | None:
        """The settings of ``environ`` (default ``os.environ``); None when no host is set.
        A value that can't be used raises :class:`~engine.clock.ConfigurationError`."""
        env = os.environ if environ is None else environ
        host = env.get("LOOM_SMTP_HOST", "").strip()
        if not host:
            return None
        use_ssl = _flag(env, "LOOM_SMTP_SSL")
        starttls = _flag(env, "LOOM_SMTP_STARTTLS")
        if use_ssl and starttls:
            raise ConfigurationError("set LOOM_SMTP_SSL or LOOM_SMTP_STARTTLS, not both")
        default_port = SMTPS_PORT if use_ssl else SUBMISSION_PORT if starttls else SMTP_PORT
        port = _number(env, "LOOM_SMTP_PORT", int, default_port)
        if not 1 <= port <= 65535:
            raise ConfigurationError("LOOM_SMTP_PORT must be a port number (1 to 65535)")
        timeout = _number(env, "LOOM_SMTP_TIMEOUT", float, DEFAULT_TIMEOUT)
        if not timeout > 0:
            raise ConfigurationError("LOOM_SMTP_TIMEOUT must be a number of seconds above 0")
        user = env.get("LOOM_SMTP_USER", "").strip() or None
        password = env.get("LOOM_SMTP_PASSWORD") or None
        if (user is None) != (password is None):
            raise ConfigurationError("set both LOOM_SMTP_USER and LOOM_SMTP_PASSWORD, or neither")
        sender = env.get("LOOM_SMTP_FROM", "").strip()
        if not _is_address(parseaddr(sender)[1]):
            raise ConfigurationError("LOOM_SMTP_FROM must be the sender's e-mail address "
                                     "('Loom <crm@example.com>' or 'crm@example.com')")
        base_url = env.get("LOOM_BASE_URL", "").strip().rstrip("/") or None
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ConfigurationError("LOOM_BASE_URL must start with http:// or https://")
        return cls(host=host, sender=sender, port=port, user=user, password=password,
                   starttls=starttls, ssl=use_ssl, timeout=timeout, base_url=base_url)


def record_link(settings: MailSettings, entity: str | None, record_id: int | None) -> str | None:
    """The web page of a record (``<base>/r/<entity>/<id>``), else of the notifications
    list; None when ``LOOM_BASE_URL`` is unset."""
    if not settings.base_url:
        return None
    if entity and record_id is not None:
        return f"{settings.base_url}/r/{entity}/{int(record_id)}"
    return f"{settings.base_url}/notifications"


def send(settings: MailSettings, to_address: str, subject: str, text: str,
         html: str | None = None) -> str:
    """Send one mail (plain text, and HTML as its alternative when given); return its
    Message-ID. Raises :class:`MailError` when the address is unusable or the server
    can't be reached, refuses, or doesn't answer within ``settings.timeout``."""
    address = (to_address or "").strip()
    if not _is_address(address):
        raise MailError(f"not an e-mail address: {address[:80]!r}")
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = address
    # A line break in a header would start a new header: subjects are one line.
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(settings.sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    try:
        _deliver(settings, message)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        raise MailError(_describe(settings, error)) from None
    return str(message["Message-ID"])


def send_notification_mail(settings: MailSettings, user_row: Mapping[str, Any],
                           title: Mapping[str, str] | str, body: Mapping[str, str] | str | None,
                           link: str | None) -> bool:
    """Mail a notification to a user (a ``loom_users`` row or mapping: email, lang,
    display_name, username) in the user's language; False when the user has no e-mail
    address. ``title`` and ``body`` are bilingual like the notification's; ``link`` points
    at the record or the notifications page: an http(s) URL, or a path (``/r/deal/7``)
    joined to ``LOOM_BASE_URL`` (left out when that is unset)."""
    user = getattr(user_row, "_mapping", user_row)  # a SQLAlchemy Row, or a mapping
    address = (user.get("email") or "").strip()
    if not address:
        return False
    if link and link.startswith("/") and not link.startswith("//"):
        link = f"{settings.base_url}{link}" if settings.base_url else None
    lang = user.get("lang") if user.get("lang") in TEMPLATES else FALLBACK_LANG
    subject, text, html_part = render_notification(
        lang, name=user.get("display_name") or user.get("username") or "",
        title=localized(title, lang), body=localized(body, lang), link=link)
    send(settings, address, subject, text, html=html_part)
    return True


@dataclass(frozen=True)
class Template:
    """One language's notification mail: the greeting, the link line and the footer."""

    greeting: str
    open_link: str
    #: The plain-text line carrying the link (``{label}``, ``{link}``).
    link_line: str
    footer: str


#: The notification mail in each language. ``{name}`` is the reader's display name.
TEMPLATES: Mapping[str, Template] = {
    "en": Template(greeting="Hello {name},", open_link="Open in Loom",
                   link_line="{label}: {link}",
                   footer="You receive this mail because Loom notified you. Your notifications "
                          "are also listed in Loom under the bell."),
    "zh-CN": Template(greeting="{name}，您好：", open_link="在 Loom 中查看",
                      link_line="{label}：{link}",
                      footer="您收到这封邮件，是因为 Loom 向您发送了通知。"
                             "您也可以在 Loom 右上角的铃铛处查看全部通知。"),
}

_HTML = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
<p>{greeting}</p>
<h2 style="font-size: 1.1em">{title}</h2>
{body}{link}<hr>
<p style="color: #666; font-size: 0.85em">{footer}</p>
</body></html>
"""


def render_notification(lang: str, *, name: str, title: str, body: str,
                        link: str | None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a notification mail in ``lang``; every value is
    escaped in the HTML, and a link that isn't http(s) is left out."""
    template = TEMPLATES.get(lang) or TEMPLATES[FALLBACK_LANG]
    if link and not link.startswith(("http://", "https://")):
        link = None
    greeting = template.greeting.format(name=name)
    text = [greeting, "", title]
    if body:
        text += ["", body]
    if link:
        text += ["", template.link_line.format(label=template.open_link, link=link)]
    text += ["", "-- ", template.footer, ""]
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()] if body else []
    body_html = "".join("<p>" + "<br>\n".join(escape(line) for line in p.split("\n")) + "</p>\n"
                        for p in paragraphs)
    link_html = (f'<p><a href="{escape(link, quote=True)}">{escape(template.open_link)}</a></p>\n'
                 if link else "")
    page = _HTML.format(lang=escape(lang), title=escape(title), greeting=escape(greeting),
                        body=body_html, link=link_html, footer=escape(template.footer))
    return SUBJECT_PREFIX + title, "\n".join(text), page


def _deliver(settings: MailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if settings.ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.starttls:
            client.starttls(context=context)
        if settings.user and settings.password:
            client.login(settings.user, settings.password)
        client.send_message(message)


def _describe(settings: MailSettings, error: BaseException) -> str:
    """Why a send failed, with the server named and no secret in it."""
    # smtplib reports a reply that never came as "Connection unexpectedly closed: timed
    # out", with the socket's timeout as the context: that is a timeout too.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        reason = f"no answer within {settings.timeout:g} s"
    elif isinstance(error, ConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(error, smtplib.SMTPAuthenticationError):
        reason = f"the server refused the login ({error.smtp_code})"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        reason = "the server refused the recipient"
    elif isinstance(error, smtplib.SMTPResponseException):
        reason = f"the server answered {error.smtp_code}: {_reply(error.smtp_error)}"
    else:
        reason = f"{type(error).__name__}: {error}"
    if settings.password:
        reason = reason.replace(settings.password, "***")
    return f"could not send mail through {settings.host}:{settings.port}: {reason}"


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def _is_address(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and domain and len(value) <= 254
                and not any(c.isspace() or c in "<>,;\"" for c in value))


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def _number(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None
