"""İYS synchronisation state: per-tenant credentials, brands with their pull cursor,
and push batches.

Imported by consent/models.py so that Django registers these models in the
``consent`` app (one app, one migration history).

A push batch is written (state ``prepared``, with its items) and committed *before*
anything is sent, so that a worker that dies between İYS storing a batch and us
storing İYS's answer leaves a trace: the next run finds the ``prepared`` batch and
asks İYS what it holds before sending anything again (consent/iys/sync.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class IysAccount(TenantOwnedModel):
    """The tenant's İYS API user. The password is stored encrypted and never shown again."""

    iys_code = models.CharField(_("İYS code"), max_length=20)
    username = models.CharField(_("API user name"), max_length=200)
    # Fernet token (consent/iys/crypto.py); never rendered, never logged.
    password_encrypted = models.TextField(editable=False)
    password_set_at = models.DateTimeField(default=timezone.now, editable=False)
    password_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    is_active = models.BooleanField(_("synchronise with İYS"), default=True)
    # The last reason İYS could not be used (bad password, İYS down), for the sync page.
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("İYS account")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="iysaccount_one_per_tenant")]

    def __str__(self) -> str:
        return f"İYS {self.iys_code} ({self.username})"


class IysBrand(TenantOwnedModel):
    """One İYS brand of the tenant, with where the last change pull stopped."""

    account = models.ForeignKey(IysAccount, on_delete=models.CASCADE, related_name="brands")
    brand_code = models.CharField(_("İYS brand code"), max_length=20)
    name = models.CharField(_("brand name"), max_length=100, blank=True)
    # Consents recorded without a brand code go to the default brand.
    is_default = models.BooleanField(default=False)
    # İYS's opaque ``after`` cursor for citizens' changes (source=IYS).
    pull_cursor = models.CharField(max_length=500, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    # The newest daily change file compared with the ledger.
    reconciled_through = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("İYS brand")
        ordering = ["-is_default", "brand_code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "brand_code"], name="iysbrand_code_once")
        ]

    def __str__(self) -> str:
        return self.name or self.brand_code


class IysPushBatch(TenantOwnedModel):
    """Consents sent to İYS in one asynchronous request."""

    class State(models.TextChoices):
        # Written before sending. Still here on a later run = the outcome is unknown.
        PREPARED = "prepared", _("Prepared")
        # İYS answered with a request id; its per-consent results are outstanding.
        SUBMITTED = "submitted", _("Sent, waiting for İYS")
        COMPLETED = "completed", _("Completed")
        # The outcome was unknown; İYS was asked about each consent instead.
        RECOVERED = "recovered", _("Recovered after an interruption")
        # İYS refused the request before processing it (rate limit, credentials).
        NOT_SENT = "not_sent", _("Not sent")

    brand = models.ForeignKey(IysBrand, on_delete=models.CASCADE, related_name="batches")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PREPARED)
    request_id = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("İYS push batch")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "state"], name="iyspushbatch_state_idx")]

    def __str__(self) -> str:
        return f"İYS batch {self.pk} ({self.state}, {self.size})"


class IysPushItem(TenantOwnedModel):
    """One consent event in a batch; ``index`` is its position in the request body."""

    batch = models.ForeignKey(IysPushBatch, on_delete=models.CASCADE, related_name="items")
    event = models.ForeignKey("consent.ConsentEvent", on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "batch", "index"], name="iyspushitem_index_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.index}"
