"""Compile metadata documents into one frozen :class:`CompiledModel`.

load -> check (metaschema) -> compile (the step of every registered document kind,
:mod:`engine.spec.kinds`, in order) -> CompiledModel. Every error is collected and
raised once as :class:`MetadataInvalid`; a user never sees a traceback for a mistake
in a file. One mistake gives one error: a part that failed (a document refused by
the metaschema, a field whose type is unknown) is remembered as broken, and whatever
refers to it is not reported again.

The built-in steps: presets in :mod:`engine.compiler.presets`, entities in
:mod:`engine.compiler.entities` (fields in :mod:`engine.compiler.fields`, model-wide
naming in :mod:`engine.compiler.names`), roles in :mod:`engine.compiler.roles`; what
uses what in :mod:`engine.compiler.uses`.

Pure: no database, no Flask, nothing at import time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, Iterable

from engine.compiler import versioning
from engine.compiler.entities import compile_entities
from engine.compiler.fields import COMMON_FIELD_KEYS, STANDARD_VARIABLES
from engine.compiler.presets import compile_presets
from engine.compiler.uses import report_missing, uses_index
from engine.model import CompiledModel, Entity, thaw
from engine.rules import Environment
from engine.spec.errors import MetadataError, MetadataInvalid
from engine.spec.kinds import CompileInput, place_values, registry as kinds
from engine.spec.loader import MetadataSource, SpecDocument, load_documents
from engine.spec.metaschema import validate_document

__all__ = ["COMMON_FIELD_KEYS", "STANDARD_VARIABLES", "Compiler", "compile_documents",
           "compile_entities", "compile_model", "compile_presets", "environment_for"]

#: Model places the CompiledModel keeps as attributes; other kinds' values go to ``parts``.
_ATTRIBUTES = ("entities", "presets", "roles")

#: How many documents the metaschema accepted are remembered (see :func:`_validate`).
VALID_KEPT = 512
_valid_lock = threading.Lock()
_valid: OrderedDict[str, None] = OrderedDict()


def _validate(doc: SpecDocument) -> list[MetadataError]:
    """``validate_document(doc)``; a document accepted before (same kind and data) is not
    checked again (jsonschema is slow, and the metadata API compiles the same documents
    over and over). Documents with errors are checked every time (errors carry lines)."""
    key = hashlib.sha256(repr((doc.kind, doc.data)).encode("utf-8")).hexdigest()
    with _valid_lock:
        if key in _valid:
            _valid.move_to_end(key)
            return []
    problems = validate_document(doc)
    if not problems:
        with _valid_lock:
            _valid[key] = None
            while len(_valid) > VALID_KEPT:
                _valid.popitem(last=False)
    return problems


class Compiler:
    """One compilation. Use :func:`compile_model` rather than this class.

    Checks every document against its kind's metaschema, then runs the compile step
    of every registered kind (:mod:`engine.spec.kinds`) in order, each reading what
    the earlier ones built, and puts their values in the model.
    """

    def __init__(self, docs: list[SpecDocument], errors: list[MetadataError]) -> None:
        self.docs = docs
        self.errors = errors

    # -- entry -------------------------------------------------------------
    def run(self) -> CompiledModel | None:
        valid, refused = [], []
        for doc in self.docs:
            problems = _validate(doc)
            self.errors.extend(problems)
            (refused if problems else valid).append(doc)
        built: dict[str, Any] = {}
        uses: list = []
        missing: list = []
        for kind in kinds.compile_order():
            names = (kind.name, *kind.takes)
            step = CompileInput(kind, tuple(d for d in valid if d.kind in names),
                                tuple(d for d in refused if d.kind in names), built, self.errors,
                                uses, missing)
            value = kind.step()(step)
            if kind.place is not None:
                built[kind.place] = value
        report_missing(missing, built.get("renames", {}), self.errors)
        if self.errors:
            return None
        specs = built["specs"]
        presets = built["presets"]
        version = _version(specs, {n: thaw(p.values) for n, p in sorted(presets.items())})
        places = place_values(built)
        return CompiledModel(entities=places["entities"],
                             presets=MappingProxyType(dict(sorted(presets.items()))),
                             version=version, specs=MappingProxyType(specs),
                             roles=MappingProxyType(places.get("roles", {})),
                             parts=MappingProxyType({k: v for k, v in places.items()
                                                     if k not in _ATTRIBUTES}),
                             uses=uses_index(uses),
                             revision=versioning.revision((d.kind, d.data) for d in self.docs))


def _version(specs: dict[str, Any], presets: dict[str, Any]) -> str:
    """The schema version: only what shapes tables or stored values (see :mod:`.versioning`)."""
    return versioning.schema_version(specs, presets)


def compile_documents(docs: list[SpecDocument], errors: list[MetadataError] | None = None) -> CompiledModel:
    """Compile already-loaded documents; raise :class:`MetadataInvalid` with every error."""
    errors = list(errors or [])
    try:
        model = Compiler(docs, errors).run()
    except RecursionError:
        # Not a mistake the user can see in one place; still never a traceback.
        errors.append(MetadataError("<metadata>", (), "metadata is nested too deeply"))
        model = None
    if errors or model is None:
        raise MetadataInvalid(errors or [MetadataError("<metadata>", (), "compilation failed")])
    return model


def compile_model(sources: Iterable[MetadataSource]) -> CompiledModel:
    """Load every source and compile.

    >>> from engine.spec import FileSource
    >>> model = compile_model([FileSource("schemas")])          # doctest: +SKIP
    >>> model.entity("deal").field("stage").option_values       # doctest: +SKIP
    """
    errors: list[MetadataError] = []
    docs = load_documents(sources, errors)
    return compile_documents(docs, errors)


def environment_for(entity: Entity) -> Environment:
    """A CEL environment typed by ``entity``'s fields and standard columns (for workflows, reports)."""
    variables: dict[str, str] = dict(STANDARD_VARIABLES)
    variables.update({f.name: f.type.cel_type(f) for f in entity.fields})
    return Environment(variables)
