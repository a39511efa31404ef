"""Row-level security for tenant-owned tables, as migration operations.

Every migration that creates a TenantOwnedModel adds ``EnableTenantRLS("<model>")``
for it; tests/tenancy/test_rls.py fails for any tenant table that lacks it.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

CREATE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION app_current_tenant_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::bigint $$;

CREATE OR REPLACE FUNCTION app_all_tenants() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('app.all_tenants', true), '') = 'on' $$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS app_current_tenant_id();
DROP FUNCTION IF EXISTS app_all_tenants();
"""

POLICY_NAME = "tenant_isolation"
# The policy's condition. The functions sit in scalar subqueries so that PostgreSQL
# evaluates them once per statement (an InitPlan) rather than once per row: called
# per row, the two current_setting() reads cost 0.16 µs a row, 0.3 s of a live count
# that reads a million customers and lines (crm migration 0005).
POLICY_CONDITION = "tenant_id = (SELECT app_current_tenant_id()) OR (SELECT app_all_tenants())"
# The condition before crm 0005, kept for that migration's way back.
POLICY_CONDITION_PER_ROW = "tenant_id = app_current_tenant_id() OR app_all_tenants()"


class CreateTenantFunctions(migrations.RunSQL):
    def __init__(self) -> None:
        super().__init__(CREATE_FUNCTIONS, DROP_FUNCTIONS)

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


class EnableTenantRLS(migrations.operations.base.Operation):
    """ENABLE + FORCE row-level security with the tenant policy (PostgreSQL only).

    FORCE makes the policy apply to the table owner too, because the app role owns
    the tables it migrates.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _table(self, app_label: str, to_state: Any) -> str:
        model = to_state.apps.get_model(app_label, self.model_name)
        return str(model._meta.db_table)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self._table(app_label, to_state))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY {POLICY_NAME} ON {table} "
            f"USING ({POLICY_CONDITION}) WITH CHECK ({POLICY_CONDITION})"
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self._table(app_label, from_state))
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable tenant row-level security on {self.model_name}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [self.model_name], {})


def set_policy_condition(condition: str) -> Any:
    """A ``RunPython`` function giving every tenant_isolation policy in the schema
    (tenant tables and the segmentation run partitions that copied it) ``condition``;
    PostgreSQL only."""

    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_policies"
                " WHERE schemaname = current_schema() AND policyname = %s ORDER BY tablename",
                [POLICY_NAME],
            )
            tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            schema_editor.execute(
                f"ALTER POLICY {POLICY_NAME} ON {schema_editor.quote_name(table)} "
                f"USING ({condition}) WITH CHECK ({condition})"
            )

    return run
