"""Celery discovers tasks in <app>.tasks: the İYS tasks live in consent/iys/tasks.py,
the KVKK ones in consent/kvkk/tasks.py; the nightly reach rebuild is here."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from consent import reach
from consent.iys.tasks import (  # noqa: F401
    iys_pull_all,
    iys_pull_task,
    iys_push_all,
    iys_push_task,
    iys_reconcile_all,
    iys_reconcile_task,
    iys_sync_job_task,
)
from consent.kvkk.tasks import (  # noqa: F401
    dsr_reminders_all,
    dsr_reminders_task,
    retention_destroy_all,
    retention_destroy_task,
)
from crm.celery import TenantTask, fan_out_to_active_tenants
from crm.models import Tenant
from crm.tenancy import current_tenant_id


@shared_task(base=TenantTask, name="consent.tasks.reach_rebuild_task")
def reach_rebuild_task(tenant_id: int) -> dict[str, Any]:
    """Rebuild the tenant's reach from scratch: the triggers keep it exact, this repairs
    anything they could not see (a trigger disabled by hand, a restore)."""
    tenant = Tenant.objects.get(pk=current_tenant_id())
    done = reach.reach_rebuild(tenant=tenant)
    return {"built": done.built, "seconds": done.seconds}


@shared_task(name="consent.tasks.reach_rebuild_all")
def reach_rebuild_all() -> int:
    return fan_out_to_active_tenants(reach_rebuild_task)
