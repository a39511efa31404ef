"""KVKK writes: data-subject requests and erasure by anonymisation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.kvkk.models import (
    DataSubjectRequest,
    ErasureLog,
    IdentityCheck,
    PrivacyDecision,
    RequestKind,
    RequestStatus,
)
from consent.models import ConsentEvent
from crm.models import Tenant, User
from crm.tenancy import ensure_same_tenant
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    CustomerNameWord,
    DuplicatePair,
    Email,
    Interaction,
    MergeLog,
    Phone,
    RiskFlag,
)
from customers.selectors import customer_ids_with_merged


@transaction.atomic
def dsr_create(
    *,
    tenant: Tenant,
    actor: User | None,
    requester_name: str,
    kind: str,
    customer: Customer | None = None,
    channel: str = "",
    details: str = "",
    received_on: Any = None,
) -> DataSubjectRequest:
    """Register an application; the answer is due 30 days after it was received."""
    ensure_same_tenant(tenant, customer)
    if kind not in RequestKind.values:
        raise ValidationError({"kind": [_("Choose what the person asks for.")]})
    if not requester_name.strip():
        if customer is None:
            raise ValidationError({"requester_name": [_("Enter who made the request.")]})
        requester_name = customer.display_name
    received = received_on or timezone.localdate()
    if received > timezone.localdate():
        raise ValidationError({"received_on": [_("The request cannot be received in the future.")]})
    return DataSubjectRequest.objects.create(
        tenant=tenant,
        customer=customer,
        requester_name=requester_name.strip(),
        kind=kind,
        channel=channel.strip(),
        details=details.strip(),
        received_on=received,
        due_on=DataSubjectRequest.due_for(received),
        owner=actor,
        created_by=actor,
    )


@transaction.atomic
def dsr_identity_checked(
    *, tenant: Tenant, actor: User, request: DataSubjectRequest, method: str
) -> DataSubjectRequest:
    """Note how the requester's identity was confirmed (before anything is disclosed)."""
    ensure_same_tenant(tenant, request)
    if method not in IdentityCheck.values:
        raise ValidationError({"identity_method": [_("Choose how the identity was checked.")]})
    request.identity_method = method
    request.identity_checked_at = timezone.now()
    request.identity_checked_by = actor
    if request.status == RequestStatus.OPEN:
        request.status = RequestStatus.IN_PROGRESS
    request.save()
    return request


@transaction.atomic
def dsr_close(
    *, tenant: Tenant, actor: User, request: DataSubjectRequest, status: str, resolution: str
) -> DataSubjectRequest:
    """Close the request as completed or rejected, with the answer given."""
    ensure_same_tenant(tenant, request)
    if status not in (RequestStatus.COMPLETED, RequestStatus.REJECTED):
        raise ValidationError({"status": [_("Choose completed or rejected.")]})
    if not resolution.strip():
        raise ValidationError({"resolution": [_("Write the answer given to the person.")]})
    if status == RequestStatus.COMPLETED and not request.identity_checked_at:
        raise ValidationError(
            {"status": [_("Check the requester's identity before completing the request.")]}
        )
    request.status = status
    request.resolution = resolution.strip()
    request.completed_at = timezone.now()
    request.save()
    return request


@transaction.atomic
def customer_anonymise(
    *,
    tenant: Tenant,
    actor: User | None,
    customer: Customer,
    reason: str,
    request: DataSubjectRequest | None = None,
) -> ErasureLog:
    """Destroy the customer's personal data irreversibly; keep what counts.

    Names, identity numbers, birth date and gender are blanked; phones, e-mails,
    addresses, company contacts, duplicate pairs and merge snapshots are deleted;
    free text in interactions, complaints and risk flags is blanked. Purchases,
    interaction and complaint rows stay (without their text), so branch figures do not
    change. Consent events stay as the minimal evidence the law asks to keep
    (recipient, channel, status, date, source) with their proof details blanked and
    no link to the customer. Records merged into the customer are anonymised too.
    """
    ensure_same_tenant(tenant, customer, request)
    if not reason.strip():
        raise ValidationError({"reason": [_("Write why the data is destroyed.")]})
    ids = customer_ids_with_merged(tenant=tenant, customer_ids=[customer.pk])
    destroyed: dict[str, int] = {}

    def count(name: str, value: int) -> None:
        if value:
            destroyed[name] = destroyed.get(name, 0) + value

    count("phones", Phone.objects.filter(tenant=tenant, customer_id__in=ids).delete()[0])
    count("emails", Email.objects.filter(tenant=tenant, customer_id__in=ids).delete()[0])
    count("addresses", Address.objects.filter(tenant=tenant, customer_id__in=ids).delete()[0])
    count(
        "contact_people",
        ContactPerson.objects.filter(tenant=tenant, company_id__in=ids).delete()[0],
    )
    count(
        "duplicate_pairs",
        DuplicatePair.objects.filter(tenant=tenant, left_id__in=ids).delete()[0]
        + DuplicatePair.objects.filter(tenant=tenant, right_id__in=ids).delete()[0],
    )
    count(
        "merge_snapshots",
        MergeLog.objects.filter(tenant=tenant, kept_id__in=ids).delete()[0]
        + MergeLog.objects.filter(tenant=tenant, dropped_id__in=ids).delete()[0],
    )
    count(
        "interaction_texts",
        Interaction.objects.filter(tenant=tenant, customer_id__in=ids).update(
            subject=_("(erased)"), notes="", next_step=""
        ),
    )
    count(
        "complaint_texts",
        Complaint.objects.filter(tenant=tenant, customer_id__in=ids).update(
            subject=_("(erased)"), description="", resolution=""
        ),
    )
    count(
        "risk_flag_notes",
        RiskFlag.objects.filter(tenant=tenant, customer_id__in=ids).update(note=""),
    )
    # The ledger is append-only for what İYS holds; proof details and the link to the
    # customer are not part of that and may go.
    count(
        "consent_links",
        ConsentEvent.objects.filter(tenant=tenant, customer_id__in=ids).update(
            customer=None, user_agent="", ip_address=None, note="", document_ref=""
        ),
    )
    count(
        "privacy_decision_details",
        PrivacyDecision.objects.filter(tenant=tenant, customer_id__in=ids).update(
            ip_address=None, user_agent="", document_ref=""
        ),
    )
    from segmentation.services import segmentation_forget_customers

    count("segmentation_rows", segmentation_forget_customers(tenant=tenant, customer_ids=ids))
    count(
        "customer_records",
        Customer.objects.filter(tenant=tenant, pk__in=ids).update(
            first_name="",
            last_name="",
            trade_name="",
            tckn="",
            tax_id="",
            tax_office="",
            birth_date=None,
            gender="",
            name_key="",
            anonymised_at=timezone.now(),
            updated_at=timezone.now(),
        ),
    )
    # The name-word index is kept by triggers on insert and on name changes; make sure.
    CustomerNameWord.objects.filter(tenant=tenant, customer_id__in=ids).delete()
    if request is not None and request.kind == RequestKind.ERASURE:
        request.status = RequestStatus.IN_PROGRESS if not request.completed_at else request.status
        request.save(update_fields=["status"])
    return ErasureLog.objects.create(
        tenant=tenant,
        customer_id_erased=customer.pk,
        customer_number=customer.customer_number,
        actor=actor,
        request=request,
        reason=reason.strip()[:300],
        destroyed=destroyed,
    )


def dsr_reminders_send(*, tenant: Tenant, base_url: str = "") -> int:
    """E-mail a daily reminder of the open requests due within a week or overdue.

    Each request's owner hears about it; requests without an owner go to every
    member who handles privacy. A request is reminded at most once a day, so the
    job may run twice without sending twice. Returns the number of e-mails.
    """
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    from consent.kvkk.models import DUE_SOON_DAYS, OPEN_STATUSES
    from crm.models import Membership
    from crm.permissions import Perm, role_has_permission

    today = timezone.localdate()
    due = list(
        DataSubjectRequest.objects.filter(
            tenant=tenant,
            status__in=OPEN_STATUSES,
            due_on__lte=today + timedelta(days=DUE_SOON_DAYS),
        )
        .exclude(reminded_on=today)
        .select_related("owner", "customer")
        .order_by("due_on", "pk")
    )
    if not due:
        return 0
    handlers = [
        m.user
        for m in Membership.objects.filter(tenant=tenant, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
        if role_has_permission(m.role, Perm.MANAGE_PRIVACY)
    ]
    per_user: dict[str, list[DataSubjectRequest]] = {}
    for dsr in due:
        for user in [dsr.owner] if dsr.owner and dsr.owner.is_active else handlers:
            if user.email:
                per_user.setdefault(user.email, []).append(dsr)
    for email, requests in per_user.items():
        overdue = sum(1 for r in requests if r.due_on < today)
        subject = _("%(tenant)s: %(count)d KVKK request(s) need an answer soon") % {
            "tenant": tenant.name,
            "count": len(requests),
        }
        body = render_to_string(
            "consent/kvkk/email/reminder.txt",
            {
                "tenant": tenant,
                "requests": requests,
                "overdue": overdue,
                "today": today,
                "register_url": base_url.rstrip("/")
                + reverse("kvkk:requests", kwargs={"tenant_slug": tenant.slug}),
            },
        )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    DataSubjectRequest.objects.filter(tenant=tenant, pk__in=[r.pk for r in due]).update(
        reminded_on=today
    )
    return len(per_user)
