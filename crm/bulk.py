"""Bulk loading for generated data (reference tenants, the demo).

One ORM save per row costs about a millisecond; a reference tenant has tens of
millions of rows. These helpers load a pandas frame whose columns are database
column names:

* PostgreSQL: ``COPY`` into a temporary table, then ``INSERT … SELECT`` into the real
  one. ``COPY FROM`` is refused on tables with row-level security (ours are all
  FORCE RLS), so the copy goes to an unpoliced temporary table and the insert still
  passes the tenant policy's ``WITH CHECK``, inside the caller's tenant scope.
* SQLite (``make run``): ``executemany`` of plain inserts.

Ids are handed out up front with :func:`reserve_ids` so children can point at their
parents before anything is written, and the table's sequence stays consistent for
rows created later through the ORM.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import select
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction

COPY_CHUNK_ROWS = 200_000
# The insert is split so that the deferred foreign-key checks queued by one statement
# stay bounded in memory (they run at the end of each statement, see load_frame).
INSERT_CHUNK_ROWS = 1_000_000
NULL = "\\N"
ErrorT = TypeVar("ErrorT", bound=BaseException)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a bulk step; the step calls
    :func:`collect_young` when its garbage is worth collecting instead.

    An import keeps tens of thousands of small objects alive (the rows it has seen,
    the identity index) and allocates many more; the collector, triggered every 700
    allocations, walked them again and again and took a third of an import's time.
    Collecting the youngest generation now and then still frees the cycles a step
    leaves (a ValidationError's traceback) without walking what survived earlier.

    Leave the block only once the step's own objects are gone (run the step in a
    function of its own): the first collection after it walks whatever the step
    still holds."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect_young() -> None:
    # Generation 0 only: what survives goes to generation 1, not to the oldest one.
    # Ten collections of generation 1 (the previous way) made the collector's next
    # run, once enabled again, a full collection of the whole process (0.1 s after
    # every import of 20,000 rows); the survivors of generation 1 are walked once, by
    # the collector's next ordinary run.
    gc.collect(0)


def detached(error: ErrorT) -> ErrorT:
    """``error`` (and the errors it holds or was raised from) without tracebacks.

    A ValidationError refers to itself (``error_list``), so only Python's cycle
    collector frees it, and a traceback keeps every frame up the stack alive with it
    (frames hold their callers): an import's whole state (the identity index, the
    parsed chunks), 300,000 objects that the collector walked for 0.3 s after an
    import of 20,000 rows, and that a cached error kept for the life of the worker.
    The exception it was raised from (``__context__``) holds such a traceback too."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, ValidationError):
            if hasattr(current, "error_dict"):
                for errors in current.error_dict.values():
                    pending.extend(errors)
            else:
                pending.extend(current.error_list)
    return error


def reserve_ids(model: type[models.Model], count: int) -> np.ndarray:
    """``count`` consecutive, unused primary keys for ``model`` (as int64 array)."""
    if count <= 0:
        return np.zeros(0, dtype="int64")
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # nextval + setval in one statement: the block [end - count + 1, end] is ours.
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s),"
                " nextval(pg_get_serial_sequence(%s, %s)) + %s - 1)",
                [table, pk, table, pk, count],
            )
            end = int(cursor.fetchone()[0])
            start = end - count + 1
        else:
            # SQLite hands out max(rowid) + 1, so explicit ids above the maximum are safe.
            cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')  # noqa: S608
            start = int(cursor.fetchone()[0]) + 1
    return np.arange(start, start + count, dtype="int64")


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def _csv(frame: pd.DataFrame, float_format: str | None = "%.2f") -> str:
    out = io.StringIO()
    frame.to_csv(
        out,
        header=False,
        index=False,
        na_rep=NULL,
        float_format=float_format,
        date_format="%Y-%m-%d %H:%M:%S%z",
        lineterminator="\n",
    )
    return out.getvalue()


def _copy_csv(
    cursor: Any,
    table: str,
    columns: str,
    frame: pd.DataFrame,
    float_format: str | None,
    *,
    freeze: bool,
) -> None:
    """COPY ``frame`` into ``table`` as CSV, a chunk of text at a time."""
    options = f"FORMAT csv, NULL '{NULL}'" + (", FREEZE" if freeze else "")
    # The psycopg cursor under Django's wrapper.
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN ({options})") as copy:
        for chunk in _chunks(frame, COPY_CHUNK_ROWS):
            copy.write(_csv(chunk, float_format))


def load_frame(
    model: type[models.Model],
    frame: pd.DataFrame,
    *,
    float_format: str | None = "%.2f",
    table: str | None = None,
    fresh_table: bool = False,
) -> int:
    """Insert every row of ``frame`` (columns = ``model``'s column names); returns the
    row count. Call inside the tenant scope the rows belong to. Every NOT NULL column
    without a database default must be in the frame: Django's defaults are not
    applied here. Floats are written with two decimals (money) unless
    ``float_format`` says otherwise (``None``: as they are, for frames whose floats
    are already rounded to what each column keeps). ``table`` loads into another
    table with the model's columns instead of the model's own (a partition).

    ``fresh_table``: ``table`` was created in the caller's current (sub)transaction,
    has no row-level security yet and nobody else can see it: the rows are copied
    straight in with ``COPY … FREEZE``, already frozen and marked all-visible, so no
    second pass through a temporary table and no vacuum before index-only scans.
    PostgreSQL refuses the copy if the table was not created in this subtransaction."""
    if frame.empty:
        return 0
    table = connection.ops.quote_name(table or model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in frame.columns)
    if connection.vendor != "postgresql":
        return _load_sqlite(table, columns, frame, money=float_format is not None)
    if fresh_table:
        with connection.cursor() as cursor:
            _copy_csv(cursor, table, columns, frame, float_format, freeze=True)
        return len(frame)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE _tekil_load AS SELECT {columns} FROM {table} LIMIT 0"  # noqa: S608
        )
        cursor.execute("ALTER TABLE _tekil_load ADD COLUMN _row bigserial")
        # On an error the caller's transaction rolls back, temporary table included.
        _copy_csv(cursor, "_tekil_load", columns, frame, float_format, freeze=False)
        # Foreign keys are DEFERRABLE INITIALLY DEFERRED: checking them per statement
        # keeps the queue of pending checks to one chunk instead of the whole load.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for start in range(1, len(frame) + 1, INSERT_CHUNK_ROWS):
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _tekil_load"  # noqa: S608
                " WHERE _row >= %s AND _row < %s",
                [start, start + INSERT_CHUNK_ROWS],
            )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("DROP TABLE _tekil_load")
    return len(frame)


def _insert_fields(model: type[models.Model], with_ids: bool) -> list[Any]:
    return [
        f
        for f in model._meta.concrete_fields
        if (with_ids or not f.primary_key) and not f.generated
    ]


def _row_values(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    tenant_id: int,
    now: Any,
    with_ids: bool,
) -> tuple[str, str, list[list[Any]]]:
    """The quoted table, its quoted column list and each row's values in that order:
    columns a row leaves out get the model default; ``tenant_id``, ``created_at`` and
    ``updated_at`` are set here; the id is the database's unless ``with_ids``."""
    fields = _insert_fields(model, with_ids)
    fixed = {"tenant_id": tenant_id, "created_at": now, "updated_at": now}
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in fixed}
    # Values Django would adapt itself (JSON) go through the field; the rest as they are.
    prepared = [f.attname for f in fields if f.get_internal_type() == "JSONField"]
    names = [f.attname for f in fields]
    values = [
        [fixed[name] if name in fixed else row.get(name, defaults[name]) for name in names]
        for row in rows
    ]
    for name in prepared:
        position = names.index(name)
        json_field = fields[position]
        for row_values in values:
            row_values[position] = json_field.get_db_prep_save(row_values[position], connection)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields)
    return table, columns, values


@dataclass
class RowsPayload:
    """A table's rows made ready for :meth:`WriteBehind.add` ahead of time, while the
    connection is busy: on PostgreSQL the whole ``INSERT`` statement, its rows inline
    as one typed array per column; on SQLite each row's values."""

    table: str  # quoted
    columns: str  # quoted, comma-separated
    count: int
    insert: str = ""  # PostgreSQL
    values: list[list[Any]] = field(default_factory=list)  # SQLite: every column


def rows_payload(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    tenant_id: int,
    now: Any,
    with_ids: bool = False,
    computed: dict[str, str] | None = None,
    when_null: dict[str, str] | None = None,
    with_sql: str = "",
) -> RowsPayload:
    """``rows`` (dicts keyed by column name, ``attname``) formatted for
    :meth:`WriteBehind.add` (Python only: no query). Columns a row leaves out get the
    model default; ``tenant_id``, ``created_at`` and ``updated_at`` are set here; the
    id is the database's unless ``with_ids``.

    PostgreSQL only: ``computed`` gives columns an SQL expression instead of a value,
    and ``when_null`` gives one for the rows whose value of that column is None. Both
    may use ``incoming.n``, the row's position from 1, ``incoming.<attname>``, its
    value of another column, and what ``with_sql`` (a ``WITH`` clause put before the
    ``INSERT``) defines."""
    if connection.vendor != "postgresql":
        if computed or when_null or with_sql:
            raise ValueError("computed columns need PostgreSQL")
        table, columns, values = _row_values(
            model, rows, tenant_id=tenant_id, now=now, with_ids=with_ids
        )
        return RowsPayload(table, columns, len(rows), values=values)
    from psycopg import sql

    computed = computed or {}
    fields = [f for f in _insert_fields(model, with_ids) if f.attname not in computed]
    fixed = {"tenant_id": tenant_id, "created_at": now, "updated_at": now}
    given = set().union(*rows) if rows else set()
    # A column no row sets and whose default is a constant takes the same value in
    # every row: it is written once in the INSERT, not once per row.
    varying = [
        f for f in fields if f.attname not in fixed and (f.attname in given or callable(f.default))
    ]
    shared = [f for f in fields if f not in varying]
    quote = connection.ops.quote_name

    def literal(shared_field: Any) -> str:
        value = (
            fixed[shared_field.attname]
            if shared_field.attname in fixed
            else shared_field.get_db_prep_save(shared_field.get_default(), connection)
        )
        return sql.Literal(value).as_string(connection.connection)

    arrays = []
    for varying_field in varying:
        name, default = varying_field.attname, varying_field.get_default()
        column = [row.get(name, default) for row in rows]
        if varying_field.get_internal_type() == "JSONField":
            encoder = varying_field.encoder
            column = [None if v is None else json.dumps(v, cls=encoder) for v in column]
        arrays.append(
            f"{array_literal(column)}::{varying_field.db_type(connection)}[]",
        )
    when_null = when_null or {}
    if set(when_null) - {f.attname for f in varying}:
        raise ValueError("when_null names a column no row gives")
    names = [quote(f.attname) for f in varying]
    selected = [
        f"coalesce(incoming.{name}, {when_null[f.attname]})"
        if f.attname in when_null
        else f"incoming.{name}"
        for name, f in zip(names, varying, strict=True)
    ]
    selected += [literal(f) for f in shared]
    selected += list(computed.values())
    columns = ", ".join(quote(f.column) for f in [*varying, *shared])
    if computed:
        by_attname = {f.attname: f.column or f.attname for f in model._meta.concrete_fields}
        columns += ", " + ", ".join(quote(by_attname[name]) for name in computed)
    table = quote(model._meta.db_table)
    insert = (
        f"{with_sql} INSERT INTO {table} ({columns}) SELECT {', '.join(selected)}"  # noqa: S608
        f" FROM unnest({', '.join(arrays)}) WITH ORDINALITY"
        f" AS incoming({', '.join(names)}, n)"
    )
    return RowsPayload(table, columns, len(rows), insert=insert.strip())


# str() of these is no PostgreSQL input (rows_payload dumps JSON to text first).
_UNWRITABLE = (bytes, bytearray, memoryview, list, tuple, dict, set)


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, _UNWRITABLE):
        raise TypeError(f"array_literal cannot write a {type(value).__name__}")
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def array_literal(values: list[Any]) -> str:
    """``values`` as the SQL string literal of a PostgreSQL array (cast by the caller):
    every element double-quoted but NULL, numbers and booleans; the literal relies on
    standard_conforming_strings (PostgreSQL's default since 9.1), checked when it
    matters (a backslash). Several times faster than psycopg's adaptation of a list,
    which matters for the tens of thousands of values of a bulk statement; a column
    of texts or of integers (the usual case) is joined at once."""
    kinds = set(map(type, values))
    text = ""
    if kinds and all(issubclass(kind, str) for kind in kinds):
        together = "".join(values)  # nothing to escape: joined as they are
        if "\\" not in together and '"' not in together:
            text = '{"' + '","'.join(values) + '"}'
    elif kinds == {int}:
        text = "{" + ",".join(map(str, values)) + "}"
    if not text:
        text = "{" + ",".join(map(_array_element, values)) + "}"
    if "\\" in text:
        connection.ensure_connection()
        status = connection.connection.info.parameter_status("standard_conforming_strings")
        if status != "on":
            raise RuntimeError("array_literal needs standard_conforming_strings on")
    return "'" + text.replace("'", "''") + "'"


class WriteBehind:
    """Writes a long load chunk by chunk, the database inserting one chunk while the
    caller prepares the next.

    An import spends about as long in Python (parsing, normalising, matching) as the
    database spends inserting (indexes, foreign keys, triggers), one after the other
    on a connection that waits for each statement. Here the inserts of a chunk run
    while Python goes on: :meth:`open` starts the chunk's transaction (a savepoint
    inside the caller's), :meth:`add` queues a table's rows (an ``INSERT`` that
    carries them, formatted by :func:`rows_payload` beforehand), :meth:`send` sends
    the chunk's inserts in one message without waiting, and :meth:`wait` waits for
    them and commits the chunk. ``send``
    can first run queries, whose rows :meth:`read` returns while the inserts run.
    Until ``wait`` the connection must not be used otherwise: libpq refuses a second
    command ("another command is already in progress") rather than mixing them.

    Foreign keys are checked as each insert ends; afterwards the transaction's
    constraints are DEFERRED again (Django's default), whatever the caller had set.

    On SQLite (the embedded default) ``add`` inserts at once and nothing is left to
    wait for. Use as a context manager: leaving it waits for the last chunk, and on
    an error rolls the open chunk back.
    """

    def __init__(self, *, tenant_id: int) -> None:
        self.tenant_id = tenant_id
        self._atomic: Any = None
        self._inserts: list[str] = []  # of the open chunk, not sent yet
        self._sent = False  # send() was called for the open chunk
        self._in_flight = False  # a message was sent and its results are not all read
        self._reads = 0  # statements of the message in flight whose rows read() returns
        self._began = False  # that message begins with a BEGIN of its own
        self._pipelined = False  # the message in flight is a pipeline (reads first)

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            self.wait()
        elif self._atomic is not None:
            self._roll_back(exc_type, exc, tb)

    def open(self) -> None:
        """Start a chunk: the caller's reads and writes until :meth:`send` are in its
        transaction too (a customer-number counter, say)."""
        self.wait()
        atomic = transaction.atomic()
        atomic.__enter__()
        self._atomic = atomic

    def add(self, payload: RowsPayload) -> None:
        """Queue the rows of ``payload`` (:func:`rows_payload`, with this writer's
        tenant): inserted by :meth:`send` (on SQLite at once)."""
        if self._atomic is None or self._sent:
            raise RuntimeError("WriteBehind.add outside an open chunk")
        if not payload.count:
            return
        if connection.vendor == "postgresql":
            self._inserts.append(payload.insert)
            return
        placeholders = ", ".join(["%s"] * len(payload.values[0]))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {payload.table} ({payload.columns}) VALUES ({placeholders})",  # noqa: S608
                [tuple(v) for v in payload.values],
            )

    def send(self, reads: Sequence[str] = ()) -> None:
        """Send the chunk's inserts; the caller goes on while the database works.

        ``reads``: statements (one each, no parameters) to run first, in the chunk's
        transaction; :meth:`read` returns their rows (PostgreSQL only). Reads and
        inserts go in one pipeline, the reads' rows sent back as soon as they are
        found: the inserts run while the caller reads them and goes on (a message
        of the simple-query protocol would return them only when all of it had run,
        and the database would wait for the caller between the two)."""
        if self._atomic is None or self._sent:
            raise RuntimeError("WriteBehind.send outside an open chunk")
        if reads and connection.vendor != "postgresql":
            raise RuntimeError("WriteBehind reads need PostgreSQL")
        self._sent = True
        if reads:
            self._send_pipelined(list(reads))
            self._reads = len(reads)
        elif self._inserts:
            self._send_inserts()

    def read(self) -> list[list[tuple[Any, ...]]]:
        """The rows of each of :meth:`send`'s ``reads`` (none for a command), while
        the inserts run. A read's error is raised here and the chunk rolled back."""
        from psycopg import pq
        from psycopg.adapt import Transformer

        if not self._reads:
            return []
        reads, self._reads = self._reads, 0
        pgconn = connection.connection.pgconn
        transformer = Transformer(connection.connection)
        found: list[list[tuple[Any, ...]]] = []
        try:
            with connection.wrap_database_errors:
                # In a pipeline each statement's results end with a None.
                for statement in range(reads + self._began):
                    rows: list[tuple[Any, ...]] = []
                    while (result := pgconn.get_result()) is not None:
                        _raise_for(result)
                        if result.status == pq.ExecStatus.TUPLES_OK:
                            transformer.set_pgresult(result)
                            rows = transformer.load_rows(0, result.ntuples, tuple)
                    if statement >= self._began:
                        found.append(rows)
        except BaseException:
            # The inserts behind a failed read are skipped: the chunk goes back now.
            self._roll_back(*sys.exc_info())
            raise
        return found

    def wait(self) -> None:
        """Wait for the chunk's inserts and commit it; an insert's error is raised
        here (as Django's database error) and the chunk rolled back."""
        if self._atomic is None:
            return
        try:
            if self._reads:
                self.read()
            with connection.wrap_database_errors:
                self._drain()
        except BaseException:
            self._roll_back(*sys.exc_info())
            raise
        atomic, self._atomic = self._atomic, None
        self._reset()
        atomic.__exit__(None, None, None)

    def _roll_back(self, exc_type: Any, exc: Any, tb: Any) -> None:
        atomic, self._atomic = self._atomic, None
        with contextlib.suppress(Exception):
            self._drain()  # the connection is free again before the rollback
        self._reset()
        atomic.__exit__(exc_type, exc, tb)

    def _send_inserts(self) -> None:
        self._send(self._take_inserts())

    def _take_inserts(self) -> list[str]:
        """The queued inserts as statements to send (none if there are none)."""
        inserts, self._inserts = self._inserts, []
        if not inserts:
            return []
        # Foreign keys are checked as each insert ends, in this message, rather than
        # at the chunk's commit, which waits.
        return ["SET CONSTRAINTS ALL IMMEDIATE", *inserts, "SET CONSTRAINTS ALL DEFERRED"]

    def _begin_if_idle(self, pgconn: Any) -> list[str]:
        from psycopg import pq

        # psycopg begins the chunk's transaction with the first statement it sends
        # itself; this message may be the first, and does not pass through it.
        self._began = pgconn.transaction_status == pq.TransactionStatus.IDLE
        return ["BEGIN"] if self._began else []

    def _flush(self, pgconn: Any) -> None:
        while pgconn.flush():  # non-blocking connection: the rest of the message
            select.select([], [pgconn.socket], [])
        self._in_flight = True

    def _send_pipelined(self, reads: list[str]) -> None:
        """The reads, then the chunk's inserts, in one pipeline: the server runs the
        inserts straight after the reads and sends the reads' rows at once (a flush
        request between them), so the caller gets them while the inserts run."""
        pgconn = connection.connection.pgconn
        first = [*self._begin_if_idle(pgconn), *reads]
        pgconn.enter_pipeline_mode()
        self._pipelined = True
        for statement in first:
            pgconn.send_query_params(statement.encode(), None)
        pgconn.send_flush_request()
        for statement in self._take_inserts():
            pgconn.send_query_params(statement.encode(), None)
        pgconn.pipeline_sync()
        self._flush(pgconn)

    def _send(self, statements: list[str]) -> None:
        pgconn = connection.connection.pgconn
        statements = [*self._begin_if_idle(pgconn), *statements]
        # The simple-query protocol runs several statements from one message, in the
        # open transaction, and answers with one result each, in order.
        pgconn.send_query("; ".join(statements).encode())
        self._flush(pgconn)

    def _drain(self) -> None:
        """Read every result of the message in flight, then raise its first error."""
        if not self._in_flight:
            return
        from psycopg import pq

        pgconn = connection.connection.pgconn
        error: Exception | None = None
        # Every result is read, even after an error, so that the connection is free.
        ended = False  # the last result was a statement's end
        while True:
            result = pgconn.get_result()
            if result is None:
                # In a pipeline a None ends one statement's results; two in a row
                # mean nothing more will come (a broken connection).
                if self._pipelined and not ended:
                    ended = True
                    continue
                break
            ended = False
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                break
            try:
                _raise_for(result)
            except Exception as failure:
                error = error or failure
        if self._pipelined:
            pgconn.exit_pipeline_mode()
            self._pipelined = False
        self._in_flight = False
        if error is not None:
            raise error

    def _reset(self) -> None:
        self._inserts, self._sent, self._in_flight, self._reads = [], False, False, 0


def _raise_for(result: Any) -> None:
    from psycopg import errors, pq

    if result.status == pq.ExecStatus.FATAL_ERROR:
        raise errors.error_from_result(result, encoding=connection.connection.info.encoding)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        return value.isoformat(sep=" ")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _load_sqlite(table: str, columns: str, frame: pd.DataFrame, *, money: bool) -> int:
    placeholders = ", ".join(["%s"] * len(frame.columns))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f"] if money else []
    with connection.cursor() as cursor:
        for chunk in _chunks(frame, 20_000):
            chunk = chunk.copy()
            for column in floats:
                chunk[column] = chunk[column].round(2)
            values = chunk.astype(object).where(chunk.notna(), None)
            cursor.executemany(
                sql,
                [tuple(_sqlite_value(v) for v in row) for row in values.itertuples(index=False)],
            )
    return len(frame)


def analyze(*models_: type[models.Model]) -> None:
    """Refresh the planner's statistics after a large load (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def children_first(models_: list[Any]) -> list[Any]:
    """Models ordered so that a model comes before the models it points at."""
    remaining = list(models_)
    ordered: list[Any] = []
    while remaining:
        for model in remaining:
            referenced_by_others = any(
                field.related_model is model
                for other in remaining
                if other is not model
                for field in other._meta.concrete_fields
                if field.is_relation
            )
            if not referenced_by_others:
                ordered.append(model)
                remaining.remove(model)
                break
        else:  # a cycle: the foreign keys are deferred, so any order works
            ordered.extend(remaining)
            break
    return ordered


class ReadAhead:
    """Runs a long load's upcoming reads early, on connections of their own, so that
    the pages they need are in the database's buffers when the load's own connection
    runs them.

    An import looks up each chunk's candidates (:class:`WriteBehind` reads) and then
    inserts into the same indexes. On a server whose caches have gone cold those
    lookups are random page reads, one after the other, on the load's connection:
    at a million customers, about half of a 20,000-row import's time. Offered
    here as soon as a chunk is parsed, a lookup runs while the load's connection is
    still busy with the chunks before, and the load's own lookup later finds its
    pages read.

    Only a warmer: the query's rows are counted, not returned, and the load's
    connection still runs every statement itself, in its own transaction (these connections see only
    committed rows, which is all a warmer needs). A statement offered while every
    connection is busy is dropped rather than queued, so the warmers never pile up
    work the load has already done. The connections are opened at the first offer
    (a load of one chunk opens none). PostgreSQL only; elsewhere, or when a
    connection cannot be opened, it does less or nothing. Use as a context manager:
    leaving it cancels what is still running and closes the connections.
    """

    def __init__(self, connections: int = 2) -> None:
        self.size = connections if connection.vendor == "postgresql" else 0
        self._opened = False
        self._idle: list[Any] = []
        self._busy: list[Any] = []

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for wrapper in self._busy:
            with contextlib.suppress(Exception):
                if not self._finished(wrapper):
                    wrapper.connection.cancel_safe(timeout=1.0)
        for wrapper in [*self._idle, *self._busy]:
            with contextlib.suppress(Exception):
                wrapper.close()
        self._idle, self._busy = [], []

    def offer(self, statements: Sequence[str]) -> bool:
        """Start ``statements`` (no parameters; the same a :class:`WriteBehind` read
        takes: settings, then one query) on an idle connection, as :meth:`counted`
        says; False if none was idle (or there are none). They run in one
        transaction of their own, so ``SET LOCAL`` applies to the ones after it, as
        it does in the load's chunk."""
        if not self._opened:
            self._open()
        for wrapper in list(self._busy):
            try:
                finished = self._finished(wrapper)
            except Exception:  # a broken warmer is dropped, not retried
                self._busy.remove(wrapper)
                with contextlib.suppress(Exception):
                    wrapper.close()
                continue
            if finished:
                self._busy.remove(wrapper)
                self._idle.append(wrapper)
        while self._idle:
            wrapper = self._idle.pop()
            try:
                pgconn = wrapper.connection.pgconn
                pgconn.send_query("; ".join(self.counted(statements)).encode())
                while pgconn.flush():  # a non-blocking connection: the rest of the query
                    select.select([], [pgconn.socket], [])
            except Exception:
                with contextlib.suppress(Exception):
                    wrapper.close()  # a broken warmer is dropped, not retried
                continue
            self._busy.append(wrapper)
            return True
        return False

    @staticmethod
    def counted(statements: Sequence[str]) -> list[str]:
        """``statements`` as a warmer runs them: the last, the query, counts its rows.
        A warmer's results are read only when a later offer looks for an idle
        connection; a query returning thousands of rows filled the socket and the
        server stopped, its pages half read, until then (an import's lookups found
        both warmers busy at 7 offers of 9)."""
        *settings, query = statements
        return [*settings, f"SELECT count(*) FROM ({query}) AS warmed"]  # noqa: S608

    def _open(self) -> None:
        from django.db import DEFAULT_DB_ALIAS, connections

        self._opened = True
        for _ in range(self.size):
            wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
            try:
                # Opening it runs crm.tenancy's connection hook: the tenant scope in
                # force applies here too, so row-level security reads the same rows.
                wrapper.ensure_connection()
            except Exception:
                with contextlib.suppress(Exception):
                    wrapper.close()
                return  # no more connections to be had (max_connections): fewer then
            self._idle.append(wrapper)

    @staticmethod
    def _finished(wrapper: Any) -> bool:
        """Whether the statement in flight is done (its results read and dropped);
        never waits."""
        pgconn = wrapper.connection.pgconn
        pgconn.consume_input()
        while not pgconn.is_busy():
            if pgconn.get_result() is None:
                return True
        return False
