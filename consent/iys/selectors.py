"""Reads for the İYS sync page: state counts, rejections, the overdue, last runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from consent.iys.client import TURKEY
from consent.iys.models import IysAccount, IysBrand, IysPushBatch
from consent.models import ConsentEvent, SyncStatus
from crm.models import Job, Tenant

# ETK: a consent must reach İYS within 3 business days of being given.
REGISTRATION_BUSINESS_DAYS = 3


def business_days_before(moment: datetime, days: int) -> datetime:
    """``moment`` moved back ``days`` working days (Monday–Friday).

    Public holidays are not counted out, which makes the deadline earlier, never
    later: the page warns a little too soon rather than too late.
    """
    result = moment.astimezone(TURKEY)
    while days > 0:
        result -= timedelta(days=1)
        if result.weekday() < 5:
            days -= 1
    return result


def overdue_cutoff(now: datetime | None = None) -> datetime:
    return business_days_before(now or timezone.now(), REGISTRATION_BUSINESS_DAYS)


def _unsynced(tenant: Tenant) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(
        tenant=tenant,
        sync_status__in=[SyncStatus.PENDING, SyncStatus.SENDING, SyncStatus.REJECTED],
    )


def iys_overdue(*, tenant: Tenant, now: datetime | None = None) -> QuerySet[ConsentEvent]:
    """Events not (successfully) at İYS whose 3-business-day deadline has passed."""
    return (
        _unsynced(tenant)
        .annotate(given=Coalesce("consent_date", "created_at"))
        .filter(given__lt=overdue_cutoff(now))
        .order_by("given", "pk")
    )


@dataclass
class IysSyncOverview:
    account: IysAccount | None
    brands: list[IysBrand]
    counts: dict[str, int]
    overdue_count: int
    overdue: list[ConsentEvent]
    rejected: list[ConsentEvent]
    open_batches: int
    last_push_at: datetime | None
    last_pull_at: datetime | None
    last_reconciled_at: datetime | None
    job: Job | None
    # Pending consents whose brand code is not one of the configured İYS brands.
    unknown_brand_count: int = 0
    state_labels: list[tuple[str, Any, int]] = field(default_factory=list)


def iys_sync_overview(*, tenant: Tenant, limit: int = 50) -> IysSyncOverview:
    account = IysAccount.objects.filter(tenant=tenant).select_related("password_set_by").first()
    brands = list(IysBrand.objects.filter(tenant=tenant))
    counts = {
        row["sync_status"]: row["n"]
        for row in ConsentEvent.objects.filter(tenant=tenant)
        .values("sync_status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    overdue = iys_overdue(tenant=tenant)
    times = IysBrand.objects.filter(tenant=tenant).aggregate(
        push=Max("last_push_at"), pull=Max("last_pull_at"), reconcile=Max("last_reconciled_at")
    )
    job = Job.objects.filter(tenant=tenant, kind="consent.iys_sync").order_by("-pk").first()
    codes = [b.brand_code for b in brands] + ([""] if any(b.is_default for b in brands) else [])
    unknown_brand_count = (
        ConsentEvent.objects.filter(tenant=tenant, sync_status=SyncStatus.PENDING)
        .exclude(brand_code__in=codes)
        .count()
        if account is not None
        else 0
    )
    return IysSyncOverview(
        unknown_brand_count=unknown_brand_count,
        account=account,
        brands=brands,
        counts=counts,
        overdue_count=overdue.count(),
        overdue=list(overdue[:limit]),
        rejected=list(
            ConsentEvent.objects.filter(tenant=tenant, sync_status=SyncStatus.REJECTED).order_by(
                "-synced_at", "-pk"
            )[:limit]
        ),
        open_batches=IysPushBatch.objects.filter(
            Q(state=IysPushBatch.State.PREPARED) | Q(state=IysPushBatch.State.SUBMITTED),
            tenant=tenant,
        ).count(),
        last_push_at=times["push"],
        last_pull_at=times["pull"],
        last_reconciled_at=times["reconcile"],
        job=job,
        state_labels=[(value, label, counts.get(value, 0)) for value, label in SyncStatus.choices],
    )
