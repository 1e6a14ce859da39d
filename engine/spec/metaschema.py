"""The published JSON Schemas of metadata files, and validation against them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema

from engine.spec.errors import MetadataError, suggest
from engine.spec.kinds import DocumentKind, registry
from engine.spec.loader import SpecDocument

__all__ = ["metaschema", "suggest", "validate_document"]


def metaschema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a registered document kind (``entity``, ``role``...); a KeyError
    names the known kinds."""
    return _validator(registry.get(kind)).schema


# Keyed by the kind object, not its name: a kind registered again (tests) gets its own.
@lru_cache(maxsize=None)
def _validator(kind: DocumentKind) -> jsonschema.protocols.Validator:
    schema = kind.metaschema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _best(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # For oneOf/anyOf, the most specific sub-error reads better than "is not valid under any".
    if error.context:
        return jsonschema.exceptions.best_match(error.context) or error
    return error


def _unknown_keys(err: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """One ``(key, message)`` per key an ``additionalProperties: false`` refused."""
    if not isinstance(err.instance, dict):
        return []
    known = set(err.schema.get("properties", {}))
    return [(key, f"unknown key {key!r}{suggest(key, known)}; known: {', '.join(sorted(known))}")
            for key in sorted(err.instance) if key not in known]


def _sort_key(err: jsonschema.ValidationError) -> list[str]:
    return [str(p) for p in err.absolute_path]


def validate_document(doc: SpecDocument) -> list[MetadataError]:
    """Every metaschema violation of ``doc``, each with its path and line."""
    errors = []
    for err in sorted(_validator(registry.get(doc.kind)).iter_errors(doc.data), key=_sort_key):
        err = _best(err)
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and err.schema.get("properties"):
            unknown = _unknown_keys(err)
            if unknown:
                errors.extend(doc.error(path + (key,), message, code="schema")
                              for key, message in unknown)
                continue
        message = err.message
        if err.validator == "pattern" and path and path[-1] in ("entity", "name", "extends"):
            message = (f"{err.instance!r} is not a valid identifier (lower case letter, then "
                       "lower case letters, digits or _; at most 63 characters)")
        errors.append(doc.error(path, message, code="schema"))
    return errors
