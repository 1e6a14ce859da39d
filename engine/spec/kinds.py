"""The registry of metadata document kinds: each kind is one registered unit.

A document's kind is the top-level key that names it (``entity: deal``,
``role: sales``). A :class:`DocumentKind` says everything Loom needs about it:
the JSON Schema its documents must satisfy (``loom check``, printed by
``loom metaschema KIND``), the compile step that turns its documents into a
value of the compiled model, where that value sits in the model, which kinds
must be compiled first, and whether the metadata API may store it in the
database (``loom_metadata``). The loader, the metaschema check, the compiler,
the stored documents and the command line all ask this registry; none of them
lists kinds. A new kind (a workflow, a report) is one module with its compile
step, one metaschema, and one :func:`register` call.

Why compile steps may be named as ``"module:function"``: this package sits
below the compiler (it loads and checks files and must not import what compiles
them), yet the built-in kinds are declared here. A named step is imported when
the compiler first runs it, like an entry point; a plug-in may pass the
function itself.

No database, no Flask. Importing registers the built-in kinds (data only).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from engine.model import Use
from engine.spec.errors import MetadataError

# The loader asks this registry for the kinds, so documents are annotated by name
# (``SpecDocument`` of :mod:`engine.spec.loader`) and never imported here.
SpecDocument = Any


@dataclass
class CompileInput:
    """What a compile step gets: its documents, what earlier kinds produced, and collectors.

    ``documents`` are the documents of the kind (and of the kinds it ``takes``) that
    the metaschema accepted; ``refused`` those it refused (stay quiet about names they
    declare: their error is reported). ``built`` maps the places of the kinds compiled
    before (``built["entities"]``) and what their steps :meth:`provide`.
    """

    kind: "DocumentKind"
    documents: "tuple[SpecDocument, ...]"
    refused: "tuple[SpecDocument, ...]"
    built: dict[str, Any]
    errors: list[MetadataError]
    #: Every use of an entity or field the steps record (see :meth:`use`).
    uses: list[tuple[str, str | None, Use]] = field(default_factory=list)
    #: References to fields that do not exist, reported together once every kind compiled.
    missing: list[tuple[str, str, Use, MetadataError]] = field(default_factory=list)

    def of(self, kind: str) -> "tuple[SpecDocument, ...]":
        """The accepted documents of one of the kinds this step compiles."""
        return tuple(d for d in self.documents if d.kind == kind)

    def provide(self, place: str, value: Any) -> None:
        """Hand a value besides the step's result to later steps (``specs``)."""
        self.built[place] = value

    def use(self, entity: str, field_name: str | None, use: Use) -> None:
        """Record that ``use`` reads ``entity.field_name`` (``None``: the entity itself)."""
        self.uses.append((entity, field_name, use))

    def unknown_field(self, entity: str, name: str, use: Use, error: MetadataError) -> None:
        """Report that ``use`` names a field ``entity`` doesn't have; ``error`` is the message
        when it is the only such use (several uses of one name give one error listing all)."""
        self.missing.append((entity, name, use, error))


#: A compile step: documents in, the kind's value of the model out (errors collected).
CompileStep = Callable[[CompileInput], Any]


@dataclass(frozen=True)
class DocumentKind:
    """One kind of metadata document.

    ``schema`` is the JSON Schema file (default: ``metaschema/<name>.schema.json`` in
    this package). ``compile`` is the step (a function or ``"module:function"``);
    ``None`` when another kind's step ``takes`` these documents (``extends`` is
    compiled with ``entity``). ``place`` is where the step's value sits in the
    :class:`~engine.model.CompiledModel` (an attribute such as ``roles``, else
    ``model.parts[place]``). ``after`` names kinds whose values the step reads.
    ``stored``: the metadata API may keep documents of this kind in ``loom_metadata``.
    """

    name: str
    summary: str
    compile: CompileStep | str | None = None
    place: str | None = None
    after: tuple[str, ...] = ()
    takes: tuple[str, ...] = ()
    stored: bool = False
    schema: str | Path | None = None

    def step(self) -> CompileStep | None:
        """The compile step, imported when it is named as ``"module:function"``."""
        if self.compile is None or callable(self.compile):
            return self.compile
        module, _, attr = self.compile.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise LookupError(f"compile step {self.compile!r} of document kind {self.name!r} "
                              f"cannot be found: {exc}") from None

    def metaschema(self) -> dict[str, Any]:
        """The kind's JSON Schema, as a mapping."""
        if self.schema is None:
            text = resources.files("engine.spec").joinpath(
                f"metaschema/{self.name}.schema.json").read_text("utf-8")
        else:
            text = Path(self.schema).read_text("utf-8")
        return json.loads(text)


class KindRegistry:
    """Document kinds by name, in registration order (the order a file's keys are tried)."""

    def __init__(self) -> None:
        self._kinds: dict[str, DocumentKind] = {}

    def register(self, kind: DocumentKind) -> DocumentKind:
        if kind.name in self._kinds:
            raise ValueError(f"document kind {kind.name!r} is already registered")
        for other in kind.after + kind.takes:
            if other not in self._kinds:
                raise ValueError(f"document kind {kind.name!r} names unknown kind {other!r}; "
                                 f"known: {', '.join(self._kinds)}")
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        """Remove a kind (tests that register their own)."""
        self.get(name)
        if any(name in k.after + k.takes for k in self._kinds.values() if k.name != name):
            raise ValueError(f"document kind {name!r} is needed by another kind")
        del self._kinds[name]

    def get(self, name: str) -> DocumentKind:
        """The kind called ``name``; a KeyError names the known kinds."""
        try:
            return self._kinds[name]
        except KeyError:
            raise KeyError(f"unknown document kind {name!r}; known: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[DocumentKind]:
        return iter(list(self._kinds.values()))

    def names(self) -> tuple[str, ...]:
        """Kind names, sorted (for messages and choices)."""
        return tuple(sorted(self._kinds))

    def stored_names(self) -> tuple[str, ...]:
        """Kinds the metadata API may store in ``loom_metadata``."""
        return tuple(sorted(k.name for k in self._kinds.values() if k.stored))

    def compile_order(self) -> list[DocumentKind]:
        """Kinds with a compile step, each after the kinds it names in ``after``.

        Registration already refuses a reference to a kind registered later, so
        registration order is an order that respects ``after``.
        """
        return [k for k in self._kinds.values() if k.compile is not None]

    def owner_of(self, name: str) -> DocumentKind:
        """The kind whose step compiles documents of kind ``name``."""
        kind = self.get(name)
        if kind.compile is not None:
            return kind
        for other in self._kinds.values():
            if name in other.takes:
                return other
        raise LookupError(f"no compile step takes documents of kind {name!r}")


#: Every known document kind. Built-in kinds are registered below; plug-ins call
#: ``registry.register``.
registry = KindRegistry()
register = registry.register

register(DocumentKind(
    "presets", "named bundles of field defaults that fields may use",
    compile="engine.compiler.presets:compile_presets", place="presets"))
register(DocumentKind(
    "extends", "fields, rules and indexes added to an entity declared in another document",
    stored=True))
register(DocumentKind(
    "entity", "an entity: its fields, rules, indexes, list view and form layout",
    compile="engine.compiler.entities:compile_entities", place="entities", after=("presets",),
    takes=("extends",), stored=True))
register(DocumentKind(
    "role", "a role: what its users may do with each entity and field",
    compile="engine.compiler.roles:compile_role_documents", place="roles", after=("entity",),
    stored=True))
register(DocumentKind(
    "workflow", "an automation: a trigger, a CEL condition and actions run by the worker",
    compile="engine.automation.spec:compile_workflows", place="workflows", after=("entity",)))


def place_values(built: Mapping[str, Any]) -> dict[str, Any]:
    """The values of registered kinds' places in ``built`` (for ``CompiledModel.parts``)."""
    return {k.place: built[k.place] for k in registry if k.place is not None and k.place in built}
