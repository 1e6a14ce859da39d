"""SQLAlchemy Core tables built from the compiled model, plus Loom's own tables.

Every entity table has the same standard columns (id, created_at, updated_at,
created_by, updated_by, owner, version) followed by one column per stored field.
Every constraint and index is named through :data:`NAMING_CONVENTION`, so plans
and migrations can refer to them on any database.

Builds ``Table`` objects only; never connects.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy as sa

from engine.model import CompiledModel, Entity, Field

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Loom's own tables. Entity names may not start with ``loom_``.
USERS = "loom_users"
SCHEMA_VERSIONS = "loom_schema_versions"
AUDIT = "loom_audit"
OUTBOX = "loom_outbox"
AUTONUMBER = "loom_autonumber"
ARCHIVE = "loom_archive"
CREDENTIALS = "loom_credentials"
USER_ROLES = "loom_user_roles"
TEAMS = "loom_teams"
TEAM_MEMBERS = "loom_team_members"
TOKENS = "loom_tokens"
LOGIN_ATTEMPTS = "loom_login_attempts"
SESSIONS = "loom_sessions"
WORKFLOW_RUNS = "loom_workflow_runs"
NOTIFICATIONS = "loom_notifications"
APPROVALS = "loom_approvals"
TRANSFER_JOBS = "loom_transfer_jobs"
SYSTEM_TABLES = (USERS, SCHEMA_VERSIONS, AUDIT, OUTBOX, AUTONUMBER, ARCHIVE, CREDENTIALS,
                 USER_ROLES, TEAMS, TEAM_MEMBERS, TOKENS, LOGIN_ATTEMPTS, SESSIONS,
                 WORKFLOW_RUNS, NOTIFICATIONS, APPROVALS, TRANSFER_JOBS)

#: ``on_delete`` of a relation -> the SQL action.
ON_DELETE_SQL = {"restrict": "RESTRICT", "set_null": "SET NULL", "cascade": "CASCADE"}

# SQLite only auto-increments an INTEGER PRIMARY KEY, not BIGINT.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id_column() -> sa.Column:
    return sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True)


def _cause_columns() -> list[sa.Column]:
    """The write context on audit and outbox rows (see engine.storage.events).

    Nullable: rows written before causes were recorded have none, and an existing
    database gets the columns from ``loom migrate`` as plain, safe additions (a NOT NULL
    column would rebuild a large table on SQLite). Loom fills them on every new row.
    """
    return [
        sa.Column("cause_kind", sa.String(16), nullable=True),  # request, workflow, import...
        sa.Column("cause_id", sa.String(64), nullable=True),
        sa.Column("cause_label", sa.String(255), nullable=True),
        # Automated steps that led to the change (0: a user's own request).
        sa.Column("depth", sa.Integer(), nullable=True),
    ]


def system_tables(metadata: sa.MetaData) -> None:
    """Add Loom's own tables to ``metadata``."""
    sa.Table(
        USERS, metadata, _id_column(),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(create_constraint=False), nullable=False,
                  server_default=sa.true()),
        sa.Column("lang", sa.String(10), nullable=False, server_default="en"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        # The user's IANA time zone; NULL: the organisation's (LOOM_TIMEZONE).
        sa.Column("time_zone", sa.String(64), nullable=True),
        # Moves on every change of the user's roles, teams or state (and on every team
        # change): processes cache an actor per (user, authz_epoch), see engine.runtime.
        sa.Column("authz_epoch", sa.Integer(), nullable=False, server_default="0"),
    )
    sa.Table(
        SCHEMA_VERSIONS, metadata, _id_column(),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("specs", sa.JSON(), nullable=False),
    )
    sa.Table(
        AUDIT, metadata, _id_column(),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        # {field: [old, new]} for every field the change touched.
        sa.Column("changes", sa.JSON(), nullable=False),
        *_cause_columns(),
        sa.Index(None, "entity", "record_id"),
    )
    sa.Table(
        OUTBOX, metadata, _id_column(),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        # One record id, or several for a bulk event (record_ids).
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("record_ids", sa.JSON(), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        # A delivery that failed is handed out again from this time (backoff); NULL: now.
        sa.Column("available_at", sa.DateTime(), nullable=True),
        *_cause_columns(),
        # True: the change asks for no notifications (the audit row is never quiet).
        sa.Column("quiet", sa.Boolean(create_constraint=False), nullable=True),
        sa.Index(None, "delivered_at", "id"),
    )
    sa.Table(
        AUTONUMBER, metadata,
        sa.Column("entity", sa.String(63), primary_key=True),
        sa.Column("field", sa.String(63), primary_key=True),
        # The format with its date placeholders filled: one gap-free sequence each.
        sa.Column("scope", sa.String(128), primary_key=True),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
    )
    sa.Table(
        ARCHIVE, metadata, _id_column(),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("field", sa.String(63), nullable=True),  # null: the whole entity was dropped
        sa.Column("archive_table", sa.String(63), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("dropped_at", sa.DateTime(), nullable=False),
        sa.Column("restored_at", sa.DateTime(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
    )
    _account_tables(metadata)
    _metadata_documents_table(metadata)
    _automation_tables(metadata)


def _automation_tables(metadata: sa.MetaData) -> None:
    """Workflow runs, in-app notifications, approvals and transfer jobs (engine.automation)."""
    sa.Table(
        WORKFLOW_RUNS, metadata, _id_column(),
        sa.Column("workflow", sa.String(63), nullable=False),
        # What fired the run, unique per workflow: ``event:<outbox id>:<record id>`` for a
        # record event, ``due:<record id>:<period>`` for a date, inactivity or schedule
        # firing, ``manual:<uuid>`` for a button. A redelivered event finds its row.
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        # What the trigger saw: {"changes": {field: [old, new]}} for a record event.
        sa.Column("payload", sa.JSON(), nullable=True),
        # queued, running, succeeded, skipped (condition false), failed, stopped (depth limit)
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("condition", sa.Boolean(create_constraint=False), nullable=True),
        # [{"action": type, "outcome": text, "record": {entity, id}?}] in order.
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("depth", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        # A failed run with attempts left is enqueued again from this time (backoff).
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.UniqueConstraint("workflow", "key"),
        sa.Index(None, "entity", "record_id"),
        sa.Index(None, "status", "next_attempt_at"),
    )
    sa.Table(
        NOTIFICATIONS, metadata, _id_column(),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey(f"{USERS}.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        # reminder, pool_return, approval, workflow, transfer, ...
        sa.Column("kind", sa.String(32), nullable=False),
        # {"en": ..., "zh-CN": ...}: shown in the reader's language.
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("entity", sa.String(63), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Index(None, "user_id", "read_at", "id"),
    )
    sa.Table(
        APPROVALS, metadata, _id_column(),
        # The workflow that asked for it and its run (the cause of the decision's writes).
        sa.Column("workflow", sa.String(63), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        # pending, approved, rejected
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approver_ids", sa.JSON(), nullable=False),
        # Fields the record service refuses to change while the approval is pending.
        sa.Column("locked", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Index(None, "entity", "record_id", "status"),
    )
    sa.Table(
        TRANSFER_JOBS, metadata, _id_column(),
        # One-click transfer (engine.automation.transfer): one user's records to another.
        sa.Column("from_user", sa.BigInteger(), sa.ForeignKey(f"{USERS}.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("to_user", sa.BigInteger(), sa.ForeignKey(f"{USERS}.id", ondelete="CASCADE"),
                  nullable=False),
        # {entity: {"filter": <structured filter> | null}}: what moves.
        sa.Column("spec", sa.JSON(), nullable=False),
        # queued, running, done, failed
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        # The first refusals: [{"entity", "id", "error": {en, zh-CN}}].
        sa.Column("errors", sa.JSON(), nullable=False),
        # Why a failed job stopped: {en, zh-CN}.
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("requested_by", sa.BigInteger(), sa.ForeignKey(f"{USERS}.id",
                  ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        # Handed to the queue (NULL: not yet); a job lost with Redis is handed again.
        sa.Column("enqueued_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        # Written with each batch's progress: a running job silent too long is resumed.
        sa.Column("progress_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Index(None, "status", "enqueued_at"),
        sa.Index(None, "from_user", "id"),
    )


def _metadata_documents_table(metadata: sa.MetaData) -> None:
    """``loom_metadata``: documents made by the metadata API (see engine.storage.documents),
    and ``loom_revisions``: the history of metadata revisions (engine.storage.revisions)."""
    # Imported here: those modules import engine.spec, which must not load with this one.
    from engine.storage.documents import metadata_table
    from engine.storage.revisions import revisions_table

    metadata_table(metadata)
    revisions_table(metadata)


def _account_tables(metadata: sa.MetaData) -> None:
    """Users' passwords, roles, teams, API tokens and failed logins (see engine.accounts)."""
    user_id = f"{USERS}.id"
    sa.Table(
        CREDENTIALS, metadata,
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey(user_id, ondelete="CASCADE"),
                  primary_key=True, autoincrement=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    sa.Table(
        USER_ROLES, metadata,
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey(user_id, ondelete="CASCADE"),
                  primary_key=True, autoincrement=False),
        sa.Column("role", sa.String(63), primary_key=True),
    )
    sa.Table(
        TEAMS, metadata, _id_column(),
        sa.Column("name", sa.String(150), nullable=False, unique=True),
        sa.Column("parent_id", sa.BigInteger(), sa.ForeignKey(f"{TEAMS}.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("manager_id", sa.BigInteger(), sa.ForeignKey(user_id, ondelete="SET NULL"),
                  nullable=True, index=True),
    )
    sa.Table(
        TEAM_MEMBERS, metadata,
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey(f"{TEAMS}.id", ondelete="CASCADE"),
                  primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey(user_id, ondelete="CASCADE"),
                  primary_key=True, autoincrement=False, index=True),
    )
    sa.Table(
        TOKENS, metadata, _id_column(),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey(user_id, ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(150), nullable=False, server_default=""),
        sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex of the secret
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sqlite_autoincrement=True,
    )
    sa.Table(
        LOGIN_ATTEMPTS, metadata, _id_column(),
        # One row per failed login; rows older than the throttle window are pruned.
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.Index(None, "username", "ip", "failed_at"),
        sa.Index(None, "ip", "failed_at"),
    )
    sa.Table(
        SESSIONS, metadata,
        # One row per logged-in browser (engine.accounts.sessions): the SHA-256 of the
        # key its signed cookie carries. Logout deletes the row, a password change all of
        # the user's rows; expired rows are pruned as new ones come.
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey(user_id, ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column("agent", sa.String(255), nullable=False, server_default=""),
    )


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey(f"{USERS}.id", ondelete="SET NULL")


def is_link(field: Field) -> bool:
    """True for a field stored as a link table: no column of its own, but ids of another table."""
    return not field.stored and field.type.references(field) is not None


def field_column(entity: Entity, field: Field) -> sa.Column:
    """The column of one stored field (also used by migrations to add it)."""
    ftype = field.type
    args: list = []
    referred = ftype.references(field)
    if referred is not None:
        # Fields without on_delete (user fields) let go of a deleted row: SET NULL.
        args.append(sa.ForeignKey(f"{referred}.id",
                                  ondelete=ON_DELETE_SQL[field.on_delete or "set_null"]))
    return sa.Column(field.name, ftype.column_type(field), *args,
                     nullable=not field.required or field.computed,
                     unique=field.unique or None, index=(field.indexed and not field.unique) or None)


def entity_table(metadata: sa.MetaData, entity: Entity) -> sa.Table:
    """The Core table of ``entity`` in ``metadata``."""
    columns = [
        _id_column(),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), _user_fk(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), _user_fk(), nullable=True),
        sa.Column("owner", sa.BigInteger(), _user_fk(), nullable=True, index=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    ]
    columns += [field_column(entity, f) for f in entity.fields if f.stored]
    extras = [sa.Index(ix.name, *ix.fields, unique=ix.unique) for ix in entity.indexes]
    # sqlite_autoincrement: never reuse the id of a deleted row (its audit history would
    # mix with the new record's).
    return sa.Table(entity.table_name, metadata, *columns, *extras, sqlite_autoincrement=True)


def link_table(metadata: sa.MetaData, entity: Entity, field: Field) -> sa.Table:
    """The generated table of a many-to-many field: (source_id, target_id)."""
    referred = field.type.references(field)
    return sa.Table(
        entity.link_table_name(field), metadata,
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey(f"{entity.table_name}.id",
                  ondelete="CASCADE"), primary_key=True),
        sa.Column("target_id", sa.BigInteger(), sa.ForeignKey(f"{referred}.id",
                  ondelete="CASCADE"), primary_key=True, index=True),
    )


@dataclass(frozen=True)
class ModelTables:
    """Every table of a compiled model, in one MetaData."""

    metadata: sa.MetaData
    entities: Mapping[str, sa.Table]
    links: Mapping[tuple[str, str], sa.Table]

    def entity(self, name: str) -> sa.Table:
        return self.entities[name]

    def link(self, entity: str, field: str) -> sa.Table:
        return self.links[(entity, field)]

    def system(self, name: str) -> sa.Table:
        return self.metadata.tables[name]

    @property
    def users(self) -> sa.Table:
        return self.metadata.tables[USERS]

    @property
    def audit(self) -> sa.Table:
        return self.metadata.tables[AUDIT]

    @property
    def outbox(self) -> sa.Table:
        return self.metadata.tables[OUTBOX]

    @property
    def autonumber(self) -> sa.Table:
        return self.metadata.tables[AUTONUMBER]

    @property
    def schema_versions(self) -> sa.Table:
        return self.metadata.tables[SCHEMA_VERSIONS]

    @property
    def archive(self) -> sa.Table:
        return self.metadata.tables[ARCHIVE]

    @property
    def credentials(self) -> sa.Table:
        return self.metadata.tables[CREDENTIALS]

    @property
    def user_roles(self) -> sa.Table:
        return self.metadata.tables[USER_ROLES]

    @property
    def teams(self) -> sa.Table:
        return self.metadata.tables[TEAMS]

    @property
    def team_members(self) -> sa.Table:
        return self.metadata.tables[TEAM_MEMBERS]

    @property
    def tokens(self) -> sa.Table:
        return self.metadata.tables[TOKENS]

    @property
    def sessions(self) -> sa.Table:
        return self.metadata.tables[SESSIONS]

    @property
    def login_attempts(self) -> sa.Table:
        return self.metadata.tables[LOGIN_ATTEMPTS]

    @property
    def workflow_runs(self) -> sa.Table:
        return self.metadata.tables[WORKFLOW_RUNS]

    @property
    def notifications(self) -> sa.Table:
        return self.metadata.tables[NOTIFICATIONS]

    @property
    def approvals(self) -> sa.Table:
        return self.metadata.tables[APPROVALS]

    @property
    def transfer_jobs(self) -> sa.Table:
        return self.metadata.tables[TRANSFER_JOBS]


def build_tables(model: CompiledModel) -> ModelTables:
    """All tables for ``model``: Loom's own, one per entity, one per many-to-many field.

    Built once per model object (the last few are kept): the metadata API's
    migration and the reload after it share them. Treat them as read-only.
    """
    with _lock:
        for held, tables in _built:
            if held is model:
                return tables
    tables = _build_tables(model)
    with _lock:
        _built.insert(0, (model, tables))
        del _built[BUILT_KEPT:]
    return tables


#: How many models' tables :func:`build_tables` keeps.
BUILT_KEPT = 4
_lock = threading.Lock()
_built: list[tuple[CompiledModel, ModelTables]] = []


def _build_tables(model: CompiledModel) -> ModelTables:
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    system_tables(metadata)
    entities = {name: entity_table(metadata, e) for name, e in model.entities.items()}
    links = {}
    for entity in model.entities.values():
        for f in entity.fields:
            if is_link(f):
                links[(entity.name, f.name)] = link_table(metadata, entity, f)
    return ModelTables(metadata, MappingProxyType(entities), MappingProxyType(links))
