"""Per-run partitions of the run tables (PostgreSQL only).

``segmentation_customerscore`` and ``segmentation_nextbestoffer`` are partitioned
``BY LIST (run_id)`` (migration 0006). Runs of small tenants share the ``_default``
partition and are deleted row by row, as before. A tenant with at least
:data:`PARTITION_MIN_CUSTOMERS` customers gets one partition per run and table, so
that loading a run writes a fresh table without the other runs' indexes, and
dropping a run is a ``DROP TABLE`` instead of deleting a million rows (~18 s).

Such runs take their ids from ``OWN_PARTITION_RUN_IDS_FROM`` + a sequence. The
default partition carries ``CHECK (run_id < OWN_PARTITION_RUN_IDS_FROM)``, which
tells PostgreSQL that no row of a new partition can be in it: attaching a partition
then does not scan the default partition. A run's partition is built standalone
(loaded, indexed, with the parent's foreign keys, row-level security, policies and
grants, and ``CHECK (run_id = X)``), then attached, which then neither scans it nor
builds anything.

The functions here take table names and a cursor, so the migration can use them
before the models are what they are now. Callers pass the tables in
:data:`PARTITIONED_TABLES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

PARTITIONED_TABLES = ("segmentation_customerscore", "segmentation_nextbestoffer")
# A tenant this size or larger gets its own partitions per run. Below it a run's
# rows are few enough that deleting them costs less than creating tables.
PARTITION_MIN_CUSTOMERS = 50_000
# Run ids from here on have their own partitions; ids below live in the default one.
OWN_PARTITION_RUN_IDS_FROM = 2**40
RUN_ID_SEQUENCE = "segmentation_own_partition_run_seq"


def default_partition(table: str) -> str:
    return f"{table}_default"


def run_partition(table: str, run_id: int) -> str:
    return f"{table}_r{run_id}"


def has_own_partitions(run_id: int) -> bool:
    return connection.vendor == "postgresql" and run_id >= OWN_PARTITION_RUN_IDS_FROM


def next_own_partition_run_id() -> int:
    """A run id from the range whose runs have their own partitions."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s + nextval('{RUN_ID_SEQUENCE}')", [OWN_PARTITION_RUN_IDS_FROM])
        return int(cursor.fetchone()[0])


def _q(name: str) -> str:
    return str(connection.ops.quote_name(name))


# --- What a table carries besides its columns ---------------------------------------


@dataclass
class TableExtras:
    """Indexes, constraints, row-level security and grants of a table, as SQL
    definitions read from the catalog (so a copy follows whatever the table has,
    including indexes added later by hand)."""

    indexes: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX …)
    # (name, type p/u/f, definition): primary key, unique and foreign-key constraints.
    constraints: list[tuple[str, str, str]] = field(default_factory=list)
    rls_enabled: bool = False
    rls_forced: bool = False
    # (name, PERMISSIVE/RESTRICTIVE, command, roles, USING, WITH CHECK)
    policies: list[tuple[str, str, str, list[str], str | None, str | None]] = field(
        default_factory=list
    )
    grants: list[tuple[str, str]] = field(default_factory=list)  # (grantee or PUBLIC, privilege)


def table_extras(cursor: Any, table: str) -> TableExtras:
    extras = TableExtras()
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s::regclass AND NOT EXISTS ("
        "   SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid"
        "   AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x'))"
        " ORDER BY i.relname",
        [table],
    )
    extras.indexes = [(name, definition) for name, definition in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY conname",
        [table],
    )
    extras.constraints = [(n, t, d) for n, t, d in cursor.fetchall()]
    cursor.execute(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
        [table],
    )
    extras.rls_enabled, extras.rls_forced = cursor.fetchone()
    cursor.execute(
        "SELECT policyname, permissive, cmd, roles::text[], qual, with_check FROM pg_policies"
        " WHERE schemaname = current_schema() AND tablename = %s ORDER BY policyname",
        [table],
    )
    extras.policies = [tuple(row) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,"
        " a.privilege_type FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a"
        " LEFT JOIN pg_roles r ON r.oid = a.grantee"
        " WHERE c.oid = %s::regclass AND a.grantee <> c.relowner ORDER BY 1, 2",
        [table],
    )
    extras.grants = [(grantee, privilege) for grantee, privilege in cursor.fetchall()]
    return extras


_INDEX_HEAD = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?\S+ ")


def index_sql(definition: str, table: str, *, name: str | None) -> str:
    """``definition`` (pg_get_indexdef) for ``table``; unnamed lets PostgreSQL pick a
    free name (index names are unique per schema)."""
    match = _INDEX_HEAD.match(definition)
    if match is None:
        raise ValueError(f"unexpected index definition: {definition}")
    unique = match.group(1) or ""
    named = f"{_q(name)} " if name else ""
    return f"CREATE {unique}INDEX {named}ON {_q(table)} {definition[match.end() :]}"


def security_sql(extras: TableExtras, table: str) -> list[str]:
    """Row-level security, policies and grants of ``extras`` for ``table``."""
    target = _q(table)
    statements = []
    if extras.rls_enabled:
        statements.append(f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY")
    if extras.rls_forced:
        statements.append(f"ALTER TABLE {target} FORCE ROW LEVEL SECURITY")
    for name, permissive, command, roles, using, check in extras.policies:
        sql = f"CREATE POLICY {_q(name)} ON {target} AS {permissive} FOR {command}"
        sql += " TO " + ", ".join("PUBLIC" if r == "public" else _q(r) for r in roles)
        if using is not None:
            sql += f" USING ({using})"
        if check is not None:
            sql += f" WITH CHECK ({check})"
        statements.append(sql)
    for grantee, privilege in extras.grants:
        statements.append(f"GRANT {privilege} ON {target} TO {grantee}")
    return statements


# --- A run's own partitions ---------------------------------------------------------


def create_run_partition(table: str, run_id: int) -> str:
    """Create the standalone table that becomes ``table``'s partition for the run;
    returns its name. Load the run's rows into it (``bulk.load_frame(...,
    fresh_table=True)`` in the same subtransaction), then call
    :func:`attach_run_partition` in the same transaction, which gives it the parent's
    row-level security before anyone can see it."""
    part = run_partition(table, run_id)
    with connection.cursor() as cursor:
        # LIKE copies the columns, NOT NULLs, CHECKs and the id default (the parent's
        # sequence); the indexes come after the load, cheaper than kept up row by row.
        cursor.execute(
            f"CREATE TABLE {_q(part)} (LIKE {_q(table)} INCLUDING DEFAULTS"
            " INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)"
        )
        cursor.execute(
            f"ALTER TABLE {_q(part)} ADD CONSTRAINT {_q(part + '_run')}"
            f" CHECK (run_id = {int(run_id)})"
        )
    return part


def attach_run_partition(table: str, run_id: int) -> None:
    """Index the loaded partition as the parent is indexed, add the parent's foreign
    keys, attach it and refresh its statistics. Attaching then checks nothing: the
    indexes and keys match the parent's, ``CHECK (run_id = X)`` proves the partition
    bound and the default partition's CHECK keeps it out of the way."""
    part = run_partition(table, run_id)
    with connection.cursor() as cursor:
        extras = table_extras(cursor, table)
        for kind in ("p", "u"):
            for _name, contype, definition in extras.constraints:
                if contype == kind:
                    cursor.execute(f"ALTER TABLE {_q(part)} ADD {definition}")
        for _name, definition in extras.indexes:
            cursor.execute(index_sql(definition, part, name=None))
        # A foreign key is validated by one anti-join, unless row-level security
        # applies to the table (then row by row): added before the table gets it.
        for name, contype, definition in extras.constraints:
            if contype == "f":
                cursor.execute(f"ALTER TABLE {_q(part)} ADD CONSTRAINT {_q(name)} {definition}")
        for statement in security_sql(extras, part):
            cursor.execute(statement)
        cursor.execute(
            f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(part)} FOR VALUES IN ({int(run_id)})"
        )
        cursor.execute(f"ANALYZE {_q(part)}")


def drop_run_partitions(table: str, run_ids: list[int]) -> None:
    """Detach and drop the runs' partitions of ``table`` (those that exist: a run
    that failed before writing has none). Takes a short exclusive lock on ``table``."""
    with connection.cursor() as cursor:
        for run_id in run_ids:
            part = run_partition(table, run_id)
            cursor.execute(
                "SELECT c.oid IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits i"
                " WHERE i.inhrelid = c.oid AND i.inhparent = %s::regclass)"
                " FROM (SELECT to_regclass(%s) AS oid) c",
                [table, part],
            )
            exists, attached = cursor.fetchone()
            if not exists:
                continue
            if attached:
                cursor.execute(f"ALTER TABLE {_q(table)} DETACH PARTITION {_q(part)}")
            cursor.execute(f"DROP TABLE {_q(part)}")


def analyze_default_partition(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {_q(default_partition(table))}")


def analyze_table_once(table: str) -> None:
    """ANALYZE the partitioned table itself if it never has been with rows in it.

    Autovacuum never analyzes a partitioned parent, and without its statistics the
    planner guesses 200 distinct customers in a run's scores: a live count that joins
    them to the customers then probes the customer table row by row (5.3 s instead of
    0.9 s for "recency ≥ 180 days and CLV ≥ 1,000" at 1M customers). Scans read each
    partition's own statistics, so the parent's only need to say roughly how many
    distinct values there are; refreshing them every run would sample every kept run
    again (29 s for both tables at 12 runs of 1M customers)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        if cursor.fetchone()[0] <= 0:  # -1: never analyzed; 0: analyzed while empty
            cursor.execute(f"ANALYZE {_q(table)}")
