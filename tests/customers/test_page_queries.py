"""The customer page costs a fixed number of queries, whatever the history's length."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from customers.models import ContactPerson, Customer, Phone
from tests.conftest import TenantWorld
from tests.factories import (
    ComplaintFactory,
    InteractionFactory,
    PurchaseLineFactory,
    RiskFlagFactory,
)

MAX_QUERIES = 15


def _page_queries(world: TenantWorld, customer: Customer, role: Role) -> list[str]:
    client = Client()
    client.force_login(world.users[role])
    url = reverse(
        "customers:detail", kwargs={"tenant_slug": world.tenant.slug, "customer_id": customer.pk}
    )
    client.get(url)  # warm up: the first request of a session may refresh the login hash
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def _history(world: TenantWorld, customer: Customer, size: int) -> None:
    for _ in range(size):
        PurchaseLineFactory(tenant=world.tenant, purchase__customer=customer)
        InteractionFactory(tenant=world.tenant, customer=customer)
    for _ in range(min(size, 30)):
        ComplaintFactory(tenant=world.tenant, customer=customer)
        RiskFlagFactory(tenant=world.tenant, customer=customer)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [Customer.Kind.PERSON, Customer.Kind.COMPANY])
@pytest.mark.parametrize("role", [Role.CALL_CENTRE, Role.OWNER])
def test_customer_page_queries_do_not_grow_with_history(
    world_a: TenantWorld, kind: str, role: Role
) -> None:
    with tenant_context(world_a.tenant):
        fields = (
            {"kind": kind, "trade_name": "Deniz Tekstil A.Ş."}
            if kind == Customer.Kind.COMPANY
            else {"first_name": "Ayşe", "last_name": "Yılmaz"}
        )
        empty = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(**fields, phones=["0532 111 22 33"]),  # type: ignore[arg-type]
        )
        full = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(
                **fields,  # type: ignore[arg-type]
                phones=["0532 111 22 34", "0212 444 55 66"],
                emails=["ayse@example.com"],
            ),
        )
        _history(world_a, full, 200)
        if kind == Customer.Kind.COMPANY:
            for n in range(5):
                person = ContactPerson.objects.create(
                    tenant=world_a.tenant, company=full, first_name=f"Kişi{n}", role="finance"
                )
                Phone.objects.create(
                    tenant=world_a.tenant,
                    customer=full,
                    contact_person=person,
                    e164=f"+9053211122{n:02d}",
                )
    few = _page_queries(world_a, empty, role)
    many = _page_queries(world_a, full, role)
    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= MAX_QUERIES, "\n".join(many)
