"""The Celery app. Tasks that work for one tenant subclass TenantTask."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("tekil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class TenantTask(Task):
    """First argument is ``tenant_id``; the task body runs inside that tenant's scope.

    Tasks never receive model instances: ids only, so a retried task re-reads the
    current state.
    """

    def __call__(self, tenant_id: int, *args: Any, **kwargs: Any) -> Any:
        from crm.models import Tenant
        from crm.tenancy import tenant_context

        tenant = Tenant.objects.get(pk=tenant_id)
        with tenant_context(tenant):
            return super().__call__(tenant_id, *args, **kwargs)


def fan_out_to_active_tenants(task: Any, **kwargs: Any) -> int:
    """Beat entry points: queue ``task(tenant_id, **kwargs)`` for every active tenant;
    returns how many were queued."""
    from crm.models import Tenant

    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        task.delay(tenant_id, **kwargs)
    return len(tenant_ids)
