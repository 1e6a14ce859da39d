"""Compile documents once per content: the same documents give the same frozen model.

Compiling the shipped CRM takes seconds (CEL typing), and a metadata API call
needs the model of the current documents, the model with the change, and the
reload after applying, which is the model with the change again. Keyed by a
hash of every document's file, kind, data and lines, the last few models are
kept, so a call compiles once. The cached value is a frozen ``CompiledModel``.
Errors are never cached (they raise). :func:`file_documents` likewise parses
each metadata file once per content (YAML with line numbers is slow), so a call
and the reload after it do not parse the same files again. No Flask; nothing at
import time.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from engine.model import CompiledModel
from engine.spec import SpecDocument
from engine.spec.errors import MetadataError

#: How many compiled models are kept (current and changed, with room for a dry run).
CACHE_SIZE = 3
#: How many parsed files are kept.
FILE_CACHE_SIZE = 256

_lock = threading.Lock()
_cache: OrderedDict[str, CompiledModel] = OrderedDict()
_files: OrderedDict[tuple[str, str], SpecDocument] = OrderedDict()


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


def file_documents(source: Any, errors: list[MetadataError]) -> list[SpecDocument]:
    """``source.documents(errors)``; a :class:`~engine.spec.FileSource`'s files are read
    every time but parsed once per (path, text). Files with errors are never kept."""
    from engine.spec import FileSource
    from engine.spec.loader import document_from_text

    if type(source) is not FileSource:
        return source.documents(errors)
    docs: list[SpecDocument] = []
    found: list[MetadataError] = []
    for folder in source.folders:
        if not folder.exists():
            return source.documents(errors)  # reports the missing folder
    for path in source.files():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return source.documents(errors)  # reports the unreadable file
        key = (str(path), text)
        with _lock:
            doc = _files.get(key)
            if doc is not None:
                _files.move_to_end(key)
        if doc is None:
            doc = document_from_text(text, str(path), found)
            if found:
                return source.documents(errors)
            with _lock:
                _files[key] = doc
                while len(_files) > FILE_CACHE_SIZE:
                    _files.popitem(last=False)
        # A copy: the caller may change the data; the kept document must not change.
        docs.append(SpecDocument(doc.kind, copy.deepcopy(doc.data), doc.file, dict(doc.lines)))
    return docs
