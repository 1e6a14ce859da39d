"""The engine's runtime: configuration -> database, model, tables, role policy, record service.

Every process that serves Loom (a web worker, the ``loom`` command, a job worker, a
benchmark) builds one :class:`Runtime` from its :class:`~engine.config.Config` and
asks it for what it needs:

>>> rt = Runtime(Config.from_env())                         # doctest: +SKIP
>>> rt.service.create(rt.actor(user_id, "en"), "deal", {...})  # doctest: +SKIP

What a request or a job works with is one frozen :class:`Snapshot` (model, tables,
policy and service of one revision); ``rt.current`` hands out the current one.

**Reloading.** The process remembers the database's stamp (newest schema version and
newest metadata revision, :func:`engine.storage.versions.stamp`) it saw when it loaded.
:meth:`Runtime.refresh` (at most every ``check_interval`` seconds, unless forced)
reads the stamp again and recompiles when it moved: another process migrated, or
changed a label, a layout or a role through the metadata API. A label or role change
never refuses a write (the schema version is unchanged); a write racing a schema
change is refused by the record service (``ModelOutdated``), and the caller reloads
at once (:meth:`Runtime.reload`).

No Flask (the web keeps one Runtime in ``app.extensions``, see ``web/state.py``);
nothing at import time.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from engine.clock import SYSTEM_CLOCK, Clock
from engine.config import Config, load_model
from engine.model import CompiledModel
from engine.permissions import Actor, PermissionPolicy
from engine.records import RecordService
from engine.storage import versions
from engine.storage.db import Database
from engine.storage.tables import ModelTables, build_tables

log = logging.getLogger(__name__)

#: Seconds between two looks at the database's stamp (``LOOM_MODEL_CHECK_INTERVAL`` on the web).
DEFAULT_CHECK_INTERVAL = 1.0
#: Seconds a process reuses a user's roles and teams when the caller names no
#: ``authz_epoch`` (jobs, commands). Requests name the epoch they read with their session
#: or token, so a role, team or state change acts on the next request in every process.
ACTOR_CACHE_SECONDS = 2.0
#: Cached actors kept before the cache is emptied (a bound, not a tuning knob).
ACTOR_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Snapshot:
    """Everything one request or job needs, for one model revision."""

    db: Database
    model: CompiledModel
    tables: ModelTables
    service: RecordService
    policy: PermissionPolicy

    @property
    def version(self) -> str:
        """The schema version (what writes are checked against)."""
        return self.model.version

    @property
    def revision(self) -> str:
        """The metadata revision (what processes reload on)."""
        return self.model.revision

    @property
    def clock(self) -> Clock:
        """The one clock of the process (with the organisation's time zone)."""
        return self.service.clock


def assemble(db: Database, model: CompiledModel, *, clock: Clock = SYSTEM_CLOCK) -> Snapshot:
    """Tables, the role policy and the record service for ``model`` on ``db``.

    For callers that compiled a model themselves (benchmarks, tests); a process
    serving the configured metadata uses :class:`Runtime`.

    >>> assemble(db, model).service.bulk_create(Actor.system(), "deal", rows)  # doctest: +SKIP
    """
    from engine.access import RolePolicy

    tables = build_tables(model)
    policy = RolePolicy(model, tables)
    return Snapshot(db=db, model=model, tables=tables,
                    service=RecordService(db, model, tables, policy, clock=clock), policy=policy)


class Runtime:
    """One per process: the configuration, the database and the current :class:`Snapshot`.

    ``db``: an open database to serve from (default: opened from ``config`` when
    first needed). ``warm_up``: plan a no-op metadata change once in the background
    after the first model with entities is loaded (the first real change is faster).
    ``clock``: handed to the record service.
    """

    def __init__(self, config: Config, *, db: Database | None = None,
                 check_interval: float = DEFAULT_CHECK_INTERVAL, warm_up: bool = False,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.check_interval = check_interval
        self.warm_up = warm_up
        # A clock given here (a simulated one in tests and benchmarks) wins over the
        # configuration's system clock in the organisation's zone.
        self.clock = clock if clock is not None else config.clock
        #: Set once the warm-up has run (``None`` until it started).
        self.warmed: threading.Event | None = None
        self._db = db
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._current: Snapshot | None = None
        self._model: CompiledModel | None = None  # compiled before the database was opened
        self._stamp: tuple[int | None, int | None] | None = None
        self._checked_at = 0.0
        self._actors: dict[tuple[int, str, int | None], tuple[float, Actor]] = {}

    # -- what callers use ------------------------------------------------------
    @property
    def db(self) -> Database:
        """The database (opened on first use: a command that only checks files opens none)."""
        with self._lock:
            if self._db is None:
                self._db = Database(self.config.database_url)
            return self._db

    @property
    def opened(self) -> bool:
        """True once the database has been opened (or was given)."""
        return self._db is not None

    @property
    def current(self) -> Snapshot:
        """The current snapshot, loaded on first use (never checked here: see :meth:`refresh`)."""
        current = self._current
        if current is None:
            current = self.reload()
        return current

    @property
    def model(self) -> CompiledModel:
        """The current model. Before the database is opened, compiled without opening it
        (``loom check`` and ``loom plan`` never create a SQLite file)."""
        if self._current is None and self._db is None:
            with self._lock:
                if self._model is None:
                    self._model = load_model(self.config)
                return self._model
        return self.current.model

    @property
    def service(self) -> RecordService:
        return self.current.service

    @property
    def tables(self) -> ModelTables:
        return self.current.tables

    def actor(self, user_id: int, lang: str = "en", epoch: int | None = None) -> Actor:
        """The :class:`~engine.permissions.Actor` of ``user_id``.

        ``epoch``: the user's ``authz_epoch`` as just read (with the session or token);
        the actor is cached under it and reread once it moved, so nothing stale is served.
        Without it, roles and teams are reread every :data:`ACTOR_CACHE_SECONDS`.
        """
        from engine import accounts

        key = (user_id, lang, epoch)
        now = time.monotonic()
        hit = self._actors.get(key)
        if hit is not None and (epoch is not None or hit[0] > now):
            return hit[1]
        current = self.current
        actor = accounts.actor_for(current.db, current.tables, user_id, lang=lang)
        if len(self._actors) > ACTOR_CACHE_SIZE:
            self._actors.clear()
        if epoch is not None:  # older epochs of this user are never asked for again
            for old in [k for k in self._actors
                        if k[0] == user_id and k[2] is not None and k[2] != epoch]:
                del self._actors[old]
        self._actors[key] = (now + ACTOR_CACHE_SECONDS, actor)
        return actor

    def forget_actors(self) -> None:
        """Make every user's roles and teams be reread at their next use (this process)."""
        self._actors.clear()

    # -- loading -----------------------------------------------------------------
    def attach(self, db: Database) -> None:
        """Serve from ``db`` instead (tests use a PostgreSQL schema of their own)."""
        with self._lock:
            if self._db is not None and self._db is not db:
                self._db.dispose()
            self._db, self._current, self._stamp = db, None, None

    def reload(self) -> Snapshot:
        """Recompile the model from its sources (the files and the database's documents) now.

        The stamp is read before the documents: a change committed in between makes the
        next :meth:`refresh` load again, never miss it.
        """
        with self._lock:
            stamp = self._read_stamp() if self._db is not None else None
            model = load_model(self.config, db=self._db)
            current = self._current
            if (current is None or current.version != model.version
                    or current.revision != model.revision):
                current = self._current = assemble(self.db, model, clock=self.clock)
            self._stamp = stamp
            self._checked_at = time.monotonic()
            if self.warm_up and self.warmed is None and current.model.entities:
                self.warmed = threading.Event()
                threading.Thread(target=self._warm, args=(current,), daemon=True,
                                 name="loom-warm-up").start()
            return current

    def refresh(self, *, force: bool = False) -> None:
        """Reload if the database's stamp moved since the last load (looked at most once per
        ``check_interval``, unless ``force``: a request naming an entity this process doesn't
        know checks at once, so an entity another process just created is found).

        One thread checks at a time; the others wait for it, so none of them goes on
        with the old model while the new one is being compiled.
        """
        if not force and self._fresh():
            return
        with self._refresh_lock:
            if not force and self._fresh():
                return  # another thread checked while this one waited
            if self._current is None:
                self.reload()
                return
            try:
                stamp = self._read_stamp()
            except Exception:  # noqa: BLE001 - an unreachable database shows on the request itself
                return
            if stamp != self._stamp:
                self.reload()
            self._checked_at = time.monotonic()

    def close(self) -> None:
        """Close the database's connections (a process that ends, a test)."""
        if self._db is not None:
            self._db.dispose()

    # -- inside ------------------------------------------------------------------
    def _fresh(self) -> bool:
        return (self._current is not None
                and time.monotonic() - self._checked_at < self.check_interval)

    def _read_stamp(self) -> tuple[int | None, int | None]:
        with self.db.reads() as conn:
            return versions.stamp(conn)

    def _warm(self, current: Snapshot) -> None:
        """Plan a no-op change once (see :func:`engine.meta.warm_up`); errors only logged."""
        from engine import meta

        try:
            meta.warm_up(current.db, current.model)
        except Exception:  # noqa: BLE001 - a cold planner is slower, never wrong
            log.warning("warming the metadata planner failed", exc_info=True)
        finally:
            assert self.warmed is not None
            self.warmed.set()
