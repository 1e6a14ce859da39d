"""The compile stage: metadata documents -> one frozen :class:`~engine.model.CompiledModel`.

``core`` runs the pipeline over every document (presets, entities, views, cross
checks), ``fields`` compiles one field, ``names`` gives model-wide names (inverses,
index and link-table names, renames), ``roles`` compiles permission documents.
Every error is collected and raised once as ``MetadataInvalid``.

Pure: no database, no Flask, nothing at import time.
"""

from engine.compiler.core import (COMMON_FIELD_KEYS, STANDARD_VARIABLES, Compiler,
                                  compile_documents, compile_model, environment_for)

__all__ = ["COMMON_FIELD_KEYS", "STANDARD_VARIABLES", "Compiler", "compile_documents",
           "compile_model", "environment_for"]
