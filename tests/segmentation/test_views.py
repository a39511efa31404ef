"""Segmentation pages: runs list/start on a real worker, run detail, customer card."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Job
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from segmentation import services
from segmentation.models import RunStatus, SegmentationRun
from tests.conftest import TenantWorld
from tests.segmentation.test_pipeline import AS_OF, Shop, _populate


def _wait_for(job_id: int, world: TenantWorld, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tenant_context(world.tenant):
            job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {job.status} {job.message}")


@pytest.mark.django_db(transaction=True)
def test_start_a_run_from_the_page(world_a: TenantWorld, celery_worker_thread: None) -> None:
    with tenant_context(world_a.tenant):
        _populate(Shop(world_a.tenant, world_a.branch), 30)
    client = Client()
    client.force_login(world_a.users[Role.MARKETING])
    url = reverse("segmentation_runs:list", kwargs={"tenant_slug": world_a.tenant.slug})
    assert client.post(url).status_code == 302
    with tenant_context(world_a.tenant):
        job = Job.objects.get(kind="segmentation.run")
    job = _wait_for(job.pk, world_a)
    assert job.status == Job.Status.SUCCEEDED, job.error
    with tenant_context(world_a.tenant):
        run = SegmentationRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.job_id == job.pk
    assert run.started_by == world_a.users[Role.MARKETING]
    page = client.get(url)
    assert page.status_code == 200 and b"segmentation-running" not in page.content
    detail = client.get(
        reverse(
            "segmentation_runs:detail",
            kwargs={"tenant_slug": world_a.tenant.slug, "segmentationrun_id": run.pk},
        )
    )
    assert detail.status_code == 200
    assert b'data-testid="rfm-segments"' in detail.content


@pytest.mark.django_db
def test_front_line_cannot_start_runs(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.users[Role.BRANCH_STAFF])
    url = reverse("segmentation_runs:list", kwargs={"tenant_slug": world_a.tenant.slug})
    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_customer_card_shows_value_offers_and_exclusion(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant_context(world_a.tenant):
        shop = Shop(world_a.tenant, world_a.branch)
        people = _populate(shop, 30)
        # Offers are scored with the shares of the customer's home branch, and say so.
        Customer.objects.filter(tenant=world_a.tenant).update(home_branch=world_a.branch)
        monkeypatch.setattr(
            "consent.profiling.profiling_excluded_customer_ids",
            lambda *, tenant: {people[1].pk},
        )
        run = services.segmentation_run(tenant=world_a.tenant, as_of=AS_OF)
        assert run.status == RunStatus.SUCCEEDED
    client = Client()
    client.force_login(world_a.owner)

    def page(customer_id: int) -> tuple[str, int]:
        url = reverse(
            "segmentation_runs:customer_card",
            kwargs={"tenant_slug": world_a.tenant.slug, "customer_id": customer_id},
        )
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return response.content.decode(), len(queries.captured_queries)

    html, count = page(people[3].pk)
    assert 'data-testid="value-card"' in html and 'data-testid="offers"' in html
    assert "Kategori B" in html and "Kategori A" in html
    offers_list = html.split('data-testid="offers"', 1)[1].split("</ol>", 1)[0]
    assert world_a.branch.name in offers_list
    assert count <= 12
    html, _ = page(people[1].pk)
    assert 'data-testid="profiling-excluded"' in html
    assert 'data-testid="offers"' not in html
