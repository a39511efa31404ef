from __future__ import annotations

from celery import shared_task
from django.utils import translation
from django.utils.translation import gettext as _

from crm import jobs, tables
from crm.celery import TenantTask
from crm.models import Job, Tenant
from crm.tenancy import current_tenant_id
from customers import imports


@shared_task(base=TenantTask, name="customers.tasks.activity_import_task")
def activity_import_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    """Import an uploaded file: customers, purchases or interactions (the job's kind
    says which, see customers.activity_imports.IMPORT_KINDS)."""
    from customers import activity_imports

    tenant = Tenant.objects.get(pk=current_tenant_id())
    job = Job.objects.get(tenant=tenant, pk=job_id)
    if job.is_finished:  # redelivered after it ran
        return
    kind = activity_imports.KIND_OF_JOB[job.kind]
    with translation.override(language), jobs.job_running(job) as progress:
        try:
            table = tables.read_table(bytes(job.input_data or b""), job.input_name)
            result = kind.run(
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
            job.output_name = kind.report_name
            job.output_content_type = "text/csv; charset=utf-8"
            job.output_data = result.error_report_csv()
        progress.update(result.rows, result.rows, str(kind.summary) % result.as_dict(), force=True)


@shared_task(base=TenantTask, name="customers.tasks.customers_import_task")
def customers_import_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    """The customer import's task name from before purchases and interactions could be
    imported too: messages already queued under it still run."""
    activity_import_task(tenant_id, job_id, language)


@shared_task(base=TenantTask, name="customers.tasks.customers_dedup_task")
def customers_dedup_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    """Score the whole tenant for duplicates and refill the review queue (merges nothing)."""
    from customers import dedup, duplicates

    tenant = Tenant.objects.get(pk=current_tenant_id())
    job = Job.objects.get(tenant=tenant, pk=job_id)
    if job.is_finished:
        return
    with translation.override(language), jobs.job_running(job) as progress:
        progress.update(0, 3, _("Reading customers"), force=True)
        result = dedup.find_duplicates(tenant=tenant, keep_score=duplicates.REVIEW_SCORE)
        progress.update(2, 3, _("Filling the review queue"), force=True)
        # Borderline pairs (a little under the match threshold) are worth a look too.
        review = result.pairs[result.pairs["score"] >= duplicates.REVIEW_SCORE]
        stored = duplicates.duplicate_pairs_store(
            tenant=tenant,
            job=job,
            pairs=(
                duplicates.FoundPair(
                    int(row.left), int(row.right), float(row.score), [str(e) for e in row.evidence]
                )
                for row in review.itertuples(index=False)
            ),
        )
        job.result = {
            **stored,
            "pairs": int(result.counts["matched_pairs"]),
            "clusters": len(result.clusters),
            "seconds": round(result.seconds, 2),
        }
        progress.update(
            3,
            3,
            _(
                "%(pairs)s likely duplicate pairs in %(clusters)s groups; %(new)s new in the "
                "review queue"
            )
            % {**job.result},
            force=True,
        )


@shared_task(name="customers.tasks.dedup_nightly")
def dedup_nightly() -> int:
    """Beat: a duplicate run for every active tenant, as jobs people can see."""
    from crm.tenancy import tenant_context

    started = 0
    for tenant in Tenant.objects.filter(is_active=True).only("pk"):
        with tenant_context(tenant):
            job = jobs.job_create(
                tenant=tenant,
                kind="customers.dedup",
                title=_("Nightly duplicate search"),
                actor=None,
            )
        customers_dedup_task.delay(tenant.pk, job.pk)
        started += 1
    return started
