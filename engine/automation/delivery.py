"""Delivering what actions asked to send: webhooks and e-mail, after the run committed.

An action writes a ``automation.webhook`` / ``automation.mail`` outbox row in its run's
transaction; the relay hands it to :func:`deliver` as a job. Delivery is at least once
(a receiver may see a retried webhook twice; ``X-Loom-Delivery`` names the delivery so
it can tell). A failure with attempts left puts the row back in the outbox with an
``available_at`` (backoff: :data:`BACKOFF`), so the relay hands it out again later;
each attempt's outcome is added to the run's outcomes, where the admin list shows it.

Webhooks: HTTP POST of the JSON body, a timeout (never a stuck worker), and, when the
action names ``secret_env``, ``X-Loom-Signature: sha256=<hex HMAC-SHA256 of the body
with that secret>``. Only http(s) URLs are accepted (checked at load time and again here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from typing import Any

import sqlalchemy as sa

from engine.automation.actions import MAIL_EVENT, WEBHOOK_EVENT
from engine.automation.runner import utc_naive

#: Seconds before the n-th new attempt of a failed delivery (the last value repeats).
BACKOFF = (2, 10, 60, 300)
#: E-mail attempts before a delivery gives up.
MAIL_ATTEMPTS = 3


class DeliveryFailed(RuntimeError):
    pass


def sign(secret: str, body: bytes) -> str:
    """The ``X-Loom-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, body: dict[str, Any], *, secret: str | None, timeout: float,
                 delivery_id: str) -> int:
    """POST ``body`` as JSON; the HTTP status (2xx), else raises DeliveryFailed."""
    if not url.lower().startswith(("http://", "https://")):
        raise DeliveryFailed(f"{url!r} is not an http(s) URL")
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "Loom-Webhook/1",
               "X-Loom-Delivery": delivery_id}
    if secret is not None:
        headers["X-Loom-Signature"] = sign(secret, data)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"{url} could not be reached: {reason}") from None


def deliver(snapshot: Any, outbox_id: int) -> str:
    outbox = snapshot.tables.outbox
    with snapshot.db.read() as conn:
        row = conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).first()
    if row is None:
        return "missing"
    if row.delivered_at is not None:
        return "already delivered"
    payload = row.payload or {}
    try:
        if row.event == WEBHOOK_EVENT:
            secret = None
            if payload.get("secret_env"):
                secret = os.environ.get(payload["secret_env"])
                if not secret:
                    raise DeliveryFailed(f"${payload['secret_env']} is not set: the webhook "
                                         "can't be signed")
            status = post_webhook(payload["url"], payload["body"], secret=secret,
                                  timeout=float(payload.get("timeout", 5)),
                                  delivery_id=str(outbox_id))
            outcome = f"POST {payload['url']}: {status}"
            attempts_allowed = int(payload.get("retries", 3)) + 1
        elif row.event == MAIL_EVENT:
            outcome = _mail(snapshot, payload)
            attempts_allowed = MAIL_ATTEMPTS
        else:
            return "ignored"
    except DeliveryFailed as exc:
        _failed(snapshot, row, str(exc),
                int(payload.get("retries", 3)) + 1 if row.event == WEBHOOK_EVENT else MAIL_ATTEMPTS)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - mail errors and the like: retried the same way
        _failed(snapshot, row, f"{type(exc).__name__}: {exc}", MAIL_ATTEMPTS)
        return "failed"
    del attempts_allowed
    outbox_done(snapshot, row.id)
    _note(snapshot, row, outcome)
    return "delivered"


def outbox_done(snapshot: Any, outbox_id: int) -> None:
    outbox = snapshot.tables.outbox
    with snapshot.db.write() as conn:
        conn.execute(sa.update(outbox).where(outbox.c.id == outbox_id).values(
            delivered_at=utc_naive(snapshot.clock.now()), available_at=None))


def _mail(snapshot: Any, payload: dict[str, Any]) -> str:
    from engine.automation import mail

    settings = mail.MailSettings.from_env()
    if settings is None:
        return "e-mail not sent: LOOM_SMTP_HOST is not set"
    users = snapshot.tables.users
    with snapshot.db.read() as conn:
        rows = conn.execute(sa.select(users).where(users.c.id.in_(payload["user_ids"]),
                                                   users.c.active.is_(True))).all()
    sent = 0
    for user in rows:
        if not user.email:
            continue
        link = f"/r/{payload['entity']}/{payload['record_id']}" if payload.get("entity") else None
        mail.send_notification_mail(settings, user, payload["title"], payload.get("body"), link)
        sent += 1
    return f"e-mail sent to {sent} user(s)"


def _failed(snapshot: Any, row: Any, error: str, allowed: int) -> None:
    outbox = snapshot.tables.outbox
    now = snapshot.clock.now()
    again = row.attempts < allowed
    with snapshot.db.write() as conn:
        if again:
            delay = BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
            conn.execute(sa.update(outbox).where(outbox.c.id == row.id).values(
                delivered_at=None, available_at=utc_naive(now + dt.timedelta(seconds=delay))))
        else:  # given up: the row is done (the run's outcomes say how it failed)
            conn.execute(sa.update(outbox).where(outbox.c.id == row.id).values(
                delivered_at=utc_naive(now), available_at=None))
    _note(snapshot, row, f"{error}" + (f" (attempt {row.attempts} of {allowed}; will retry)"
                                       if again else f" (attempt {row.attempts}; gave up)"),
          failed=True)


def _note(snapshot: Any, row: Any, outcome: str, *, failed: bool = False) -> None:
    """Add a delivery's outcome to its run's outcomes (the outbox row's cause is the run)."""
    if row.cause_kind != "workflow" or not (row.cause_id or "").isdigit():
        return
    runs = snapshot.tables.workflow_runs
    with snapshot.db.write() as conn:
        current = conn.execute(sa.select(runs.c.actions).where(
            runs.c.id == int(row.cause_id))).scalar()
        if current is None:
            return
        kind = "webhook" if row.event == WEBHOOK_EVENT else "e-mail"
        entry = {"action": f"{kind} delivery", "outcome": outcome, "failed": failed}
        conn.execute(sa.update(runs).where(runs.c.id == int(row.cause_id)).values(
            actions=list(current) + [entry]))
