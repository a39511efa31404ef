"""Beat: materialise scheduled saved segments, one task per tenant."""

from __future__ import annotations

from celery import shared_task

from crm.celery import fan_out_to_active_tenants
from crm.models import Tenant


@shared_task(name="segmentation.segment_tasks.segments_materialise_due_all")
def segments_materialise_due_all() -> int:
    """Fan out: one task per active tenant."""
    return fan_out_to_active_tenants(segments_materialise_due)


@shared_task(name="segmentation.segment_tasks.segments_materialise_due")
def segments_materialise_due(tenant_id: int) -> int:
    from crm.tenancy import tenant_context
    from segmentation import saved_segments

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        return saved_segments.materialise_due(tenant=tenant)
