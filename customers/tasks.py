from __future__ import annotations

from celery import shared_task
from django.utils import translation
from django.utils.translation import gettext as _

from crm import jobs
from crm.celery import TenantTask
from crm.models import Job, Tenant
from crm.tenancy import current_tenant_id
from customers import imports


@shared_task(base=TenantTask, name="customers.tasks.customers_import_task")
def customers_import_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    job = Job.objects.get(tenant=tenant, pk=job_id)
    if job.is_finished:  # redelivered after it ran
        return
    with translation.override(language), jobs.job_running(job) as progress:
        try:
            table = imports.read_table(bytes(job.input_data or b""), job.input_name)
            result = imports.customers_import(
                tenant=tenant,
                actor=job.created_by,
                table=table,
                mapping=job.result["mapping"],
                progress=lambda done, total: progress.update(done, total),
            )
        except imports.ImportFileError as error:
            raise jobs.JobFailure(str(error)) from error
        job.result = {**job.result, **result.as_dict()}
        if result.problems:
            job.output_name = "customer-import-problems.csv"
            job.output_content_type = "text/csv; charset=utf-8"
            job.output_data = result.error_report_csv()
        progress.update(
            result.rows,
            result.rows,
            _(
                "%(created)s new, %(matched)s matched to existing customers, %(rejected)s "
                "rejected, %(warnings)s warnings"
            )
            % result.as_dict(),
            force=True,
        )
