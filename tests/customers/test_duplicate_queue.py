from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Tenant
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import duplicates
from customers.merge import customer_merge, customer_unmerge
from customers.models import Customer, DuplicatePair, MergeLog
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory, PhoneFactory


def _customer(tenant: Tenant) -> Customer:
    customer: Customer = CustomerFactory.create(tenant=tenant)
    return customer


def _pair(a: Customer, b: Customer, score: float = 12.0) -> duplicates.FoundPair:
    return duplicates.FoundPair(a.pk, b.pk, score, ["same phone", "same last name"])


@pytest.mark.django_db
def test_decisions_are_remembered_across_runs(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    a, b, c, d = (_customer(tenant) for _ in range(4))
    with tenant_context(tenant):
        stats = duplicates.duplicate_pairs_store(
            tenant=tenant, job=None, pairs=[_pair(a, b), _pair(d, c)]
        )
        assert stats == {"new": 2, "updated": 0, "dropped": 0}
        ab = DuplicatePair.objects.get(left=a, right=b)
        cd = DuplicatePair.objects.get(left=c, right=d)  # stored in id order
        duplicates.duplicate_pair_decide(
            tenant=tenant, actor=world_a.owner, pair=ab, status=DuplicatePair.Status.NOT_DUPLICATE
        )
        duplicates.duplicate_pair_decide(
            tenant=tenant, actor=world_a.owner, pair=cd, status=DuplicatePair.Status.SKIPPED
        )
        duplicates.duplicate_pairs_store(tenant=tenant, job=None, pairs=[_pair(a, b), _pair(c, d)])
        ab.refresh_from_db()
        cd.refresh_from_db()
        assert ab.status == DuplicatePair.Status.NOT_DUPLICATE  # never asked again
        assert cd.status == DuplicatePair.Status.PENDING  # skipped comes back
        assert list(duplicates.duplicate_queue(tenant=tenant)) == [cd]
        # A pair the finder no longer sees leaves the queue.
        duplicates.duplicate_pairs_store(tenant=tenant, job=None, pairs=[])
        assert not DuplicatePair.objects.filter(pk=cd.pk).exists()
        assert DuplicatePair.objects.filter(pk=ab.pk).exists()


@pytest.mark.django_db
def test_merging_and_undoing_settle_the_pair(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    a, b = _customer(tenant), _customer(tenant)
    with tenant_context(tenant):
        duplicates.duplicate_pairs_store(tenant=tenant, job=None, pairs=[_pair(a, b)])
        log = customer_merge(tenant=tenant, actor=world_a.owner, keep=a, drop=b, choices={})
        pair = DuplicatePair.objects.get()
        assert pair.status == DuplicatePair.Status.MERGED
        assert list(duplicates.duplicate_queue(tenant=tenant)) == []
        customer_unmerge(tenant=tenant, actor=world_a.owner, merge_log=log)
        pair.refresh_from_db()
        assert pair.status == DuplicatePair.Status.PENDING


@pytest.mark.django_db
def test_confident_groups_merge_into_their_oldest_record(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    first, second, third, other = (_customer(tenant) for _ in range(4))
    unsure = _customer(tenant)
    with tenant_context(tenant):
        duplicates.duplicate_pairs_store(
            tenant=tenant,
            job=None,
            pairs=[_pair(first, second, 24), _pair(second, third, 21), _pair(other, unsure, 10)],
        )
        clusters = duplicates.confident_clusters(tenant=tenant)
        assert [[c.pk for c in cluster] for cluster in clusters] == [
            [first.pk, second.pk, third.pk]
        ]
        merged = duplicates.duplicates_merge_confident(tenant=tenant, actor=world_a.owner)
        assert merged == 2
        assert set(Customer.objects.filter(merged_into=first).values_list("pk", flat=True)) == {
            second.pk,
            third.pk,
        }
        assert MergeLog.objects.filter(kept=first).count() == 2
        assert Customer.objects.get(pk=unsure.pk).merged_into_id is None


@pytest.mark.django_db
def test_queue_page_and_decisions(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    a, b = _customer(tenant), _customer(tenant)
    with tenant_context(tenant):
        duplicates.duplicate_pairs_store(tenant=tenant, job=None, pairs=[_pair(a, b)])
        pair = DuplicatePair.objects.get()
    owner = Client()
    owner.force_login(world_a.owner)
    page = owner.get(reverse("customers:duplicates", kwargs={"tenant_slug": "alfa"}))
    assert page.status_code == 200
    body = page.content.decode()
    assert a.display_name in body and b.display_name in body
    assert f"?other={b.pk}" in body
    owner.post(
        reverse(
            "customers:duplicate_decide",
            kwargs={"tenant_slug": "alfa", "duplicatepair_id": pair.pk},
        ),
        {"status": "not_duplicate"},
    )
    with tenant_context(tenant):
        pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.NOT_DUPLICATE
    staff = Client()
    staff.force_login(world_a.users[Role.BRANCH_STAFF])
    assert (
        staff.get(reverse("customers:duplicates", kwargs={"tenant_slug": "alfa"})).status_code
        == 403
    )


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_search_job_fills_the_queue(
    world_a: TenantWorld, celery_worker_thread: None
) -> None:
    import time

    from crm.models import Job
    from customers import services

    tenant = world_a.tenant
    with tenant_context(tenant):
        for data in (
            dict(
                first_name="Ayşe Gül",
                last_name="Yılmaz",
                phones=["05321234567"],
                birth_date="1985-04-23",
                emails=["ayse@example.com"],
            ),
            dict(
                first_name="AYSE GUL",
                last_name="YILMAZ",
                phones=["+90 532 123 4567"],
                birth_date="23.04.1985",
            ),
            dict(
                first_name="Elif",
                last_name="Yılmaz",
                phones=["05321234567"],
                birth_date="2010-09-01",
            ),
            dict(first_name="Mehmet", last_name="Kaya", phones=["05449998877"]),
        ):
            services.customer_create(
                tenant=tenant,
                actor=None,
                data=services.CustomerInput(**data),  # type: ignore[arg-type]
            )
    # A realistic tenant around them, so agreement frequencies are not from four people.
    for _ in range(60):
        PhoneFactory(tenant=tenant, customer=_customer(tenant))
    client = Client()
    client.force_login(world_a.owner)
    started = client.post(
        reverse("customers:duplicates", kwargs={"tenant_slug": "alfa"}), {"action": "find"}
    )
    assert started.status_code == 302
    job_id = int(started["Location"].rstrip("/").split("/")[-1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with tenant_context(tenant):
            job = Job.objects.get(pk=job_id)
        if job.is_finished:
            break
        time.sleep(0.3)
    assert job.status == Job.Status.SUCCEEDED, job.error
    with tenant_context(tenant):
        queued = [
            (p.left.name_key, p.right.name_key) for p in duplicates.duplicate_queue(tenant=tenant)
        ]
    assert queued == [("ayse gul yilmaz", "ayse gul yilmaz")]  # not the daughter Elif
