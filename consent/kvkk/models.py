"""KVKK records: data-subject requests (Art. 11), objections to profiling and the
log of erasures (anonymisation), kept apart from the İYS ledger."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from customers.models import Customer

# KVKK Art. 13: the controller answers a request within thirty days.
RESPONSE_DAYS = 30
DUE_SOON_DAYS = 7


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access: what data is held")
    CORRECTION = "correction", _("Correction")
    ERASURE = "erasure", _("Erasure")
    OBJECTION = "objection", _("Objection to profiling / automated analysis")
    TRANSFERS = "transfers", _("Information about transfers")
    RESTRICTION = "restriction", _("Restriction of processing")
    DAMAGES = "damages", _("Compensation for unlawful processing")
    OTHER = "other", _("Other")


class RequestStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")


OPEN_STATUSES = (RequestStatus.OPEN, RequestStatus.IN_PROGRESS)


class IdentityCheck(models.TextChoices):
    IN_PERSON = "in_person", _("ID card seen in person")
    E_SIGNATURE = "e_signature", _("Secure e-signature / KEP")
    NOTARY = "notary", _("Notarised letter")
    REGISTERED_CONTACT = "registered_contact", _("From contact details we already hold")


class DataSubjectRequest(TenantOwnedModel):
    """One application of a data subject, with its 30-day deadline."""

    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requester_name = models.CharField(_("requester"), max_length=200)
    kind = models.CharField(_("request"), max_length=20, choices=RequestKind.choices)
    channel = models.CharField(_("received via"), max_length=100, blank=True)
    received_on = models.DateField(_("received on"), default=timezone.localdate)
    due_on = models.DateField(_("answer due"))
    status = models.CharField(
        _("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    details = models.TextField(_("what is asked"), blank=True)
    identity_method = models.CharField(
        _("identity check"), max_length=30, choices=IdentityCheck.choices, blank=True
    )
    identity_checked_at = models.DateTimeField(_("identity checked"), null=True, blank=True)
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(_("answer given"), blank=True)
    completed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["due_on", "id"]
        indexes: ClassVar = [models.Index(fields=["tenant", "status", "due_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.requester_name}"

    @staticmethod
    def due_for(received: date) -> date:
        return received + timedelta(days=RESPONSE_DAYS)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_on < timezone.localdate()

    @property
    def is_due_soon(self) -> bool:
        today = timezone.localdate()
        return self.is_open and today <= self.due_on <= today + timedelta(days=DUE_SOON_DAYS)


class ErasureLog(TenantOwnedModel):
    """A record that a customer's personal data was destroyed (kept ≥ 3 years).

    Names the customer by id and number only: the log must not bring back what the
    erasure destroyed.
    """

    customer_id_erased = models.BigIntegerField()
    customer_number = models.CharField(max_length=20)
    erased_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=300)
    # What was destroyed, as counts per kind ({"phones": 2, "interaction_notes": 5}).
    destroyed = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar = ["-erased_at"]
