"""KVKK records: data-subject requests (Art. 11), objections to profiling and the
log of erasures (anonymisation), kept apart from the İYS ledger."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

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
    # The last day a reminder about this request went out (the daily job sends one).
    reminded_on = models.DateField(null=True, blank=True, editable=False)
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


# --- Information notices and explicit consent (KVKK Art. 5 and 10) ---------------------


class PrivacyTextKind(models.TextChoices):
    NOTICE = "notice", _("Information notice (aydınlatma metni)")
    EXPLICIT_CONSENT = "explicit", _("Explicit consent text (açık rıza)")


class ProcessingPurpose(models.TextChoices):
    CUSTOMER_RELATIONSHIP = "customer_relationship", _("Customer relationship and sales")
    PROFILING = "profiling", _("Profiling for personalised offers")
    GROUP_SHARING = "group_sharing", _("Sharing with group companies")
    TRANSFER_ABROAD = "transfer_abroad", _("Transfer abroad")


# Purposes that rest on explicit consent; customer relationship rests on the
# contract and needs only the notice.
EXPLICIT_CONSENT_PURPOSES = (
    ProcessingPurpose.PROFILING,
    ProcessingPurpose.GROUP_SHARING,
    ProcessingPurpose.TRANSFER_ABROAD,
)


class PrivacyTextChanged(RuntimeError):
    """Code tried to edit a published text: publish a new version instead."""


class PrivacyText(TenantOwnedModel):
    """One published version of a notice or an explicit-consent text for a purpose.

    Published versions are never edited: what a person saw must stay readable as
    they saw it. A change is a new version; the highest version is the current one.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=PrivacyTextKind.choices)
    purpose = models.CharField(_("purpose"), max_length=30, choices=ProcessingPurpose.choices)
    version = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    published_at = models.DateTimeField(_("published"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["purpose", "kind", "-version"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "purpose", "version"], name="privacytext_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PrivacyTextChanged("A published privacy text is not edited")
        super().save(*args, **kwargs)


class PrivacyDecisionKind(models.TextChoices):
    SHOWN = "shown", _("Notice presented")
    ACCEPTED = "accepted", _("Explicit consent given")
    DECLINED = "declined", _("Explicit consent refused")
    WITHDRAWN = "withdrawn", _("Explicit consent withdrawn")


class PrivacyDecision(TenantOwnedModel):
    """That a person was shown a notice, or gave/refused/withdrew explicit consent,
    for one version of a text: when, where and on what evidence. Append-only; the
    latest decision per purpose is the person's current will."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    text = models.ForeignKey(PrivacyText, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(_("decision"), max_length=10, choices=PrivacyDecisionKind.choices)
    recorded_at = models.DateTimeField(_("when"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    branch = models.ForeignKey(
        "crm.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    touchpoint = models.CharField(_("where"), max_length=30, blank=True)
    document_ref = models.CharField(_("form or document reference"), max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering: ClassVar = ["-recorded_at", "-id"]
        indexes: ClassVar = [
            models.Index(
                fields=["tenant", "customer", "recorded_at"], name="privacydecision_cust_idx"
            )
        ]


# --- Retention and periodic destruction (Regulation on Deletion, Art. 11) ------------


class DataKind(models.TextChoices):
    DORMANT_CUSTOMERS = "dormant_customers", _("Customers with no relationship left")
    CONTACT_TEXTS = "contact_texts", _("Free text of contact notes and complaints")
    ACCESS_LOG = "access_log", _("Personal-data access log")
    CONSENT_EVIDENCE = "consent_evidence", _("Superseded consent records")
    CLOSED_REQUESTS = "closed_requests", _("Closed data-subject requests")
    IMPORT_FILES = "import_files", _("Uploaded import files")
    DESTRUCTION_LOGS = "destruction_logs", _("Erasure and destruction logs")


class RetentionRule(TenantOwnedModel):
    """How long the tenant keeps one kind of personal data (defaults apply while no
    row exists; consent.kvkk.retention holds defaults and legal minimums)."""

    data_kind = models.CharField(_("data"), max_length=30, choices=DataKind.choices)
    keep_months = models.PositiveIntegerField(_("keep for (months)"))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant", "data_kind"], name="retentionrule_unique")
        ]


class DestructionRun(TenantOwnedModel):
    """One periodic destruction: what was destroyed, under which rules (kept ≥ 3 years)."""

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled (monthly)")
        MANUAL = "manual", _("Started by hand")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # {data kind: months kept} as applied, and {data kind: rows destroyed}.
    rules = models.JSONField(default=dict)
    destroyed = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["-started_at", "-id"]

    @property
    def destroyed_items(self) -> list[tuple[str, int]]:
        return [
            (str(DataKind(kind).label), count)
            for kind, count in self.destroyed.items()
            if count and kind in DataKind.values
        ]
