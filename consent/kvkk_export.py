"""The consent app's personal data, for the KVKK export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from consent.iys.models import IysAccount, IysBrand, IysPushBatch, IysPushItem
from consent.kvkk.export import declare_not_personal, register_section, values
from consent.kvkk.models import (
    DataSubjectRequest,
    DestructionRun,
    ErasureLog,
    PrivacyDecision,
    PrivacyText,
    RetentionRule,
)
from consent.models import (
    ConsentEvent,
    ConsentReach,
    ConsentReachBuild,
    ConsentReachDirty,
    ConsentSettings,
    ConsentState,
)
from crm.models import Tenant
from customers.models import Email, Phone


def _recipients(tenant: Tenant, ids: list[int]) -> set[str]:
    phones = Phone.objects.filter(tenant=tenant, customer_id__in=ids).values_list("e164", flat=True)
    emails = Email.objects.filter(tenant=tenant, customer_id__in=ids).values_list(
        "address", flat=True
    )
    return set(phones) | set(emails)


@register_section(
    "consents",
    _("Message permissions (İYS) and their history"),
    covers=[ConsentEvent, ConsentState],
)
def _consents(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    recipients = _recipients(tenant, ids)
    return values(
        ConsentEvent.objects.filter(tenant=tenant)
        .filter(Q(customer_id__in=ids) | Q(recipient__in=recipients))
        .order_by("consent_date", "id"),
        "recipient", "type", "recipient_type", "status", "source", "consent_date", "origin",
        "touchpoint", "branch__name", "document_ref", "sync_status", "created_at",
    )  # fmt: skip


@register_section("requests", _("Applications under KVKK"), covers=[DataSubjectRequest])
def _requests(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        DataSubjectRequest.objects.filter(tenant=tenant, customer_id__in=ids),
        "kind", "received_on", "due_on", "status", "details", "identity_method",
        "identity_checked_at", "resolution", "completed_at",
    )  # fmt: skip


@register_section(
    "privacy_notices",
    _("Information notices shown and explicit consents (açık rıza)"),
    covers=[PrivacyDecision],
)
def _privacy_decisions(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        PrivacyDecision.objects.filter(tenant=tenant, customer_id__in=ids).order_by(
            "recorded_at", "id"
        ),
        "text__kind", "text__purpose", "text__version", "text__title", "decision",
        "recorded_at", "touchpoint", "branch__name", "document_ref",
    )  # fmt: skip


declare_not_personal(PrivacyText, "the tenant's published notice and consent texts")
declare_not_personal(RetentionRule, "the tenant's retention settings")
declare_not_personal(DestructionRun, "counts of what a periodic destruction removed")
declare_not_personal(
    ErasureLog, "the proof that data was destroyed: a customer id and number, no personal data"
)
declare_not_personal(IysPushItem, "a link from a consent event (exported above) to an İYS batch")
for _model in (IysAccount, IysBrand, IysPushBatch, ConsentSettings):
    declare_not_personal(_model, "the tenant's own settings and İYS batches")
for _derived in (ConsentReach, ConsentReachDirty, ConsentReachBuild):
    declare_not_personal(
        _derived, "a cache of 'may I send?' derived from the consent states exported above"
    )
