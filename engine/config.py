"""Configuration from the environment, read when asked (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.clock import SYSTEM_CLOCK, Clock, SystemClock, zone, zone_from_env
from engine.storage.db import database_url

#: Environment variable listing metadata folders, separated by ``os.pathsep``.
METADATA_ENV = "LOOM_METADATA_DIRS"
#: The folders shipped with Loom (the demo CRM), next to the ``engine`` package: entities
#: and roles, workflows, report definitions. Read when LOOM_METADATA_DIRS is not set.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_METADATA = (PROJECT_ROOT / "schemas", PROJECT_ROOT / "workflows",
                    PROJECT_ROOT / "report_defs")
#: Seconds to wait for the database when reading stored metadata documents.
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class Config:
    """Where the metadata and the database are, and the clock (with the organisation's
    time zone) every part of the process reads."""

    database_url: str
    metadata_dirs: tuple[Path, ...]
    clock: Clock = SYSTEM_CLOCK

    @classmethod
    def from_env(cls, *, database: str | None = None,
                 metadata: list[str] | tuple[str, ...] | None = None,
                 time_zone: str | None = None) -> Config:
        """``time_zone`` (an IANA name) overrides ``$LOOM_TIMEZONE``; an unknown zone raises
        :class:`~engine.clock.ConfigurationError`, so a process refuses to start with it."""
        dirs = metadata or [d for d in os.environ.get(METADATA_ENV, "").split(os.pathsep) if d]
        tz = zone(time_zone) if time_zone else zone_from_env()
        return cls(database_url=database_url(database),
                   metadata_dirs=tuple(Path(d) for d in dirs) if dirs else shipped_metadata(),
                   clock=SystemClock(tz))


def shipped_metadata() -> tuple[Path, ...]:
    """The default folders that exist. A default folder may be absent (an install
    without workflows); a folder someone named is reported when missing."""
    return tuple(d for d in SHIPPED_METADATA if d.is_dir())


def load_model(config: Config, db=None):
    """Compile the metadata files ``config`` points at plus the documents stored in the database.

    Documents made by the metadata API live in ``loom_metadata`` and join the
    files, so every process (CLI, web workers) compiles the model that was
    applied. ``db`` is the open :class:`~engine.storage.db.Database` when the
    caller has one; without it, the database of ``config`` is opened for the
    read and closed again. An unreachable database, a SQLite file that does not
    exist yet, or one without the table gives the files alone (raises
    MetadataInvalid on errors).

    >>> load_model(Config.from_env())                 # doctest: +SKIP
    >>> load_model(config, db=runtime_db)             # doctest: +SKIP
    """
    from engine.meta.compiled import compile_cached, file_documents
    from engine.spec import FileSource

    errors: list = []
    docs = file_documents(FileSource(*config.metadata_dirs), errors)
    docs += _StoredSource(*_stored(config, db)).documents(errors)
    return compile_cached(docs, errors)


class _StoredSource:
    """Documents already read from the database (with the errors found reading them)."""

    def __init__(self, docs: list, errors: list) -> None:
        self.docs, self.errors = docs, errors

    def documents(self, errors: list) -> list:
        errors.extend(self.errors)
        return list(self.docs)


def _stored(config: Config, db) -> tuple[list, list]:
    """(documents, errors) stored in the database; nothing when it can't be read."""
    import sqlalchemy as sa

    from engine.storage.documents import documents_from

    errors: list = []
    if db is not None:
        with db.read() as conn:
            return documents_from(conn, errors), errors
    url = sa.engine.make_url(database_url(config.database_url))
    # Never create a SQLite database (or its folder) just to find it empty.
    if url.get_backend_name() == "sqlite" and (
            not url.database or url.database == ":memory:" or not Path(url.database).is_file()):
        return [], []
    from engine.storage.db import Database

    opened = Database(config.database_url, **_quick_connect(url))
    try:
        with opened.read() as conn:
            return documents_from(conn, errors), errors
    except sa.exc.OperationalError:
        return [], []
    finally:
        opened.dispose()


def _quick_connect(url) -> dict:
    """Engine options so an unreachable server fails fast instead of hanging the load."""
    if url.get_backend_name() == "postgresql":
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    return {}
