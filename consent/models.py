"""The İYS consent ledger: append-only events, the state derived from them, settings.

``ConsentEvent`` is one row per consent change, shaped like an İYS record (recipient,
type, recipientType, status, source, consentDate) plus the proof of where it came
from and its İYS sync state. A change is a new row; only the sync-state fields may
ever be updated (``ConsentEvent.save`` refuses anything else, and on PostgreSQL a
trigger refuses it for raw SQL too).

``ConsentState`` is the current state per (tenant, recipient, type, recipientType),
written only by consent.services in the same transaction as the event that changes
it. "May I send?" reads it, one row per recipient, so bulk checks are one indexed
join instead of a walk through the history.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Branch
from crm.tenancy import TenantOwnedModel
from customers.models import Customer, Email, Phone, Touchpoint


class ConsentType(models.TextChoices):
    """İYS ``type``: the channel a commercial message uses."""

    MESAJ = "MESAJ", _("SMS / message")
    ARAMA = "ARAMA", _("Phone call")
    EPOSTA = "EPOSTA", _("E-mail")


PHONE_TYPES = frozenset({ConsentType.MESAJ, ConsentType.ARAMA})


class RecipientType(models.TextChoices):
    BIREYSEL = "BIREYSEL", _("Individual")
    TACIR = "TACIR", _("Trader / business")


class ConsentStatus(models.TextChoices):
    ONAY = "ONAY", _("Consent given")
    RET = "RET", _("Refused / withdrawn")


class ConsentSource(models.TextChoices):
    """The HS_… sources a business may send to İYS (offered in forms).

    The model field stays an open string: İYS sets its own sources (IYS_CM,
    IYS_KISAMESAJ, …) on records it pulls, and may add more.
    """

    HS_FIZIKSEL_ORTAM = "HS_FIZIKSEL_ORTAM", _("In person (physical)")
    HS_ISLAK_IMZA = "HS_ISLAK_IMZA", _("Signed paper form")
    HS_WEB = "HS_WEB", _("Web site")
    HS_CAGRI_MERKEZI = "HS_CAGRI_MERKEZI", _("Call centre")
    HS_SOSYAL_MEDYA = "HS_SOSYAL_MEDYA", _("Social media")
    HS_EPOSTA = "HS_EPOSTA", _("E-mail")
    HS_MESAJ = "HS_MESAJ", _("Text message")
    HS_MOBIL = "HS_MOBIL", _("Mobile app")
    HS_EORTAM = "HS_EORTAM", _("Other electronic channel")
    HS_ETKINLIK = "HS_ETKINLIK", _("Event")
    HS_ATM = "HS_ATM", _("ATM")
    HS_2015 = "HS_2015", _("Given before 1 May 2015")
    HS_KARAR = "HS_KARAR", _("Our own decision to stop (refusal only)")


class ConsentOrigin(models.TextChoices):
    """How the event reached us (İYS does not know this; the proof does)."""

    LOCAL = "local", _("Recorded by staff")
    IYS_PULL = "iys_pull", _("Pulled from İYS")
    OPT_OUT_LINK = "opt_out_link", _("Opt-out link")
    SMS_KEYWORD = "sms_keyword", _("SMS reply keyword")
    IMPORT = "import", _("Import")
    API = "api", _("API")


class SyncStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent to İYS")
    SENDING = "sending", _("Being sent to İYS")
    ACCEPTED = "accepted", _("Accepted by İYS")
    REJECTED = "rejected", _("Rejected by İYS")
    NOT_REQUIRED = "not_required", _("Nothing to send")


class ConsentEvent(TenantOwnedModel):
    """One consent change, append-only. Write through consent.services only."""

    # The only fields that may change after the row is written: İYS sync state.
    SYNC_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "sync_status",
            "iys_request_id",
            "iys_transaction_id",
            "iys_error_code",
            "iys_error_message",
            "sync_attempts",
            "synced_at",
        }
    )

    recipient = models.CharField(_("recipient"), max_length=265)
    type = models.CharField(_("channel"), max_length=10, choices=ConsentType.choices)
    recipient_type = models.CharField(
        _("recipient type"),
        max_length=10,
        choices=RecipientType.choices,
        default=RecipientType.BIREYSEL,
    )
    status = models.CharField(_("status"), max_length=4, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=40, blank=True)
    # Null only for a TACIR first record, where İYS makes the date optional.
    consent_date = models.DateTimeField(_("consent date"), null=True, blank=True)
    brand_code = models.CharField(_("İYS brand code"), max_length=20, blank=True)
    # Who it belongs to in the CRM (history only; the state is per recipient).
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consent_events",
        verbose_name=_("customer"),
    )
    phone = models.ForeignKey(
        Phone, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.ForeignKey(
        Email, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Proof: who recorded it, where, on what document, from which device.
    origin = models.CharField(
        _("origin"), max_length=20, choices=ConsentOrigin.choices, default=ConsentOrigin.LOCAL
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
    )
    touchpoint = models.CharField(
        _("touchpoint"), max_length=20, choices=Touchpoint.choices, blank=True
    )
    document_ref = models.CharField(_("form or document reference"), max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    # İYS sync state (the consent-iys helper's push/pull jobs update these).
    sync_status = models.CharField(
        _("İYS sync"), max_length=20, choices=SyncStatus.choices, default=SyncStatus.PENDING
    )
    iys_request_id = models.CharField(max_length=100, blank=True)
    iys_transaction_id = models.CharField(max_length=100, blank=True)
    iys_error_code = models.CharField(max_length=50, blank=True)
    iys_error_message = models.CharField(max_length=500, blank=True)
    sync_attempts = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["tenant", "recipient", "type", "recipient_type", "created_at"],
                name="consentevent_key_idx",
            ),
            models.Index(fields=["tenant", "customer", "created_at"], name="consentevent_cust_idx"),
            models.Index(
                fields=["tenant", "sync_status", "created_at"], name="consentevent_sync_idx"
            ),
            models.Index(fields=["tenant", "iys_transaction_id"], name="consentevent_iys_tx_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.type} {self.recipient_type} {self.status}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Append-only: an existing row may only have its İYS sync state updated.
        if not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or not set(update_fields) <= self.SYNC_FIELDS:
                raise LedgerIsAppendOnly(
                    "ConsentEvent is append-only: save(update_fields=[...sync fields])"
                )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise LedgerIsAppendOnly("ConsentEvent rows are not deleted one by one")

    @property
    def is_pending_sync(self) -> bool:
        return self.sync_status in (SyncStatus.PENDING, SyncStatus.SENDING)


class LedgerIsAppendOnly(RuntimeError):
    """Code tried to change a ledger row other than its İYS sync state."""


class ConsentState(TenantOwnedModel):
    """The current state of one (recipient, type, recipientType): derived, never edited.

    Maintained by consent.services in the transaction that appends (or rejects) the
    event it reflects. ``event`` is the event the state comes from.
    """

    recipient = models.CharField(max_length=265)
    type = models.CharField(max_length=10, choices=ConsentType.choices)
    recipient_type = models.CharField(max_length=10, choices=RecipientType.choices)
    status = models.CharField(max_length=4, choices=ConsentStatus.choices)
    source = models.CharField(max_length=40, blank=True)
    consent_date = models.DateTimeField(null=True, blank=True)
    event = models.ForeignKey(ConsentEvent, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "recipient", "type", "recipient_type"],
                name="consentstate_once_per_key",
            )
        ]
        indexes = [
            # Bulk "may I send?": join contact points on (tenant, type, recipient).
            models.Index(
                fields=["tenant", "type", "recipient", "status"], name="consentstate_lookup_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.type} {self.recipient_type}: {self.status}"


class TacirPolicy(models.TextChoices):
    RET_ONLY = "ret_only", _("Traders may be messaged unless they refused (check İYS for RET)")
    REQUIRE_ONAY = "require_onay", _("Treat traders like individuals (consent required)")


class ConsentSettings(TenantOwnedModel):
    """A tenant's consent settings (one row; defaults apply while it does not exist)."""

    tacir_policy = models.CharField(
        _("business recipients (TACIR)"),
        max_length=20,
        choices=TacirPolicy.choices,
        default=TacirPolicy.RET_ONLY,
    )
    profiling_needs_explicit_consent = models.BooleanField(
        _("profiling needs explicit consent"),
        default=False,
        help_text=_(
            "Leave customers out of behaviour segments and personal offers until they "
            "have given explicit consent (açık rıza) for profiling."
        ),
    )
    # SHA-256 of the secret the SMS provider sends with reply-keyword webhooks.
    sms_webhook_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("consent settings")
        verbose_name_plural = _("consent settings")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="consentsettings_one_per_tenant")
        ]


class _ReachRow(TenantOwnedModel):
    """Base of the reach tables: their tenant key has no database constraint. These
    rows follow the customer tables (triggers mark what changed) and must never block
    their deletion, whatever order a bulk delete takes: make_reference_tenant empties
    a tenant table by table, the triggers add marks meanwhile, then deletes the tenant,
    and a constraint would fail that at commit."""

    tenant = models.ForeignKey(
        "crm.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_constraint=False,
    )

    class Meta:
        abstract = True


class ConsentReach(_ReachRow):
    """A customer with at least one recipient that may get ``channel`` now.

    Derived from the ledger, never edited: consent.reach rebuilds it from the decision
    SQL of consent.services and keeps it exact through ConsentReachDirty (PostgreSQL
    only; SQLite decides directly). It lets a segment count "may get SMS" over a
    million customers without deciding every recipient again.
    """

    # No database foreign key to the customer either (see _ReachRow).
    channel = models.CharField(max_length=10, choices=ConsentType.choices)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel", "customer"], name="consentreach_once"
            )
        ]


class ConsentReachDirty(_ReachRow):
    """A customer whose reach must be decided again; ``customer`` null: all of them.

    Written by PostgreSQL triggers on consent states, phones, e-mails and customers
    (migration 0005), read and emptied by consent.reach before the reach is used.
    """

    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )


class ConsentReachBuild(_ReachRow):
    """The reach of ``channel`` was built in full under ``tacir_policy``.

    Without this row (or with another policy than the tenant's current one) the next
    read builds the channel's reach from scratch.
    """

    channel = models.CharField(max_length=10, choices=ConsentType.choices)
    tacir_policy = models.CharField(max_length=20, choices=TacirPolicy.choices)
    built_at = models.DateTimeField(default=timezone.now)
    customers = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel"], name="consentreachbuild_once")
        ]


# İYS synchronisation models live beside their services; importing them here
# registers them in this app.
from consent.iys.models import IysAccount, IysBrand, IysPushBatch, IysPushItem  # noqa: E402
from consent.kvkk.models import (  # noqa: E402
    DataSubjectRequest,
    DestructionRun,
    ErasureLog,
    PrivacyDecision,
    PrivacyText,
    RetentionRule,
)

__all__ = [
    "DataSubjectRequest",
    "DestructionRun",
    "ErasureLog",
    "IysAccount",
    "IysBrand",
    "IysPushBatch",
    "IysPushItem",
    "PrivacyDecision",
    "PrivacyText",
    "RetentionRule",
]
