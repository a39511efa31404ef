"""Scores and offers partitioned by run (PostgreSQL only; nothing changes on SQLite).

``segmentation_customerscore`` and ``segmentation_nextbestoffer`` become
``PARTITION BY LIST (run_id)`` tables (see ``segmentation.partitions``). Each table
is renamed away, recreated partitioned with the same columns, and its rows are
copied into the new ``_default`` partition (every existing run id is below
``OWN_PARTITION_RUN_IDS_FROM``, which the default partition's CHECK requires). Then
the old table is dropped and the new one gets what the old one had, read from the
catalog: the indexes and constraints under their names, the foreign keys, forced
row-level security with the same policies, and the grants; the default partition
gets the same security.

Differences the rest of the code must know:

* The primary key is ``(id, run_id)``: a partitioned table's unique constraints
  must hold the partition key. Django still sees ``id`` as the primary key; ids
  still come from a sequence (``<table>_id_seq``, now a plain sequence owned by the
  column instead of an identity, continued from where the identity was).
* A unique constraint or index added later must include ``run_id``;
  ``CREATE INDEX CONCURRENTLY`` does not work on the partitioned parent (create the
  index on each partition, then on the parent ``ON ONLY`` and attach them).
* ``segmentation_own_partition_run_seq`` numbers the runs of large tenants.

Irreversible: going back would mean copying every partition into one table again;
restore a backup instead. The copy takes a while on a large database (about as long
as rewriting the tables and their indexes), under an exclusive lock.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.migrations.exceptions import IrreversibleError

from segmentation.partitions import (
    OWN_PARTITION_RUN_IDS_FROM,
    PARTITIONED_TABLES,
    RUN_ID_SEQUENCE,
    default_partition,
    index_sql,
    security_sql,
    table_extras,
)


def _partition(cursor: Any, table: str) -> None:
    old = f"{table}_unpartitioned"
    default = default_partition(table)
    extras = table_extras(cursor, table)
    cursor.execute(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    columns = cursor.fetchone()[0]
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    old_sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {old_sequence}")  # noqa: S608
    last_id = int(cursor.fetchone()[0])

    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    cursor.execute(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
        " INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)"
        " PARTITION BY LIST (run_id)"
    )
    cursor.execute(f'CREATE TABLE "{default}" PARTITION OF "{table}" DEFAULT')
    cursor.execute(
        f'ALTER TABLE "{default}" ADD CONSTRAINT "{default}_small_runs"'
        f" CHECK (run_id < {OWN_PARTITION_RUN_IDS_FROM})"
    )
    # The session sees every tenant's rows for the copy (the policy's escape hatch;
    # transaction-local). The new tables get row-level security after the copy.
    cursor.execute("SELECT set_config('app.all_tenants', 'on', true)")
    cursor.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{old}"')  # noqa: S608
    cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
    last_id = max(last_id, int(cursor.fetchone()[0]))
    cursor.execute(f'DROP TABLE "{old}"')  # with its identity sequence, indexes, policy

    sequence = f"{table}_id_seq"
    cursor.execute(f'CREATE SEQUENCE "{sequence}" AS bigint OWNED BY "{table}".id')
    if last_id:
        cursor.execute("SELECT setval(%s, %s)", [sequence, last_id])
    cursor.execute(f"ALTER TABLE \"{table}\" ALTER COLUMN id SET DEFAULT nextval('{sequence}')")

    for name, contype, definition in extras.constraints:
        if contype == "p":
            definition = "PRIMARY KEY (id, run_id)"
        elif contype == "u" and "run_id" not in definition:
            raise RuntimeError(f"{table}.{name} must include run_id to be partitioned")
        if contype in ("p", "u"):
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for name, definition in extras.indexes:
        cursor.execute(index_sql(definition, table, name=name))
    # Validated by one anti-join while the new tables have no row-level security yet.
    for name, contype, definition in extras.constraints:
        if contype == "f":
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for target in (table, default):
        for statement in security_sql(extras, target):
            cursor.execute(statement)
    cursor.execute(f'ANALYZE "{table}"')


def partition_run_tables(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'CREATE SEQUENCE IF NOT EXISTS "{RUN_ID_SEQUENCE}" AS bigint')
        for table in PARTITIONED_TABLES:
            _partition(cursor, table)


def irreversible_on_postgresql(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        raise IrreversibleError(
            "segmentation 0006 (partitioned run tables) cannot be reversed: restore a backup"
        )


class Migration(migrations.Migration):
    dependencies = [("segmentation", "0005_live_count_indexes")]

    operations = [migrations.RunPython(partition_run_tables, irreversible_on_postgresql)]
