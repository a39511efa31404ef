"""Migration operation that makes the consent ledger append-only in PostgreSQL itself.

ConsentEvent.save already refuses to change anything but the İYS sync state; this
trigger refuses it for queryset updates and raw SQL as well. Foreign keys to the
customer and its contact points may still be cleared (on_delete=SET_NULL), and rows
may be deleted (tenant deletion, the retention purge).
"""

# Trigger DDL is assembled from fixed table and column names (S608 does not apply).
# ruff: noqa: S608
from __future__ import annotations

from typing import Any

from django.db import migrations

from crm.sql import sql_statements

PROTECTED_COLUMNS = (
    "tenant_id",
    "recipient",
    "type",
    "recipient_type",
    "status",
    "source",
    "consent_date",
    "brand_code",
    "origin",
    "created_at",
)

CREATE_TRIGGER = f"""
CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in PROTECTED_COLUMNS)} THEN
        RAISE EXCEPTION 'consent_consentevent is append-only: only the İYS sync state may change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER consent_event_append_only BEFORE UPDATE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
DROP FUNCTION IF EXISTS consent_event_append_only();
"""


class ProtectLedgerColumns(migrations.RunSQL):
    def __init__(self) -> None:
        super().__init__(CREATE_TRIGGER, DROP_TRIGGER)

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {})


# --- Reach: triggers that mark customers whose "may I send?" may have changed -------
#
# consent.reach keeps, per channel, the customers with at least one allowed recipient.
# A customer's answer depends on their own points, the states of those recipients,
# and the other holders of those recipients (a holder that refused somewhere blocks
# the shared recipient; a company holder makes it a business one). The triggers
# mark the customers whose own inputs changed plus the holders of a recipient whose
# state changed or that a customer stopped holding; consent.reach adds the second
# hop (customers sharing a recipient with a marked one) when it refreshes.
#
# Statement-level with transition tables: a bulk INSERT … SELECT marks in one
# statement. Past REACH_BULK_ROWS changed rows a statement marks the whole tenant
# (customer_id NULL) instead: the next read rebuilds it, cheaper than a row per
# customer for a load of a million.
REACH_BULK_ROWS = 50_000

_MARK = "INSERT INTO consent_consentreachdirty (tenant_id, customer_id)"


def _bulk_guard(source: str) -> str:
    return f"""
    IF (SELECT count(*) FROM (SELECT 1 FROM {source} LIMIT {REACH_BULK_ROWS + 1}) x)
            > {REACH_BULK_ROWS} THEN
        {_MARK} SELECT DISTINCT tenant_id, NULL::bigint FROM {source};
        RETURN NULL;
    END IF;"""


def _changed_guard(condition: str) -> str:
    """Count the updated rows meeting ``condition`` (into the function's ``changed``):
    none → nothing to mark; past REACH_BULK_ROWS → mark the whole tenant."""
    return f"""SELECT count(*) INTO changed FROM (
        SELECT 1 FROM old_rows o JOIN new_rows n USING (id)
        WHERE {condition}
        LIMIT {REACH_BULK_ROWS + 1}
    ) x;
    IF changed = 0 THEN
        RETURN NULL;
    ELSIF changed > {REACH_BULK_ROWS} THEN
        {_MARK} SELECT DISTINCT tenant_id, NULL::bigint FROM new_rows;
        RETURN NULL;
    END IF;"""


def _point_functions(table: str, value: str) -> str:
    prefix = f"consent_reach_{table.removeprefix('customers_')}"
    moved = f"o.customer_id IS DISTINCT FROM n.customer_id OR o.{value} IS DISTINCT FROM n.{value}"
    return f"""
CREATE OR REPLACE FUNCTION {prefix}_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN{_bulk_guard("new_rows")}
    {_MARK} SELECT DISTINCT tenant_id, customer_id FROM new_rows;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION {prefix}_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN{_bulk_guard("old_rows")}
    {_MARK}
    SELECT tenant_id, customer_id FROM old_rows
    UNION
    SELECT h.tenant_id, h.customer_id
    FROM old_rows o JOIN {table} h ON h.tenant_id = o.tenant_id AND h.{value} = o.{value};
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION {prefix}_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    -- Only a point that changed hands or number matters (not primary/verified flags).
    {_changed_guard(moved)}
    WITH m AS (
        SELECT o.tenant_id, o.customer_id AS old_customer, n.customer_id AS new_customer,
               o.{value} AS old_value
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE {moved}
    )
    {_MARK}
    SELECT tenant_id, old_customer FROM m
    UNION
    SELECT tenant_id, new_customer FROM m
    UNION
    SELECT h.tenant_id, h.customer_id
    FROM m JOIN {table} h ON h.tenant_id = m.tenant_id AND h.{value} = m.old_value;
    RETURN NULL;
END $$;

CREATE TRIGGER consent_reach_inserted AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_inserted();
CREATE TRIGGER consent_reach_deleted AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_deleted();
CREATE TRIGGER consent_reach_updated AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_updated();
"""


_CUSTOMER_CHANGED = (
    "o.merged_into_id IS DISTINCT FROM n.merged_into_id OR o.kind IS DISTINCT FROM n.kind"
)
_CUSTOMER_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION consent_reach_customer_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    -- Merged records leave the decisions; a company makes its recipients business ones.
    {_changed_guard(_CUSTOMER_CHANGED)}
    {_MARK}
    SELECT n.tenant_id, n.id FROM old_rows o JOIN new_rows n USING (id)
    WHERE {_CUSTOMER_CHANGED};
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION consent_reach_customer_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN{_bulk_guard("old_rows")}
    {_MARK} SELECT tenant_id, id FROM old_rows;
    RETURN NULL;
END $$;

CREATE TRIGGER consent_reach_updated AFTER UPDATE ON customers_customer
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_reach_customer_updated();
CREATE TRIGGER consent_reach_deleted AFTER DELETE ON customers_customer
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_reach_customer_deleted();
"""


def _state_holders(source: str) -> str:
    # Every holder of the recipient, merged or not: marking one too many is harmless.
    return f"""
    {_MARK}
    SELECT h.tenant_id, h.customer_id
    FROM {source} s JOIN customers_phone h ON h.tenant_id = s.tenant_id AND h.e164 = s.recipient
    WHERE s.type IN ('MESAJ', 'ARAMA')
    UNION
    SELECT h.tenant_id, h.customer_id
    FROM {source} s JOIN customers_email h
        ON h.tenant_id = s.tenant_id AND h.address = s.recipient
    WHERE s.type = 'EPOSTA';"""


_STATE_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION consent_reach_state_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN{_bulk_guard("new_rows")}{_state_holders("new_rows")}
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION consent_reach_state_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN{_bulk_guard("old_rows")}{_state_holders("old_rows")}
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION consent_reach_state_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    -- A new consent date or source with the same status decides nothing new.
    SELECT count(*) INTO changed FROM (
        SELECT 1 FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.status IS DISTINCT FROM n.status OR o.recipient IS DISTINCT FROM n.recipient
            OR o.type IS DISTINCT FROM n.type OR o.recipient_type IS DISTINCT FROM n.recipient_type
        LIMIT {REACH_BULK_ROWS + 1}
    ) x;
    IF changed = 0 THEN
        RETURN NULL;
    ELSIF changed > {REACH_BULK_ROWS} THEN
        {_MARK} SELECT DISTINCT tenant_id, NULL::bigint FROM new_rows;
        RETURN NULL;
    END IF;{_state_holders("new_rows")}
    RETURN NULL;
END $$;

CREATE TRIGGER consent_reach_inserted AFTER INSERT ON consent_consentstate
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_reach_state_inserted();
CREATE TRIGGER consent_reach_deleted AFTER DELETE ON consent_consentstate
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_reach_state_deleted();
CREATE TRIGGER consent_reach_updated AFTER UPDATE ON consent_consentstate
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_reach_state_updated();
"""

REACH_TRIGGERS = (
    _point_functions("customers_phone", "e164")
    + _point_functions("customers_email", "address")
    + _CUSTOMER_FUNCTIONS
    + _STATE_FUNCTIONS
)

_REACH_TABLES = ("customers_phone", "customers_email", "customers_customer", "consent_consentstate")
_REACH_FUNCTIONS = (
    "consent_reach_phone_inserted",
    "consent_reach_phone_deleted",
    "consent_reach_phone_updated",
    "consent_reach_email_inserted",
    "consent_reach_email_deleted",
    "consent_reach_email_updated",
    "consent_reach_customer_updated",
    "consent_reach_customer_deleted",
    "consent_reach_state_inserted",
    "consent_reach_state_deleted",
    "consent_reach_state_updated",
)
DROP_REACH_TRIGGERS = "".join(
    f"DROP TRIGGER IF EXISTS consent_reach_{op} ON {table};\n"
    for table in _REACH_TABLES
    for op in ("inserted", "deleted", "updated")
) + "".join(f"DROP FUNCTION IF EXISTS {name}();\n" for name in _REACH_FUNCTIONS)


class ReachTriggers(migrations.operations.base.Operation):
    """The triggers that keep consent.reach exact (PostgreSQL; SQLite decides directly)."""

    reversible = True
    reduces_to_sql = False

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in sql_statements(REACH_TRIGGERS):
            schema_editor.execute(statement)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in sql_statements(DROP_REACH_TRIGGERS):
            schema_editor.execute(statement)

    def describe(self) -> str:
        return "Triggers marking customers whose consent reach may have changed (PostgreSQL)"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {})
