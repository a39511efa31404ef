"""Indexes for search as you type and the duplicate check at a million customers.

The database collation (C.UTF-8 / a locale) does not let a plain btree serve
``LIKE 'prefix%'``, so prefix searches get ``varchar_pattern_ops`` indexes; a name
word anywhere in the name (``' ' || name_key LIKE '% word%'``) gets a trigram GIN
index. All start
with ``tenant_id`` (btree_gin lets a GIN index carry it). PostgreSQL only: SQLite
(``make run``) is small enough without them.

pg_trgm and btree_gin are trusted extensions (PostgreSQL 13+): the database owner may
create them. If the role cannot, the trigram index is left out with a warning rather
than failing the migration; search then still works, only slower at scale.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, migrations

PATTERN_INDEXES = [
    (
        "customer_name_key_prefix_idx",
        "customers_customer",
        "tenant_id, name_key varchar_pattern_ops",
    ),
    ("phone_e164_prefix_idx", "customers_phone", "tenant_id, e164 varchar_pattern_ops"),
    ("email_address_prefix_idx", "customers_email", "tenant_id, address varchar_pattern_ops"),
]
TRIGRAM_INDEX = "customer_name_words_trgm_idx"
# customers.selectors.name_words(): ' ' || name_key, so each word follows a space.
TRIGRAM_EXPRESSION = "tenant_id, (' ' || name_key) gin_trgm_ops"


class PostgresSearchIndexes(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = False

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, table, columns in PATTERN_INDEXES:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
        # Better estimates for "which names match this word" (search picks its plan).
        schema_editor.execute(
            "ALTER TABLE customers_customer ALTER COLUMN name_key SET STATISTICS 1000"
        )
        connection = schema_editor.connection
        try:
            with connection.cursor() as cursor, _savepoint(connection):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        except DatabaseError as error:  # a missing privilege must not stop the deploy
            print(f"\n  customers 0005: no trigram index ({error}); name search is slower")
            return
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON customers_customer "
            f"USING gin ({TRIGRAM_EXPRESSION})"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, _table, _columns in PATTERN_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
        schema_editor.execute(
            "ALTER TABLE customers_customer ALTER COLUMN name_key SET STATISTICS -1"
        )

    def describe(self) -> str:
        return "Prefix and trigram indexes for customer search (PostgreSQL only)"


def _savepoint(connection: Any) -> Any:
    from django.db import transaction

    return transaction.atomic(using=connection.alias)


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_duplicatepair")]

    operations = [PostgresSearchIndexes()]
