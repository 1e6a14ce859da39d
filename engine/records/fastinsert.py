"""Insert many rows with as little Python per row as the driver allows.

Used by the bulk-create path for records and their audit rows. The statement is
compiled once, each column's bind processor (the same conversion SQLAlchemy applies
in ``conn.execute(insert(table), rows)``) is looked up once, columns that hold the
same value in every row are converted once, and the rows go to the driver as tuples:
``executemany`` on SQLite (and any other database), ``COPY ... FROM STDIN`` on
PostgreSQL (psycopg), several times faster there than multi-row INSERTs.

Runs inside the caller's transaction. Driver errors are re-raised as SQLAlchemy's, so
an IntegrityError is mapped by the record service like any other.

:class:`GuardedCreate` is the single-create counterpart: one record, its audit row and
its outbox row in as few statements as the database allows, guarded by the model
version and the record's references.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import sqlalchemy as sa

from engine.storage.events import AUDIT_COLUMNS, OUTBOX_COLUMNS

#: Placeholder of each DBAPI paramstyle.
_MARKS = {"qmark": "?", "format": "%s", "numeric": ":{i}", "named": ":{name}",
          "pyformat": "%({name})s"}


class FastInsert:
    """``INSERT INTO table (constants..., columns...)`` fed with DBAPI-ready tuples.

    A row is ``prefix + (value, ...)``: the converted constants, then each column's value
    passed through ``processor(name)`` (when it isn't ``None``) by the caller, which can
    fold that into its own per-row loop.

    >>> audit = FastInsert(conn, table, {"action": "create"}, ["record_id"])  # doctest: +SKIP
    >>> audit.run(conn, [audit.prefix + (1,), audit.prefix + (2,)])           # doctest: +SKIP
    """

    def __init__(self, conn: sa.Connection, table: sa.Table, constants: dict[str, Any],
                 columns: Sequence[str]) -> None:
        dialect = conn.dialect
        self.names = [*constants, *columns]
        self._processors = {n: table.c[n].type.dialect_impl(dialect).bind_processor(dialect)
                            for n in self.names}
        self.prefix = tuple(self.convert(n, v) for n, v in constants.items())
        self.copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
        quote = dialect.identifier_preparer.quote
        columns_sql = ", ".join(quote(n) for n in self.names)
        style = dialect.paramstyle
        self.named = style in ("named", "pyformat")
        if self.copy:
            self.sql = f"COPY {quote(table.name)} ({columns_sql}) FROM STDIN"
        else:
            marks = ", ".join(_MARKS[style].format(i=i + 1, name=n) for i, n in enumerate(self.names))
            self.sql = f"INSERT INTO {quote(table.name)} ({columns_sql}) VALUES ({marks})"

    def processor(self, name: str) -> Callable[[Any], Any] | None:
        """The driver conversion of column ``name`` (for non-null values), if it has one."""
        return self._processors[name]

    def convert(self, name: str, value: Any) -> Any:
        process = self._processors[name]
        return process(value) if process is not None and value is not None else value

    def run(self, conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows``, each ``prefix + converted column values``."""
        if not rows:
            return
        if self.copy:
            self._copy(conn, rows)
        elif self.named:
            names = self.names
            conn.exec_driver_sql(self.sql, [dict(zip(names, row)) for row in rows])
        else:
            conn.exec_driver_sql(self.sql, rows)

    def _copy(self, conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        dbapi_conn = conn.connection.driver_connection
        try:
            with dbapi_conn.cursor() as cursor, cursor.copy(self.sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                             dialect=conn.dialect) from exc


class GuardedCreate:
    """One record's ``INSERT`` that stores nothing unless the model version is current and
    every referenced row exists, plus the record's audit and outbox rows.

    The guard is the ``WHERE`` of ``INSERT ... SELECT <values> WHERE ...``: the newest
    ``loom_schema_versions.version`` equals the process's model version, and ``EXISTS
    (SELECT 1 FROM <target> WHERE id = :ref)`` for each reference. On PostgreSQL the
    version is read in the first CTE and the record, audit and outbox inserts follow as
    data-modifying CTEs under one ``SELECT``, so a create is ONE statement (run it without
    BEGIN/COMMIT: a statement is atomic) that locks ``loom_schema_versions`` first, as a
    migration does; elsewhere :meth:`run` adds the audit and outbox rows as two more
    statements, in the caller's transaction. No row back means the guard refused:
    the caller runs its ordinary checks to say why. The statement is built once per
    entity plan and set of checked references, so SQLAlchemy compiles it once.
    """

    def __init__(self, dialect: sa.Dialect, table: sa.Table, columns: Sequence[str],
                 versions: sa.Table, references: Sequence[tuple[str, sa.Table]],
                 audit: sa.Table, outbox: sa.Table) -> None:
        self.columns = list(columns)
        self.references = [name for name, _ in references]
        self.one_statement = dialect.name == "postgresql"
        latest = sa.select(versions.c.version).order_by(versions.c.id.desc()).limit(1)
        model_version = sa.bindparam("g_model", type_=versions.c.version.type)
        values = sa.select(*(sa.bindparam(f"v_{n}", type_=table.c[n].type) for n in self.columns))
        if self.one_statement:
            # The version is read in the first CTE, so the statement locks
            # loom_schema_versions before the record's table, in the order a migration
            # does (see versions.lock_versions); the other order can deadlock with it.
            model = latest.cte("loom_model")
            values = values.select_from(model).where(model.c.version == model_version)
        else:
            values = values.where(latest.scalar_subquery() == model_version)
        values = values.where(*(
            sa.exists().where(target.c.id == sa.bindparam(f"g_ref_{name}", type_=target.c.id.type))
            for name, target in references))
        insert = sa.insert(table).from_select(self.columns, values).returning(table.c.id)
        self.audit_names = list(AUDIT_COLUMNS)
        self.outbox_names = list(OUTBOX_COLUMNS)
        if self.one_statement:
            new = insert.cte("loom_new")
            audit_cte = sa.insert(audit).from_select(
                [*self.audit_names, "record_id"],
                sa.select(*self._binds("a_", audit, self.audit_names), new.c.id)).cte("loom_new_audit")
            event_cte = (sa.insert(outbox).from_select(
                [*self.outbox_names, "record_id"],
                sa.select(*self._binds("o_", outbox, self.outbox_names), new.c.id))
                .returning(outbox.c.record_id).cte("loom_new_event"))
            # Every write is a CTE under a plain SELECT: a prepared statement then also
            # takes its locks in the order written (a top-level INSERT's table first).
            self.statement = sa.select(event_cte.c.record_id).add_cte(audit_cte)
        else:
            self.statement = insert
            self.audit = sa.insert(audit)
            self.outbox = sa.insert(outbox)

    @staticmethod
    def _binds(prefix: str, table: sa.Table, names: Sequence[str]) -> list[Any]:
        return [sa.bindparam(prefix + n, type_=table.c[n].type) for n in names]

    def run(self, conn: sa.Connection, model_version: str, row: dict[str, Any],
            references: dict[str, Any], audit_row: dict[str, Any],
            outbox_row: dict[str, Any]) -> int | None:
        """The new record's id, or ``None`` when the guard refused (nothing was written).

        ``row`` holds the database value of every column, ``references`` the id each
        checked reference names; ``audit_row`` and ``outbox_row`` are the rows to write
        (their ``record_id`` is the new id).
        """
        params = {f"v_{n}": row[n] for n in self.columns}
        params["g_model"] = model_version
        for name in self.references:
            params[f"g_ref_{name}"] = references[name]
        if self.one_statement:
            for n in self.audit_names:
                params["a_" + n] = audit_row[n]
            for n in self.outbox_names:
                params["o_" + n] = outbox_row[n]
            return conn.execute(self.statement, params).scalar()
        record_id = conn.execute(self.statement, params).scalar()
        if record_id is None:
            return None
        conn.execute(self.audit, {**audit_row, "record_id": record_id})
        conn.execute(self.outbox, {**outbox_row, "record_id": record_id})
        return record_id
