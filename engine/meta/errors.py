"""Errors of the metadata use cases (besides ``MetadataInvalid`` and ``MigrationRefused``).

Each message is safe to show to the caller: the web layer maps
:class:`UnknownMetadata` to 404 and :class:`MetadataConflict` to 409.
"""

from __future__ import annotations


class MetadataChangeError(Exception):
    """Base class: a metadata change that cannot be made as asked; nothing was changed."""


class UnknownMetadata(MetadataChangeError, LookupError):
    """The entity or field named does not exist."""


class MetadataConflict(MetadataChangeError):
    """The change clashes with what exists: a name taken, a field declared in a file,
    or files and database that differ from the applied model."""
