"""CEL expressions: a typed environment per entity, compiled at load time.

Loom's expressions (rules, defaults, formulas, ``visible_if`` and friends) are
CEL, evaluated by ``cel-expr-python`` (the bindings of Google's cel-cpp). It was
chosen over ``common-expression-language`` because it type-checks an expression
against declared variables at compile time, so an unknown field or a type
mismatch is a ``loom check`` error with its position rather than a failure at
the first write; it also evaluates a three-clause rule at well over 100,000
evaluations a second. Never Python ``eval``.

Null semantics: a field whose value is null is left unbound. Evaluating an
expression that needs it yields :data:`UNKNOWN` (CEL's ``||`` and ``&&`` still
short-circuit around it). Callers decide what unknown means: a rule's
``assert`` is not violated, a ``when`` / ``*_if`` condition does not hold, a
formula or default becomes null.

``now()`` and ``today()`` read the :class:`~engine.clock.Clock` of the evaluation
(:func:`~engine.clock.clock_for_evaluation`). ``today()`` is today's date in the
organisation's time zone, held as CEL holds every date: midnight UTC of that calendar
day. So ``close_date < today()`` and a ``today()`` default compare and give the
organisation's day whatever its zone, and ``getDate()`` works on both.

Why not the instant the local day began (16:00 UTC the day before, in Shanghai)? Date
fields are bound at midnight UTC (their getters, and the browser's evaluator, depend
on it): an instant would put "today" and a date of today on different sides of ``<``
in every zone but UTC. A datetime compared with ``today()`` is therefore compared
with midnight UTC of the local date; compare datetimes with ``now()``, and use the
whole-day filters (``today``, ``within_next_days``), which count local days exactly.

This module must not touch the database or Flask.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cel_expr_python import cel

from engine.clock import evaluation_clock
from engine.rules.references import identifiers

#: Longest expression accepted, in characters. Bounds the work one evaluation can do
#: (cel-expr-python exposes no comprehension budget; CEL itself has no unbounded loops).
MAX_EXPRESSION_LENGTH = 2000


class _Unknown:
    """The result of an expression that needs a null value."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()


class ExpressionError(ValueError):
    """A CEL syntax or type error, with the 1-based column where CEL gives it."""

    def __init__(self, message: str, column: int | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        #: 1-based line of the expression (a YAML block may span several), where CEL gives it.
        self.line = line


_T = cel.Type
_SIMPLE = {
    "int": _T.INT, "uint": _T.UINT, "double": _T.DOUBLE, "string": _T.STRING, "bool": _T.BOOL,
    "bytes": _T.BYTES, "timestamp": _T.TIMESTAMP, "duration": _T.DURATION, "dyn": _T.DYN,
    "null_type": _T.NULL,
}


def cel_type(signature: str) -> "cel.Type":
    """``"list(string)"`` -> the cel.Type. Accepts the names field types return."""
    signature = signature.strip()
    if signature in _SIMPLE:
        return _SIMPLE[signature]
    match = re.fullmatch(r"list\((.+)\)", signature)
    if match:
        return _T.List(cel_type(match.group(1)))
    match = re.fullmatch(r"map\(([^,]+),(.+)\)", signature)
    if match:
        return _T.Map(cel_type(match.group(1)), cel_type(match.group(2)))
    raise KeyError(f"unknown CEL type {signature!r}; known: {', '.join(sorted(_SIMPLE))}, "
                   "list(T), map(K, V)")


def _now() -> dt.datetime:
    return evaluation_clock().now()


def _today() -> dt.datetime:
    """Today's date in the organisation's zone, as CEL holds dates (midnight UTC)."""
    day = evaluation_clock().today()
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _standard_functions() -> list["cel.FunctionDecl"]:
    return [
        cel.FunctionDecl("now", [cel.Overload("loom_now", _T.TIMESTAMP, [], impl=_now)]),
        cel.FunctionDecl("today", [cel.Overload("loom_today", _T.TIMESTAMP, [], impl=_today)]),
    ]


_ERROR_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")


def _clean_error(raw: str) -> ExpressionError:
    """Turn cel-cpp's multi-line message into one line and a column."""
    for line in raw.splitlines():
        match = _ERROR_POSITION.search(line)
        if match:
            message = re.sub(r"\s*\(in container ''\)", "", match.group(3)).strip()
            return ExpressionError(message, int(match.group(2)), int(match.group(1)))
    text = raw.replace("INVALID_ARGUMENT:", "").strip().splitlines()[0] if raw else "invalid"
    return ExpressionError(text)


def _type_name(t: "cel.Type") -> str:
    """CEL's ``LIST<STRING>`` -> ``list(string)``: the signatures field types use."""
    name = t.name().lower().replace("<", "(").replace(">", ")")
    return re.sub(r",\s*", ", ", name)


#: Result types of a failed evaluation. cel-expr-python returns these as values
#: (an unbound variable, a division by zero...) instead of raising.
_FAILED = frozenset({"ERROR", "UNKNOWN"})


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled CEL expression. ``evaluate`` returns a value or :data:`UNKNOWN`."""

    source: str
    program: Any
    result_type: str
    variables: frozenset[str]

    def evaluate(self, bindings: Mapping[str, Any]) -> Any:
        """The value of the expression, or :data:`UNKNOWN`.

        A binding of ``None`` counts as unbound. Trap: cel-expr-python does not
        raise for an unbound variable or a runtime error; it returns an error
        *value* whose ``value()`` is the message string, which is truthy.
        """
        try:
            result = self.program.eval(data=bindings)
            if result.type().name() in _FAILED:
                return UNKNOWN
            return result.plain_value()
        except Exception:  # noqa: BLE001 - bad binding types are reported as exceptions
            return UNKNOWN

    def holds(self, bindings: Mapping[str, Any]) -> bool | None:
        """True/False for a condition, ``None`` when unknown."""
        result = self.evaluate(bindings)
        if result is UNKNOWN:
            return None
        return bool(result)


class Environment:
    """A typed CEL environment: one variable per field, plus ``now()`` and ``today()``.

    >>> env = Environment({"amount": "double", "stage": "string"})
    >>> env.compile("stage == 'won' && amount > 0.0", expect="bool").holds({"stage": "won",
    ...     "amount": 5.0})
    True
    """

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = dict(variables)
        self._env = cel.NewEnv(
            variables={name: cel_type(sig) for name, sig in self.variables.items()},
            functions=_standard_functions(),
        )

    def compile(self, source: str, expect: str | None = None) -> Expression:
        """Compile and type-check ``source``; ``expect`` is a CEL type name like ``bool``.

        Raises :class:`ExpressionError` naming the problem and its column.
        """
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("expression is empty")
        if len(source) > MAX_EXPRESSION_LENGTH:
            raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
        try:
            program = self._env.compile(source)
        except RuntimeError as exc:
            error = _clean_error(str(exc))
            if _MIXED_NUMBERS.search(error.message):
                error = ExpressionError(error.message + _MIXED_NUMBERS_HINT, error.column,
                                        error.line)
            raise error from None
        result = _type_name(program.return_type())
        if expect is not None and not _assignable(expect, result):
            raise ExpressionError(f"expression has type {result}, expected {expect}")
        # The declared variables the checked tree reads (never a text search of the
        # source: a name inside a string or a macro's own variable is not a use).
        used = frozenset(identifiers(program.serialize()) & self.variables.keys())
        return Expression(source=source, program=program, result_type=result, variables=used)


#: CEL never mixes int and double in one operation; decimal, money and percent
#: fields are doubles, so ``amount > 100`` fails where ``amount > 100.0`` works.
_MIXED_NUMBERS = re.compile(r"applied to '\((?:double, int|int, double)\)'")
_MIXED_NUMBERS_HINT = (" (CEL does not mix int and double: decimal, money and percent fields are "
                       "double, so write a number with a decimal point, e.g. 100.0, not 100)")


def _assignable(expected: str, actual: str) -> bool:
    expected, actual = expected.replace(" ", ""), actual.replace(" ", "")
    if actual in ("dyn", expected) or expected == "dyn":
        return True
    # A list literal's element type may be dyn (``[]``) where list(string) is expected.
    if expected.startswith("list(") and actual == "list(dyn)":
        return True
    # An int literal where a double is expected (``default: {expr: "0"}``) converts.
    return expected == "double" and actual in ("int", "uint")


Binder = Callable[[str, Any], Any]
