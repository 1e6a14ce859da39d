"""The compiled model, tables and record service one web process serves with.

A process compiles the model once and keeps it in a frozen :class:`Runtime`. When
another process (a ``loom migrate``, or the metadata API in another gunicorn worker)
applies a new model, this one notices at its next check (every
``LOOM_MODEL_CHECK_INTERVAL`` seconds, before a request) and recompiles; a write
racing the change is refused by the engine's model-version check (``ModelOutdated``),
which makes the process reload at once and the client retry (503).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from engine.clock import SYSTEM_CLOCK, Clock
from engine.config import Config, load_model
from engine.model import CompiledModel
from engine.permissions import PermissionPolicy
from engine.records import RecordService
from engine.storage import versions
from engine.storage.db import Database
from engine.storage.tables import ModelTables, build_tables

log = logging.getLogger(__name__)

#: Key of Loom's state in ``app.extensions``.
EXTENSION_KEY = "loom"
#: Seconds a process reuses a user's roles and teams (the token or session itself is
#: checked on every request, so revoking a token or deactivating a user acts at once).
ACTOR_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class Runtime:
    """Everything a request needs, for one model version."""

    db: Database
    model: CompiledModel
    tables: ModelTables
    service: RecordService
    policy: PermissionPolicy

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def clock(self) -> Clock:
        """The one clock of the process (with the organisation's time zone)."""
        return self.service.clock


def build_runtime(db: Database, model: CompiledModel, clock: Clock = SYSTEM_CLOCK) -> Runtime:
    from engine.access import RolePolicy

    tables = build_tables(model)
    policy = RolePolicy(model, tables)
    return Runtime(db=db, model=model, tables=tables,
                   service=RecordService(db, model, tables, policy, clock=clock), policy=policy)


class LoomState:
    """One per app: the database and the current :class:`Runtime`, reloaded on change."""

    def __init__(self, config: Config, *, check_interval: float, warm_up: bool = False) -> None:
        self.config = config
        self.db = Database(config.database_url)
        self.check_interval = check_interval
        #: Warm the metadata planner in the background once a model with entities is loaded.
        self.warm_up = warm_up
        self.warmed: threading.Event | None = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._runtime: Runtime | None = None
        self._checked_at = 0.0
        self._actors: dict[tuple[int, str], tuple[float, Any]] = {}

    def actor(self, user_id: int, lang: str) -> Any:
        """The engine Actor of ``user_id`` (roles and teams reread every few seconds)."""
        from engine import accounts

        key = (user_id, lang)
        now = time.monotonic()
        hit = self._actors.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        rt = self.runtime
        actor = accounts.actor_for(rt.db, rt.tables, user_id, lang=lang)
        if len(self._actors) > 10_000:
            self._actors.clear()
        self._actors[key] = (now + ACTOR_CACHE_SECONDS, actor)
        return actor

    def forget_actors(self) -> None:
        """Make every user's roles and teams be reread at their next request (this process)."""
        self._actors.clear()

    def attach(self, db: Database) -> None:
        """Serve from ``db`` instead (tests use a PostgreSQL schema of their own)."""
        with self._lock:
            self.db.dispose()
            self.db, self._runtime = db, None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self.reload()
        assert self._runtime is not None
        return self._runtime

    def reload(self) -> Runtime:
        """Recompile the model from its sources (files and the database) now."""
        with self._lock:
            model = load_model(self.config, db=self.db)
            if self._runtime is None or self._runtime.version != model.version:
                self._runtime = build_runtime(self.db, model, self.config.clock)
            self._checked_at = time.monotonic()
            if self.warm_up and self.warmed is None and self._runtime.model.entities:
                self.warmed = threading.Event()
                threading.Thread(target=self._warm, args=(self._runtime,), daemon=True,
                                 name="loom-warm-up").start()
            return self._runtime

    def _warm(self, rt: Runtime) -> None:
        """Plan a no-op change once (see :func:`engine.meta.warm_up`); errors only logged."""
        from engine import meta

        try:
            meta.warm_up(rt.db, rt.model)
        except Exception:  # noqa: BLE001 - a cold planner is slower, never wrong
            log.warning("warming the metadata planner failed", exc_info=True)
        finally:
            assert self.warmed is not None
            self.warmed.set()

    def refresh(self, *, force: bool = False) -> None:
        """Reload if the applied model changed since the last check (at most once per
        interval, unless ``force``: a request naming an entity this process doesn't know
        checks at once, so an entity another worker just created is found).

        One thread checks at a time; the others wait for it, so none of them goes on
        with the old model while the new one is being compiled.
        """
        if (not force and self._runtime is not None
                and time.monotonic() - self._checked_at < self.check_interval):
            return
        with self._refresh_lock:
            if (not force and self._runtime is not None
                    and time.monotonic() - self._checked_at < self.check_interval):
                return  # another thread checked while this one waited
            try:
                with self.db.read() as conn:
                    applied = versions.applied_version(conn)
            except Exception:  # noqa: BLE001 - an unreachable database shows on the request itself
                return
            if self._runtime is None or (applied is not None and applied != self._runtime.version):
                self.reload()
            self._checked_at = time.monotonic()


def loom_state(app: Any = None) -> LoomState:
    return (app or current_app).extensions[EXTENSION_KEY]


def runtime() -> Runtime:
    """The runtime serving the current request."""
    return loom_state().runtime


def runtime_for(entity: str) -> Runtime:
    """The runtime, checked for a newer model first when it doesn't know ``entity``.

    Another worker may just have created the entity; answering 404 before looking
    would make a client that created it and then used it fail at random.
    """
    rt = runtime()
    if not rt.model.has_entity(entity):
        loom_state().refresh(force=True)
        rt = runtime()
    return rt
