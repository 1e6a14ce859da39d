"""The metadata API's engine side: create entities, add and change fields,
store roles, safely.

Use cases live in :mod:`engine.meta.changes` (one transaction each: plan, apply,
store the document, record the version), pure document edits in
:mod:`engine.meta.documents`. No Flask; nothing at import time.
"""

from engine.meta.changes import (MetadataChange, add_field, change_field, create_entity, put_role,
                                 warm_up)
from engine.meta.errors import MetadataChangeError, MetadataConflict, UnknownMetadata

__all__ = ["MetadataChange", "MetadataChangeError", "MetadataConflict", "UnknownMetadata",
           "add_field", "change_field", "create_entity", "put_role", "warm_up"]
