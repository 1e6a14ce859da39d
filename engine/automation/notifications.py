"""In-app notifications: write them for users, count, list and mark them read.

A notification is one row of ``loom_notifications`` per user: a kind (``reminder``,
``pool_return``, ``approval``, ``workflow``...), a title and an optional body in every
language (``{"en": ..., "zh-CN": ...}``; the reader's language is picked with
:func:`localized`), and optionally the record it is about and the workflow run that
wrote it.

Every function takes the caller's connection and never commits: the workflow's
``notify`` action writes its rows in the run's transaction, so a run that fails
leaves no notification behind. Nothing here knows about Flask or e-mail
(:mod:`engine.automation.mail` sends the mails).

>>> notify(conn, tables, [7, 8], kind="reminder", at=clock.naive_now(),  # doctest: +SKIP
...        title={"en": "Visit in 30 minutes", "zh-CN": "30 分钟后拜访"},
...        entity="visit", record_id=42)
2
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.clock import naive_utc
from engine.model import LANGUAGES
from engine.storage.tables import ModelTables

__all__ = ["DEFAULT_LIMIT", "MAX_IDS", "MAX_LIMIT", "NotificationError", "Page", "active_users",
           "bilingual", "localized", "mark_read", "notify", "prune", "recent", "unread_count"]

#: Notifications a page shows when the caller names no limit.
DEFAULT_LIMIT = 20
#: The most notifications one call of :func:`recent` returns.
MAX_LIMIT = 100
#: The most ids one call of :func:`mark_read` accepts (a page never shows more).
MAX_IDS = 500
#: Longest title, in characters per language.
MAX_TITLE = 300
#: Longest body, in characters per language.
MAX_BODY = 4000
#: What a kind may look like (it is a label for filtering and icons, never shown raw).
KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: The largest id a query may name (ids are 64-bit; a larger number can't match).
MAX_ID = 2**63 - 1
#: The language every text must have or fall back to.
FALLBACK_LANG = "en"


class NotificationError(ValueError):
    """A notification or a request about notifications that can't be taken (bad input)."""


@dataclass(frozen=True)
class Page:
    """Some of a user's notifications, newest first, and where the next page starts."""

    items: tuple[dict[str, Any], ...]
    #: Pass as ``before_id`` for the next (older) page; None on the last page.
    next_before_id: int | None


def localized(value: Mapping[str, str] | str | None, lang: str) -> str:
    """The text of ``value`` in ``lang``, else in English, else in any language it has.

    >>> localized({"en": "Won", "zh-CN": "赢单"}, "zh-CN"), localized({"en": "Won"}, "zh-CN")
    ('赢单', 'Won')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    for key in (lang, FALLBACK_LANG):
        text = value.get(key)
        if isinstance(text, str) and text:
            return text
    return next((t for t in value.values() if isinstance(t, str) and t), "")


def bilingual(value: Mapping[str, str] | str | None, what: str = "title", *,
              limit: int = MAX_TITLE) -> dict[str, str] | None:
    """``value`` as a ``{language: text}`` dict to store: a plain string is used for every
    language; a mapping may only hold known languages, and needs at least one text.
    Raises :class:`NotificationError` naming ``what``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {lang: value for lang in LANGUAGES}
    if not isinstance(value, Mapping):
        raise NotificationError(f"the {what} must be a text or a mapping of languages to texts")
    out: dict[str, str] = {}
    for lang, text in value.items():
        if lang not in LANGUAGES:
            raise NotificationError(f"the {what} has an unknown language {lang!r}; "
                                    f"known: {', '.join(LANGUAGES)}")
        if not isinstance(text, str):
            raise NotificationError(f"the {what} in {lang} must be a text")
        text = text.strip()
        if len(text) > limit:
            raise NotificationError(f"the {what} in {lang} is longer than {limit} characters")
        if text:
            out[lang] = text
    if not out:
        raise NotificationError(f"the {what} is empty")
    return out


def active_users(conn: sa.Connection, tables: ModelTables,
                 user_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The active users among ``user_ids`` (distinct, in the order given): id, username,
    display_name, email, lang. Unknown and inactive ids are left out."""
    wanted = _distinct_ids(user_ids)
    if not wanted:
        return []
    users = tables.users
    rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.display_name,
                                  users.c.email, users.c.lang)
                        .where(users.c.id.in_(wanted), users.c.active.is_(sa.true()))).mappings()
    found = {int(r["id"]): dict(r) for r in rows}
    return [found[i] for i in wanted if i in found]


def notify(conn: sa.Connection, tables: ModelTables, user_ids: Iterable[int], *, kind: str,
           title: Mapping[str, str] | str, body: Mapping[str, str] | str | None = None,
           entity: str | None = None, record_id: int | None = None, run_id: int | None = None,
           at: dt.datetime) -> int:
    """Write one notification for each distinct active user of ``user_ids`` (inactive and
    unknown users are skipped) in the caller's transaction; return how many were written
    (:func:`active_users` tells who). ``at`` is the writer's clock reading (aware, or naive
    UTC)."""
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise NotificationError(f"the kind {kind!r} must be lower-case letters, digits and _ "
                                "(at most 32)")
    stored_title = bilingual(title, "title")
    stored_body = bilingual(body, "body", limit=MAX_BODY)
    if record_id is not None and not entity:
        raise NotificationError("a notification about a record needs its entity")
    if entity is not None and (not isinstance(entity, str) or len(entity) > 63):
        raise NotificationError("the entity must be a name of at most 63 characters")
    recipients = [u["id"] for u in active_users(conn, tables, user_ids)]
    if recipients:
        created = naive_utc(at)
        conn.execute(tables.notifications.insert(), [
            {"user_id": uid, "created_at": created, "kind": kind, "title": stored_title,
             "body": stored_body, "entity": entity, "record_id": record_id, "run_id": run_id,
             "read_at": None} for uid in recipients])
    return len(recipients)


def unread_count(conn: sa.Connection, tables: ModelTables, user_id: int) -> int:
    """How many notifications ``user_id`` has not read."""
    t = tables.notifications
    return int(conn.execute(sa.select(sa.func.count()).select_from(t)
                            .where(t.c.user_id == user_id, t.c.read_at.is_(None))).scalar_one())


def recent(conn: sa.Connection, tables: ModelTables, user_id: int, *, limit: int = DEFAULT_LIMIT,
           unread_only: bool = False, before_id: int | None = None) -> Page:
    """``user_id``'s notifications, newest first: at most ``limit`` (1 to :data:`MAX_LIMIT`),
    only unread ones if asked, only older than ``before_id`` (the previous page's
    ``next_before_id``) if given."""
    limit = _positive(limit, "limit")
    if limit > MAX_LIMIT:
        raise NotificationError(f"limit must be at most {MAX_LIMIT}")
    t = tables.notifications
    query = sa.select(t).where(t.c.user_id == user_id)
    if unread_only:
        query = query.where(t.c.read_at.is_(None))
    if before_id is not None:
        query = query.where(t.c.id < _positive(before_id, "before_id"))
    rows = [dict(r) for r in conn.execute(query.order_by(t.c.id.desc()).limit(limit + 1))
            .mappings()]
    more = len(rows) > limit
    items = tuple(rows[:limit])
    return Page(items, int(items[-1]["id"]) if more else None)


def mark_read(conn: sa.Connection, tables: ModelTables, user_id: int,
              ids: Iterable[int] | None = None, *, at: dt.datetime) -> int:
    """Mark ``user_id``'s notifications ``ids`` (all of them when None) read at ``at``;
    return how many changed. Ids of other users' notifications, unknown ids and ids
    already read change nothing: a user only ever marks their own."""
    t = tables.notifications
    where = [t.c.user_id == user_id, t.c.read_at.is_(None)]
    if ids is not None:
        wanted = _distinct_ids(ids)
        if len(wanted) > MAX_IDS:
            raise NotificationError(f"at most {MAX_IDS} ids at a time")
        if not wanted:
            return 0
        where.append(t.c.id.in_(wanted))
    return int(conn.execute(t.update().where(*where).values(read_at=naive_utc(at))).rowcount)


def prune(conn: sa.Connection, tables: ModelTables, older_than: dt.datetime) -> int:
    """Delete every notification created before ``older_than``, read or not; return how many."""
    t = tables.notifications
    return int(conn.execute(t.delete().where(t.c.created_at < naive_utc(older_than))).rowcount)


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotificationError(f"{name} must be a whole number from 1 to {MAX_ID}")
    return value


def _distinct_ids(values: Iterable[Any]) -> list[int]:
    if isinstance(values, (str, bytes, Mapping)):
        raise NotificationError("ids must be a list of whole numbers")
    out: dict[int, None] = {}
    for value in values:
        out[_positive(value, "every id")] = None
    return list(out)
