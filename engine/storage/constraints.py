"""Tighter constraints on stored values: the ``tighten`` step, and the ``on_failure`` policy.

A field can refuse values it used to take without any change of SQL type: an
option removed from a select or multiselect, a lower ``max_length`` on a text
field, a higher ``min_length``, a new or changed ``pattern``, a higher ``min`` or
a lower ``max``. :func:`tightened` finds those by comparing the field with the
previously applied model, and :func:`plan_tighten` adds a ``tighten`` step whose
preview counts the stored values the field type's ``check`` now refuses:

* none: the step is safe and only informative (it has nothing to run);
* some: the plan is refused, unless the field declares ``convert: {on_failure:
  set_null | default}``; then the step is destructive and, when applied, writes
  null (or the default) over those values. Each record changed gets ``version +
  1``, an audit row with the old value and a ``record.updated`` event (cause
  ``{"tighten": "entity.field"}``) in the migration's transaction, so the old
  values stay readable in the audit trail (a retype does not archive them either).

:func:`on_failure` is the shared wording and decision of ``retype`` and
``tighten`` when some values fail; :func:`replacement` and :func:`trace_replaced`
are the shared doing: the value written over them, and the version bump, audit
row and event of each record (a retype's cause is ``{"retype": "entity.field"}``).

Reads only when planning; :func:`run_tighten` writes, called by ``apply_plan``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.model import Field
from engine.storage import values
from engine.storage.plan import PREVIEW_EXAMPLES, MigrationError, Planning, Step
from engine.storage.trail import Change, write_changes

if TYPE_CHECKING:  # pragma: no cover
    from engine.storage.steps import Runner


def _show(value: Any) -> str:
    return repr(value.isoformat() if hasattr(value, "isoformat") else value)


def show_default(field: Field) -> str:
    """The field's default as a plan shows it: the literal, or the CEL source."""
    if field.default is None and field.default_expr is not None:
        return field.default_expr.source
    return _show(field.default)


def _lower(old: Any, new: Any) -> bool:
    """A bound that admits less: ``new`` is set and below ``old`` (unset = no bound)."""
    if new is None:
        return False
    try:
        return old is None or new < old
    except TypeError:  # bounds of unrelated types (a retype): assume the worst
        return True


def _higher(old: Any, new: Any) -> bool:
    if new is None:
        return False
    try:
        return old is None or new > old
    except TypeError:
        return True


def tightened(old: Field, new: Field) -> list[str]:
    """What ``new`` refuses that ``old`` accepted, in words; empty when nothing tightened.

    >>> tightened(old_stage, new_stage)        # doctest: +SKIP
    ['options removed: lost']
    """
    found = []
    if new.options:
        removed = [v for v in old.option_values if v not in new.option_values]
        if removed:
            found.append(f"options removed: {', '.join(removed)}")
    if _lower(old.max_length, new.max_length):
        found.append(f"max_length {old.max_length or 'unset'} -> {new.max_length}")
    if _higher(old.min_length, new.min_length):
        found.append(f"min_length {old.min_length or 'unset'} -> {new.min_length}")
    if new.pattern and new.pattern != old.pattern:
        found.append(f"pattern {new.pattern!r}")
    if _higher(old.min, new.min):
        found.append(f"min {_show(old.min) if old.min is not None else 'unset'} -> "
                     f"{_show(new.min)}")
    if _lower(old.max, new.max):
        found.append(f"max {_show(old.max) if old.max is not None else 'unset'} -> "
                     f"{_show(new.max)}")
    return found


def on_failure(verb: str, target: str, field: Field, nullable: bool, failures: int, total: int,
               examples: list[str], what: str) -> tuple[str, bool, list[str]]:
    """``(description suffix, destructive, problems)`` for ``failures`` values of ``total``.

    ``verb`` names the step (``retype``), ``what`` says what the values do
    (``would fail to convert``).
    """
    suffix = f", {failures} {what} (e.g. {', '.join(examples)})"
    policy = field.convert.get("on_failure", "refuse")
    if policy == "set_null" and nullable:
        return suffix + " and become null", True, []
    if policy == "default" and values.has_default(field):
        return suffix + f" and get the default {show_default(field)}", True, []
    if policy == "set_null":
        return suffix, False, [(f"{verb} {target}: on_failure set_null on a required field; "
                                "use on_failure: default with a default")]
    if policy == "default":
        return suffix, False, [f"{verb} {target}: on_failure default but the field has no default"]
    return suffix, False, [(
        f"{verb} {target}: {failures} of {total} existing values {what} "
        f"(e.g. {', '.join(examples)}); fix them first or declare convert: "
        "{on_failure: set_null} (or default) on the field")]


def _check(conn: sa.Connection, table: str, field: Field,
           type_: sa.types.TypeEngine) -> values.Conversion:
    return values.check_values(values.read_values(conn, table, field.name, type_), field)


def plan_tighten(p: Planning, table: str, field: Field, what: list[str]) -> None:
    """Add the ``tighten`` step of ``table.<field>``, with its preview."""
    column = p.target.metadata.tables[table].c[field.name]
    check = _check(p.conn, table, field, column.type)
    policy = field.convert.get("on_failure", "refuse")
    examples = check.examples(PREVIEW_EXAMPLES)
    preview = {"values": check.values, "failures": check.failures, "examples": examples,
               "on_failure": policy, "tightened": list(what)}
    target = f"{table}.{field.name}"
    description = f"tighten {target} ({'; '.join(what)}): {check.values} values"
    if not check.failures:
        p.add(Step("tighten", table, field.name, description + ", all pass", preview=preview))
        return
    suffix, destructive, problems = on_failure(
        "tighten", target, field, column.nullable, check.failures, check.values, examples,
        "break the new constraint")
    p.add(Step("tighten", table, field.name, description + suffix, destructive=destructive,
               preview=preview, problems=problems,
               run=partial(run_tighten, table=table, field=field, policy=policy)))


def replacement(field: Field, policy: str) -> Any:
    """The stored value ``policy`` writes over refused values: null or the field's default."""
    return values.static_default(field) if policy == "default" else None


def trace_replaced(r: Runner, *, table: str, field: Field, failed: list[tuple[int, Any]],
                   stored: Any, step: str, old_json: Callable[[Any], Any] | None = None) -> int:
    """Write ``stored`` over the ``failed`` ``(id, old value)`` rows of ``table.<field>``,
    each with ``version + 1``, an audit row and an event caused by ``step``; records changed.

    ``old_json`` renders old values that are not ``field``'s (see
    :func:`~engine.storage.trail.write_changes`).
    """
    new = None if stored is None else field.type.from_db(field, stored)
    versions = values.read_versions(r.conn, table, [record_id for record_id, _ in failed])
    if old_json is None:
        changes = [Change(record_id, versions[record_id], values.python(field, raw), new)
                   for record_id, raw in failed]
    else:
        changes = [Change(record_id, versions[record_id], raw, new) for record_id, raw in failed]
    return write_changes(r.conn, r.model.version, r.target.entity(table), table, field, changes,
                         {step: f"{table}.{field.name}"}, old_json=old_json, clock=r.clock)


def run_tighten(r: Runner, *, table: str, field: Field, policy: str) -> None:
    """Null (or default) the values of ``table.<field>`` its type's ``check`` refuses."""
    live = r.target.entity(table)
    check = _check(r.conn, table, field, live.c[field.name].type)
    if not check.failures:
        return
    if policy not in ("set_null", "default"):
        raise MigrationError(f"{table}.{field.name}: {check.failures} values break the new "
                             f"constraint (e.g. {', '.join(check.examples(PREVIEW_EXAMPLES))})")
    trace_replaced(r, table=table, field=field, failed=check.failed,
                   stored=replacement(field, policy), step="tighten")
