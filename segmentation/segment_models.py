"""Saved segments: a rule with an owner, materialised into dated snapshots.

A ``SavedSegment`` keeps the rule tree (see :mod:`segmentation.rules`); every
materialisation writes one ``SegmentSnapshot`` and its ``SegmentMembership`` rows in
bulk (INSERT … SELECT), so who entered or left a segment between two dates is a query.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from customers.models import Customer


class MaterialiseSchedule(models.TextChoices):
    NONE = "none", _("Only after segmentation runs")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


class SavedSegment(TenantOwnedModel):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(_("rule"), default=dict)
    # The person who approves campaigns to this segment (a member of the tenant).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    schedule = models.CharField(
        _("materialise"),
        max_length=10,
        choices=MaterialiseSchedule.choices,
        default=MaterialiseSchedule.NONE,
    )
    last_materialised_at = models.DateTimeField(_("last materialised"), null=True, blank=True)
    last_size = models.PositiveIntegerField(_("customers"), null=True, blank=True)
    last_value = models.DecimalField(
        _("value"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    is_archived = models.BooleanField(_("archived"), default=False)

    class Meta:
        ordering: ClassVar = ["name", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant", "name"], name="seg_saved_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class SegmentSnapshot(TenantOwnedModel):
    segment = models.ForeignKey(SavedSegment, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(_("taken"), default=timezone.now)
    run = models.ForeignKey(
        "segmentation.SegmentationRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    size = models.PositiveIntegerField(_("customers"), default=0)
    total_clv = models.DecimalField(_("total value"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        ordering: ClassVar = ["-taken_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["segment", "-taken_at"], name="seg_snapshot_segment_taken")
        ]


class SegmentMembership(TenantOwnedModel):
    snapshot = models.ForeignKey(
        SegmentSnapshot, on_delete=models.CASCADE, related_name="memberships"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["snapshot", "customer"], name="seg_membership_snapshot_customer_uniq"
            )
        ]
