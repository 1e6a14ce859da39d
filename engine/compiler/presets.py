"""The compile step of ``presets`` documents: named bundles of field defaults.

Part of :mod:`engine.compiler` (registered as the ``presets`` kind's step in
:mod:`engine.spec.kinds`). A preset with an unknown type or keys that don't apply
to its type is reported and left out; fields using it stay quiet about it.

Pure: no database, no Flask.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.compiler.fields import COMMON_FIELD_KEYS
from engine.fields import registry
from engine.model import Preset, Source, freeze
from engine.spec.errors import suggest
from engine.spec.kinds import CompileInput
from engine.spec.loader import SpecDocument


def compile_presets(step: CompileInput) -> Mapping[str, Preset]:
    """Every valid preset by name. Provides ``declared_presets`` (every name declared,
    refused documents' too) so that fields naming a broken preset stay quiet."""
    presets: dict[str, Preset] = {}
    declared: set[str] = set()
    for doc in step.refused:
        if isinstance(doc.data.get("presets"), dict):
            declared.update(k for k in doc.data["presets"] if isinstance(k, str))
    for doc in step.documents:
        for name, values in doc.data["presets"].items():
            declared.add(name)
            _preset(doc, name, values, presets, step.errors)
    step.provide("declared_presets", declared)
    return presets


def _preset(doc: SpecDocument, name: str, values: dict[str, Any], presets: dict[str, Preset],
            errors: list) -> None:
    path = ("presets", name)
    if name in presets:
        errors.append(doc.error(path, f"preset {name!r} is already declared in "
                                f"{presets[name].source.file}", "duplicate"))
        return
    before = len(errors)
    type_name = values.get("type")
    if type_name is not None and type_name not in registry:
        errors.append(doc.error(path + ("type",), f"unknown field type {type_name!r}"
                                f"{suggest(type_name, set(registry.names()))}; known: "
                                f"{', '.join(registry.names())}", "reference"))
    elif type_name is not None:
        ftype = registry.get(type_name)
        for key in sorted(set(values) - COMMON_FIELD_KEYS - ftype.keys):
            errors.append(doc.error(path + (key,), f"key {key!r} does not apply to type "
                                    f"{type_name!r}", "key"))
        if len(errors) == before:
            for key, message in ftype.spec_problems(values):
                errors.append(doc.error(path + (key,), message))
    if len(errors) > before:
        return
    presets[name] = Preset(name, freeze(values), Source(doc.file, path, doc.line_of(path)))
