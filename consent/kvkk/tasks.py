"""Celery tasks for KVKK: daily reminders of request deadlines and the monthly
periodic destruction, each fanned out to one task per tenant."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import translation

from consent.kvkk import retention, services
from consent.kvkk.models import DestructionRun
from crm.celery import TenantTask, fan_out_to_active_tenants
from crm.models import Tenant, User
from crm.tenancy import current_tenant_id


@shared_task(base=TenantTask, name="consent.kvkk.tasks.dsr_reminders_task")
def dsr_reminders_task(tenant_id: int) -> int:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    with translation.override(settings.LANGUAGE_CODE):
        return services.dsr_reminders_send(tenant=tenant, base_url=settings.SITE_URL)


@shared_task(base=TenantTask, name="consent.kvkk.tasks.retention_destroy_task")
def retention_destroy_task(
    tenant_id: int, trigger: str = "scheduled", actor_id: int | None = None
) -> dict[str, Any]:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        run = retention.retention_destroy(tenant=tenant, actor=actor, trigger=trigger)
    except retention.DestructionBusy:
        return {"skipped": "busy"}
    return {"run": run.pk, "destroyed": run.destroyed}


@shared_task(name="consent.kvkk.tasks.dsr_reminders_all")
def dsr_reminders_all() -> int:
    return fan_out_to_active_tenants(dsr_reminders_task)


@shared_task(name="consent.kvkk.tasks.retention_destroy_all")
def retention_destroy_all() -> int:
    return fan_out_to_active_tenants(
        retention_destroy_task, trigger=DestructionRun.Trigger.SCHEDULED
    )
