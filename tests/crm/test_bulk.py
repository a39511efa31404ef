"""crm.bulk.load_rows and the field__any_of lookup, on the suite's database."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from crm import bulk
from crm.tenancy import tenant_context
from customers.models import Customer, DuplicatePair, Phone
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory


@pytest.mark.django_db
def test_any_of_finds_what_in_finds(world_a: TenantWorld, world_b: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        people = CustomerFactory.create_batch(5, tenant=world_a.tenant)
        for n, person in enumerate(people):
            Phone.objects.create(tenant=world_a.tenant, customer=person, e164=f"+90532000000{n}")
        ids = [p.pk for p in people[:3]] + [10**9]
        assert set(Customer.objects.filter(pk__any_of=ids)) == set(people[:3])
        assert set(Customer.objects.filter(pk__any_of=set(ids))) == set(people[:3])
        assert not Customer.objects.filter(pk__any_of=[]).exists()
        phones = ["+905320000001", "+905320000004", "+905320000001", "+905559999999"]
        assert sorted(
            Phone.objects.filter(e164__any_of=phones).values_list("customer_id", flat=True)
        ) == sorted(Phone.objects.filter(e164__in=phones).values_list("customer_id", flat=True))
        # Through a relation, and combined with other conditions.
        assert set(Phone.objects.filter(customer_id__any_of=ids, e164__startswith="+90532")) == set(
            Phone.objects.filter(customer__in=people[:3])
        )
    with tenant_context(world_b.tenant):
        # The tenant scope still applies: world A's customers are not world B's.
        assert not Customer.objects.filter(pk__any_of=ids).exists()


@pytest.mark.django_db
def test_load_rows_fills_defaults_json_and_the_tenant(world_a: TenantWorld) -> None:
    now = timezone.now()
    with tenant_context(world_a.tenant), transaction.atomic():
        left, right = sorted(
            CustomerFactory.create_batch(2, tenant=world_a.tenant), key=lambda c: c.pk
        )
        assert (
            bulk.load_rows(
                Phone,
                [
                    {"customer_id": left.pk, "e164": "+905321112233", "is_primary": True},
                    {"customer_id": right.pk, "e164": "+902161112233", "source": "import"},
                ],
                tenant_id=world_a.tenant.pk,
                now=now,
            )
            == 2
        )
        bulk.load_rows(
            DuplicatePair,
            [
                {
                    "left_id": left.pk,
                    "right_id": right.pk,
                    "score": 12.5,
                    "evidence": [{"field": "phone", "says": 'same; "quoted"\ttab'}],
                }
            ],
            tenant_id=world_a.tenant.pk,
            now=now,
        )
        assert bulk.load_rows(Phone, [], tenant_id=world_a.tenant.pk, now=now) == 0
        first = Phone.objects.get(e164="+905321112233")
        assert (first.customer, first.is_primary, first.is_verified, first.source) == (
            left,
            True,
            False,
            "",
        )
        assert first.created_at == now and first.tenant_id == world_a.tenant.pk
        assert Phone.objects.get(e164="+902161112233").source == "import"
        pair = DuplicatePair.objects.get()
        assert pair.evidence == [{"field": "phone", "says": 'same; "quoted"\ttab'}]
        assert pair.status == DuplicatePair.Status.PENDING
        assert abs(pair.found_at - timezone.now()) < datetime.timedelta(minutes=1)
