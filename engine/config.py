"""Configuration from the environment, read when asked (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.storage.db import database_url

#: Environment variable listing metadata folders, separated by ``os.pathsep``.
METADATA_ENV = "LOOM_METADATA_DIRS"
#: The folders shipped with Loom (the demo CRM), next to the ``engine`` package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_METADATA = (PROJECT_ROOT / "schemas",)


@dataclass(frozen=True)
class Config:
    """Where the metadata and the database are."""

    database_url: str
    metadata_dirs: tuple[Path, ...]

    @classmethod
    def from_env(cls, *, database: str | None = None,
                 metadata: list[str] | tuple[str, ...] | None = None) -> "Config":
        dirs = metadata or [d for d in os.environ.get(METADATA_ENV, "").split(os.pathsep) if d]
        return cls(database_url=database_url(database),
                   metadata_dirs=tuple(Path(d) for d in dirs) if dirs else SHIPPED_METADATA)


def load_model(config: Config):
    """Compile the metadata ``config`` points at (raises MetadataInvalid)."""
    from engine.compiler import compile_model
    from engine.spec import FileSource

    return compile_model([FileSource(*config.metadata_dirs)])
