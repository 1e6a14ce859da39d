"""Display names of related records read through a record one may read (``read_through``).

A role may declare that the targets of a relation can be *named* through the records
of the entity it may read (a salesperson's own deal names its customer, even one
that belongs to another team). Expansions give those names on every read (see
:mod:`.expansion`); :func:`names_through` gives them for one record's form and
history, where the ids are the record's current values or values its audit trail
shows it held. The record itself is read through the service, so its scope applies;
ids the record never pointed at get no name.

No Flask here; only the record service's public reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from engine.permissions import HIDDEN, Actor
from engine.records import expansion, rights

if TYPE_CHECKING:  # pragma: no cover
    from engine.records.service import RecordService


def _ids(value: Any) -> set[int]:
    values = value if isinstance(value, list) else [value]
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool)}


def names_through(service: "RecordService", actor: Actor, entity: str, record_id: int,
                  field: str, ids: Iterable[int]) -> dict[int, str]:
    """``{id: display name}`` of ``ids`` that record ``record_id``'s ``field`` points (or
    pointed) at, when the actor's role reads that relation through; else ``{}``.

    >>> names_through(svc, sales1, "deal", 15, "account", [1171])   # doctest: +SKIP
    {1171: '上海华信科技有限公司'}

    ``RecordNotFound`` when the actor may not read the record itself.
    """
    if field not in rights.read_through(service.policy, actor, entity):
        return {}
    wanted = _ids(list(ids))
    record = service.get(actor, entity, record_id)
    held = _ids(record.get(field))
    if wanted - held:
        for entry in service.history(actor, entity, record_id):
            for value in entry["changes"].get(field, ()):
                held |= _ids(value)
    wanted &= held
    target = service.model.entity(entity).field(field).target
    if not wanted or target is None:
        return {}
    plan = service.plan(target)
    access = service.policy.field_access
    # Without any grant on the target every field counts as hidden; a name read through a
    # relation is still shown then (only a grant that hides the display field hides it).
    hidden = ({n for n in plan.fields if access(actor, target, n) == HIDDEN}
              if service.policy.can(actor, target, "read") else set())
    with service.db.reads() as conn:
        found = expansion.names(conn, plan, wanted, hidden)
    return {i: r["_display"] for i, r in found.items()}
