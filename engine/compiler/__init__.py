"""The compile stage: metadata documents -> one frozen :class:`~engine.model.CompiledModel`.

``core`` checks every document and runs the compile step of each registered document
kind (:mod:`engine.spec.kinds`); the built-in steps are ``presets``, ``entities``
(with ``fields`` for one field and ``names`` for model-wide names: inverses, index
and link-table names, renames) and ``roles``; ``uses`` records what uses each entity
and field. Every error is collected and raised once as ``MetadataInvalid``.

Pure: no database, no Flask, nothing at import time.
"""

from engine.compiler.core import (COMMON_FIELD_KEYS, STANDARD_VARIABLES, Compiler,
                                  compile_documents, compile_model, environment_for)

__all__ = ["COMMON_FIELD_KEYS", "STANDARD_VARIABLES", "Compiler", "compile_documents",
           "compile_model", "environment_for"]
