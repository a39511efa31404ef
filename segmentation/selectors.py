"""Reads of segmentation results, always from the tenant."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from crm.models import Branch, Job, Tenant
from customers.models import ProductCategory
from segmentation.models import (
    BehaviourCluster,
    CustomerScore,
    NextBestOffer,
    RunStatus,
    SegmentationRun,
)


def current_run(*, tenant: Tenant) -> SegmentationRun | None:
    """The latest run that finished every step: what screens, segments and offers read.

    A failed or still-running run never replaces it, so a failure midway keeps the
    previous results in place.
    """
    return (
        SegmentationRun.objects.filter(tenant=tenant, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def run_list(*, tenant: Tenant) -> QuerySet[SegmentationRun]:
    """Every kept run, newest first, with who started it."""
    return SegmentationRun.objects.filter(tenant=tenant).select_related("started_by", "job")


def run_get(*, tenant: Tenant, run_id: int) -> SegmentationRun:
    """Raises SegmentationRun.DoesNotExist for another tenant's run."""
    return SegmentationRun.objects.select_related("started_by", "job").get(tenant=tenant, pk=run_id)


def run_clusters(*, tenant: Tenant, run: SegmentationRun) -> list[BehaviourCluster]:
    return list(BehaviourCluster.objects.filter(tenant=tenant, run=run).order_by("-size"))


def running_job(*, tenant: Tenant) -> Job | None:
    """The segmentation job queued or running now, if any (one at a time)."""
    return (
        Job.objects.filter(
            tenant=tenant,
            kind="segmentation.run",
            status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
        )
        .order_by("-pk")
        .first()
    )


@dataclass
class ValueCard:
    """The customer page's "Value & segments" card."""

    score: CustomerScore
    offers: list[NextBestOffer]


def customer_value_card(*, tenant: Tenant, customer_id: int) -> ValueCard | None:
    """The customer's row in the newest succeeded run that scored them, with its
    cluster and top offers (each with ``because_name`` and ``branch_name``): two
    queries."""
    score = (
        CustomerScore.objects.filter(
            tenant=tenant, customer_id=customer_id, run__status=RunStatus.SUCCEEDED
        )
        .select_related("run", "cluster")
        .order_by("-run__finished_at", "-run_id")
        .first()
    )
    if score is None:
        return None
    because = ProductCategory.objects.filter(
        tenant=tenant,
        pk=Cast(KeyTextTransform("because_category_id", OuterRef("reason")), BigIntegerField()),
    ).values("name")[:1]
    # Offers scored with the shares of the customer's branch name it.
    branch = Branch.objects.filter(
        tenant=tenant,
        pk=Cast(KeyTextTransform("branch_id", OuterRef("reason")), BigIntegerField()),
    ).values("name")[:1]
    offers = list(
        NextBestOffer.objects.filter(tenant=tenant, customer_id=customer_id, run_id=score.run_id)
        .select_related("category")
        .annotate(because_name=Subquery(because), branch_name=Subquery(branch))
        .order_by("rank")
    )
    for offer in offers:
        offer.share_percent = round(100 * float(offer.reason.get("share", offer.score)))
    return ValueCard(score=score, offers=offers)
