"""The job mechanism end to end: upload → real Celery worker → progress → result."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Branch, Job
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld

CSV_TR = (
    "Şube Kodu;Şube Adı;İl;İlçe;Adres\n"
    "KDK;Kadıköy Çarşı;İstanbul;Kadıköy;Söğütlüçeşme Cad. 1\n"
    "CNK;Çankaya;ANKARA;Çankaya;\n"
    "XXX;Hatalı;Narnia;;\n"
    ";Kodsuz;35;Bornova;\n"
)


def _wait_for(job_id: int, world: TenantWorld, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tenant_context(world.tenant):
            job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job.status} {job.message}")


@pytest.mark.django_db(transaction=True)
def test_import_runs_on_a_real_worker_and_reports_bad_lines(
    world_a: TenantWorld, celery_worker_thread: None
) -> None:
    client = Client()
    client.force_login(world_a.owner)
    upload = ("subeler.csv", CSV_TR.encode("cp1254"))
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("crm:branch_import", kwargs={"tenant_slug": world_a.tenant.slug}),
        {"file": SimpleUploadedFile(*upload, content_type="text/csv")},
    )
    assert response.status_code == 302
    job_id = int(response["Location"].rstrip("/").split("/")[-1])

    job = _wait_for(job_id, world_a)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result == {"created": 2, "updated": 0, "errors": 2, "rows": 4}
    assert job.percent == 100
    report = bytes(job.output_data or b"").decode("utf-8-sig")
    assert "4;XXX;" in report and "Narnia" in report
    assert report.splitlines()[2].startswith("5;;")
    with tenant_context(world_a.tenant):
        kadikoy = Branch.objects.get(code="KDK")
        assert (kadikoy.province, kadikoy.name) == ("34", "Kadıköy Çarşı")
        assert Branch.objects.get(code="CNK").province == "06"

    progress = client.get(
        reverse("crm:job_progress", kwargs={"tenant_slug": world_a.tenant.slug, "job_id": job_id})
    )
    assert progress.status_code == 200
    assert b'data-status="succeeded"' in progress.content
    assert b"hx-trigger" not in progress.content  # finished: the bar stops polling


@pytest.mark.django_db(transaction=True)
def test_reimporting_the_same_file_creates_nothing_new(
    world_a: TenantWorld, celery_worker_thread: None
) -> None:
    from crm import jobs
    from crm.tasks import branches_import_task

    ids = []
    for _ in range(2):
        with tenant_context(world_a.tenant):
            job = jobs.job_create(
                tenant=world_a.tenant,
                kind="branches.import",
                title="t",
                actor=world_a.owner,
                input_data=CSV_TR.encode(),
            )
        branches_import_task.delay(world_a.tenant.pk, job.pk, language="en")
        ids.append(job.pk)
        _wait_for(job.pk, world_a)
    with tenant_context(world_a.tenant):
        second = Job.objects.get(pk=ids[1])
        assert second.result["created"] == 0
        assert second.result["updated"] == 2
        assert Branch.objects.filter(code__in=["KDK", "CNK"]).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_file_without_the_required_columns_fails_with_a_clear_message(
    world_a: TenantWorld, celery_worker_thread: None
) -> None:
    from crm import jobs
    from crm.tasks import branches_import_task

    with tenant_context(world_a.tenant):
        job = jobs.job_create(
            tenant=world_a.tenant,
            kind="branches.import",
            title="t",
            actor=world_a.owner,
            input_data=b"foo,bar\n1,2\n",
        )
    branches_import_task.delay(world_a.tenant.pk, job.pk, language="en")
    job = _wait_for(job.pk, world_a)
    assert job.status == Job.Status.FAILED
    assert "Missing columns: code, name, province" in job.error
    assert "Traceback" not in job.error
