"""Two integrations upserting the same new customer at the same moment make one record."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from crm.models import Tenant
from crm.tenancy import tenant_context
from customers.models import Customer
from customers.services import CustomerInput, UpsertResult, customer_upsert
from tests.conftest import TenantWorld


def _upsert_after_barrier(
    tenant: Tenant,
    data: CustomerInput,
    barrier: threading.Barrier,
    results: list[UpsertResult],
    errors: list[BaseException],
) -> None:
    try:
        with tenant_context(tenant):
            barrier.wait(timeout=10)
            results.append(customer_upsert(tenant=tenant, actor=None, data=data))
    except BaseException as exc:
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_upserts_of_one_new_customer_create_one_record(world_a: TenantWorld) -> None:
    rounds = 5
    for round_number in range(rounds):
        data = CustomerInput(
            kind=Customer.Kind.PERSON,
            first_name="Ayşe",
            last_name=f"Yılmaz{'ğ' * round_number}",
            phones=[f"0532 111 22 3{round_number}"],
            source="api",
        )
        barrier = threading.Barrier(2)
        results: list[UpsertResult] = []
        errors: list[BaseException] = []
        threads = [
            threading.Thread(
                target=_upsert_after_barrier,
                args=(world_a.tenant, data, barrier, results, errors),
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sorted(result.created for result in results) == [False, True]
        assert results[0].customer.pk == results[1].customer.pk
    with tenant_context(world_a.tenant):
        assert Customer.objects.count() == rounds
