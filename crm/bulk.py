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
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, models

COPY_CHUNK_ROWS = 200_000
# The insert is split so that the deferred foreign-key checks queued by one statement
# stay bounded in memory (they run at the end of each statement, see load_frame).
INSERT_CHUNK_ROWS = 1_000_000
NULL = "\\N"


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a bulk step; the step calls
    :func:`collect_young` after each chunk instead.

    An import keeps tens of thousands of small objects alive (the rows it has seen,
    the identity index) and allocates many more; the collector, triggered every 700
    allocations, walked them again and again and took a third of an import's time.
    Collecting the young generations once per chunk still frees the cycles a chunk
    leaves (a ValidationError's traceback) without walking what survives."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect_young() -> None:
    gc.collect(1)


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


def load_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    tenant_id: int,
    now: Any,
    with_ids: bool = False,
) -> int:
    """Insert ``rows`` (dicts keyed by column name, ``attname``) into ``model``'s table:
    the few thousand rows an import chunk writes, where building a pandas frame and
    its CSV cost more than the insert. Columns a row leaves out get the model
    default; ``tenant_id``, ``created_at`` and ``updated_at`` are set here; the id is
    the database's unless ``with_ids``. PostgreSQL: ``COPY`` of the values (psycopg
    adapts them) into a temporary table, then one ``INSERT … SELECT`` that passes the
    tenant policy, as :func:`load_frame`. Call inside the tenant scope and a
    transaction."""
    if not rows:
        return 0
    fields = [
        f
        for f in model._meta.concrete_fields
        if (with_ids or not f.primary_key) and not f.generated
    ]
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
        field = fields[position]
        for row_values in values:
            row_values[position] = field.get_db_prep_save(row_values[position], connection)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                [tuple(v) for v in values],
            )
            return len(rows)
        cursor.execute(
            f"CREATE TEMPORARY TABLE _tekil_rows AS SELECT {columns} FROM {table} LIMIT 0"  # noqa: S608
        )
        with cursor.cursor.copy(f"COPY _tekil_rows ({columns}) FROM STDIN") as copy:
            for row_values in values:
                copy.write_row(row_values)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _tekil_rows")  # noqa: S608
        cursor.execute("DROP TABLE _tekil_rows")
    return len(rows)


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
