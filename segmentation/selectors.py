"""Reads of segmentation results, always from the tenant."""

from __future__ import annotations

from crm.models import Tenant
from segmentation.models import RunStatus, SegmentationRun


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
