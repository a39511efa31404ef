"""``bench segments`` on a tenant that has never run a segmentation: it fills a
synthetic run first (the SQL passes through the driver's parameter formatting, so a
stray ``%`` would break it) and then measures every typical rule."""

from __future__ import annotations

import pytest

from crm.bench import BenchOptions
from crm.tenancy import tenant_context
from segmentation.bench_segments import bench_segments
from tests.conftest import TenantWorld, is_postgres
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(not is_postgres(), reason="the synthetic scores are PostgreSQL SQL")
def test_bench_segments_without_a_run_makes_a_synthetic_one(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        for _ in range(6):
            CustomerFactory.create(tenant=world_a.tenant)
        figures = bench_segments(world_a.tenant, BenchOptions(repeat=1))
    assert figures["synthetic_run"] is True
    assert figures["rules"]["persons"]["customers"] >= 0
    assert 0 <= figures["materialised_customers"] <= 6
