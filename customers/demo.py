"""Demo customers for seed_demo: realistic Turkish people and companies with contact
people, two years of purchases, contacts and complaints across the 12 demo branches,
and about 10% duplicate records with the typing variants real data has.

The rows come from the reference-tenant generator (customers/reference.py), loaded in
bulk (COPY on PostgreSQL): 100,000 customers take a couple of minutes, not hours.
Deterministic for a seed; a second run with the same size keeps what is there.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Model

from crm import bulk
from crm.demo import DemoOptions, DemoReport, register_seeder
from crm.models import Tenant
from crm.tenancy import tenant_owned_models
from customers.models import Customer, CustomerNumberCounter
from customers.reference import Shape, populate

PURCHASES_PER_CUSTOMER = 4
INTERACTIONS_PER_CUSTOMER = 1.2
COMPLAINT_SHARE = 0.03


@register_seeder
def seed_customers(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    existing = Customer.objects.filter(tenant=tenant).count()
    if existing and existing == _expected_total(options.customers):
        report.lines.append(f"{existing} customers (already there)")
        return
    with transaction.atomic():
        if existing:
            _wipe(tenant)
        total = _expected_total(options.customers)
        loaded = populate(
            tenant=tenant,
            shape=Shape(
                customers=options.customers,
                duplicates=options.customers // 10,
                purchases=PURCHASES_PER_CUSTOMER * total,
                interactions=int(INTERACTIONS_PER_CUSTOMER * total),
                complaints=int(COMPLAINT_SHARE * total),
                seed=options.rng.randrange(2**32),
            ),
        )
    bulk.analyze(*_customer_models())
    rows = loaded.rows
    report.lines.append(
        f"{rows.get('customers', 0)} customers ({options.customers // 10} duplicate records), "
        f"{rows.get('purchases', 0)} purchases, {rows.get('interactions', 0)} contacts, "
        f"{rows.get('complaints', 0)} complaints"
    )


def _expected_total(customers: int) -> int:
    return customers + customers // 10


def _customer_models() -> list[type[Model]]:
    """Customer and every tenant-owned model that points at it, directly or not
    (purchases, lines, contact points, … and other apps' rows about customers)."""
    owned = tenant_owned_models()
    found: set[type[Model]] = {Customer}
    grew = True
    while grew:
        grew = False
        for model in owned:
            if model in found:
                continue
            if any(
                field.is_relation and field.related_model in found
                for field in model._meta.concrete_fields
                if field.name != "tenant"
            ):
                found.add(model)
                grew = True
    return bulk.children_first(sorted(found, key=lambda m: m._meta.label))


def _wipe(tenant: Tenant) -> None:
    """Delete the tenant's customers and everything about them, one statement per
    table (foreign keys are checked at commit, so self-references are fine)."""
    with connection.cursor() as cursor:
        for model in _customer_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
    CustomerNumberCounter.objects.filter(tenant=tenant).delete()
