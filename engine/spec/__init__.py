"""Loading and checking metadata files. No database, no Flask, nothing at import time.

``load`` reads documents from sources, ``validate_document`` checks each against
the published metaschema; the compiler does the cross-document checks.
"""

from engine.spec.errors import MetadataError, MetadataInvalid
from engine.spec.loader import FileSource, MemorySource, MetadataSource, SpecDocument
from engine.spec.metaschema import metaschema, validate_document

__all__ = ["FileSource", "MemorySource", "MetadataError", "MetadataInvalid", "MetadataSource",
           "SpecDocument", "metaschema", "validate_document"]
