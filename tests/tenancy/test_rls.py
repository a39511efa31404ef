"""PostgreSQL row-level security: the second wall, tested with raw SQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from crm.rls import POLICY_NAME
from crm.tenancy import no_tenant, tenant_context, tenant_owned_models
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory

pytestmark = pytest.mark.postgres


def _fetch(sql: str, params: list[Any] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


@pytest.mark.django_db
def test_app_role_cannot_bypass_rls() -> None:
    [(superuser, bypass)] = _fetch(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert (superuser, bypass) == (False, False)


@pytest.mark.django_db
def test_every_tenant_table_has_forced_rls_and_the_policy() -> None:
    for model in tenant_owned_models():
        table = model._meta.db_table
        [(enabled, forced)] = _fetch(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s", [table]
        )
        assert (enabled, forced) == (True, True), f"{table}: RLS not enabled and forced"
        policies = _fetch("SELECT policyname FROM pg_policies WHERE tablename = %s", [table])
        assert (POLICY_NAME,) in policies, f"{table} has no {POLICY_NAME} policy"


def test_raw_select_without_tenant_returns_nothing(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with no_tenant():
        for model in tenant_owned_models():
            table = model._meta.db_table
            assert _fetch(f'SELECT count(*) FROM "{table}"') == [(0,)], table  # noqa: S608


def test_raw_select_with_tenant_a_never_returns_tenant_b(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with tenant_context(world_a.tenant):
        for model in tenant_owned_models():
            table = model._meta.db_table
            tenants = {row[0] for row in _fetch(f'SELECT tenant_id FROM "{table}"')}  # noqa: S608
            assert world_b.tenant.pk not in tenants, table
        assert {row[0] for row in _fetch("SELECT tenant_id FROM crm_membership")} == {
            world_a.tenant.pk
        }
        # Even asking for B's rows by id finds nothing.
        assert _fetch("SELECT id FROM crm_branch WHERE id = %s", [world_b.branch.pk]) == []


def test_raw_insert_into_another_tenant_is_rejected(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with tenant_context(world_a.tenant), pytest.raises(DatabaseError), transaction.atomic():
        _fetch(
            "INSERT INTO crm_branch (tenant_id, code, name, province, district, address, "
            "is_active, created_at) VALUES (%s, 'X', 'X', '34', '', '', true, now()) "
            "RETURNING id",
            [world_b.tenant.pk],
        )


def test_raw_update_cannot_reach_another_tenant(world_a: TenantWorld, world_b: TenantWorld) -> None:
    with tenant_context(world_a.tenant), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_branch SET name = 'ele geçirildi' WHERE id = %s", [world_b.branch.pk]
        )
        assert cursor.rowcount == 0


def test_the_setting_is_cleared_when_the_scope_ends(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        assert _fetch("SELECT current_setting('app.tenant_id')") == [(str(world_a.tenant.pk),)]
    with no_tenant():
        assert _fetch("SELECT current_setting('app.tenant_id', true)") in ([("",)], [(None,)])


@pytest.mark.django_db
def test_every_policy_reads_the_tenant_once_per_statement() -> None:
    # Scalar subqueries become InitPlans: the settings are read once, not per row.
    policies = _fetch(
        "SELECT tablename, qual, with_check FROM pg_policies WHERE policyname = %s",
        [POLICY_NAME],
    )
    assert len(policies) >= len(tenant_owned_models())
    for table, using, check in policies:
        for condition in (str(using), str(check)):
            assert "( SELECT app_current_tenant_id()" in condition, (table, condition)
            assert "( SELECT app_all_tenants()" in condition, (table, condition)


@pytest.mark.django_db
def test_the_policy_is_evaluated_once_per_statement(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM customers_customer")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "InitPlan" in plan, plan
    assert "current_setting" not in plan.split("InitPlan")[0], plan


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("customers_phone", "e164, is_mobile"),
        ("customers_email", "address, match_key"),
        ("customers_address", "line, province, district, postal_code"),
    ],
)
def test_a_contact_point_cannot_name_another_tenants_customer(
    world_a: TenantWorld, world_b: TenantWorld, table: str, columns: str
) -> None:
    # Row-level security checks the row's own tenant only; the composite foreign key
    # (migration customers 0012) checks that its customer is in that tenant too.
    with tenant_context(world_b.tenant):
        other = CustomerFactory.create(tenant=world_b.tenant)
    with tenant_context(world_a.tenant):
        mine = CustomerFactory.create(tenant=world_a.tenant)
        values = {
            "customers_phone": "'+905321112233', true",
            "customers_email": "'a@example.com', 'a@example.com'",
            "customers_address": "'Moda Cad. 1', '34', '', ''",
        }[table]
        insert = (
            f"INSERT INTO {table} (tenant_id, customer_id, source, is_verified,"  # noqa: S608
            f" is_primary, created_at, {columns}) VALUES (%s, %s, '', false, false, now(),"
            f" {values})"
        )
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(insert + " RETURNING id", [world_a.tenant.pk, other.pk])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(insert + " RETURNING customer_id", [world_a.tenant.pk, mine.pk])
            assert cursor.fetchall() == [(mine.pk,)]
