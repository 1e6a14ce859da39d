"""The variables a compiled CEL expression reads, found in its checked syntax tree.

cel-expr-python exposes no syntax tree, but a compiled program serializes to a
``google.protobuf.Any`` holding a ``cel.expr.CheckedExpr``. This module reads
that message's ``expr`` tree (a few protobuf wire-format fields, no protobuf
library needed) and collects every identifier that is not bound by an
enclosing comprehension. So a name inside a string literal or a comment, a map
key (``m.stage``), or a macro's own variable (``tags.exists(stage, ...)``) is
never taken for a field, which a text search over the source could not promise.

Field numbers follow ``cel/expr/checked.proto`` and ``cel/expr/syntax.proto``.
No database, no Flask, nothing at import time.
"""

from __future__ import annotations

from typing import Any

# google.protobuf.Any
_ANY_VALUE = 2
# cel.expr.CheckedExpr
_CHECKED_EXPR = 4
# cel.expr.Expr: the kind of a node
_IDENT, _SELECT, _CALL, _LIST, _STRUCT, _COMPREHENSION = 4, 5, 6, 7, 8, 9
_IDENT_NAME = 1
_SELECT_OPERAND = 1
_CALL_TARGET, _CALL_ARGS = 1, 3
_LIST_ELEMENTS = 1
_STRUCT_ENTRIES = 2
_ENTRY_MAP_KEY, _ENTRY_VALUE = 3, 4
# cel.expr.Expr.Comprehension
_ITER_VAR, _ITER_RANGE, _ACCU_VAR, _ACCU_INIT = 1, 2, 3, 4
_LOOP_CONDITION, _LOOP_STEP, _RESULT, _ITER_VAR2 = 5, 6, 7, 8


class UnreadableExpression(ValueError):
    """The serialized program is not the CheckedExpr this module understands."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise UnreadableExpression("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _message(buf: bytes) -> dict[int, list[Any]]:
    """Field number -> values (``bytes`` for length-delimited fields) of one message."""
    out: dict[int, list[Any]] = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise UnreadableExpression(f"unexpected wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _names(values: list[bytes]) -> frozenset[str]:
    return frozenset(v.decode("utf-8") for v in values)


def _walk(node: bytes, bound: frozenset[str], found: set[str]) -> None:
    # Iterative would avoid deep recursion, but expressions are at most
    # MAX_EXPRESSION_LENGTH characters and CEL caps nesting well below Python's limit.
    expr = _message(node)
    if _IDENT in expr:
        name = _message(expr[_IDENT][0]).get(_IDENT_NAME, [b""])[0].decode("utf-8")
        if name not in bound:
            found.add(name)
    elif _SELECT in expr:
        for operand in _message(expr[_SELECT][0]).get(_SELECT_OPERAND, []):
            _walk(operand, bound, found)
    elif _CALL in expr:
        call = _message(expr[_CALL][0])
        for child in call.get(_CALL_TARGET, []) + call.get(_CALL_ARGS, []):
            _walk(child, bound, found)
    elif _LIST in expr:
        for child in _message(expr[_LIST][0]).get(_LIST_ELEMENTS, []):
            _walk(child, bound, found)
    elif _STRUCT in expr:
        for entry in _message(expr[_STRUCT][0]).get(_STRUCT_ENTRIES, []):
            parts = _message(entry)
            for child in parts.get(_ENTRY_MAP_KEY, []) + parts.get(_ENTRY_VALUE, []):
                _walk(child, bound, found)
    elif _COMPREHENSION in expr:
        loop = _message(expr[_COMPREHENSION][0])
        # The range and the accumulator's start are read outside the loop's scope;
        # the condition and step see the loop variables, the result the accumulator.
        for child in loop.get(_ITER_RANGE, []) + loop.get(_ACCU_INIT, []):
            _walk(child, bound, found)
        accu = _names(loop.get(_ACCU_VAR, []))
        inner = bound | accu | _names(loop.get(_ITER_VAR, [])) | _names(loop.get(_ITER_VAR2, []))
        for child in loop.get(_LOOP_CONDITION, []) + loop.get(_LOOP_STEP, []):
            _walk(child, inner, found)
        for child in loop.get(_RESULT, []):
            _walk(child, bound | accu, found)


def identifiers(serialized: bytes) -> frozenset[str]:
    """Free identifiers of a serialized checked expression (``program.serialize()``).

    >>> identifiers(env.compile("tags.exists(t, t == stage)").serialize())  # doctest: +SKIP
    frozenset({'tags', 'stage'})
    """
    wrapper = _message(serialized)
    if _ANY_VALUE not in wrapper:
        raise UnreadableExpression("not a serialized expression")
    checked = _message(wrapper[_ANY_VALUE][0])
    if _CHECKED_EXPR not in checked:
        raise UnreadableExpression("the expression carries no syntax tree")
    found: set[str] = set()
    _walk(checked[_CHECKED_EXPR][0], frozenset(), found)
    return frozenset(found)
