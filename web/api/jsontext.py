"""JSON text from requests (bodies, ``filter=`` parameters) parsed into Python values.

Python's JSON parser recurses once per nesting level and raises ``RecursionError``
(not ``ValueError``) on text nested about a thousand levels deep, which would end
as a 500. :func:`loads` turns that, and any nesting deeper than :data:`MAX_DEPTH`,
into a ``ValueError`` the views answer with a 400 problem. Nothing Loom reads is
nested that deep: filters allow 10 levels (``engine.filters.MAX_DEPTH``).
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting of arrays and objects a request document may have.
MAX_DEPTH = 64


def loads(text: str | bytes) -> Any:
    """Parse ``text``; ``ValueError`` (with the reason) when it is not JSON or is nested
    deeper than :data:`MAX_DEPTH`.

    >>> loads('{"a": [1, 2]}')
    {'a': [1, 2]}
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"the document is nested more than {MAX_DEPTH} levels deep") from None
    if isinstance(value, (dict, list)) and _too_deep(value):
        raise ValueError(f"the document is nested more than {MAX_DEPTH} levels deep")
    return value


def _too_deep(value: dict | list) -> bool:
    """True when ``value`` nests deeper than :data:`MAX_DEPTH` (walked without recursion;
    only containers are visited, so a bulk body of flat rows costs one pass over its rows)."""
    todo = [(value, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        todo.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
