"""The two hashes of a compiled model: the schema version and the metadata revision.

- ``schema_version`` hashes only what shapes tables or the values a writer may store
  (field names and types, storage keys, rules, indexes, entity names and renames).
  It gates writes (:func:`engine.storage.versions.ensure_current`): a process whose
  schema version is not the applied one refuses to write, so a label or layout change
  must not change it, or every writer would be refused for nothing.
- ``revision`` hashes every document of every kind (entities with their labels and
  layouts, presets, roles, and any kind registered later). Every process reloads when
  another one applied a new revision, so a role or label change is picked up without
  refusing writes.

The projection is a deny-list on purpose: a key not named here is part of the schema
version, so a new key that does shape storage can never slip through unnoticed (the
worst a forgotten presentation key costs is a needless reload-and-retry).

Pure: no database, nothing at import time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

#: Length of both hashes (hex characters).
HASH_LENGTH = 16

#: Entity keys outside the schema version: what people see, never what is stored.
#: ``label``, ``plural_label``, ``description``: names shown in pages and the API docs.
#: ``display_field``: which field titles a record in links and pickers (read side only).
#: ``list_view``, ``form_layout``: columns, filters, sections of the generated pages.
ENTITY_PRESENTATION = frozenset({"label", "plural_label", "description", "display_field",
                                 "list_view", "form_layout"})

#: Field keys (and preset values) outside the schema version.
#: ``label``, ``help``: texts of forms and the API docs.
#: ``visible_if``: whether a form shows the field; hiding stores nothing different.
#: ``currency``: the symbol a money value is shown with; the stored number is the same.
#: ``inverse``: the name of the read-only reverse relation on the target (no column).
#: Everything else is in: ``name``, ``type``, ``preset``, ``required``, ``unique``,
#: ``indexed``, ``read_only``, ``default``, ``min``/``max``, lengths, ``pattern``,
#: option values, ``target``, ``on_delete``, ``precision``, ``scale``, ``format``
#: (autonumbers), ``expr``/``returns`` (formulas), ``required_if``/``read_only_if``
#: (they decide which input is accepted), ``renamed_from`` and ``convert``.
FIELD_PRESENTATION = frozenset({"label", "help", "visible_if", "currency", "inverse",
                                "transitions"})

#: Option keys outside the schema version (the ``value`` is what is stored).
OPTION_PRESENTATION = frozenset({"label", "color"})

#: Rule keys outside the schema version (``when``, ``assert`` and ``severity`` decide
#: what may be stored; the message only says why).
RULE_PRESENTATION = frozenset({"message"})


def canonical(data: Any) -> str:
    """One JSON text per value, whatever the key order."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def _digest(data: Any) -> str:
    return hashlib.sha256(canonical(data).encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _field(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out = {k: v for k, v in spec.items() if k not in FIELD_PRESENTATION}
    if isinstance(out.get("options"), list):
        out["options"] = [{k: v for k, v in o.items() if k not in OPTION_PRESENTATION}
                          if isinstance(o, dict) else o for o in out["options"]]
    return out


def _rule(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    return {k: v for k, v in spec.items() if k not in RULE_PRESENTATION}


def schema_projection(spec: dict[str, Any]) -> dict[str, Any]:
    """What of a merged entity spec the schema version covers."""
    out = {k: v for k, v in spec.items() if k not in ENTITY_PRESENTATION}
    out["fields"] = [_field(f) for f in spec.get("fields", [])]
    if "rules" in spec:
        out["rules"] = [_rule(r) for r in spec["rules"]]
    return out


def schema_version(specs: dict[str, Any], presets: dict[str, Any]) -> str:
    """The schema version of merged entity specs and the preset values they may use.

    >>> a = schema_version({"t": {"entity": "t", "label": "T", "fields": []}}, {})
    >>> a == schema_version({"t": {"entity": "t", "label": "Ticket", "fields": []}}, {})
    True
    """
    return _digest({"entities": {n: schema_projection(s) for n, s in specs.items()},
                    "presets": {n: _field(v) for n, v in presets.items()}})


def revision(documents: Iterable[tuple[str, Any]]) -> str:
    """The metadata revision of ``(kind, data)`` pairs: every document, in any order.

    Where a document comes from (which file, or the database) is not part of it:
    moving a document changes nothing a process serves.
    """
    return _digest(sorted(canonical([kind, data]) for kind, data in documents))
