"""make_reference_tenant: a bulk-loaded tenant that the normal code paths accept."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from crm.management.commands.make_reference_tenant import bench_user_email
from crm.models import Branch, Tenant, User
from crm.tenancy import tenant_context
from crm.text import matching_key
from customers import bench, normalize, selectors
from customers.models import (
    Complaint,
    ContactPerson,
    Customer,
    Email,
    Interaction,
    Phone,
    Purchase,
    PurchaseLine,
)

# The reference consents are loaded with PostgreSQL SQL (consent/reference.py).
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SIZE = {"customers": 300, "purchases": 2000, "interactions": 800}


def _build(seed: int = 3, slug: str = "ref-test") -> tuple[Tenant, str]:
    out = StringIO()
    call_command(
        "make_reference_tenant",
        *[f"--{k}={v}" for k, v in SIZE.items()],
        f"--seed={seed}",
        f"--slug={slug}",
        stdout=out,
    )
    return Tenant.objects.get(slug=slug), out.getvalue()


def test_builds_the_requested_sizes_and_prints_rows_and_seconds() -> None:
    tenant, printed = _build()
    for table in ("customers", "purchases", "purchase lines", "interactions", "phones"):
        assert f"{table} rows" in printed and f"{table} seconds" in printed
    with tenant_context(tenant):
        assert Branch.objects.count() == 100
        assert Customer.objects.count() == SIZE["customers"]
        assert Purchase.objects.count() == SIZE["purchases"]
        assert Interaction.objects.count() == SIZE["interactions"]
        assert PurchaseLine.objects.count() > SIZE["purchases"]
        assert Complaint.objects.exists()
        assert ContactPerson.objects.exists()
        kinds = set(Customer.objects.values_list("kind", flat=True))
        assert kinds == {Customer.Kind.PERSON, Customer.Kind.COMPANY}
        # Purchases are spread over two years and several branches.
        assert Purchase.objects.values("branch").distinct().count() > 20
        # Every receipt total is the sum of its lines.
        totals = {
            p.pk: p.total_amount
            for p in Purchase.objects.annotate(n=Count("lines")).filter(n__gt=0)[:50]
        }
        for purchase_id, total in totals.items():
            lines = PurchaseLine.objects.filter(purchase_id=purchase_id)
            assert sum(line.line_total for line in lines) == total


def test_values_are_stored_as_the_normal_path_stores_them() -> None:
    tenant, _printed = _build()
    with tenant_context(tenant):
        for customer in Customer.objects.all():
            assert customer.name_key == matching_key(customer.display_name)
            if customer.tckn:
                assert normalize.normalize_tckn(customer.tckn) == customer.tckn
            if customer.tax_id:
                assert normalize.normalize_tax_id(customer.tax_id) == customer.tax_id
        for phone in Phone.objects.all():
            assert normalize.normalize_phone(phone.e164).e164 == phone.e164
        for email in Email.objects.all():
            assert normalize.normalize_email(email.address) == email.address
            assert normalize.email_key(email.address) == email.match_key
        numbers = sorted(int(n) for n in Customer.objects.values_list("customer_number", flat=True))
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_search_finds_a_generated_customer_by_phone_in_any_format() -> None:
    tenant, _printed = _build()
    with tenant_context(tenant):
        phone = Phone.objects.filter(contact_person=None, is_mobile=True).first()
        assert phone is not None
        national = "0" + phone.e164[3:]
        spaced = f"{national[:4]} {national[4:7]} {national[7:9]} {national[9:]}"
        for typed in (phone.e164, national, spaced, phone.e164[3:], "+90 " + phone.e164[3:]):
            found = selectors.customer_search(tenant=tenant, query=typed)
            assert phone.customer_id in [c.pk for c in found], typed


def test_the_duplicate_check_finds_planted_duplicates() -> None:
    tenant, _printed = _build()
    with tenant_context(tenant):
        shared = (
            Phone.objects.filter(contact_person=None)
            .values("e164")
            .annotate(n=Count("customer", distinct=True))
            .filter(n__gt=1)
            .values_list("e164", flat=True)
        )
        found = 0
        for e164 in shared:
            first, second = Customer.objects.filter(phones__e164=e164).order_by("pk")[:2]
            incoming = selectors.incoming_from_raw(
                kind=first.kind,
                first_name=first.first_name,
                last_name=first.last_name,
                trade_name=first.trade_name,
                phones=["0" + e164[3:]],
            )
            candidates = selectors.customer_duplicate_candidates(
                tenant=tenant, incoming=incoming, exclude_id=first.pk
            )
            found += second.pk in [c.customer.pk for c in candidates]
        # About 10% of the records are duplicates, most of them with the same phone.
        assert found >= SIZE["customers"] // 30


def test_counters_continue_and_a_customer_can_be_created_through_the_ui() -> None:
    tenant, _printed = _build()
    with tenant_context(tenant):
        highest = max(int(n) for n in Customer.objects.values_list("customer_number", flat=True))
    client = Client()
    client.force_login(User.objects.get(email=bench_user_email(tenant.slug)))
    response = client.post(
        reverse("customers:create", kwargs={"tenant_slug": tenant.slug}),
        {
            "kind": "person",
            "first_name": "Tuğrul",
            "last_name": "Benzersizoğlu",
            "phone": "0541 987 65 43",
            "preferred_language": "tr",
            "confirm_not_duplicate": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant):
        created = Customer.objects.get(last_name="Benzersizoğlu")
        assert int(created.customer_number) == highest + 1
        # The id sequence moved past the loaded rows too.
        assert created.pk > Customer.objects.exclude(pk=created.pk).order_by("-pk")[0].pk


def test_the_same_seed_gives_the_same_tenant_and_replaces_it() -> None:
    def content(tenant: Tenant) -> list[tuple[str, str]]:
        with tenant_context(tenant):
            return list(
                Customer.objects.order_by("customer_number").values_list("name_key", "tckn")
            )

    first, _ = _build(seed=5)
    before = content(first)
    again, _ = _build(seed=5)
    assert not Tenant.objects.filter(pk=first.pk).exists()
    assert content(again) == before
    other, _ = _build(seed=6)
    assert content(other) != before


def test_bench_prints_the_figures_as_json() -> None:
    tenant, _printed = _build()
    out = StringIO()
    call_command(
        "bench", "customers", "--tenant", tenant.slug, "--json", "--repeat", "8", stdout=out
    )
    figures = json.loads(out.getvalue())
    for key in (
        "page_p50_ms",
        "page_p95_ms",
        "page_again_p95_ms",
        "page_queries_max",
        "search_p50_ms",
        "search_p95_ms",
        "search_phone_p95_ms",
        "duplicate_check_p95_ms",
        "import_rows_per_s",
        "dedup_seconds",
        "peak_rss_mib",
    ):
        assert key in figures, key
    assert figures["page_queries_max"] <= 15
    assert figures["import_rows"] >= 100
    # The server the figures were taken on.
    if connection.vendor == "postgresql":
        assert figures["db_server"].startswith("PostgreSQL ")
        assert figures["db_shared_buffers"].endswith(("kB", "MB", "GB"))
    else:
        assert figures["db_server"] == "sqlite"
    # The import was rolled back: the tenant keeps its size.
    with tenant_context(tenant):
        assert Customer.objects.count() == SIZE["customers"]


@pytest.mark.django_db(transaction=True)
def test_bench_import_vacuums_what_it_rolled_back() -> None:
    """The bench's rolled-back import leaves no dead rows for the next run to meet."""

    def vacuum_counts() -> dict[str, int]:
        # VACUUM reports to the statistics as it ends (PostgreSQL 15+); autovacuum
        # counts separately.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname IN"
                " ('customers_customer', 'customers_phone', 'customers_email',"
                " 'customers_purchase')"
            )
            return dict(cursor.fetchall())

    tenant, _printed = _build()
    before = vacuum_counts()
    with tenant_context(tenant):
        # Written just before, in a transaction of its own: the backend reports it to
        # the shared statistics up to a second later, and until then it is also among
        # the statistics of the import's transaction. Not the import's to vacuum.
        purchase = Purchase.objects.order_by("pk").first()
        assert purchase is not None
        Purchase.objects.filter(pk=purchase.pk).update(total_amount=purchase.total_amount)
        bench._import(tenant, seed=2)
    after = vacuum_counts()
    for written in ("customers_customer", "customers_phone", "customers_email"):
        assert after[written] == before[written] + 1, written
    assert after["customers_purchase"] == before["customers_purchase"]  # not written
