"""Compile one field spec: merge its preset, resolve its type, check its keys, type its CEL.

Part of :mod:`engine.compiler`; errors are appended to the list it passes, never
raised. Anything that depends on a field's type is asked of the type object
(``keys``, ``spec_problems``, ``accepts_default``...): no branching on type names.

Pure: no database, no Flask.
"""

from __future__ import annotations

import dataclasses
import re
from types import MappingProxyType
from typing import Any, Callable, Mapping

from engine.fields import FieldValueError, registry
from engine.model import Field, Inverse, Option, Preset, Source, Text, freeze, thaw
from engine.rules import Environment, Expression, ExpressionError
from engine.spec.errors import MetadataError
from engine.spec.loader import SpecDocument
from engine.spec.metaschema import suggest

#: Keys every field accepts whatever its type.
COMMON_FIELD_KEYS = frozenset({
    "name", "type", "preset", "label", "help", "required", "unique", "indexed", "read_only",
    "default", "visible_if", "required_if", "read_only_if", "renamed_from", "convert",
})

#: CEL variables every expression may use besides the entity's fields: the standard
#: columns (see ``engine.model.STANDARD_COLUMNS``) with their CEL types.
STANDARD_VARIABLES: Mapping[str, str] = MappingProxyType({
    "id": "int", "created_at": "timestamp", "updated_at": "timestamp", "created_by": "int",
    "updated_by": "int", "owner": "int", "version": "int",
})


#: A group that holds a quantifier and is itself quantified: ``(a+)+``, ``(\w*)*``, ``(x+){2,}``.
#: Python's ``re`` backtracks exponentially on such patterns, so they are refused at load time.
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?<!\\)[+*}](?:[^()\\]|\\.)*\)[+*{]")


def a_type(type_name: str) -> str:
    """``a select`` / ``an autonumber``: the type name with its article, for messages."""
    return ("an " if type_name[:1] in "aeiou" else "a ") + type_name


def humanize(name: str) -> str:
    """``account_type`` -> ``Account type``: the label of a field that declares none."""
    return name.replace("_", " ").strip().capitalize() or name


#: cel-cpp's message for a name the environment does not declare.
_UNDECLARED = re.compile(r"^undeclared reference to '([A-Za-z_][A-Za-z0-9_]*)'$")

#: ``unknown(name, error)``: told instead of ``errors`` when an expression names a field
#: the entity doesn't have (several such uses of one name are reported together).
Unknown = Callable[[str, MetadataError], None]


def undeclared_name(source: str, exc: ExpressionError) -> str | None:
    """The field an expression names but the environment lacks, else ``None``.

    cel-cpp reports an unknown function with the same words, at the ``(`` after
    it; an unknown variable is reported at the name itself (line and column, as an
    expression written as a YAML block may span several lines).
    """
    match = _UNDECLARED.match(exc.message)
    if match is None or exc.column is None:
        return None
    name = match.group(1)
    lines, line = source.split("\n"), exc.line or 1
    if not 1 <= line <= len(lines):
        return None
    text, start = lines[line - 1], exc.column - 1
    return name if text[start:start + len(name)] == name else None


@dataclasses.dataclass
class Item:
    """A spec item (field, rule, index) with the document and path it came from."""

    doc: SpecDocument
    path: tuple[str | int, ...]
    data: dict[str, Any]

    def error(self, message: str, *sub: str | int, code: str = "invalid") -> MetadataError:
        return self.doc.error(self.path + tuple(sub), message, code)

    @property
    def source(self) -> Source:
        return Source(self.doc.file, self.path, self.doc.line_of(self.path))

    def compile(self, env: Environment, source: str, expect: str | None,
                errors: list[MetadataError], *path: str | int, note: str = "",
                unknown: Unknown | None = None) -> Expression | None:
        """Compile a CEL expression of this item; on failure append an error and return None.

        An unknown field goes to ``unknown`` when given (see :data:`Unknown`).
        """
        try:
            return env.compile(source, expect=expect)
        except ExpressionError as exc:
            where = f" (column {exc.column})" if exc.column else ""
            error = self.error(f"CEL error{where}: {exc.message}{note}", *path, code="expression")
            name = undeclared_name(source, exc) if unknown is not None else None
            if name is not None and unknown is not None:
                unknown(name, error)
            else:
                errors.append(error)
            return None


@dataclasses.dataclass
class FieldDraft:
    """A field being compiled: its spec with the preset merged in, and where keys came from."""

    item: Item
    spec: dict[str, Any]
    preset: str | None = None
    from_preset: frozenset[str] = frozenset()
    #: Set once the keys are checked; replaced as expressions and the default compile.
    field: Field = None  # type: ignore[assignment]

    def error(self, key: str | None, message: str, *sub: str | int, code: str = "invalid") -> MetadataError:
        """An error about ``key``: at the key when the field gives it, else at its ``preset``."""
        if key is not None and key in self.item.data:
            return self.item.error(message, key, *sub, code=code)
        if key is not None and key in self.from_preset:
            return self.item.error(f"{message} (from preset {self.preset!r})", "preset", code=code)
        return self.item.error(message, code=code)

    def where(self, key: str) -> tuple[tuple[str | int, ...], str]:
        """Sub-path and message note for an expression found under ``key``."""
        if key in self.item.data:
            return (key,), ""
        return ("preset",), f" (from preset {self.preset!r})"


def compile_field(entity: str, item: Item, presets: Mapping[str, Preset], broken_presets: set[str],
                  errors: list[MetadataError]) -> FieldDraft | None:
    """The field of ``item`` without its expressions and default, or None with errors appended."""
    before = len(errors)
    spec = dict(item.data)
    preset_name = spec.get("preset")
    from_preset: frozenset[str] = frozenset()
    if preset_name is not None:
        if preset_name in broken_presets:
            return None  # the preset's own error is reported
        preset = presets.get(preset_name)
        if preset is None:
            errors.append(item.error(f"unknown preset {preset_name!r}{suggest(preset_name, set(presets))}; "
                                     f"known: {', '.join(sorted(presets)) or 'none'}", "preset",
                                     code="reference"))
            return None
        base = thaw(preset.values)
        from_preset = frozenset(set(base) - set(spec))
        spec = {**base, **spec}
    draft = FieldDraft(item, spec, preset_name, from_preset)
    draft_error = draft.error
    type_name = spec.get("type")
    if type_name is None:
        errors.append(item.error("field has no type: give 'type'" + (
            f" (preset {preset_name!r} has none)" if preset_name else " or a 'preset' that has one"),
            code="required"))
        return None
    if not isinstance(type_name, str) or type_name not in registry:
        errors.append(draft_error("type", f"unknown field type {type_name!r}"
                                  f"{suggest(str(type_name), set(registry.names()))}; known: "
                                  f"{', '.join(registry.names())}", code="reference"))
        return None
    ftype = registry.get(type_name)
    for key in sorted(set(spec) - COMMON_FIELD_KEYS - ftype.keys):
        errors.append(draft_error(key, f"key {key!r} does not apply to type {type_name!r}", code="key"))
    for key in sorted(ftype.required_keys - set(spec)):
        errors.append(item.error(f"{a_type(type_name)} field needs the key {key!r}", code="required"))
    if len(errors) > before:
        return None
    spec = {**ftype.spec_defaults(spec), **spec}
    for key, message in ftype.spec_problems(spec):
        errors.append(draft_error(key, message))
    options = tuple(Option(str(o["value"]), Text.of(o.get("label"), str(o["value"])), o.get("color"))
                    for o in spec.get("options", ()))
    seen: set[str] = set()
    for i, option in enumerate(options):
        if option.value in seen:
            errors.append(draft_error("options", f"option {option.value!r} is listed twice", i,
                                      code="duplicate"))
        seen.add(option.value)
    transitions = None
    if "transitions" in spec:
        values = {o.value for o in options}
        transitions = {}
        for state, targets in (spec["transitions"] or {}).items():
            for where, value in [((state,), state)] + [((state, i), t)
                                                        for i, t in enumerate(targets or ())]:
                if value not in values:
                    errors.append(draft_error("transitions", f"{value!r} is not an option; "
                                              f"options: {', '.join(sorted(values))}", *where,
                                              code="option"))
            transitions[state] = tuple(targets or ())
        transitions = MappingProxyType(transitions)
    if spec.get("pattern"):
        try:
            re.compile(spec["pattern"])
        except (re.error, RecursionError, OverflowError) as exc:
            errors.append(draft_error("pattern", f"invalid regular expression: {exc}"))
        else:
            if NESTED_QUANTIFIER.search(spec["pattern"]):
                errors.append(draft_error("pattern", "a quantified group containing a quantifier "
                                          "(like (a+)+) can take exponential time; rewrite it"))
    for key in ("unique", "indexed"):
        if spec.get(key) and not (ftype.has_column and ftype.indexable):
            errors.append(draft_error(key, f"{a_type(type_name)} field can't be {key}"))
    convert = spec.get("convert") or {}
    if convert.get("on_failure") == "default" and spec.get("default") is None:
        errors.append(draft_error("convert", "convert.on_failure is 'default' but the field has "
                                  "no default", "on_failure"))
    inverse = spec.get("inverse")
    name = spec["name"]
    field = Field(
        name=name, type=ftype, label=Text.of(spec.get("label"), humanize(name)),
        source=item.source, help=Text.of(spec["help"]) if "help" in spec else None,
        required=bool(spec.get("required", False)),
        unique=bool(spec.get("unique", False)) or ftype.always_unique,
        indexed=bool(spec.get("indexed", False)) or ftype.indexed_by_default,
        read_only=bool(spec.get("read_only", False)) or ftype.computed,
        min_length=spec.get("min_length"), max_length=spec.get("max_length"),
        pattern=spec.get("pattern"), options=options, target=spec.get("target"),
        on_delete=spec.get("on_delete"),
        inverse=Inverse(inverse["name"], Text.of(inverse.get("label"), humanize(inverse["name"])),
                        entity, name) if inverse else None,
        precision=spec.get("precision"), scale=spec.get("scale"), currency=spec.get("currency"),
        format=spec.get("format"), returns=spec.get("returns"),
        renamed_from=tuple(dict.fromkeys(_as_tuple(spec.get("renamed_from")))),
        convert=freeze(convert), preset=preset_name, transitions=transitions,
    )
    draft.spec, draft.field = spec, field
    _bounds(draft, errors)
    return None if len(errors) > before else draft


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _bounds(d: FieldDraft, errors: list[MetadataError]) -> None:
    f, values = d.field, {}
    for key in ("min", "max"):
        if key in d.spec:
            try:
                values[key] = f.type.coerce(f, d.spec[key])
            except FieldValueError as exc:
                errors.append(d.error(key, f"{key} {exc.message.get()}"))
    if "min" in values and "max" in values and values["min"] > values["max"]:
        errors.append(d.error("min", f"min is greater than max ({d.spec['min']!r} > "
                                     f"{d.spec['max']!r})"))
    if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
        errors.append(d.error("min_length", "min_length is greater than max_length"))
    if values:
        d.field = dataclasses.replace(f, **values)


#: What each expression of a field is, in "used by" answers.
EXPRESSION_ROLES = MappingProxyType({
    "expr": "formula", "default_expr": "computed default", "visible_if": "visible_if",
    "required_if": "required_if", "read_only_if": "read_only_if"})


def field_expressions(d: FieldDraft, env: Environment, errors: list[MetadataError],
                      unknown: Callable[[str, str, MetadataError], None] | None = None) -> None:
    """Compile ``expr``, ``default: {expr}`` and the ``*_if`` conditions of a field.

    ``unknown(attribute, name, error)`` is told about a field an expression names
    but the entity lacks (``attribute``: ``expr``, ``default_expr``, ``visible_if``...).
    """
    f, spec, changes = d.field, d.spec, {}

    def told(attribute: str) -> Unknown | None:
        return None if unknown is None else (lambda name, error: unknown(attribute, name, error))

    for key in ("visible_if", "required_if", "read_only_if"):
        if key in spec:
            sub, note = d.where(key)
            changes[key] = d.item.compile(env, spec[key], "bool", errors, *sub, note=note,
                                          unknown=told(key))
    if "expr" in spec:
        sub, note = d.where("expr")
        changes["expr"] = d.item.compile(env, spec["expr"], f.type.cel_type(f), errors, *sub,
                                         note=note, unknown=told("expr"))
    default = spec.get("default")
    if _is_expr(default) and f.type.accepts_default:
        sub, note = d.where("default")
        changes["default_expr"] = d.item.compile(env, default["expr"], f.type.cel_type(f), errors,
                                                 *sub, *(("expr",) if sub == ("default",) else ()),
                                                 note=note, unknown=told("default_expr"))
        changes["follows"] = _follows(d, default.get("follows"), env, errors)
    d.field = dataclasses.replace(f, **{k: v for k, v in changes.items() if v is not None})


#: Keys of a computed default: ``{expr: CEL}``, optionally ``follows: [field, ...]``.
EXPR_DEFAULT_KEYS = frozenset({"expr", "follows"})


def _is_expr(default: Any) -> bool:
    return isinstance(default, dict) and "expr" in default and set(default) <= EXPR_DEFAULT_KEYS


def _follows(d: FieldDraft, names: Any, env: Environment,
             errors: list[MetadataError]) -> tuple[str, ...] | None:
    """The fields a computed default follows (recomputed on update when one changes)."""
    if names is None:
        return None
    sub, note = d.where("default")
    path = (*sub, "follows") if sub == ("default",) else sub
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        errors.append(d.item.error(f"follows must be a list of field names{note}", *path))
        return None
    known = set(env.variables) - {d.field.name}
    for i, name in enumerate(names):
        if name not in known:
            errors.append(d.item.error(
                f"follows names unknown field {name!r}{suggest(name, known)}{note}; known: "
                f"{', '.join(sorted(known))}", *path, *((i,) if sub == ("default",) else ()),
                code="reference"))
    return tuple(dict.fromkeys(names))


def field_default(d: FieldDraft, errors: list[MetadataError]) -> None:
    """Check a literal default against the field's own type and constraints."""
    f, default = d.field, d.spec.get("default")
    if default is None:
        return
    if not f.type.accepts_default:
        errors.append(d.error("default", f"{a_type(f.type_name)} field can't have a default"))
        return
    if _is_expr(default):
        return
    try:
        value = f.type.coerce(f, default)
        problems = list(f.type.check(f, value))
    except FieldValueError as exc:
        problems = [exc]
    if problems:
        errors.append(d.error("default", f"default {default!r} violates its own field: "
                              f"{problems[0].message.get()}", code="default"))
        return
    d.field = dataclasses.replace(f, default=value)


def formula_cycles(drafts: Mapping[str, FieldDraft], errors: list[MetadataError]) -> None:
    """Report each cycle of computed expressions once, naming the fields in it."""
    graph = {n: sorted(v for v in d.field.expr.variables if v in drafts and drafts[v].field.expr)
             for n, d in drafts.items() if d.field.expr is not None}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                first = drafts[cycle[0]]
                errors.append(first.error("expr", "formula cycle: " + " -> ".join(cycle), code="cycle"))
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
