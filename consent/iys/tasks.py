"""Celery tasks for İYS: push, pull, reconcile per tenant, and the beat fan-outs.

Retries live here, logic in consent/iys/sync.py. A rate limit waits İYS's
Retry-After; 5xx and timeouts back off exponentially (30 s, 60 s, … capped at
30 min). Wrong credentials are not retried: the sync page shows the error until
someone enters the right ones.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.utils import translation
from django.utils.translation import gettext as _

from consent.iys import services
from consent.iys.client import IysAuthError, IysRateLimited, IysUnavailable
from consent.iys.crypto import CredentialsUnreadable
from crm import jobs
from crm.celery import TenantTask
from crm.models import Job, Tenant
from crm.tenancy import current_tenant_id

logger = logging.getLogger(__name__)

BACKOFF_BASE = 30
BACKOFF_CAP = 30 * 60
MAX_RETRIES = 8


def _retry_countdown(task: Task, error: Exception) -> int:
    if isinstance(error, IysRateLimited):
        return max(1, int(error.retry_after + 0.999))
    return min(BACKOFF_BASE * 2 ** int(task.request.retries or 0), BACKOFF_CAP)


def _run(task: Task, operation: str) -> dict[str, Any]:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    try:
        return services.iys_run(tenant=tenant, operations=[operation])
    except (IysRateLimited, IysUnavailable) as error:
        raise task.retry(exc=error, countdown=_retry_countdown(task, error)) from error
    except (IysAuthError, CredentialsUnreadable):
        return {"error": "credentials"}  # shown on the sync page; a person must act
    except services.IysSyncBusy:
        return {"skipped": "busy"}  # the run in progress does the work


@shared_task(
    base=TenantTask, bind=True, max_retries=MAX_RETRIES, name="consent.iys.tasks.iys_push_task"
)
def iys_push_task(self: Task, tenant_id: int) -> dict[str, Any]:
    return _run(self, "push")


@shared_task(
    base=TenantTask, bind=True, max_retries=MAX_RETRIES, name="consent.iys.tasks.iys_pull_task"
)
def iys_pull_task(self: Task, tenant_id: int) -> dict[str, Any]:
    return _run(self, "pull")


@shared_task(
    base=TenantTask,
    bind=True,
    max_retries=MAX_RETRIES,
    name="consent.iys.tasks.iys_reconcile_task",
)
def iys_reconcile_task(self: Task, tenant_id: int) -> dict[str, Any]:
    return _run(self, "reconcile")


@shared_task(base=TenantTask, name="consent.iys.tasks.iys_sync_job_task")
def iys_sync_job_task(tenant_id: int, job_id: int, language: str = "tr") -> None:
    """The "sync now" button: push then pull every brand, with a progress bar."""
    tenant = Tenant.objects.get(pk=current_tenant_id())
    job = Job.objects.get(tenant=tenant, pk=job_id)
    if job.is_finished:
        return
    with translation.override(language), jobs.job_running(job) as progress:
        try:
            result = services.iys_run(
                tenant=tenant,
                operations=["push", "pull"],
                progress=lambda done, total, message: progress.update(
                    done, total, message, force=True
                ),
            )
        except services.IysSyncBusy as error:
            raise jobs.JobFailure(
                _("Another İYS synchronisation is running. Try again in a few minutes.")
            ) from error
        except IysAuthError as error:
            raise jobs.JobFailure(
                _("İYS refused the credentials (%(detail)s). Enter them again.")
                % {"detail": error.detail}
            ) from error
        except CredentialsUnreadable as error:
            raise jobs.JobFailure(
                _("The stored İYS password cannot be read any more. Enter it again.")
            ) from error
        except (IysRateLimited, IysUnavailable) as error:
            raise jobs.JobFailure(
                _(
                    "İYS is not answering or asks us to slow down (%(detail)s). What was "
                    "sent is safe; the next automatic run continues."
                )
                % {"detail": error.detail}
            ) from error
        job.result = result
        progress.update(
            1,
            1,
            _(
                "%(sent)s sent, %(accepted)s accepted, %(rejected)s rejected, "
                "%(pulled)s changes pulled from İYS"
            )
            % result,
            force=True,
        )


def _fan_out(task: Any) -> int:
    tenant_ids = services.tenants_with_iys()
    for tenant_id in tenant_ids:
        task.delay(tenant_id)
    return len(tenant_ids)


@shared_task(name="consent.iys.tasks.iys_push_all")
def iys_push_all() -> int:
    return _fan_out(iys_push_task)


@shared_task(name="consent.iys.tasks.iys_pull_all")
def iys_pull_all() -> int:
    return _fan_out(iys_pull_task)


@shared_task(name="consent.iys.tasks.iys_reconcile_all")
def iys_reconcile_all() -> int:
    return _fan_out(iys_reconcile_task)
