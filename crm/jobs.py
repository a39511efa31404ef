"""Background jobs that people watch: create, enqueue, report progress, finish.

A job row is the contract between a Celery task and the progress bar in the UI
(templates/crm/_job_progress.html, polled by HTMX). Imports, segmentation runs,
dedup and campaign sends all use it the same way::

    job = job_create(tenant=t, kind="branches.import", title=..., actor=user)
    job_enqueue(job, branches_import_task)          # after the transaction commits
    ...
    # inside the task:
    with job_running(job) as progress:
        progress.update(done, total, message)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Job, Tenant, User

logger = logging.getLogger(__name__)

# A job that has not reported for this long is considered dead (worker killed).
STALE_AFTER = timedelta(minutes=30)


class JobFailure(Exception):
    """A failure to show the user as is (already translated, no stack trace)."""


class _Enqueueable(Protocol):
    def delay(self, *args: Any, **kwargs: Any) -> Any: ...


def job_create(
    *,
    tenant: Tenant,
    kind: str,
    title: str,
    actor: User | None,
    input_name: str = "",
    input_data: bytes | None = None,
    status: str = Job.Status.QUEUED,
) -> Job:
    """A new job. DRAFT jobs wait for the user (e.g. an import's column mapping)."""
    return Job.objects.create(
        status=status,
        tenant=tenant,
        kind=kind,
        title=title,
        created_by=actor,
        input_name=input_name,
        input_data=input_data,
        message=_("Waiting to start…"),
    )


def job_queue(job: Job, *, result: dict[str, Any] | None = None) -> None:
    """A draft job is ready to run (call job_enqueue next)."""
    job.status = Job.Status.QUEUED
    if result is not None:
        job.result = result
    Job.objects.filter(pk=job.pk).update(status=job.status, result=job.result)


def job_enqueue(job: Job, task: _Enqueueable, **task_kwargs: Any) -> None:
    """Send the task once the job row is committed, so the worker can always see it."""
    tenant_id, job_id = job.tenant_id, job.pk
    transaction.on_commit(lambda: task.delay(tenant_id, job_id, **task_kwargs))


class JobProgress:
    """Writes progress at most every half second, so tight loops stay cheap."""

    def __init__(self, job: Job, min_interval: float = 0.5) -> None:
        self.job = job
        self.min_interval = min_interval
        self._last_write = 0.0

    def update(
        self,
        done: int,
        total: int | None = None,
        message: str | None = None,
        *,
        force: bool = False,
    ) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        fields: dict[str, Any] = {"progress_done": done, "heartbeat_at": timezone.now()}
        if total is not None:
            fields["progress_total"] = total
        if message is not None:
            fields["message"] = message[:500]
        Job.objects.filter(pk=self.job.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.job, name, value)


@contextlib.contextmanager
def job_running(job: Job) -> Iterator[JobProgress]:
    """Mark the job running; on exit mark it finished or failed with a readable reason.

    A JobFailure ends the job with its message and is swallowed; any other exception
    is recorded with a generic message (no stack trace for the user) and re-raised.
    """
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, message=_("Started")
    )
    job.status, job.message = Job.Status.RUNNING, ""
    progress = JobProgress(job)
    try:
        yield progress
    except JobFailure as failure:
        # An expected outcome (bad file, not enough data): recorded, not re-raised.
        _finish(job, Job.Status.FAILED, error=str(failure))
    except Exception:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        _finish(
            job,
            Job.Status.FAILED,
            error=_("An unexpected error stopped the job. The team has been notified."),
        )
        raise
    else:
        _finish(job, Job.Status.SUCCEEDED, message=job.message or _("Finished"))


def _finish(job: Job, status: str, *, error: str = "", message: str = "") -> None:
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "error": error,
        "result": job.result,
        "output_name": job.output_name,
        "output_content_type": job.output_content_type,
        "output_data": job.output_data,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
    }
    if message:
        fields["message"] = message
    elif status == Job.Status.FAILED:
        fields["message"] = _("Failed")
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()


def jobs_mark_stale(*, tenant: Tenant) -> int:
    """Fail jobs whose worker stopped reporting, so nobody waits on a dead bar forever."""
    cutoff = timezone.now() - STALE_AFTER
    return Job.objects.filter(
        tenant=tenant, status=Job.Status.RUNNING, heartbeat_at__lt=cutoff
    ).update(
        status=Job.Status.FAILED,
        finished_at=timezone.now(),
        message=_("Failed"),
        error=_(
            "The job stopped responding (the background service may have restarted)."
            " Start it again."
        ),
    )
