"""Turn input into a complete, valid record, or into the list of everything wrong with it.

For one record (and for every row of a bulk call) in this order:

1. input: unknown names, read-only and computed fields and fields the actor may not
   write are refused; values are coerced and checked by their field type (an empty
   string or list counts as no value);
2. defaults on create: the literal ``default`` or the ``default_expr`` (CEL) result; on
   update, a ``default_expr`` that ``follows`` a changed field is taken again;
3. formulas, recomputed in dependency order on every write;
4. ``required`` and ``required_if`` (CEL, on the resulting record; unknown = not required);
   ``read_only_if`` (CEL, on the stored record) on update;
5. rules: ``assert`` must hold when ``when`` holds; an unknown result is not a violation.
   Severity ``error`` blocks the write, ``warning`` is reported in ``warnings``.

What expressions see: on create, the standard columns the new record will be stored
with (``created_at`` = ``updated_at`` = the write's time, ``created_by`` =
``updated_by`` = the acting user, ``owner`` (given or the acting user) and
``version`` = 1) are bound before defaults, formulas and rules run; ``id`` is not
known until the insert, so it stays unbound (null: an expression over it is unknown).
On update they see the stored record, ``id`` included: ``updated_at``, ``updated_by``
and ``version`` are those of the previous write (a formula over them lags one write
behind, and a rule over ``updated_by`` judges the previous editor: who may edit is the
permission policy's business).

Every computed value (default expression, formula) goes through its field type's
``check`` before it is kept: a value that would not fit its column (a formula string
over 255 characters, too many digits) is an error on that field, with the check's
code. Autonumbers are checked the same way when they are taken (:mod:`.autonumber`).

Problems are collected, never raised one by one, so a form shows them all at once.
:func:`record_id` and :func:`version_of` check the service's own arguments the same
way, so a value that can't be an id or a version never reaches the database.
Pure: no database (references and uniqueness are checked by :mod:`.integrity` inside the
write transaction) and no Flask.
"""

from __future__ import annotations

import datetime as dt
from collections import abc
from typing import Any, Mapping

from engine.fields import FieldValueError
from engine.fields.reference import coerce_id
from engine.fields.standard import STANDARD_FIELDS
from engine.model import Field, Text
from engine.permissions import HIDDEN
from engine.records.errors import FieldError, RecordNotFound, ValidationFailed, text
from engine.records.plan import EntityPlan
from engine.clock import clock_for_evaluation
from engine.rules import UNKNOWN

_REQUIRED = text("is required", "此项必填")
_READ_ONLY = text("is read-only and can't be set", "为只读字段，不能设置")
_VERSION = STANDARD_FIELDS["version"]
_NOT_A_RECORD = text("a record must be an object of field values", "记录必须是字段值的对象")


def _error(name: str | None, code: str, message, row: int | None, rule: str | None = None) -> FieldError:
    return FieldError(name, code, message, rule, row)


def read_input(plan: EntityPlan, values: Mapping[str, Any], denied: Mapping[str, str],
               errors: list[FieldError], row: int | None = None) -> dict[str, Any]:
    """Coerced and checked input values; problems go to ``errors``.

    ``values`` is a mapping (the callers check); ``denied`` maps field names the actor
    may not write to their access level.
    """
    inputs = plan.inputs
    if denied:
        inputs = {n: b for n, b in inputs.items() if n not in denied}
    out: dict[str, Any] = {}
    for name, raw in values.items():
        binder = inputs.get(name)
        if binder is None:
            errors.append(_refused(plan, name, denied, row))
            continue
        _, coerce, check, is_empty, many = binder
        if raw is None or (raw == "" or raw == [] if is_empty is None else is_empty(raw)):
            out[name] = [] if many else None
            continue
        # A refused value leaves the field empty (no default, unbound in CEL).
        try:
            value = coerce(raw)
        except FieldValueError as exc:
            errors.append(_error(name, exc.code, exc.message, row))
            out[name] = None
            continue
        if check is not None:
            for problem in check(value):
                errors.append(_error(name, problem.code, problem.message, row))
                out[name] = None
            if name in out:
                continue
        out[name] = sorted(value) if many else value
    return out


def _is_record(values: Any) -> bool:
    return type(values) is dict or isinstance(values, abc.Mapping)


def _refused(plan: EntityPlan, name: Any, denied: Mapping[str, str], row: int | None) -> FieldError:
    known = plan.fields.get(name) if isinstance(name, str) else None
    if known is not None and denied.get(name) != HIDDEN:
        return _error(name, "read_only", _READ_ONLY, row)
    names = ", ".join(n for n in plan.inputs if n not in denied)
    return _error(str(name), "unknown", text(f"unknown field {name!r}; known: {names}",
                                             f"未知字段 {name!r}；可用字段：{names}"), row)


def bindings(plan: EntityPlan, record: Mapping[str, Any]) -> dict[str, Any]:
    """CEL variables for ``record``: only names some expression reads; nulls left unbound."""
    out = {}
    to_cel = plan.to_cel
    for name in plan.cel_names:
        value = record.get(name)
        if value is not None:
            convert = to_cel[name]
            out[name] = convert(value) if convert else value
    return out


def computed_error(f: Field, problem: FieldValueError, row: int | None, *,
                   default: bool = False) -> FieldError:
    """The error of a computed value ``f`` refused (a default expression's with ``default``)."""
    what_en, what_zh = ("default", "默认值") if default else ("computed value", "计算结果")
    return _error(f.name, problem.code, text(f"{what_en} is invalid: {problem.message.get('en')}",
                                             f"{what_zh}无效：{problem.message.get('zh-CN')}"), row)


def _from_cel(f: Field, result: Any, default: bool, errors: list[FieldError],
              row: int | None) -> Any:
    """A CEL result as the field's value (None when unknown); problems go to ``errors``.

    The value is converted and checked by the field's type (a formula's by its result
    type), so nothing that would not fit the column is kept.
    """
    if result is UNKNOWN or result is None:
        return None
    try:
        value = f.type.from_cel(f, result)
        problem = next(iter(f.type.check(f, value)), None)
    except FieldValueError as exc:
        problem = exc
    if problem is not None:
        errors.append(computed_error(f, problem, row, default=default))
        return None
    return value


def complete(plan: EntityPlan, record: dict[str, Any], errors: list[FieldError],
             warnings: list[FieldError], row: int | None = None, *,
             bound: dict[str, Any] | None = None) -> None:
    """Formulas, required, required_if and rules on ``record`` (changed in place)."""
    if not plan.has_expressions:
        _complete(plan, record, errors, warnings, row, bound)
        return
    with clock_for_evaluation(plan.clock):  # CEL now()/today() and date bindings read it
        _complete(plan, record, errors, warnings, row, bound)


def _complete(plan: EntityPlan, record: dict[str, Any], errors: list[FieldError],
              warnings: list[FieldError], row: int | None, bound: dict[str, Any] | None) -> None:
    if plan.has_expressions:
        bound = bindings(plan, record) if bound is None else bound
        for f in plan.formulas:
            value = _from_cel(f, f.expr.evaluate(bound), False, errors, row)
            record[f.name] = value
            if f.name in plan.cel_names:
                if value is None:
                    bound.pop(f.name, None)
                else:
                    convert = plan.to_cel[f.name]
                    bound[f.name] = convert(value) if convert else value
    failed = set()  # fields of this record already in error (its errors are the last ones)
    for error in reversed(errors):
        if error.row != row:
            break
        failed.add(error.field)
    for f in plan.required:
        value = record.get(f.name)
        if (value is None or f.type.is_empty(value)) and f.name not in failed:
            errors.append(_error(f.name, "required", _REQUIRED, row))
    if not plan.has_expressions:
        return
    for f in plan.required_if:
        value = record.get(f.name)
        if (value is None or f.type.is_empty(value)) and f.name not in failed \
                and not f.required and f.required_if.holds(bound):
            errors.append(_error(f.name, "required", _REQUIRED, row))
    for rule in plan.rules:
        if rule.when is not None and not rule.when.holds(bound):
            continue
        if rule.assert_.holds(bound) is False:
            problem = _error(None, "rule", rule.message, row, rule.name)
            (warnings if rule.severity == "warning" else errors).append(problem)


def validate_create(plan: EntityPlan, values: Any, *, owner: int | None, denied: Mapping[str, str],
                    errors: list[FieldError], warnings: list[FieldError], now: dt.datetime,
                    row: int | None = None) -> dict[str, Any]:
    """The new record's values (fields and standard columns but ``id``); problems go to ``errors``.

    ``owner`` is the acting user (the default owner, ``created_by`` and ``updated_by``),
    ``now`` the time of the write (``created_at``, ``updated_at``).
    """
    if not _is_record(values):  # nothing else to say about it
        errors.append(_error(None, "type", _NOT_A_RECORD, row))
        return {**plan.blank}
    given = read_input(plan, values, denied, errors, row)
    record = {**plan.blank, "created_at": now, "updated_at": now, "created_by": owner,
              "updated_by": owner, "owner": owner, **given}
    bound = None
    if plan.default_exprs:
        with clock_for_evaluation(plan.clock):  # CEL now()/today() and date bindings read it
            bound = bindings(plan, record)
            for f in plan.default_exprs:
                if f.name not in given:
                    result = f.default_expr.evaluate(bound)
                    record[f.name] = _from_cel(f, result, True, errors, row)
            bound = bindings(plan, record)
    complete(plan, record, errors, warnings, row, bound=bound)
    return record


def validate_update(plan: EntityPlan, old: Mapping[str, Any], values: Any, *,
                    denied: Mapping[str, str], errors: list[FieldError],
                    warnings: list[FieldError]) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """The merged record and its changes ``{name: (old, new)}``; problems go to ``errors``.

    ``read_only_if`` is judged on the stored record: once it holds, the field keeps its
    value until another change makes the condition false. A computed default that
    ``follows`` a changed field is recomputed first (see :func:`_follow`).
    """
    if not _is_record(values):
        errors.append(_error(None, "type", _NOT_A_RECORD, None))
        return {**old}, {}
    given = read_input(plan, values, denied, errors)
    if plan.read_only_if:
        with clock_for_evaluation(plan.clock):
            before = bindings(plan, old)
            for f in plan.read_only_if:
                if f.name in given and given[f.name] != old.get(f.name) \
                        and f.read_only_if.holds(before):
                    errors.append(_error(f.name, "read_only", _READ_ONLY, None))
    record = {**old, **given}
    with clock_for_evaluation(plan.clock):  # a followed default may read now() / today()
        followed = _follow(plan, old, given, record, errors)
    complete(plan, record, errors, warnings)
    names = [*given, *followed, *(f.name for f in plan.formulas)]
    changes = {n: (old.get(n), record.get(n)) for n in names if record.get(n) != old.get(n)}
    return record, changes


def _follow(plan: EntityPlan, old: Mapping[str, Any], given: Mapping[str, Any],
            record: dict[str, Any], errors: list[FieldError]) -> list[str]:
    """Recompute the computed defaults that follow a field this update changes.

    A default declared with ``follows`` is taken again (on the merged record) when one
    of those fields changes, unless the same write changes the value itself: a form that
    posts the stored value back has not chosen it. Returns the names recomputed.
    """
    changed = {n for n, v in given.items() if v != old.get(n)}
    if not changed:
        return []
    out, bound = [], None
    for f in plan.default_exprs:
        if not f.follows or f.name in changed or changed.isdisjoint(f.follows):
            continue
        bound = bindings(plan, record) if bound is None else bound
        record[f.name] = _from_cel(f, f.default_expr.evaluate(bound), True, errors, None)
        out.append(f.name)
    return out


def record_id(entity: str, value: Any, *, label: Text | None = None) -> int:
    """``value`` as a record id (an int or integral string in the BIGINT range, see
    :func:`~engine.fields.reference.coerce_id`); anything else names no record, so
    :class:`RecordNotFound` (before it can reach the database as a bad parameter)."""
    try:
        return coerce_id(value)
    except FieldValueError:
        raise RecordNotFound(entity, value, label=label) from None


def version_of(value: Any) -> int | None:
    """The ``version`` argument of an update or delete as an int (``"3"`` is 3), or None.

    Anything else (``True``, ``"x"``, ``1.5``) is a :class:`ValidationFailed` on ``version``
    rather than a version conflict nobody can make sense of.
    """
    if value is None:
        return None
    try:
        return _VERSION.type.coerce(_VERSION, value)
    except FieldValueError as exc:
        raise ValidationFailed([_error("version", exc.code, exc.message, None)]) from None
