"""Segmentation's personal data (profiling results), for the KVKK export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _

from consent.kvkk.export import declare_not_personal, register_section, values
from crm.models import Tenant
from segmentation.models import BehaviourCluster, CustomerScore, NextBestOffer, SegmentationRun
from segmentation.segment_models import SegmentMembership


@register_section("segments", _("Segments and scores"), covers=[CustomerScore])
def _scores(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        CustomerScore.objects.filter(tenant=tenant, customer_id__in=ids).order_by("run_id"),
        "run__as_of", "rfm_segment", "r_score", "f_score", "m_score", "recency_days",
        "frequency", "monetary", "p_alive", "clv", "value_tier", "cluster__name",
        "profiling_excluded",
    )  # fmt: skip


@register_section("offers", _("Offers chosen for the person"), covers=[NextBestOffer])
def _offers(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        NextBestOffer.objects.filter(tenant=tenant, customer_id__in=ids).order_by("run_id", "rank"),
        "run__as_of", "rank", "category__name", "score",
    )  # fmt: skip


declare_not_personal(SegmentationRun, "a run's timings and model parameters")
declare_not_personal(BehaviourCluster, "a description of a group, not of a person")


@register_section(
    "segment_memberships", _("Saved segments the person was in"), covers=[SegmentMembership]
)
def _memberships(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        SegmentMembership.objects.filter(tenant=tenant, customer_id__in=ids).order_by(
            "snapshot__taken_at"
        ),
        "snapshot__segment__name", "snapshot__taken_at",
    )  # fmt: skip
