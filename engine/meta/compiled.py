"""Compile documents once per content: the same documents give the same frozen model.

Compiling the shipped CRM takes seconds (CEL typing), and a metadata API call
needs the model of the current documents, the model with the change, and the
reload after applying, which is the model with the change again. Keyed by a
hash of every document's file, kind, data and lines, the last few models are
kept, so a call compiles once. The cached value is a frozen ``CompiledModel``.
Errors are never cached (they raise). No Flask; nothing at import time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from engine.model import CompiledModel
from engine.spec import SpecDocument
from engine.spec.errors import MetadataError

#: How many compiled models are kept (current and changed, with room for a dry run).
CACHE_SIZE = 3

_lock = threading.Lock()
_cache: OrderedDict[str, CompiledModel] = OrderedDict()


def _key(docs: list[SpecDocument]) -> str:
    digest = hashlib.sha256()
    for doc in docs:
        lines = sorted((json.dumps(path), line) for path, line in doc.lines.items())
        digest.update(json.dumps([doc.file, doc.kind, doc.data, lines], sort_keys=True,
                                 ensure_ascii=False, default=str).encode("utf-8"))
    return digest.hexdigest()


def compile_cached(docs: list[SpecDocument], errors: list[MetadataError]) -> CompiledModel:
    """``compile_documents(docs, errors)``, remembered for the same documents."""
    from engine.compiler import compile_documents

    if errors:
        return compile_documents(docs, errors)  # raises with every error
    key = _key(docs)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    model = compile_documents(docs, errors)
    with _lock:
        _cache[key] = model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return model
