"""Segmentation runs in the background: on demand (a job with a progress bar) and
nightly for every active tenant."""

from __future__ import annotations

from celery import shared_task
from django.utils import translation
from django.utils.translation import gettext as _

from crm import jobs
from crm.celery import TenantTask
from crm.models import Job, Tenant
from crm.tenancy import current_tenant_id
from segmentation.models import RunStatus, RunTrigger

JOB_KIND = "segmentation.run"


@shared_task(base=TenantTask, name="segmentation.tasks.segmentation_run_task")
def segmentation_run_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    """One run for the job's tenant; the job's progress follows the steps."""
    from segmentation.services import RunInProgress, segmentation_run

    tenant = Tenant.objects.get(pk=current_tenant_id())
    job = Job.objects.get(tenant=tenant, pk=job_id)
    if job.is_finished:  # redelivered after it ran
        return
    with translation.override(language), jobs.job_running(job) as progress:
        trigger = RunTrigger.MANUAL if job.created_by_id else RunTrigger.SCHEDULE
        try:
            run = segmentation_run(
                tenant=tenant,
                trigger=trigger,
                actor=job.created_by,
                job=job,
                progress=lambda done, total, message: progress.update(
                    done, total, message, force=True
                ),
            )
        except RunInProgress:
            raise jobs.JobFailure(
                _(
                    "Another segmentation run is under way; its results will be used."
                    " Start a new run after it finishes if you need one."
                )
            ) from None
        job.result = {"run_id": run.pk, "status": run.status}
        if run.status == RunStatus.FAILED:
            raise jobs.JobFailure(
                _(
                    "The step “%(step)s” failed, so the previous results stay in use."
                    " Start the run again; if it fails again, tell support: %(error)s"
                )
                % {"step": run.failed_step, "error": run.error[:300]}
            )
        progress.update(
            progress.job.progress_total or 1,
            progress.job.progress_total or 1,
            _("%(customers)s customers segmented in %(seconds)s s")
            % {
                "customers": run.customer_count,
                "seconds": round(sum(run.step_seconds.values()), 1),
            },
            force=True,
        )
        job.message = progress.job.message


def segmentation_job_start(*, tenant: Tenant, actor: object | None, language: str) -> Job:
    """Create the job of a run and enqueue it once the transaction commits."""
    job = jobs.job_create(
        tenant=tenant,
        kind=JOB_KIND,
        title=_("Segmentation run") if actor else _("Nightly segmentation run"),
        actor=actor,  # type: ignore[arg-type]
    )
    jobs.job_enqueue(job, segmentation_run_task, language=language)
    return job


@shared_task(name="segmentation.tasks.segmentation_nightly")
def segmentation_nightly() -> int:
    """Beat: a run for every active tenant, as jobs people can see."""
    from crm.tenancy import tenant_context

    started = 0
    for tenant in Tenant.objects.filter(is_active=True).only("pk"):
        with tenant_context(tenant):
            job = jobs.job_create(
                tenant=tenant,
                kind=JOB_KIND,
                title=_("Nightly segmentation run"),
                actor=None,
            )
        segmentation_run_task.delay(tenant.pk, job.pk)
        started += 1
    return started
