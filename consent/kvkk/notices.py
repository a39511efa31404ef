"""Information notices (aydınlatma metni) and explicit consent (açık rıza).

Texts are versioned per processing purpose and never edited once published. Each
time a person is shown a notice, or gives, refuses or withdraws explicit consent,
a PrivacyDecision records which version, where, when and on what evidence. The
notice and each explicit consent are separate actions (KVKK: they must not be
bundled), and explicit consent is only recorded once the person has been shown
the information notice, since consent must be informed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.kvkk.models import (
    EXPLICIT_CONSENT_PURPOSES,
    PrivacyDecision,
    PrivacyDecisionKind,
    PrivacyText,
    PrivacyTextKind,
    ProcessingPurpose,
)
from crm.models import Branch, Tenant, User
from crm.tenancy import ensure_same_tenant
from customers.models import Customer

# What may be recorded against each kind of text.
DECISIONS_FOR_KIND = {
    PrivacyTextKind.NOTICE: {PrivacyDecisionKind.SHOWN},
    PrivacyTextKind.EXPLICIT_CONSENT: {
        PrivacyDecisionKind.ACCEPTED,
        PrivacyDecisionKind.DECLINED,
        PrivacyDecisionKind.WITHDRAWN,
    },
}


@transaction.atomic
def privacy_text_publish(
    *, tenant: Tenant, actor: User | None, kind: str, purpose: str, title: str, body: str
) -> PrivacyText:
    """Publish a new version (1 for the first) of the text for ``kind`` and ``purpose``."""
    errors: dict[str, list[str]] = {}
    if kind not in PrivacyTextKind.values:
        errors["kind"] = [_("Choose a notice or an explicit-consent text.")]
    if purpose not in ProcessingPurpose.values:
        errors["purpose"] = [_("Choose the processing purpose.")]
    elif kind == PrivacyTextKind.EXPLICIT_CONSENT and purpose not in EXPLICIT_CONSENT_PURPOSES:
        errors["purpose"] = [
            _(
                "Customer relationship and sales rests on the contract: it needs an "
                "information notice, not explicit consent."
            )
        ]
    if not title.strip():
        errors["title"] = [_("Give the text a title.")]
    if not body.strip():
        errors["body"] = [_("Write the text people will read.")]
    if errors:
        raise ValidationError(errors)
    # Serialise publishers of the same text so two cannot take the same version.
    list(PrivacyText.objects.select_for_update().filter(tenant=tenant, kind=kind, purpose=purpose))
    latest = PrivacyText.objects.filter(tenant=tenant, kind=kind, purpose=purpose).aggregate(
        v=Max("version")
    )["v"]
    return PrivacyText.objects.create(
        tenant=tenant,
        kind=kind,
        purpose=purpose,
        version=(latest or 0) + 1,
        title=title.strip(),
        body=body.strip(),
        published_by=actor,
    )


@dataclass(frozen=True)
class DecisionProof:
    recorded_by: User | None = None
    branch: Branch | None = None
    touchpoint: str = ""
    document_ref: str = ""
    ip_address: str | None = None
    user_agent: str = ""


@transaction.atomic
def privacy_decision_record(
    *,
    tenant: Tenant,
    customer: Customer,
    text: PrivacyText,
    decision: str,
    proof: DecisionProof,
) -> PrivacyDecision:
    """Record that ``customer`` was shown ``text`` or decided on it (see module doc)."""
    ensure_same_tenant(tenant, customer, text, proof.branch)
    if Customer.objects.filter(tenant=tenant, pk=customer.pk, anonymised_at__isnull=False).exists():
        raise ValidationError(_("This customer's data was erased; nothing more is recorded."))
    if decision not in DECISIONS_FOR_KIND[PrivacyTextKind(text.kind)]:
        raise ValidationError(
            _(
                "An information notice is presented; explicit consent is given, "
                "refused or withdrawn."
            )
        )
    if PrivacyText.objects.filter(
        tenant=tenant, kind=text.kind, purpose=text.purpose, version__gt=text.version
    ).exists():
        raise ValidationError(
            _("A newer version of this text has been published: present that one.")
        )
    if text.kind == PrivacyTextKind.EXPLICIT_CONSENT:
        if not _notice_shown(tenant, customer):
            raise ValidationError(
                _(
                    "Present the information notice first: explicit consent counts only "
                    "when the person has been informed."
                )
            )
        current = latest_explicit_decisions(tenant=tenant, customer=customer).get(text.purpose)
        if decision == PrivacyDecisionKind.WITHDRAWN and (
            current is None or current.decision != PrivacyDecisionKind.ACCEPTED
        ):
            raise ValidationError(_("There is no explicit consent to withdraw."))
    return PrivacyDecision.objects.create(
        tenant=tenant,
        customer=customer,
        text=text,
        decision=decision,
        recorded_at=timezone.now(),
        recorded_by=proof.recorded_by,
        branch=proof.branch,
        touchpoint=proof.touchpoint[:30],
        document_ref=proof.document_ref.strip()[:100],
        ip_address=proof.ip_address or None,
        user_agent=proof.user_agent[:300],
    )


def _notice_shown(tenant: Tenant, customer: Customer) -> bool:
    return PrivacyDecision.objects.filter(
        tenant=tenant,
        customer=customer,
        text__kind=PrivacyTextKind.NOTICE,
        decision=PrivacyDecisionKind.SHOWN,
    ).exists()


# --- Reads -------------------------------------------------------------------------------


def current_texts(*, tenant: Tenant) -> dict[tuple[str, str], PrivacyText]:
    """{(kind, purpose): the highest published version}."""
    texts: dict[tuple[str, str], PrivacyText] = {}
    for text in PrivacyText.objects.filter(tenant=tenant).order_by("kind", "purpose", "version"):
        texts[(text.kind, text.purpose)] = text
    return texts


def privacy_texts(*, tenant: Tenant) -> QuerySet[PrivacyText]:
    return PrivacyText.objects.filter(tenant=tenant).select_related("published_by")


def latest_explicit_decisions(*, tenant: Tenant, customer: Customer) -> dict[str, PrivacyDecision]:
    """{purpose: the person's latest explicit-consent decision}."""
    latest: dict[str, PrivacyDecision] = {}
    for decision in (
        PrivacyDecision.objects.filter(
            tenant=tenant, customer=customer, text__kind=PrivacyTextKind.EXPLICIT_CONSENT
        )
        .select_related("text")
        .order_by("recorded_at", "pk")
    ):
        latest[decision.text.purpose] = decision
    return latest


@dataclass
class PurposeStatus:
    purpose: str
    label: str
    notice: PrivacyText | None
    explicit: PrivacyText | None
    last_shown: PrivacyDecision | None
    decision: PrivacyDecision | None

    @property
    def notice_outdated(self) -> bool:
        """Shown an older version than the current one (present the new one)."""
        return (
            self.notice is not None
            and self.last_shown is not None
            and self.last_shown.text_id != self.notice.pk
        )

    @property
    def consented(self) -> bool:
        return self.decision is not None and self.decision.decision == PrivacyDecisionKind.ACCEPTED


def customer_privacy_status(*, tenant: Tenant, customer: Customer) -> list[PurposeStatus]:
    """Per purpose with a published text: the current texts, what the person was last
    shown and their current explicit-consent decision (three queries)."""
    texts = current_texts(tenant=tenant)
    decisions = list(
        PrivacyDecision.objects.filter(tenant=tenant, customer=customer)
        .select_related("text", "recorded_by", "branch")
        .order_by("recorded_at", "pk")
    )
    shown: dict[str, PrivacyDecision] = {}
    explicit: dict[str, PrivacyDecision] = {}
    for decision in decisions:
        target = shown if decision.text.kind == PrivacyTextKind.NOTICE else explicit
        target[decision.text.purpose] = decision
    rows = []
    for purpose in ProcessingPurpose:
        notice = texts.get((PrivacyTextKind.NOTICE, purpose))
        consent_text = texts.get((PrivacyTextKind.EXPLICIT_CONSENT, purpose))
        if notice is None and consent_text is None and purpose not in explicit:
            continue
        rows.append(
            PurposeStatus(
                purpose=purpose,
                label=str(purpose.label),
                notice=notice,
                explicit=consent_text,
                last_shown=shown.get(purpose),
                decision=explicit.get(purpose),
            )
        )
    return rows


def customer_privacy_history(*, tenant: Tenant, customer: Customer) -> QuerySet[PrivacyDecision]:
    return (
        PrivacyDecision.objects.filter(tenant=tenant, customer=customer)
        .select_related("text", "recorded_by", "branch")
        .order_by("-recorded_at", "-pk")
    )


def customers_with_explicit_consent(*, tenant: Tenant, purpose: str) -> QuerySet[Any]:
    """Customer ids whose latest explicit-consent decision for ``purpose`` is "given".

    One SQL query, usable as a subquery; its cost follows the number of decisions,
    not the number of customers.
    """
    for_purpose = PrivacyDecision.objects.filter(
        tenant=tenant, text__kind=PrivacyTextKind.EXPLICIT_CONSENT, text__purpose=purpose
    )
    superseded = for_purpose.filter(customer_id=OuterRef("customer_id")).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    return (
        for_purpose.filter(decision=PrivacyDecisionKind.ACCEPTED)
        .exclude(Exists(superseded))
        .values("customer_id")
    )
