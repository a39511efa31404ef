"""Migration operation that makes the consent ledger append-only in PostgreSQL itself.

ConsentEvent.save already refuses to change anything but the İYS sync state; this
trigger refuses it for queryset updates and raw SQL as well. Foreign keys to the
customer and its contact points may still be cleared (on_delete=SET_NULL), and rows
may be deleted (tenant deletion, the retention purge).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

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
