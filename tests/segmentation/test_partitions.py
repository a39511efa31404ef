"""Runs of large tenants in partitions of their own (PostgreSQL): written, read,
pruned and failed, behind row-level security; small tenants share the default one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection

from crm.management.commands.make_reference_tenant import tenant_replace
from crm.tenancy import no_tenant, tenant_context
from segmentation import partitions, services
from segmentation.models import CustomerScore, NextBestOffer, RunStatus, SegmentationRun
from segmentation.selectors import current_run
from tests.conftest import TenantWorld, make_world
from tests.factories import BranchFactory
from tests.segmentation.test_pipeline import AS_OF, Shop, _populate

pytestmark = pytest.mark.postgres

SCORES = CustomerScore._meta.db_table
OFFERS = NextBestOffer._meta.db_table


def _fetch(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def _partitions_of(table: str) -> set[str]:
    rows = _fetch(
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
        [table],
    )
    return {row[0] for row in rows}


def _holding(table: str, run_id: int) -> list[tuple[Any, ...]]:
    """The partitions that hold the run's rows."""
    sql = f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE run_id = %s"  # noqa: S608
    return _fetch(sql, [run_id])


def _exists(table: str) -> bool:
    return _fetch("SELECT to_regclass(%s) IS NOT NULL", [table]) == [(True,)]


@pytest.fixture
def big_shop(world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """A tenant above the (lowered) threshold: its runs get their own partitions."""
    monkeypatch.setattr(services, "PARTITION_MIN_CUSTOMERS", 10)
    with tenant_context(world_a.tenant):
        shop = Shop(world_a.tenant, world_a.branch)
        _populate(shop, 21)
        yield shop


def test_a_large_tenants_run_gets_its_own_partitions(big_shop: Shop) -> None:
    run = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.pk >= partitions.OWN_PARTITION_RUN_IDS_FROM
    for table in (SCORES, OFFERS):
        assert partitions.run_partition(table, run.pk) in _partitions_of(table)
    # Read through the models as before, and every row is in the run's partition.
    assert CustomerScore.objects.filter(tenant=big_shop.tenant, run=run).count() == 21
    assert NextBestOffer.objects.filter(tenant=big_shop.tenant, run=run).exists()
    where = _holding(SCORES, run.pk)
    assert where == [(partitions.run_partition(SCORES, run.pk),)]
    assert current_run(tenant=big_shop.tenant) == run
    # Copied in frozen: every page all-visible at once, so counts over the run can be
    # index-only scans without waiting for a vacuum.
    pages, all_visible = _fetch(
        "SELECT relpages, relallvisible FROM pg_class WHERE oid = %s::regclass",
        [partitions.run_partition(SCORES, run.pk)],
    )[0]
    assert pages > 0
    assert all_visible == pages
    # The parent has statistics of its own (autovacuum never gathers them).
    for table in (SCORES, OFFERS):
        assert _fetch("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])[0][0] > 0


def test_pruning_drops_the_partitions_of_old_runs(
    big_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "KEEP_RUNS", 1)
    first = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    second = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    assert first.status == second.status == RunStatus.SUCCEEDED
    for table in (SCORES, OFFERS):
        assert not _exists(partitions.run_partition(table, first.pk))
        assert partitions.run_partition(table, second.pk) in _partitions_of(table)
    assert not SegmentationRun.objects.filter(pk=first.pk).exists()
    assert CustomerScore.objects.filter(tenant=big_shop.tenant, run=second).count() == 21


def test_a_failed_run_leaves_no_partition_and_the_previous_results(
    big_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)

    def broken(state: Any) -> None:
        raise RuntimeError("disk full")

    # The scores are written and attached (clusters step), then the offers fail.
    steps = [(n, label, broken if n == "offers" else fn) for n, label, fn in services.CORE_STEPS]
    monkeypatch.setattr(services, "CORE_STEPS", steps)
    failed = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    assert failed.status == RunStatus.FAILED and failed.failed_step == "offers"
    for table in (SCORES, OFFERS):
        assert not _exists(partitions.run_partition(table, failed.pk))
        assert partitions.run_partition(table, good.pk) in _partitions_of(table)
    assert current_run(tenant=big_shop.tenant) == good
    assert CustomerScore.objects.filter(tenant=big_shop.tenant, run=good).count() == 21


def test_row_level_security_applies_on_the_partition(big_shop: Shop) -> None:
    run = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    other = make_world("gama", "Gama Yapı", with_totp=False)
    for table in (SCORES, OFFERS):
        part = partitions.run_partition(table, run.pk)
        [(enabled, forced)] = _fetch(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
            [part],
        )
        assert (enabled, forced) == (True, True), part
        policies = _fetch("SELECT policyname FROM pg_policies WHERE tablename = %s", [part])
        assert policies == [("tenant_isolation",)], part
        # The app role is no superuser and has no BYPASSRLS: the policy holds on the
        # partition read directly, not only through the parent.
        assert _fetch(f'SELECT count(*) FROM "{part}"')[0][0] > 0  # noqa: S608
        with tenant_context(other.tenant):
            assert _fetch(f'SELECT count(*) FROM "{part}"') == [(0,)]  # noqa: S608
            assert _fetch(f"SELECT count(*) FROM {table} WHERE run_id = %s", [run.pk]) == [(0,)]  # noqa: S608
        with no_tenant():
            assert _fetch(f'SELECT count(*) FROM "{part}"') == [(0,)]  # noqa: S608


def test_a_small_tenant_uses_the_default_partition(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        shop = Shop(world_a.tenant, world_a.branch)
        _populate(shop, 21)
        run = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.pk < partitions.OWN_PARTITION_RUN_IDS_FROM
        where = _holding(SCORES, run.pk)
        assert where == [(partitions.default_partition(SCORES),)]
        assert not _exists(partitions.run_partition(SCORES, run.pk))


def test_erasure_reaches_rows_in_own_partitions(big_shop: Shop) -> None:
    run = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    customer_id = CustomerScore.objects.filter(tenant=big_shop.tenant, run=run).first().customer_id  # type: ignore[union-attr]
    services.segmentation_forget_customers(tenant=big_shop.tenant, customer_ids=[customer_id])
    assert not CustomerScore.objects.filter(
        tenant=big_shop.tenant, customer_id=customer_id
    ).exists()
    assert not NextBestOffer.objects.filter(
        tenant=big_shop.tenant, customer_id=customer_id
    ).exists()


def test_a_busy_table_leaves_pruning_to_the_next_run(
    big_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "KEEP_RUNS", 1)
    monkeypatch.setattr(services, "PARTITION_DROP_LOCK_TIMEOUT", "50ms")
    first = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    # A long read of the scores, from another connection: dropping a partition
    # would have to wait for it (and hold up every read after it).
    with psycopg.connect(**connection.get_connection_params()) as reader:
        reader.execute(f"LOCK TABLE ONLY {SCORES} IN ACCESS SHARE MODE")
        second = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
        reader.rollback()
    assert second.status == RunStatus.SUCCEEDED, second.error
    assert _exists(partitions.run_partition(SCORES, first.pk))
    assert SegmentationRun.objects.filter(pk=first.pk).exists()
    assert current_run(tenant=big_shop.tenant) == second

    third = services.segmentation_run(tenant=big_shop.tenant, as_of=AS_OF)
    assert not _exists(partitions.run_partition(SCORES, first.pk))
    assert not _exists(partitions.run_partition(SCORES, second.pk))
    assert set(SegmentationRun.objects.values_list("pk", flat=True)) == {third.pk}


@pytest.mark.django_db
def test_replacing_a_reference_tenant_drops_its_runs_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "PARTITION_MIN_CUSTOMERS", 10)
    tenant = tenant_replace("ref-part", "Referans")
    with tenant_context(tenant):
        _populate(Shop(tenant, BranchFactory.create(tenant=tenant, code="R-01")), 12)
        run = services.segmentation_run(tenant=tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _exists(partitions.run_partition(SCORES, run.pk))
    tenant_replace("ref-part", "Referans")
    for table in (SCORES, OFFERS):
        assert not _exists(partitions.run_partition(table, run.pk))
