"""A purchase line's copies of its receipt's customer, time and return flag.

The segment rule "bought from category" counts by them (customers migration 0009),
so every way a line is written or moved must keep them equal to the receipt's.
"""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from crm.tenancy import tenant_context
from customers import services
from customers.merge import customer_merge, customer_unmerge
from customers.models import Customer, Purchase, PurchaseLine
from segmentation import rules
from tests.conftest import TenantWorld
from tests.factories import (
    CustomerFactory,
    ProductCategoryFactory,
    ProductFactory,
    PurchaseFactory,
    PurchaseLineFactory,
)

pytestmark = pytest.mark.django_db


def _copies(world: TenantWorld) -> dict[int, tuple[int, dt.datetime, bool]]:
    with tenant_context(world.tenant):
        return {
            line.pk: (line.customer_id, line.purchased_at, line.is_return)
            for line in PurchaseLine.objects.filter(tenant=world.tenant)
        }


def _receipts(world: TenantWorld) -> dict[int, tuple[int, dt.datetime, bool]]:
    with tenant_context(world.tenant):
        lines = PurchaseLine.objects.filter(tenant=world.tenant).select_related("purchase")
        receipts = {line.pk: line.purchase for line in lines}
        return {pk: (p.customer_id, p.purchased_at, p.is_return) for pk, p in receipts.items()}


def test_bulk_recorded_receipts_and_returns_give_their_lines_the_copies(
    world_a: TenantWorld,
) -> None:
    tenant = world_a.tenant
    customer = CustomerFactory.create(tenant=tenant)
    ProductFactory.create(tenant=tenant, sku="KZK-1")
    sold_at = timezone.now() - dt.timedelta(days=3)
    line = services.PurchaseLineInput(sku="KZK-1", unit_price=Decimal("100"))
    refund = services.PurchaseLineInput(
        sku="KZK-1", unit_price=Decimal("100"), quantity=Decimal("-1")
    )
    with tenant_context(tenant):
        results = services.purchases_bulk_create(
            tenant=tenant,
            actor=world_a.owner,
            purchases={
                0: services.PurchaseInput(
                    purchased_at=sold_at,
                    total_amount=Decimal("200"),
                    customer_id=customer.pk,
                    lines=[line, line],
                ),
                1: services.PurchaseInput(
                    purchased_at=sold_at + dt.timedelta(days=1),
                    total_amount=Decimal("-100"),
                    customer_number=customer.customer_number,
                    lines=[refund],
                ),
            },
        )
    assert {r.status for r in results.values()} == {services.PURCHASE_CREATED}
    copies = _copies(world_a)
    assert len(copies) == 3
    assert copies == _receipts(world_a)
    assert sorted(is_return for _, _, is_return in copies.values()) == [False, False, True]


def test_merge_moves_the_lines_with_their_receipts_and_undo_moves_them_back(
    world_a: TenantWorld,
) -> None:
    tenant = world_a.tenant
    keep = CustomerFactory.create(tenant=tenant, first_name="Ayşe", last_name="Kaya")
    drop = CustomerFactory.create(tenant=tenant, first_name="Ayse", last_name="Kaya")
    shoes = ProductCategoryFactory.create(tenant=tenant, name="Ayakkabı")
    boots = ProductFactory.create(tenant=tenant, category=shoes)
    PurchaseLineFactory.create_batch(
        2,
        tenant=tenant,
        product=boots,
        purchase=PurchaseFactory.create(
            tenant=tenant, customer=drop, purchased_at=timezone.now() - dt.timedelta(days=10)
        ),
    )
    PurchaseLineFactory.create(tenant=tenant, purchase__customer=keep)
    bought_shoes = {
        "match": "all",
        "conditions": [{"field": "purchased_category", "category": shoes.pk, "days": 30}],
    }

    def buyers() -> set[int]:
        with tenant_context(tenant):
            return set(
                rules.compile_rule(tenant=tenant, rule=bought_shoes).values_list("pk", flat=True)
            )

    before = _copies(world_a)
    assert buyers() == {drop.pk}

    with tenant_context(tenant):
        log = customer_merge(tenant=tenant, actor=world_a.owner, keep=keep, drop=drop, choices={})
    assert _copies(world_a) == _receipts(world_a)
    assert {owner for owner, _, _ in _copies(world_a).values()} == {keep.pk}
    assert buyers() == {keep.pk}

    with tenant_context(tenant):
        customer_unmerge(tenant=tenant, actor=world_a.owner, merge_log=log)
    assert _copies(world_a) == before == _receipts(world_a)
    assert buyers() == {drop.pk}


def test_the_migration_fills_the_copies_from_the_receipts(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    ayse, mehmet = CustomerFactory.create_batch(2, tenant=tenant)
    sale = PurchaseFactory.create(tenant=tenant, customer=ayse)
    refund = PurchaseFactory.create(
        tenant=tenant, customer=mehmet, total_amount=Decimal("-50"), is_return=True
    )
    for receipt in (sale, sale, refund):
        PurchaseLineFactory.create(tenant=tenant, purchase=receipt)
    # Lines as they were before the migration: copies that say nothing true.
    with tenant_context(tenant):
        PurchaseLine.objects.filter(tenant=tenant).update(
            customer=Customer.objects.create(tenant=tenant, first_name="Yanlış"),
            purchased_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            is_return=False,
        )
    assert _copies(world_a) != _receipts(world_a)

    migration = importlib.import_module("customers.migrations.0009_purchase_line_sale_copies")
    # The migration's function asks its schema editor only for the connection and to
    # execute statements; Django's own cannot be opened inside the test transaction
    # on SQLite.
    editor = SimpleNamespace(
        connection=connection, execute=lambda sql: connection.cursor().execute(sql)
    )
    with tenant_context(tenant):
        migration.fill_copies(None, editor)

    assert _copies(world_a) == _receipts(world_a)
    with tenant_context(tenant):
        assert Purchase.objects.filter(tenant=tenant).count() == 2
    assert sorted(owner for owner, _, _ in _copies(world_a).values()) == sorted(
        [ayse.pk, ayse.pk, mehmet.pk]
    )
