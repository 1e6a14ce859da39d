"""Helpers the list, record and search views share: the entity, the actor, what they see.

Views only ask; the record service and the permission policy decide. No queries
here apart from user names (users are not an entity, so the service has no list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import abort, url_for
from werkzeug.routing import BuildError

from engine import accounts
from engine.fields.standard import STANDARD_FIELDS
from engine.model import Entity, Field
from engine.permissions import HIDDEN, Actor
from engine.records import reading, rights
from engine.records.errors import PermissionDenied
from engine.records.names import names_through
from web.auth import current_actor
from web.forms.widget_base import USERS
from web.records.display import NameOnly
from web.state import Snapshot, runtime_for


def entity_or_404(rt: Snapshot, name: str) -> Entity:
    if not rt.model.has_entity(name):
        abort(404, description=f"unknown entity {name!r}")
    return rt.model.entity(name)


def actor_or_401() -> Actor:
    actor = current_actor()
    if actor is None:
        abort(401)
    return actor


def readable(entity: str) -> tuple[Snapshot, Entity, Actor]:
    """The runtime, the entity (404 if unknown) and the actor, who must be allowed to read it."""
    rt = runtime_for(entity)
    ent = entity_or_404(rt, entity)
    actor = actor_or_401()
    if not rt.policy.can(actor, entity, "read"):
        raise PermissionDenied(entity, "read")
    return rt, ent, actor


def visibility(rt: Snapshot, actor: Actor, entity: str) -> Callable[[str], bool]:
    """``visible(name)``: may the actor see this field (or standard column) of ``entity``?"""
    policy = rt.policy

    def visible(name: str) -> bool:
        return policy.field_access(actor, entity, name) != HIDDEN

    return visible


def expandable(rt: Snapshot, actor: Actor, fields: Iterable[Field],
               entity: str | None = None) -> tuple[str, ...]:
    """Names among ``fields`` (of ``entity``) the service can expand for ``actor``: relations
    it may read or read through (names only), users."""
    through = rights.read_through(rt.policy, actor, entity) if entity else frozenset()
    out = []
    for f in fields:
        if f.target is not None:
            if f.name in through or rt.policy.can(actor, f.target, "read"):
                out.append(f.name)
        elif f.type.refers_to_users and f.stored:
            out.append(f.name)
    return tuple(out)


def user_labels(rt: Snapshot, ids: Iterable[int]) -> dict[int, str]:
    """Display names of users by id (any user: names are not secret inside one CRM)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    with rt.db.read() as conn:
        return {i: u["_display"] for i, u in reading.users(conn, rt.tables.users, wanted).items()}


#: Ids per query when looking up the labels of chosen records (an ``in`` filter's limit).
LABEL_CHUNK = 500


def labels_for(rt: Snapshot, actor: Actor) -> Callable[[str, list[int]], dict[int, str]]:
    """``labels(target, ids)`` -> ``{id: display label}`` of the records ``actor`` may read.

    ``target`` is an entity or :data:`USERS`; ids the actor can't read are left out.
    """

    def labels(target: str, ids: list[int]) -> dict[int, str]:
        if target == USERS:
            return user_labels(rt, ids)
        if not rt.model.has_entity(target) or not rt.policy.can(actor, target, "read"):
            return {}
        ent = rt.model.entity(target)
        out = {}
        for start in range(0, len(ids), LABEL_CHUNK):
            chunk = ids[start:start + LABEL_CHUNK]
            page = rt.service.list(actor, target, limit=len(chunk),
                                   filter=[{"field": "id", "op": "in", "value": chunk}])
            for record in page.rows:
                shown = rt.service.to_json(target, record).get(ent.display_field)
                out[record["id"]] = str(shown) if shown not in (None, "") else f"#{record['id']}"
        return out

    return labels


def labels_through(rt: Snapshot, actor: Actor, entity: str, record_id: int,
                   labels: Callable[[str, list[int]], dict[int, str]]
                   ) -> Callable[[str, list[int]], dict[int, str]]:
    """``labels`` completed with the names read through record ``record_id`` of ``entity``
    (``read_through`` relations): the ids it points or pointed at, as :class:`NameOnly`."""
    ent = rt.model.entity(entity)
    fields: dict[str, list[str]] = {}
    for name in sorted(rights.read_through(rt.policy, actor, entity)):
        fields.setdefault(ent.field(name).target or "", []).append(name)

    def completed(target: str, ids: list[int]) -> dict[int, str]:
        out = labels(target, ids)
        for name in fields.get(target, ()):
            missing = [i for i in ids if i not in out]
            if not missing:
                break
            found = names_through(rt.service, actor, entity, record_id, name, missing)
            out.update((i, NameOnly(label or f"#{i}")) for i, label in found.items())
        return out

    return completed


def search_url(target: str) -> str:
    """The typeahead search URL of ``target`` (an entity or :data:`USERS`)."""
    if target == USERS:
        return endpoint_url("records.user_search") or f"/r/{USERS}/search"
    return endpoint_url("records.search", entity=target) or f"/r/{target}/search"


def assignable_users(rt: Snapshot, actor: Actor, entity: str, q: str = "",
                     limit: int | None = None) -> list[dict[str, Any]]:
    """``[{"id", "label", "username"}]`` of the active users ``actor`` may make the owner
    of a record of ``entity`` (the record service's rule, :func:`rights.owners`), by label;
    only those whose name contains ``q``, at most ``limit``."""
    where = rights.owners(rt.policy, actor, entity, rt.tables.entity(entity), rt.tables.users)
    return accounts.search_users(rt.db, rt.tables, q, limit, where=where)


def owner_search_url(entity: str) -> str:
    """The typeahead URL offering the owners a record of ``entity`` may be given."""
    return endpoint_url("records.owner_search", entity=entity) or f"/r/{entity}/owners"


def standard_field(name: str) -> Field:
    return STANDARD_FIELDS[name]


def endpoint_url(endpoint: str, **values: Any) -> str | None:
    """``url_for(endpoint)``, or ``None`` while that view is not part of the app."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None
