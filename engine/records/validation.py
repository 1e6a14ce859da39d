"""Turn input into a complete, valid record, or into the list of everything wrong with it.

For one record (and for every row of a bulk call) in this order:

1. input: unknown names, read-only and computed fields and fields the actor may not
   write are refused; values are coerced and checked by their field type (an empty
   string or list counts as no value);
2. defaults on create: the literal ``default`` or the ``default_expr`` (CEL) result;
3. formulas, recomputed in dependency order on every write;
4. ``required`` and ``required_if`` (CEL, on the resulting record; unknown = not required);
   ``read_only_if`` (CEL, on the stored record) on update;
5. rules: ``assert`` must hold when ``when`` holds; an unknown result is not a violation.
   Severity ``error`` blocks the write, ``warning`` is reported in ``warnings``.

Problems are collected, never raised one by one, so a form shows them all at once.
Pure: no database (references and uniqueness are checked by :mod:`.integrity` inside the
write transaction) and no Flask.
"""

from __future__ import annotations

from collections import abc
from typing import Any, Mapping

from engine.fields import FieldValueError
from engine.model import Field
from engine.permissions import HIDDEN
from engine.records.errors import FieldError, text
from engine.records.plan import EntityPlan
from engine.rules import UNKNOWN

_REQUIRED = text("is required", "此项必填")
_READ_ONLY = text("is read-only and can't be set", "为只读字段，不能设置")


def _error(name: str | None, code: str, message, row: int | None, rule: str | None = None) -> FieldError:
    return FieldError(name, code, message, rule, row)


def read_input(plan: EntityPlan, values: Any, denied: Mapping[str, str], errors: list[FieldError],
               row: int | None = None) -> dict[str, Any]:
    """Coerced and checked input values; problems go to ``errors``.

    ``denied`` maps field names the actor may not write to their access level.
    """
    if type(values) is not dict and not isinstance(values, abc.Mapping):
        errors.append(_error(None, "type", text("a record must be an object of field values",
                                                "记录必须是字段值的对象"), row))
        return {}
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


def _from_cel(f: Field, result: Any, code: str, errors: list[FieldError], row: int | None) -> Any:
    """A CEL result as the field's value (None when unknown); problems go to ``errors``."""
    if result is UNKNOWN or result is None:
        return None
    try:
        value = f.type.from_cel(f, result)
        problem = next(iter(f.type.check(f, value)), None)
    except FieldValueError as exc:
        problem = exc
    if problem is not None:
        what = "default" if code == "default" else "computed value"
        errors.append(_error(f.name, code, text(f"{what} is invalid: {problem.message.get('en')}",
                                                f"{'默认值' if code == 'default' else '计算结果'}无效："
                                                f"{problem.message.get('zh-CN')}"), row))
        return None
    return value


def complete(plan: EntityPlan, record: dict[str, Any], errors: list[FieldError],
             warnings: list[FieldError], row: int | None = None, *,
             bound: dict[str, Any] | None = None) -> None:
    """Formulas, required, required_if and rules on ``record`` (changed in place)."""
    if plan.has_expressions:
        bound = bindings(plan, record) if bound is None else bound
        for f in plan.formulas:
            value = _from_cel(f, f.expr.evaluate(bound), "formula", errors, row)
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
                    errors: list[FieldError], warnings: list[FieldError],
                    row: int | None = None) -> dict[str, Any]:
    """The new record's values (fields and ``owner``); problems go to ``errors``."""
    given = read_input(plan, values, denied, errors, row)
    record = {**plan.blank, "owner": owner, **given}
    bound = None
    if plan.default_exprs:
        bound = bindings(plan, record)
        for f in plan.default_exprs:
            if f.name not in given:
                record[f.name] = _from_cel(f, f.default_expr.evaluate(bound), "default", errors, row)
        bound = bindings(plan, record)
    complete(plan, record, errors, warnings, row, bound=bound)
    return record


def validate_update(plan: EntityPlan, old: Mapping[str, Any], values: Any, *,
                    denied: Mapping[str, str], errors: list[FieldError],
                    warnings: list[FieldError]) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """The merged record and its changes ``{name: (old, new)}``; problems go to ``errors``.

    ``read_only_if`` is judged on the stored record: once it holds, the field keeps its
    value until another change makes the condition false.
    """
    given = read_input(plan, values, denied, errors)
    if plan.read_only_if:
        before = bindings(plan, old)
        for f in plan.read_only_if:
            if f.name in given and given[f.name] != old.get(f.name) and f.read_only_if.holds(before):
                errors.append(_error(f.name, "read_only", _READ_ONLY, None))
    record = {**old, **given}
    complete(plan, record, errors, warnings)
    names = [*given, *(f.name for f in plan.formulas)]
    changes = {n: (old.get(n), record.get(n)) for n in names if record.get(n) != old.get(n)}
    return record, changes
