"""Values in and out of a generated form.

- :func:`initial_data`: a record (or the defaults of a new one) as form data;
- :func:`collect`: a posted form as the values the record service takes. Only
  writable fields of the form are read, so a hidden or read-only field in the post
  never reaches the service (never mass-assign). On create, empty inputs are left
  out so defaults apply; on update, only inputs whose text differs from what the
  form showed are sent, so a value the form can't show exactly (seconds of a time,
  digits of a number) is never rewritten by merely saving, and a control the
  browser did not post (disabled) changes nothing;
- :func:`conditions`: the JSON the browser's live conditions need
  (contract: the top of ``web/static/loom/conditions.js``).

Conversion only: whether a value is valid is the record service's call.
No Flask request access here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from engine.records.errors import FieldError
from web.forms.builder import FormSpec
from web.forms.widgets import PRESENT_SUFFIX, FormValueError

#: Conditions a field may carry, as named in metadata.
CONDITION_KINDS = ("visible_if", "required_if", "read_only_if")


def initial_data(spec: FormSpec, record: Mapping[str, Any],
                 zone: ZoneInfo | None = None) -> dict[str, Any]:
    """``{attr: data}`` showing ``record`` (a stored record, or defaults of a new one);
    date-and-time values as wall time in ``zone`` (the user's)."""
    return {s.attr: s.widget.to_form(s.field, record.get(s.name), zone)
            for s in spec.fields.values()}


def defaults(spec: FormSpec, owner: int | None) -> dict[str, Any]:
    """The values a new record starts with that a form can show (literal defaults, owner)."""
    out: dict[str, Any] = {s.name: s.field.default for s in spec.fields.values()
                           if s.field.default is not None}
    out.setdefault("owner", owner)
    return out


def _posted(spec_field: Any, formdata: Mapping[str, Any]) -> bool:
    name = spec_field.name
    return name in formdata or (spec_field.widget.absent_is_empty
                                and name + PRESENT_SUFFIX in formdata)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def same_value(shown: Any, posted: Any) -> bool:
    """Does the posted data say what the form showed (ends of text and empty ids aside)?"""
    if isinstance(shown, str) and isinstance(posted, str):
        return shown.strip() == posted.strip()
    if isinstance(shown, list) and isinstance(posted, list):
        return [str(v) for v in shown] == [str(v) for v in posted if str(v).strip()]
    return shown == posted


def collect(spec: FormSpec, form: Any, formdata: Mapping[str, Any],
            old: Mapping[str, Any] | None = None,
            zone: ZoneInfo | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """The service input of a posted ``form`` and the errors of values no type could take.

    ``old`` is the stored record on update (``None`` on create); a typed date and time
    is wall time in ``zone`` (the user's).
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for s in spec.writable():
        if not _posted(s, formdata):
            continue
        data = form[s.attr].data
        if old is not None and same_value(s.widget.to_form(s.field, old.get(s.name), zone), data):
            continue
        try:
            value = s.widget.from_form(s.field, data, zone)
        except FormValueError as exc:
            errors.append(FieldError(s.name, exc.code, exc.message))
            continue
        if old is None and _empty(value):
            continue  # empty on create: the default (if any) applies
        values[s.name] = value
    return values, errors


def error_field(spec: FormSpec, error: FieldError) -> str | None:
    """The form field an error belongs next to, or ``None`` (shown above the form).

    A field's error goes next to it. A rule's error goes next to the one field its
    ``assert`` reads, when it reads exactly one field of this form (``amount > 0.0``
    is about the amount); a rule over several fields stays at the top.
    """
    if error.field is not None:
        return error.field if error.field in spec.fields else None
    if error.rule is None:
        return None
    for rule in spec.entity.rules:
        if rule.name == error.rule:
            names = [n for n in rule.assert_.variables if n in spec.fields]
            return names[0] if len(names) == 1 else None
    return None


def keep_posted(spec: FormSpec, form: Any, shown: Mapping[str, Any]) -> None:
    """Put back what the form showed for fields the post may not set (read-only ones)."""
    for s in spec.fields.values():
        if not s.writable:
            form[s.attr].data = shown.get(s.attr, "")


def conditions(spec: FormSpec, values: Mapping[str, Any],
               stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """``data-loom-conditions`` of the form: variables, rules, known values.

    ``values`` / ``stored`` are record-JSON values (``service.to_json``); only
    variables the form's expressions read and the actor may see are included.
    """
    rules = []
    variables: set[str] = set()
    for s in spec.fields.values():
        exprs = {k: getattr(s.field, k) for k in CONDITION_KINDS}
        if not any(exprs.values()):
            continue
        rules.append({"field": s.name, **{k: e.source if e is not None else None
                                          for k, e in exprs.items()}})
        for e in exprs.values():
            if e is not None:
                variables.update(e.variables)
    fields = {}
    for name in sorted(variables & set(spec.cel_types)):
        many = spec.entity.has_field(name) and not spec.entity.field(name).stored
        fields[name] = {"cel_type": spec.cel_types[name], **({"many": True} if many else {})}
    writable = {s.name for s in spec.writable()}
    known = {n: values.get(n) for n in fields if n not in writable and n in values}
    out: dict[str, Any] = {"fields": fields, "rules": rules, "values": known}
    if stored is not None:
        out["stored"] = {n: stored.get(n) for n in fields if n in stored}
    return out
