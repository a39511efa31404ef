"""seed_demo step: realistic consents for the demo customers.

Per phone (MESAJ, ARAMA) and e-mail (EPOSTA): most customers agreed to something,
some never answered, some withdrew later; sources vary with where they were
collected, a few of the newest changes are still waiting for İYS. Rebuilt on every
run from its own random stream, so the result is the same whatever ran before.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.models import (
    ConsentEvent,
    ConsentOrigin,
    ConsentSource,
    ConsentState,
    ConsentStatus,
    ConsentType,
    RecipientType,
    SyncStatus,
)
from crm.demo import DemoOptions, DemoReport, register_seeder
from crm.models import Branch, Tenant
from customers.models import Customer, Email, Phone, Touchpoint

# (probability, sources): where consents were collected, weighted.
SOURCES = [
    ConsentSource.HS_FIZIKSEL_ORTAM,
    ConsentSource.HS_FIZIKSEL_ORTAM,
    ConsentSource.HS_ISLAK_IMZA,
    ConsentSource.HS_WEB,
    ConsentSource.HS_WEB,
    ConsentSource.HS_CAGRI_MERKEZI,
    ConsentSource.HS_MOBIL,
    ConsentSource.HS_ETKINLIK,
]
# Share of recipients per channel: ONAY only, ONAY then RET; the rest have nothing.
MIX: dict[str, tuple[float, float]] = {
    ConsentType.MESAJ: (0.55, 0.12),
    ConsentType.ARAMA: (0.30, 0.08),
    ConsentType.EPOSTA: (0.50, 0.10),
}
PENDING_SHARE = 0.06
IYS_SMS = "IYS_KISAMESAJ"  # a citizen's "RET" to 3338, pulled from İYS


@register_seeder
@transaction.atomic
def seed_consents(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    rng = random.Random(options.seed * 7919 + 4)  # noqa: S311 (demo data)
    ConsentState.objects.filter(tenant=tenant).delete()
    ConsentEvent.objects.filter(tenant=tenant).delete()
    branches = list(Branch.objects.filter(tenant=tenant).order_by("code"))
    now = timezone.now()
    events: list[ConsentEvent] = []
    points: list[tuple[str, str, int, int | None, int | None]] = []
    company_ids = set(
        Customer.objects.filter(tenant=tenant, kind=Customer.Kind.COMPANY).values_list(
            "pk", flat=True
        )
    )
    seen: set[tuple[str, str]] = set()
    for phone in Phone.objects.filter(tenant=tenant, customer__merged_into=None).order_by("pk"):
        for phone_channel in (ConsentType.MESAJ, ConsentType.ARAMA):
            points.append((phone_channel, phone.e164, phone.customer_id, phone.pk, None))
    for email in Email.objects.filter(tenant=tenant, customer__merged_into=None).order_by("pk"):
        points.append((ConsentType.EPOSTA, email.address, email.customer_id, None, email.pk))
    for channel, recipient, customer_id, phone_id, email_id in points:
        if (channel, recipient) in seen:
            continue  # a shared family number gets one history
        seen.add((channel, recipient))
        onay_only, then_ret = MIX[channel]
        roll = rng.random()
        if roll >= onay_only + then_ret:
            continue
        recipient_type = (
            RecipientType.TACIR if customer_id in company_ids else RecipientType.BIREYSEL
        )
        source: str = rng.choice(SOURCES)
        branch = rng.choice(branches) if branches and source != ConsentSource.HS_WEB else None
        given = now - dt.timedelta(days=rng.randint(20, 900), minutes=rng.randint(0, 600))
        history: list[tuple[str, dt.datetime, str]] = [(ConsentStatus.ONAY, given, source)]
        if roll >= onay_only:
            withdrawn = given + dt.timedelta(days=rng.randint(1, 19))
            history.append(
                (
                    ConsentStatus.RET,
                    withdrawn,
                    rng.choice([ConsentSource.HS_MESAJ, "IYS_KISAMESAJ"]),
                )
            )
        pending_last = rng.random() < PENDING_SHARE
        for index, (status, at, src) in enumerate(history):
            from_iys = src.startswith("IYS_")
            last = index == len(history) - 1
            if last and pending_last and not from_iys:
                at = now - dt.timedelta(hours=rng.randint(1, 30))
                sync = SyncStatus.PENDING
            else:
                sync = SyncStatus.NOT_REQUIRED if from_iys else SyncStatus.ACCEPTED
            events.append(
                ConsentEvent(
                    tenant=tenant,
                    recipient=recipient,
                    type=channel,
                    recipient_type=recipient_type,
                    status=status,
                    source=src,
                    consent_date=at,
                    brand_code=tenant.iys_brand_code,
                    customer_id=customer_id,
                    phone_id=phone_id,
                    email_id=email_id,
                    origin=ConsentOrigin.IYS_PULL if from_iys else ConsentOrigin.LOCAL,
                    branch=branch if not from_iys else None,
                    touchpoint=Touchpoint.BRANCH_VISIT if branch and not from_iys else "",
                    document_ref=f"RZ-{rng.randint(10000, 99999)}"
                    if src == ConsentSource.HS_ISLAK_IMZA
                    else "",
                    sync_status=sync,
                    iys_transaction_id=f"demo-{len(events) + 1}"
                    if sync != SyncStatus.PENDING
                    else "",
                    synced_at=None if sync == SyncStatus.PENDING else at,
                    created_at=at,
                )
            )
    ConsentEvent.objects.bulk_create(events, batch_size=2000)
    latest: dict[tuple[str, str, str], ConsentEvent] = {}
    for event in events:
        latest[(event.recipient, event.type, event.recipient_type)] = event
    ConsentState.objects.bulk_create(
        [
            ConsentState(
                tenant=tenant,
                recipient=event.recipient,
                type=event.type,
                recipient_type=event.recipient_type,
                status=event.status,
                source=event.source,
                consent_date=event.consent_date,
                event=event,
                updated_at=now,
            )
            for event in latest.values()
        ],
        batch_size=2000,
    )
    pending = sum(1 for e in events if e.sync_status == SyncStatus.PENDING)
    refused = sum(1 for e in latest.values() if e.status == ConsentStatus.RET)
    report.lines.append(
        f"{len(events)} consent events for {len(latest)} recipient/channel pairs "
        f"({refused} withdrawn, {pending} waiting for İYS)"
    )


# Demo texts a KOBİ might publish (Turkish content, not UI strings).
DEMO_TEXTS = Path(__file__).with_name("demo_texts")


@register_seeder
@transaction.atomic
def seed_privacy(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    """Published notices and explicit-consent texts, what customers saw and decided,
    a few KVKK requests; profiling needs explicit consent in the demo company."""
    from consent.kvkk.models import (
        DataSubjectRequest,
        IdentityCheck,
        PrivacyDecision,
        PrivacyDecisionKind,
        PrivacyText,
        PrivacyTextKind,
        ProcessingPurpose,
        RequestKind,
        RequestStatus,
    )
    from consent.models import ConsentSettings

    rng = random.Random(options.seed * 7919 + 5)  # noqa: S311 (demo data)
    DataSubjectRequest.objects.filter(tenant=tenant).delete()
    PrivacyDecision.objects.filter(tenant=tenant).delete()
    PrivacyText.objects.filter(tenant=tenant).delete()
    now = timezone.now()
    published = now - dt.timedelta(days=800)

    def text(kind: str, purpose: str, version: int, title: str, body: str, at: dt.datetime) -> Any:
        return PrivacyText.objects.create(
            tenant=tenant, kind=kind, purpose=purpose, version=version, title=title,
            body=body.format(tenant=tenant.name), published_at=at,
        )  # fmt: skip

    notice_v1 = text(
        PrivacyTextKind.NOTICE, ProcessingPurpose.CUSTOMER_RELATIONSHIP, 1,
        "Müşteri aydınlatma metni", _demo_text("notice.txt").split("\nAktarım")[0], published,
    )  # fmt: skip
    revised = now - dt.timedelta(days=120)
    notice_v2 = text(
        PrivacyTextKind.NOTICE, ProcessingPurpose.CUSTOMER_RELATIONSHIP, 2,
        "Müşteri aydınlatma metni", _demo_text("notice.txt"), revised,
    )  # fmt: skip
    profiling = text(
        PrivacyTextKind.EXPLICIT_CONSENT, ProcessingPurpose.PROFILING, 1,
        "Kişiselleştirilmiş teklifler için açık rıza", _demo_text("profiling.txt"), published,
    )  # fmt: skip
    group = text(
        PrivacyTextKind.EXPLICIT_CONSENT, ProcessingPurpose.GROUP_SHARING, 1,
        "Grup şirketleriyle paylaşım için açık rıza", _demo_text("group_sharing.txt"), published,
    )  # fmt: skip
    branches = list(Branch.objects.filter(tenant=tenant).order_by("code"))
    decisions: list[PrivacyDecision] = []
    customers = Customer.objects.filter(
        tenant=tenant, merged_into__isnull=True, anonymised_at__isnull=True
    ).values_list("pk", "created_at")
    for customer_id, created in customers.order_by("pk").iterator():
        if rng.random() > 0.85:
            continue  # never shown anything: old records from before the notice
        at = max(created, published) + dt.timedelta(hours=rng.randint(0, 2000))
        at = min(at, now - dt.timedelta(hours=1))
        branch = rng.choice(branches) if branches else None
        proof = {"tenant": tenant, "customer_id": customer_id, "branch": branch,
                 "touchpoint": Touchpoint.BRANCH_VISIT}  # fmt: skip
        seen = notice_v2 if at >= revised else notice_v1
        decisions.append(PrivacyDecision(text=seen, decision=PrivacyDecisionKind.SHOWN,
                                         recorded_at=at, **proof))  # fmt: skip
        roll = rng.random()
        if roll < 0.68:
            decisions.append(PrivacyDecision(
                text=profiling, decision=PrivacyDecisionKind.ACCEPTED, recorded_at=at,
                document_ref=f"RZ-{customer_id:07d}", **proof,
            ))  # fmt: skip
            if rng.random() < 0.04:
                decisions.append(PrivacyDecision(
                    text=profiling, decision=PrivacyDecisionKind.WITHDRAWN,
                    recorded_at=min(at + dt.timedelta(days=rng.randint(5, 200)), now), **proof,
                ))  # fmt: skip
        elif roll < 0.80:
            decisions.append(PrivacyDecision(
                text=profiling, decision=PrivacyDecisionKind.DECLINED, recorded_at=at, **proof
            ))  # fmt: skip
        if rng.random() < 0.3:
            decisions.append(PrivacyDecision(
                text=group, decision=PrivacyDecisionKind.ACCEPTED, recorded_at=at, **proof
            ))  # fmt: skip
    PrivacyDecision.objects.bulk_create(decisions, batch_size=2000)
    ConsentSettings.objects.update_or_create(
        tenant=tenant, defaults={"profiling_needs_explicit_consent": True}
    )
    # A handful of KVKK applications in various states.
    people = list(
        Customer.objects.filter(tenant=tenant, merged_into__isnull=True, kind="person")
        .exclude(first_name="")
        .order_by("pk")[:40]
    )
    today = timezone.localdate()
    plan = [
        (RequestKind.ACCESS, 24, RequestStatus.OPEN, "",
         "Hangi verilerimin tutulduğunu öğrenmek istiyorum."),
        (RequestKind.CORRECTION, 9, RequestStatus.IN_PROGRESS, IdentityCheck.IN_PERSON,
         "Adresim değişti, kayıtların düzeltilmesini istiyorum."),
        (RequestKind.OBJECTION, 70, RequestStatus.COMPLETED, IdentityCheck.E_SIGNATURE,
         "Alışverişlerimin analiz edilmesine itiraz ediyorum."),
        (RequestKind.ACCESS, 120, RequestStatus.COMPLETED, IdentityCheck.REGISTERED_CONTACT,
         "Verilerimin bir kopyasını istiyorum."),
    ]  # fmt: skip
    for (kind, days_ago, status, identity, details), person in zip(
        plan, rng.sample(people, min(len(plan), len(people))), strict=False
    ):
        received = today - dt.timedelta(days=days_ago)
        closed = status == RequestStatus.COMPLETED
        DataSubjectRequest.objects.create(
            tenant=tenant, customer=person, requester_name=person.display_name, kind=kind,
            channel="Şube, yazılı dilekçe", received_on=received,
            due_on=DataSubjectRequest.due_for(received), status=status, details=details,
            identity_method=identity,
            identity_checked_at=now - dt.timedelta(days=days_ago - 1) if identity else None,
            resolution="Başvuru sahibine yazılı yanıt verildi." if closed else "",
            completed_at=now - dt.timedelta(days=max(days_ago - 20, 1)) if closed else None,
        )  # fmt: skip
    accepted = sum(1 for d in decisions if d.decision == PrivacyDecisionKind.ACCEPTED)
    report.lines.append(
        f"KVKK: 4 texts published, {len(decisions)} notice/consent records "
        f"({accepted} explicit consents), {min(len(plan), len(people))} data-subject requests"
    )


def _demo_text(name: str) -> str:
    return (DEMO_TEXTS / name).read_text(encoding="utf-8").strip()
