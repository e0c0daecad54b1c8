"""A few hot Core statements run on the DBAPI cursor of the caller's connection.

A webhook delivery runs about ten small statements. Through `Connection.execute` each one
costs about ten times what SQLite itself spends on it (bench/README.md): the cache key,
the execution context, the result object. A `Prepared` statement is compiled once per
dialect (and per set of parameter names), and then only binds its parameters the way
SQLAlchemy would (the types' bind processors, the columns' Python defaults), runs on the
same connection in the same transaction, and processes the result columns' types.

Errors surface as SQLAlchemy's own (`IntegrityError`, `OperationalError` ... with the
connection invalidated on a disconnect), through the connection's own handler, so the
callers' exactly-once and spool paths see what they saw before. A connection outside a
transaction takes the ordinary path, which begins one.

Only for statements that measure as hot; everything else stays on `Connection.execute`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.sql import ClauseElement


class _Plan:
    __slots__ = ("sql", "slots", "named", "defaults", "results")

    def __init__(self, statement: ClauseElement, connection: Connection, keys: Sequence[str], many: bool) -> None:
        dialect = connection.dialect
        # for_executemany as Connection.execute compiles a list of rows: on PostgreSQL a
        # single row's INSERT also returns its primary key, several rows' do not.
        compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)
        if compiled.literal_execute_params or compiled.post_compile_params or compiled.schema_translate_map:
            raise ValueError("a prepared statement cannot expand parameters at execution")
        if getattr(compiled, "_collected_params", None):  # values given by .params()
            raise ValueError("a prepared statement binds only the parameters it is given")
        self.sql = compiled.string
        # Per placeholder, as SQLCompiler.construct_params and the execution context take
        # it: the value given under the parameter's key (or its name), else the bound
        # value compiled in; then the type's bind processor.
        processors = compiled._bind_processors
        bound = {name: bindparam for bindparam, name in compiled.bind_names.items()}
        if any(bindparam.callable for bindparam in bound.values()):
            raise ValueError("a prepared statement takes no callable parameter values")
        self.named = not compiled.positional
        escaped = compiled.escaped_bind_names or {}
        self.slots = [
            (
                escaped.get(name, name), bound[name].key, name, bound[name].required, bound[name].value,
                processors.get(name),
            )
            for name in (compiled.positiontup if compiled.positional else bound)
        ]
        # The columns' Python-side defaults (INSERT) or onupdate values (UPDATE) not given.
        self.defaults: list[tuple[str, Any, bool]] = []
        prefetch = [(c, c.default) for c in compiled.insert_prefetch] + [
            (c, c.onupdate) for c in compiled.update_prefetch
        ]
        for column, default in prefetch:
            if default is None or not (default.is_scalar or default.is_callable):
                raise ValueError(f"a prepared statement cannot compute the default of {column}")
            self.defaults.append((compiled._within_exec_param_key_getter(column), default.arg, default.is_callable))
        self.results = None
        if compiled._result_columns:
            self.results = [
                entry[3]._cached_result_processor(dialect, None) for entry in compiled._result_columns
            ]
            if not any(self.results):
                self.results = []

    def bind(self, params: dict[str, Any]) -> Any:
        if self.defaults:
            params = dict(params)
            for key, arg, is_callable in self.defaults:
                params[key] = arg(None) if is_callable else arg
        values = []
        for _, key, name, required, value, processor in self.slots:
            if key in params:
                value = params[key]
            elif name in params:
                value = params[name]
            elif required:
                raise InvalidRequestError(f"A value is required for bind parameter {key!r}")
            values.append(value if processor is None else processor(value))
        if self.named:
            return {slot[0]: value for slot, value in zip(self.slots, values)}
        return tuple(values)

    def rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        rows = cursor.fetchall()
        if self.results:
            processors = self.results
            return [
                tuple(fn(value) if fn is not None else value for fn, value in zip(processors, row)) for row in rows
            ]
        return [tuple(row) for row in rows]


class Prepared:
    """A Core statement compiled once per dialect, run on the connection's DBAPI cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...], bool], _Plan] = {}

    def _plan(self, connection: Connection, keys: tuple[str, ...], many: bool = False) -> _Plan:
        plan = self._plans.get((connection.dialect.name, keys, many))
        if plan is None:
            plan = self._plans[(connection.dialect.name, keys, many)] = _Plan(self.statement, connection, keys, many)
        return plan

    def rows(self, connection: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run it with `params`; the rows it returns (none for a statement without RETURNING)."""
        if not connection.in_transaction():
            result = connection.execute(self.statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        plan = self._plan(connection, tuple(params))
        parameters = plan.bind(params)
        dbapi_connection = connection.connection.dbapi_connection
        cursor = None
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(plan.sql, parameters)
            rows = plan.rows(cursor) if plan.results is not None else []
            cursor.close()
        except connection.dialect.loaded_dbapi.Error as exc:
            # Wrapped as Connection.execute wraps it; a disconnect invalidates the connection.
            connection._handle_dbapi_exception(exc, plan.sql, parameters, cursor, None)
        return rows

    def first(self, connection: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: Connection, params: dict[str, Any]) -> Any:
        """The first column of the first row, or None."""
        rows = self.rows(connection, params)
        return rows[0][0] if rows else None

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Run it once per parameter set in `rows` (all with the same names), no rows returned."""
        if len(rows) == 1:
            self.rows(connection, rows[0])
            return
        if not connection.in_transaction():
            connection.execute(self.statement, rows)
            return
        plan = self._plan(connection, tuple(rows[0]), many=True)
        if plan.results is not None:
            raise ValueError("a prepared statement returns no rows when run many times")
        parameters = [plan.bind(row) for row in rows]
        dbapi_connection = connection.connection.dbapi_connection
        cursor = None
        try:
            cursor = dbapi_connection.cursor()
            cursor.executemany(plan.sql, parameters)
            cursor.close()
        except connection.dialect.loaded_dbapi.Error as exc:
            connection._handle_dbapi_exception(exc, plan.sql, parameters, cursor, None)
