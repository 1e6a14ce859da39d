"""What every ``loom`` command shares: the context (configuration, model, database),
exit codes, and the guard that turns Loom's expected failures into messages.

Exit codes: 0 ok; 1 the metadata has errors; 2 usage error; 3 the database
refused (a migration needing --allow-destructive, a stale model, nothing to
restore); 4 the database could not be reached or failed.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import click

from engine.config import Config
from engine.spec.errors import MetadataInvalid

EXIT_METADATA = 1
EXIT_REFUSED = 3
EXIT_DATABASE = 4


class Context:
    """What a command works with, built through the engine runtime (nothing opened until
    asked: ``loom check`` reads files only, and a SQLite file is never created to plan)."""

    def __init__(self, database: str | None, metadata: tuple[str, ...]) -> None:
        self.config = Config.from_env(database=database, metadata=list(metadata) or None)
        self._runtime = None

    def missing_database(self) -> str | None:
        """The absolute path of a SQLite database file that does not exist yet (else None):
        commands that only read or change accounts say so instead of creating it."""
        from pathlib import Path

        import sqlalchemy as sa

        url = sa.engine.make_url(self.config.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        path = Path(url.database)
        return None if path.is_file() else str(path.resolve())

    def default_time_zone(self, name: str) -> None:
        """Work in ``name`` unless ``LOOM_TIMEZONE`` chose a zone (``loom demo``: the demo
        company works in China). Only before the runtime is built: it keeps its clock."""
        import dataclasses
        import os

        from engine.clock import TIMEZONE_ENV, SystemClock, zone

        if self._runtime is not None:
            raise RuntimeError("the time zone is chosen before the runtime is built")
        if not os.environ.get(TIMEZONE_ENV):
            self.config = dataclasses.replace(self.config, clock=SystemClock(zone(name)))

    @property
    def runtime(self):
        if self._runtime is None:
            from engine.runtime import Runtime

            self._runtime = Runtime(self.config)
        return self._runtime

    @property
    def model(self):
        """The model of the metadata files plus the documents stored in the database."""
        return self.runtime.model

    @property
    def db(self):
        return self.runtime.db

    @property
    def service(self):
        """The record service, with the role policy (as every process uses it)."""
        return self.runtime.service


def fail(message: str, code: int) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(code)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn Loom's expected failures into messages and exit codes, never tracebacks."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlalchemy as sa

        from engine.storage.versions import ModelOutdated

        try:
            return fn(*args, **kwargs)
        except MetadataInvalid as exc:
            for error in exc.errors:
                click.secho(str(error), fg="red", err=True)
            fail(f"{len(exc.errors)} error{'s' if len(exc.errors) != 1 else ''} in the metadata; "
                  "nothing was changed.", EXIT_METADATA)
        except ModelOutdated as exc:
            fail(str(exc), EXIT_REFUSED)
        except _refusals() as exc:
            fail(str(exc.args[0] if exc.args else exc), EXIT_REFUSED)
        except KeyError as exc:  # an unknown entity or field named on the command line
            fail(str(exc.args[0] if exc.args else exc), 2)
        except _record_errors() as exc:
            fail(f"refused by the record service: {exc}", EXIT_REFUSED)
        except sa.exc.OperationalError as exc:
            fail(f"database error: {str(exc.orig).strip().splitlines()[0]}", EXIT_DATABASE)
        except sa.exc.SQLAlchemyError as exc:
            fail(f"database error: {str(exc).strip().splitlines()[0]}", EXIT_DATABASE)

    return wrapper


def _record_errors() -> tuple[type[BaseException], ...]:
    from engine.records import RecordError

    return (RecordError,)


def _refusals() -> tuple[type[BaseException], ...]:
    from engine.storage.plan import ArchiveNotFound, MigrationError

    return (MigrationError, ArchiveNotFound)
