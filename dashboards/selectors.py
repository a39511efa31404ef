from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from crm.models import Branch, Job, Membership, Tenant


@dataclass(frozen=True)
class TenantOverview:
    branches_active: int
    provinces: int
    members_active: int
    jobs_running: int
    jobs_failed_recently: int


def tenant_overview(*, tenant: Tenant) -> TenantOverview:
    branch_counts = Branch.objects.filter(tenant=tenant, is_active=True).aggregate(
        branches=Count("pk"), provinces=Count("province", distinct=True)
    )
    job_counts = Job.objects.filter(tenant=tenant).aggregate(
        running=Count("pk", filter=Q(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])),
        failed=Count("pk", filter=Q(status=Job.Status.FAILED)),
    )
    return TenantOverview(
        branches_active=branch_counts["branches"],
        provinces=branch_counts["provinces"],
        members_active=Membership.objects.filter(tenant=tenant, is_active=True).count(),
        jobs_running=job_counts["running"],
        jobs_failed_recently=job_counts["failed"],
    )
