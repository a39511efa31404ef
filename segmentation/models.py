"""What a segmentation run leaves behind, per tenant and per run.

A run (``SegmentationRun``) computes, in bulk, one ``CustomerScore`` row per
customer (features, RFM, lifetime value, behaviour cluster), the run's
``BehaviourCluster`` descriptions and each customer's ``NextBestOffer`` rows. Rows
belong to their run, so history can be compared and a failed run never touches the
results of the last good one: readers use the latest *succeeded* run
(``segmentation.selectors.current_run``).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Job
from crm.tenancy import TenantOwnedModel
from customers.models import Customer, ProductCategory
from segmentation.rfm import RfmSegment


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Nightly schedule")
    MANUAL = "manual", _("Started by a user")
    COMMAND = "command", _("Command line")


class SegmentationRun(TenantOwnedModel):
    """One pass of features → RFM → CLV → clusters → offers → segment materialisation."""

    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    trigger = models.CharField(
        _("trigger"), max_length=10, choices=RunTrigger.choices, default=RunTrigger.MANUAL
    )
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The date the run treats as "today" (recency, tenure, holdout windows).
    as_of = models.DateField(_("as of"))
    customer_count = models.PositiveIntegerField(_("customers"), default=0)
    profiled_count = models.PositiveIntegerField(_("profiled customers"), default=0)
    excluded_from_profiling = models.PositiveIntegerField(_("left out of profiling"), default=0)
    # {"features": 1.23, "rfm": 0.4, ...} seconds per finished step.
    step_seconds = models.JSONField(default=dict, blank=True)
    # Model parameters and fit quality: {"bgnbd": {...}, "gamma_gamma": {...},
    # "clusters": {"k": 5, "silhouette": 0.31, ...}, "offers": {"hit_rate_at_3": ..,
    # "baseline_hit_rate_at_3": ..}, "clv_state": "fitted" | "not_enough_data"}.
    parameters = models.JSONField(default=dict, blank=True)
    failed_step = models.CharField(_("failed step"), max_length=30, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering: ClassVar = ["-started_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["tenant", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"run {self.pk} {self.status}"


class ValueTier(models.TextChoices):
    TOP = "top", _("Top value")
    HIGH = "high", _("High value")
    MEDIUM = "medium", _("Medium value")
    LOW = "low", _("Low value")
    NONE = "none", _("No value estimate")


class BehaviourCluster(TenantOwnedModel):
    """One behaviour segment of a run, described in words."""

    run = models.ForeignKey(SegmentationRun, on_delete=models.CASCADE, related_name="clusters")
    # Stable across runs when the clusters are the same (matched by centroid).
    label = models.CharField(_("label"), max_length=20)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    size = models.PositiveIntegerField(_("customers"), default=0)
    # Scaled-feature centroid and the features that set the cluster apart.
    centroid = models.JSONField(default=dict, blank=True)
    distinguishing = models.JSONField(default=list, blank=True)

    class Meta:
        ordering: ClassVar = ["label"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["run", "label"], name="seg_cluster_run_label_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class CustomerScore(TenantOwnedModel):
    """One customer in one run: features, RFM, lifetime value and behaviour cluster.

    Written in bulk (COPY), never one ORM save per customer. On PostgreSQL the table
    is partitioned by run (``segmentation.partitions``, migration 0006): its primary
    key there is ``(id, run_id)``, and every unique constraint must include ``run``.
    """

    # Scores are derived rows a run writes a million at a time and deletes by run
    # (services._delete_rows): the references are checked by the writer, not by one
    # foreign-key trigger per row and reference (db_constraint=False; deletes still
    # cascade through the ORM), and run/customer lookups use the composite indexes
    # below rather than single-column ones.
    run = models.ForeignKey(
        SegmentationRun,
        on_delete=models.CASCADE,
        related_name="scores",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Features (purchases net of returns; days relative to run.as_of).
    recency_days = models.IntegerField(null=True, blank=True)
    frequency = models.IntegerField(default=0)
    monetary = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tenure_days = models.IntegerField(null=True, blank=True)
    average_basket = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    return_rate = models.FloatField(default=0)
    discount_share = models.FloatField(default=0)
    complaint_count = models.IntegerField(default=0)
    days_since_contact = models.IntegerField(null=True, blank=True)
    top_category = models.ForeignKey(
        ProductCategory,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    top_branch_id = models.BigIntegerField(null=True, blank=True)
    top_touchpoint = models.CharField(max_length=20, blank=True)
    weekend_share = models.FloatField(default=0)
    evening_share = models.FloatField(default=0)
    # Everything else the builder may filter on: category/channel/branch mix,
    # weekday and hour habits. Keys are stable feature names.
    features = models.JSONField(default=dict, blank=True)
    # RFM.
    r_score = models.PositiveSmallIntegerField(null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(
        max_length=20, choices=RfmSegment.choices, default=RfmSegment.NO_PURCHASES
    )
    # Lifetime value (null when the tenant's fit is in the "not enough data" state).
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases_90 = models.FloatField(null=True, blank=True)
    expected_purchases_365 = models.FloatField(null=True, blank=True)
    expected_average_value = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    clv = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    value_tier = models.CharField(max_length=10, choices=ValueTier.choices, default=ValueTier.NONE)
    # Behaviour (null for customers left out of profiling under KVKK, or with no data).
    cluster = models.ForeignKey(
        BehaviourCluster,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        db_constraint=False,
    )
    profiling_excluded = models.BooleanField(default=False)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["run", "customer"], name="seg_score_run_customer_uniq")
        ]
        indexes: ClassVar = [
            models.Index(fields=["customer", "run"], name="seg_score_customer_run"),
            models.Index(fields=["run", "rfm_segment"], name="seg_score_run_rfm"),
            models.Index(fields=["run", "value_tier"], name="seg_score_run_tier"),
        ]


class NextBestOffer(TenantOwnedModel):
    """A product category a customer is likely to buy next, with the reason.

    Partitioned by run on PostgreSQL, as :class:`CustomerScore`."""

    # Derived rows written in bulk, as CustomerScore: no per-row foreign-key triggers,
    # composite indexes instead of single-column ones.
    run = models.ForeignKey(
        SegmentationRun,
        on_delete=models.CASCADE,
        related_name="offers",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    category = models.ForeignKey(
        ProductCategory, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    # Words are built at display time from these, so they follow the reader's language:
    # {"because_category_id": 3, "share": 0.38, "window_days": 60}.
    reason = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["rank"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["run", "customer", "rank"], name="seg_offer_run_customer_rank_uniq"
            )
        ]
        indexes: ClassVar = [
            models.Index(fields=["customer", "run"], name="seg_offer_customer_run")
        ]


# Saved segments live in their own module; imported here so Django sees the models.
from segmentation.segment_models import (  # noqa: E402
    MaterialiseSchedule,
    SavedSegment,
    SegmentMembership,
    SegmentSnapshot,
)

__all__ = [
    "BehaviourCluster",
    "CustomerScore",
    "MaterialiseSchedule",
    "NextBestOffer",
    "SavedSegment",
    "SegmentMembership",
    "SegmentSnapshot",
    "SegmentationRun",
]
