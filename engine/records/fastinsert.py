"""Insert many rows with as little Python per row as the driver allows.

Used by the bulk-create path for records and their audit rows. The statement is
compiled once, each column's bind processor (the same conversion SQLAlchemy applies
in ``conn.execute(insert(table), rows)``) is looked up once, columns that hold the
same value in every row are converted once, and the rows go to the driver as tuples:
``executemany`` on SQLite (and any other database), ``COPY ... FROM STDIN`` on
PostgreSQL (psycopg), several times faster there than multi-row INSERTs.

Runs inside the caller's transaction. Driver errors are re-raised as SQLAlchemy's, so
an IntegrityError is mapped by the record service like any other.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import sqlalchemy as sa

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
