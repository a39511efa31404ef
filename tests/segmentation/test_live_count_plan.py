"""The PostgreSQL-side pieces the live count relies on to stay fast at a million customers."""

from __future__ import annotations

import pytest
from django.db import connection

from crm.models import Tenant
from crm.tenancy import tenant_context
from segmentation import saved_segments
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only; SQLite tenants are small and get no such indexes")


def test_migrations_create_the_live_count_indexes() -> None:
    _postgres_only()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)",
            [
                [
                    "seg_score_run_recency",
                    "seg_score_run_clv",
                    "purchaseline_sold_cover",
                    "purchase_sale_time_cover",
                ]
            ],
        )
        found = {row[0] for row in cursor.fetchall()}
    assert found == {
        "seg_score_run_recency",
        "seg_score_run_clv",
        "purchaseline_sold_cover",
        "purchase_sale_time_cover",
    }


def test_live_count_turns_jit_off_for_its_own_query_only() -> None:
    _postgres_only()
    tenant: Tenant = TenantFactory.create()
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        before = cursor.fetchone()[0]
    with tenant_context(tenant):
        counts = saved_segments.live_count(
            tenant=tenant, rule={"match": "all", "conditions": [{"field": "age", "min": 18}]}
        )
    assert counts == {"total": 0, "persons": 0, "companies": 0}
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == before
