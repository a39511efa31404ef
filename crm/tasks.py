from __future__ import annotations

from celery import shared_task
from django.utils import translation

from crm import jobs, services
from crm.celery import TenantTask
from crm.models import Job, Tenant
from crm.tenancy import current_tenant_id, tenant_context


@shared_task(base=TenantTask, name="crm.tasks.branches_import_task")
def branches_import_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    job = Job.objects.get(tenant=tenant, pk=job_id)
    if job.is_finished:  # a redelivered message after the job already ran
        return
    with translation.override(language), jobs.job_running(job) as progress:
        services.branches_import(tenant=tenant, job=job, progress=progress)


@shared_task(name="crm.tasks.jobs_mark_stale")
def jobs_mark_stale() -> int:
    """Beat: fail jobs whose worker died, tenant by tenant."""
    marked = 0
    for tenant in Tenant.objects.filter(is_active=True).only("pk"):
        with tenant_context(tenant):
            marked += jobs.jobs_mark_stale(tenant=tenant)
    return marked
