"""Reads of the consent ledger for screens: the customer's consent panel and history."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from consent import services
from consent.models import PHONE_TYPES, ConsentEvent, ConsentState, ConsentType
from crm.models import Tenant
from customers.models import Customer, Email, Phone

HISTORY_LIMIT = 50


@dataclass
class RecipientConsent:
    """One phone or e-mail on one channel: its İYS states and the send decision."""

    recipient: str
    states: list[ConsentState]
    decision: services.Decision


@dataclass
class ChannelConsent:
    consent_type: str
    label: str
    recipients: list[RecipientConsent] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return any(r.decision.allowed for r in self.recipients)


@dataclass
class CustomerConsents:
    channels: list[ChannelConsent]
    history: list[ConsentEvent]
    recipients: dict[str, list[str]]  # consent type -> the customer's values for it


def customer_recipients(*, tenant: Tenant, customer: Customer) -> dict[str, list[str]]:
    phones = list(
        Phone.objects.filter(tenant=tenant, customer=customer)
        .order_by("-is_primary", "pk")
        .values_list("e164", flat=True)
    )
    emails = list(
        Email.objects.filter(tenant=tenant, customer=customer)
        .order_by("-is_primary", "pk")
        .values_list("address", flat=True)
    )
    return {
        ConsentType.MESAJ: phones,
        ConsentType.ARAMA: phones,
        ConsentType.EPOSTA: emails,
    }


def customer_consents(*, tenant: Tenant, customer: Customer) -> CustomerConsents:
    """The customer's consent per channel and recipient, and the latest history.

    A fixed number of queries whatever the history's length: contact points (2),
    states (1), decisions (one bulk query per channel: 3), history (1).
    """
    recipients = customer_recipients(tenant=tenant, customer=customer)
    values = set(recipients[ConsentType.MESAJ]) | set(recipients[ConsentType.EPOSTA])
    states: dict[tuple[str, str], list[ConsentState]] = {}
    for state in ConsentState.objects.filter(tenant=tenant, recipient__in=values).select_related(
        "event"
    ):
        states.setdefault((state.type, state.recipient), []).append(state)
    channels = []
    for consent_type, label in ConsentType.choices:
        decisions = {
            row.recipient: row.reason
            for row in services.may_send_bulk(
                tenant=tenant, channel_type=consent_type, customers=[customer.pk]
            )
        }
        channel = ChannelConsent(consent_type=consent_type, label=str(label))
        for value in recipients[consent_type]:
            reason = decisions.get(value, services.Reason.NO_CONSENT)
            channel.recipients.append(
                RecipientConsent(
                    recipient=value,
                    states=sorted(
                        states.get((consent_type, value), []), key=lambda s: s.recipient_type
                    ),
                    decision=services.Decision(reason in services.ALLOWED_REASONS, reason),
                )
            )
        channels.append(channel)
    return CustomerConsents(
        channels=channels,
        history=list(consent_history(tenant=tenant, customer=customer, values=values)),
        recipients=recipients,
    )


def consent_history(
    *, tenant: Tenant, customer: Customer, values: set[str] | None = None
) -> QuerySet[ConsentEvent]:
    """Events of the customer's phones and e-mails, and events recorded on the customer."""
    if values is None:
        found = customer_recipients(tenant=tenant, customer=customer)
        values = set(found[ConsentType.MESAJ]) | set(found[ConsentType.EPOSTA])
    return (
        ConsentEvent.objects.filter(tenant=tenant)
        .filter(Q(recipient__in=values) | Q(customer=customer))
        .select_related("recorded_by", "branch")
        .order_by("-created_at", "-pk")[:HISTORY_LIMIT]
    )


def recipient_kind(consent_type: str) -> str:
    return "phone" if consent_type in PHONE_TYPES else "email"
