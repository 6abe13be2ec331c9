"""Hot read statements compiled once per dialect and run on the pooled driver connection.

SQLAlchemy Core's execute spends, per statement and beyond the driver's own work, about
as long again in Python: the compiled-cache lookup, an execution context, result
metadata, Row objects, a Connection and its transaction. The QIDO and /v1 study searches
(store/qido_search, store/queries) run one or two statements per request, thousands of
requests a second (#13). A Prepared keeps
what that work computes and does not change: the SQL string, the order of its
parameters, their defaults and the result processors of its columns. Rows come back as
named tuples (attribute access like Row, hashed and compared in C).

What stays as with Core: the engine's pool (checkout, pre-ping, connect hooks, reset on
return) and SQLAlchemy's exceptions (DBAPIError, parameters hidden). When anything
listens to the engine's cursor events (a tracer such as OpenTelemetry's SQLAlchemy
instrumentation, a statement log, bench/scale.py's plan capture), `reading` runs the
same statements through Core so that they see them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True, slots=True)
class Prepared:
    """One SELECT compiled for one dialect: `run` it on a pooled DBAPI connection."""

    statement: Select
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order (positional paramstyles)
    defaults: Mapping[str, Any]  # parameters SQLAlchemy bound itself (e.g. OFFSET 0)
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    result_processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, processor)
    row: Callable[[Sequence[Any]], Any]  # a named tuple's _make
    dialect: Dialect

    @classmethod
    def of(cls, statement: Select, dialect: Dialect) -> Prepared:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            # Expanding IN lists change the SQL per execution: bind one parameter per value.
            raise ValueError("a statement with expanding parameters cannot be prepared")
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        processing = ((name, bind.type.dialect_impl(dialect).bind_processor(dialect))
                      for name, bind in binds.items())
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in statement.selected_columns)
        names = list(statement.selected_columns.keys())
        return cls(
            statement=statement,
            sql=compiled.string,
            positions=tuple(compiled.positiontup or ()) if compiled.positional else None,
            defaults={name: bind.effective_value for name, bind in binds.items()
                      if not bind.required},
            bind_processors=tuple((name, processor) for name, processor in processing
                                  if processor is not None),
            result_processors=tuple((index, processor) for index, processor
                                    in enumerate(results) if processor is not None),
            row=namedtuple("PreparedRow", names, rename=True)._make,  # type: ignore[attr-defined]
            dialect=dialect)

    def run(self, dbapi_connection: Any, values: Mapping[str, Any]) -> list[Any]:
        """Every row of the statement with `values` bound, as named tuples."""
        bound = {**self.defaults, **values} if self.defaults else dict(values)
        for name, processor in self.bind_processors:
            bound[name] = processor(bound[name])
        parameters: Any = tuple(bound[name] for name in self.positions) \
            if self.positions is not None else bound
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, parameters)
            fetched = cursor.fetchall()
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(self.sql, None, exc, self.dialect.loaded_dbapi.Error,
                                      hide_parameters=True, dialect=self.dialect) from exc
        finally:
            cursor.close()
        make, processors = self.row, self.result_processors
        if not processors:
            return [make(row) for row in fetched]
        rows = []
        for row in fetched:
            cells = list(row)
            for index, processor in processors:
                cells[index] = processor(cells[index])
            rows.append(make(cells))
        return rows


Read = Callable[[Prepared, Mapping[str, Any]], Sequence[Any]]


@contextmanager
def reading(engine: Engine) -> Iterator[Read]:
    """`read(prepared, values)` → its rows, on one pooled connection for the block."""
    dispatch = engine.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        with engine.connect() as connection:
            yield lambda prepared, values: connection.execute(prepared.statement,
                                                              values).all()
        return
    dbapi_connection = engine.raw_connection()
    try:
        yield lambda prepared, values: prepared.run(dbapi_connection, values)
    finally:
        dbapi_connection.close()  # back to the pool, which rolls back what the reads began
