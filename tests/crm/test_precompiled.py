"""crm.precompiled: a query compiled once gives what the queryset gives, for every run's
values, within the tenant scope in force."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import CharField, Count, OuterRef, QuerySet, Subquery, Value
from django.test.utils import CaptureQueriesContext

from crm.models import Membership
from crm.precompiled import PrecompileError, precompiled
from crm.tenancy import NoTenantSelected, dangerously_all_tenants, no_tenant, tenant_context
from customers.models import Customer, Email, Phone, Purchase
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory, PurchaseLineFactory


@precompiled
def _purchases(tenant_id: int, customer_id: int) -> QuerySet[Purchase]:
    lines = (
        Purchase.objects.filter(tenant_id=tenant_id, pk=OuterRef("pk"))
        .values("pk")
        .annotate(n=Count("lines"))
        .values("n")[:1]
    )
    return (
        Purchase.objects.filter(tenant_id=tenant_id, customer_id=customer_id)
        .select_related("branch", "customer")
        .annotate(line_count=Subquery(lines))
        .order_by("-purchased_at", "-pk")[:5]
    )


@precompiled
def _contact_values(customer_id: int) -> QuerySet[Any]:
    phones = Phone.objects.filter(customer_id=customer_id).values_list(
        Value("p", output_field=CharField()), "e164"
    )
    emails = Email.objects.filter(customer_id=customer_id).values_list(
        Value("e", output_field=CharField()), "address"
    )
    return phones.order_by().union(emails.order_by(), all=True)


@precompiled(text=("slug",))
def _memberships(user_id: int, slug: str) -> QuerySet[Membership]:
    return Membership.objects.filter(user_id=user_id, tenant__slug=slug).select_related("tenant")


def _customer_with_history(world: TenantWorld, purchases: int) -> Customer:
    with tenant_context(world.tenant):
        customer: Customer = CustomerFactory(tenant=world.tenant)  # type: ignore[assignment]
        for _ in range(purchases):
            PurchaseLineFactory(tenant=world.tenant, purchase__customer=customer)
        Phone.objects.create(tenant=world.tenant, customer=customer, e164="+905321112233")
        Email.objects.create(tenant=world.tenant, customer=customer, address="a@example.com")
    return customer


def _as_queryset(tenant_id: int, customer_id: int) -> list[Any]:
    # The build function evaluated the ordinary way.
    return list(_purchases._build(tenant_id=tenant_id, customer_id=customer_id))


@pytest.mark.django_db
def test_runs_give_what_the_queryset_gives_for_each_customer(world_a: TenantWorld) -> None:
    first = _customer_with_history(world_a, 3)
    second = _customer_with_history(world_a, 7)
    with tenant_context(world_a.tenant):
        for customer in (first, second, first):
            expected = _as_queryset(world_a.tenant.pk, customer.pk)
            got: list[Any] = _purchases(tenant_id=world_a.tenant.pk, customer_id=customer.pk)
            assert [p.pk for p in got] == [p.pk for p in expected]
            assert len(got) == min(5, Purchase.objects.filter(customer=customer).count())
            for mine, theirs in zip(got, expected, strict=True):
                assert mine.line_count == theirs.line_count == 1
                assert mine.total_amount == theirs.total_amount
                assert isinstance(mine.total_amount, Decimal)  # converters applied
                assert mine.branch_id == theirs.branch_id
        with CaptureQueriesContext(connection) as queries:
            got = _purchases(tenant_id=world_a.tenant.pk, customer_id=second.pk)
            names = {p.customer.last_name for p in got}  # select_related filled
        assert len(queries) == 1
        assert names == {second.last_name}


@pytest.mark.django_db
def test_values_list_union_and_text_values(world_a: TenantWorld) -> None:
    customer = _customer_with_history(world_a, 0)
    with tenant_context(world_a.tenant):
        assert sorted(_contact_values(customer_id=customer.pk)) == [
            ("e", "a@example.com"),
            ("p", "+905321112233"),
        ]
        assert _contact_values(customer_id=customer.pk + 1000) == []
    with dangerously_all_tenants():
        owner = world_a.users[next(iter(world_a.users))]
        found = _memberships(user_id=owner.pk, slug=world_a.tenant.slug)
        assert [m.tenant.slug for m in found] == [world_a.tenant.slug]
        assert _memberships(user_id=owner.pk, slug="no-such-tenant") == []


@pytest.mark.django_db
def test_the_scope_in_force_filters_every_run(world_a: TenantWorld, world_b: TenantWorld) -> None:
    customer = _customer_with_history(world_a, 2)
    with tenant_context(world_a.tenant):
        assert len(_contact_values(customer_id=customer.pk)) == 2
    # Another tenant's scope, with the same customer id: the manager's filter comes
    # from the scope of this run, not of the first.
    with tenant_context(world_b.tenant):
        assert _contact_values(customer_id=customer.pk) == []
        assert _purchases(tenant_id=world_a.tenant.pk, customer_id=customer.pk) == []
    with no_tenant(), pytest.raises(NoTenantSelected):
        _contact_values(customer_id=customer.pk)
    with dangerously_all_tenants():  # compiled apart: no scope filter at all
        assert len(_contact_values(customer_id=customer.pk)) == 2


@pytest.mark.django_db
def test_values_that_do_not_reach_the_sql_as_parameters_are_refused(world_a: TenantWorld) -> None:
    @precompiled
    def sliced(tenant_id: int, count: int) -> QuerySet[Customer]:
        return Customer.objects.filter(tenant_id=tenant_id)[:count]

    @precompiled(text=("name",))
    def contains(name: str) -> QuerySet[Customer]:
        return Customer.objects.filter(last_name__icontains=name)

    @precompiled
    def unused(tenant_id: int, customer_id: int) -> QuerySet[Customer]:
        return Customer.objects.filter(tenant_id=tenant_id)

    with tenant_context(world_a.tenant):
        with pytest.raises(PrecompileError, match="count"):
            sliced(tenant_id=world_a.tenant.pk, count=3)
        with pytest.raises(PrecompileError, match="name"):
            contains(name="yıl")
        with pytest.raises(PrecompileError, match="customer_id"):
            unused(tenant_id=world_a.tenant.pk, customer_id=1)
        with pytest.raises(TypeError, match="customer_id"):
            _purchases(tenant_id=world_a.tenant.pk, customer_id="1")
        with pytest.raises(TypeError):
            _purchases(tenant_id=world_a.tenant.pk)
