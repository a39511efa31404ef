"""Indexes for search as you type and the duplicate check at a million customers.

Under row-level security PostgreSQL uses an index for a condition only if the
condition is *leakproof*; ``LIKE`` is not, ``starts_with()`` and ``=`` are. So:

* prefix searches (phone, e-mail, the name's first word) use ``starts_with()`` and get
  ``varchar_pattern_ops`` indexes (the database collation is not "C", so a plain
  btree cannot answer a prefix);
* "a word of the name starts with …" looks in CustomerNameWord, one row per word of
  ``name_key``, kept by a trigger on customers_customer so that every write path
  (ORM, bulk COPY, merge) keeps it current. Existing customers are filled in here.

The trigger and the indexes are PostgreSQL only: SQLite (``make run``) is small enough
for ``LIKE``, and search there does not use the word table.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

import crm.rls
from crm.sql import sql_statements

PATTERN_INDEXES = [
    (
        "customer_name_key_prefix_idx",
        "customers_customer",
        "tenant_id, name_key varchar_pattern_ops",
    ),
    ("phone_e164_prefix_idx", "customers_phone", "tenant_id, e164 varchar_pattern_ops"),
    ("email_address_prefix_idx", "customers_email", "tenant_id, address varchar_pattern_ops"),
    (
        "name_word_prefix_idx",
        "customers_customernameword",
        "tenant_id, word varchar_pattern_ops",
    ),
]

# Statement-level triggers with transition tables: a bulk insert of a million
# customers fills the word table in one INSERT … SELECT, not a million.
CREATE_TRIGGERS = """
CREATE OR REPLACE FUNCTION customers_name_words_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customers_customernameword (tenant_id, customer_id, word)
    SELECT DISTINCT c.tenant_id, c.id, left(w, 100)
    FROM inserted c CROSS JOIN LATERAL regexp_split_to_table(c.name_key, '\\s+') AS w
    WHERE w <> '';
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION customers_name_words_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customers_customernameword w
    USING updated_new n JOIN updated_old o USING (id)
    WHERE w.tenant_id = n.tenant_id AND w.customer_id = n.id
        AND n.name_key IS DISTINCT FROM o.name_key;
    INSERT INTO customers_customernameword (tenant_id, customer_id, word)
    SELECT DISTINCT n.tenant_id, n.id, left(w, 100)
    FROM updated_new n JOIN updated_old o USING (id)
        CROSS JOIN LATERAL regexp_split_to_table(n.name_key, '\\s+') AS w
    WHERE w <> '' AND n.name_key IS DISTINCT FROM o.name_key;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_name_words_insert AFTER INSERT ON customers_customer
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION customers_name_words_insert();
CREATE TRIGGER customers_name_words_update AFTER UPDATE ON customers_customer
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION customers_name_words_update();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS customers_name_words_insert ON customers_customer;
DROP TRIGGER IF EXISTS customers_name_words_update ON customers_customer;
DROP FUNCTION IF EXISTS customers_name_words_insert();
DROP FUNCTION IF EXISTS customers_name_words_update();
"""
# Row-level security applies to the migration too: fill the words for all tenants.
BACKFILL = """
SELECT set_config('app.all_tenants', 'on', true);
INSERT INTO customers_customernameword (tenant_id, customer_id, word)
SELECT DISTINCT c.tenant_id, c.id, left(w, 100)
FROM customers_customer c CROSS JOIN LATERAL regexp_split_to_table(c.name_key, '\\s+') AS w
WHERE w <> '';
SELECT set_config('app.all_tenants', 'off', true);
"""


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
        for sql in (CREATE_TRIGGERS, BACKFILL):
            # One statement per execute (functions end with "END $$;").
            for statement in sql_statements(sql):
                schema_editor.execute(statement)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in sql_statements(DROP_TRIGGERS):
            schema_editor.execute(statement)
        for name, _table, _columns in PATTERN_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    def describe(self) -> str:
        return "Prefix indexes and the name-word trigger for customer search (PostgreSQL)"


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_alter_job_status"),
        ("customers", "0004_duplicatepair"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerNameWord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("word", models.CharField(max_length=100)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.tenant",
                    ),
                ),
            ],
        ),
        crm.rls.EnableTenantRLS("customernameword"),
        PostgresSearchIndexes(),
    ]
