"""Retention periods per kind of personal data and the periodic destruction.

The Regulation on the Deletion, Destruction or Anonymisation of Personal Data asks
for destruction at least every six months (we run monthly) and for its logs to be
kept at least three years. Each tenant may keep data longer than our defaults, but
never shorter than the legal minimum of that kind (COMPLIANCE.md §2–3). Every run
is recorded in a DestructionRun with the rules it applied and what it destroyed.

What each kind means, and what destroying it does:

- dormant customers: no purchase, contact, consent change or data-subject request
  within the period, no open complaint, no active risk flag and no standing ONAY
  for messages → anonymised like an erasure request (purchases keep counting);
- contact texts: notes and next steps of contacts, texts of closed complaints and
  notes of cleared risk flags older than the period → blanked;
- access log entries older than the period → deleted;
- consent records superseded (by a later event for the same address and channel)
  longer ago than the period, or rejected by İYS → deleted; the current state and
  the event it rests on always stay;
- closed data-subject requests → deleted, except objections to profiling, which
  stay as long as the customer's record does (they are what keeps them out);
- uploaded import files and their problem reports → deleted from finished jobs;
- erasure logs and destruction runs older than the period → deleted.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consent.kvkk.models import (
    DataKind,
    DataSubjectRequest,
    DestructionRun,
    ErasureLog,
    RequestKind,
    RequestStatus,
    RetentionRule,
)
from consent.models import ConsentEvent, ConsentState, ConsentStatus, SyncStatus
from crm.models import Job, PersonalDataAccess, Tenant, User
from customers.models import Complaint, Customer, Email, Interaction, Phone, Purchase, RiskFlag


@dataclass(frozen=True)
class RetentionPolicy:
    default_months: int
    minimum_months: int
    basis: str | Promise


POLICIES: dict[str, RetentionPolicy] = {
    DataKind.DORMANT_CUSTOMERS: RetentionPolicy(
        120,
        24,
        gettext_lazy(
            "Claims from a customer relationship lapse after 10 years (TBK art. 146); "
            "shorter only if you are sure no claim can arise."
        ),
    ),
    DataKind.CONTACT_TEXTS: RetentionPolicy(
        60,
        12,
        gettext_lazy("Notes are needed while the relationship and its disputes are alive."),
    ),
    DataKind.ACCESS_LOG: RetentionPolicy(
        24,
        24,
        gettext_lazy("Access logs prove the security measures of KVKK art. 12: at least 2 years."),
    ),
    DataKind.CONSENT_EVIDENCE: RetentionPolicy(
        36,
        36,
        gettext_lazy("ETK 6563: consent records are kept 3 years after the consent ends."),
    ),
    DataKind.CLOSED_REQUESTS: RetentionPolicy(
        36,
        12,
        gettext_lazy("Kept to prove how a request was answered if the Board asks."),
    ),
    DataKind.IMPORT_FILES: RetentionPolicy(
        1,
        0,
        gettext_lazy("Only needed while the import runs and its problem report is read."),
    ),
    DataKind.DESTRUCTION_LOGS: RetentionPolicy(
        36,
        36,
        gettext_lazy("Deletion Regulation art. 7: destruction logs are kept at least 3 years."),
    ),
}

# A run that is still "running" after this long died with its worker.
STALE_RUN = timedelta(hours=6)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to the month's end)."""
    years, month_index = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + years, month_index + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def retention_months(*, tenant: Tenant) -> dict[str, int]:
    """{data kind: months kept}: the tenant's rules over the defaults."""
    months = {kind: policy.default_months for kind, policy in POLICIES.items()}
    months.update(
        RetentionRule.objects.filter(tenant=tenant).values_list("data_kind", "keep_months")
    )
    return months


@transaction.atomic
def retention_rules_update(*, tenant: Tenant, actor: User | None, months: dict[str, int]) -> None:
    """Set how long each kind is kept; refuses anything under the legal minimum."""
    errors: dict[str, list[str]] = {}
    for kind, value in months.items():
        policy = POLICIES.get(kind)
        if policy is None:
            errors[kind] = [_("Unknown kind of data.")]
        elif value < policy.minimum_months:
            errors[kind] = [
                _("The law asks for at least %(months)d months here.")
                % {"months": policy.minimum_months}
            ]
        elif value > 600:
            errors[kind] = [_("Keep it at most 50 years (600 months).")]
    if errors:
        raise ValidationError(errors)
    for kind, value in months.items():
        RetentionRule.objects.update_or_create(
            tenant=tenant, data_kind=kind, defaults={"keep_months": value, "updated_by": actor}
        )


class DestructionBusy(RuntimeError):
    """Another destruction run of the tenant is in progress."""


def retention_destroy(
    *, tenant: Tenant, actor: User | None, trigger: str, now: datetime | None = None
) -> DestructionRun:
    """Destroy what has outlived its retention period (see the module docstring).

    Each kind is destroyed in its own transaction (dormant customers in batches), so a
    failure in one leaves the others done and the run says what failed.
    """
    now = now or timezone.now()
    months = retention_months(tenant=tenant)
    with transaction.atomic():
        running = DestructionRun.objects.select_for_update().filter(
            tenant=tenant, status=DestructionRun.Status.RUNNING, started_at__gt=now - STALE_RUN
        )
        if running.exists():
            raise DestructionBusy(_("A destruction run is in progress already."))
        run = DestructionRun.objects.create(
            tenant=tenant, trigger=trigger, actor=actor, rules=months, started_at=now
        )
    destroyed: dict[str, int] = {}
    try:
        for kind, destroy in DESTROYERS.items():
            cutoff = months_before(now, months[kind])
            if kind == DataKind.DORMANT_CUSTOMERS:
                destroyed[kind] = destroy(tenant, actor, cutoff)  # commits per batch
                continue
            with transaction.atomic():
                destroyed[kind] = destroy(tenant, actor, cutoff)
    except Exception as error:
        run.status = DestructionRun.Status.FAILED
        run.error = f"{type(error).__name__}: {error}"[:2000]
        raise
    else:
        run.status = DestructionRun.Status.DONE
    finally:
        run.destroyed = destroyed
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "destroyed", "finished_at"])
    return run


def dormant_customers(*, tenant: Tenant, cutoff: datetime) -> Any:
    """Customers whose relationship ended before ``cutoff`` (see the module doc)."""
    since = {"tenant": tenant, "customer_id": OuterRef("pk")}
    onay_recipients = ConsentState.objects.filter(tenant=tenant, status=ConsentStatus.ONAY)
    return (
        Customer.objects.filter(
            tenant=tenant,
            anonymised_at__isnull=True,
            merged_into__isnull=True,
            created_at__lt=cutoff,
        )
        .exclude(Exists(Purchase.objects.filter(**since, purchased_at__gte=cutoff)))
        .exclude(Exists(Interaction.objects.filter(**since, occurred_at__gte=cutoff)))
        .exclude(Exists(ConsentEvent.objects.filter(**since, created_at__gte=cutoff)))
        .exclude(
            Exists(
                Complaint.objects.filter(**since).filter(
                    Q(opened_at__gte=cutoff)
                    | Q(status__in=[Complaint.Status.OPEN, Complaint.Status.IN_PROGRESS])
                )
            )
        )
        .exclude(Exists(RiskFlag.objects.filter(**since, cleared_at__isnull=True)))
        .exclude(
            Exists(
                DataSubjectRequest.objects.filter(**since).filter(
                    Q(received_on__gte=cutoff.date())
                    | Q(status__in=[RequestStatus.OPEN, RequestStatus.IN_PROGRESS])
                )
            )
        )
        .exclude(
            Exists(
                Phone.objects.filter(**since).filter(
                    Exists(onay_recipients.filter(recipient=OuterRef("e164")))
                )
            )
        )
        .exclude(
            Exists(
                Email.objects.filter(**since).filter(
                    Exists(onay_recipients.filter(recipient=OuterRef("address")))
                )
            )
        )
    )


# Customers anonymised per transaction: a first run on an old tenant may find tens of
# thousands, and one transaction over all of them would hold their rows for minutes.
DORMANT_BATCH = 200


def _dormant_customers(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    from consent.kvkk.services import customer_anonymise

    ids = list(dormant_customers(tenant=tenant, cutoff=cutoff).values_list("pk", flat=True))
    reason = _("Retention period ended: no relationship since %(date)s.") % {
        "date": cutoff.strftime("%d.%m.%Y")
    }
    anonymised = 0
    for start in range(0, len(ids), DORMANT_BATCH):
        with transaction.atomic():
            batch = dormant_customers(tenant=tenant, cutoff=cutoff).filter(
                pk__in=ids[start : start + DORMANT_BATCH]
            )
            # Checked again inside the transaction: a customer who bought something
            # since the list was read is no longer dormant.
            for customer in batch.select_for_update(of=("self",)):
                customer_anonymise(tenant=tenant, actor=actor, customer=customer, reason=reason)
                anonymised += 1
    return anonymised


def _contact_texts(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    interactions = (
        Interaction.objects.filter(tenant=tenant, occurred_at__lt=cutoff)
        .filter(~Q(notes="") | ~Q(next_step=""))
        .update(notes="", next_step="")
    )
    complaints = (
        Complaint.objects.filter(
            tenant=tenant,
            status__in=[Complaint.Status.RESOLVED, Complaint.Status.CLOSED],
            opened_at__lt=cutoff,
        )
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__lt=cutoff))
        .filter(~Q(description="") | ~Q(resolution=""))
        .update(description="", resolution="")
    )
    flags = (
        RiskFlag.objects.filter(tenant=tenant, cleared_at__lt=cutoff)
        .exclude(note="")
        .update(note="")
    )
    return interactions + complaints + flags


def _access_log(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    return PersonalDataAccess.objects.filter(tenant=tenant, at__lt=cutoff).delete()[0]


def _consent_evidence(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    later = ConsentEvent.objects.filter(
        tenant=tenant,
        recipient=OuterRef("recipient"),
        type=OuterRef("type"),
        recipient_type=OuterRef("recipient_type"),
        created_at__gt=OuterRef("created_at"),
        created_at__lt=cutoff,
    ).exclude(sync_status=SyncStatus.REJECTED)
    current = ConsentState.objects.filter(tenant=tenant).values("event_id")
    superseded = (
        ConsentEvent.objects.filter(tenant=tenant, created_at__lt=cutoff)
        .exclude(pk__in=current)
        .exclude(sync_status__in=[SyncStatus.PENDING, SyncStatus.SENDING])
        .filter(Q(sync_status=SyncStatus.REJECTED) | Q(Exists(later)))
    )
    # ConsentEvent.delete refuses single rows; the purge is the one bulk delete.
    return (
        ConsentEvent.objects.filter(pk__in=list(superseded.values_list("pk", flat=True)))
        .delete()[1]
        .get("consent.ConsentEvent", 0)
    )


def _closed_requests(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    closed = DataSubjectRequest.objects.filter(
        tenant=tenant,
        status__in=[RequestStatus.COMPLETED, RequestStatus.REJECTED],
        completed_at__lt=cutoff,
    )
    # A standing objection is what keeps the person out of profiling.
    closed = closed.exclude(
        Q(kind=RequestKind.OBJECTION)
        & ~Q(status=RequestStatus.REJECTED)
        & Q(customer__anonymised_at__isnull=True)
        & Q(customer__isnull=False)
    )
    return closed.delete()[0]


def _import_files(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    return (
        Job.objects.filter(
            tenant=tenant,
            status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED],
            finished_at__lt=cutoff,
        )
        .filter(Q(input_data__isnull=False) | Q(output_data__isnull=False))
        .update(input_data=None, output_data=None)
    )


def _destruction_logs(tenant: Tenant, actor: User | None, cutoff: datetime) -> int:
    erasures = ErasureLog.objects.filter(tenant=tenant, erased_at__lt=cutoff).delete()[0]
    runs = DestructionRun.objects.filter(
        tenant=tenant, started_at__lt=cutoff, status=DestructionRun.Status.DONE
    ).delete()[0]
    return erasures + runs


DESTROYERS: dict[str, Callable[[Tenant, User | None, datetime], int]] = {
    DataKind.DORMANT_CUSTOMERS: _dormant_customers,
    DataKind.CONTACT_TEXTS: _contact_texts,
    DataKind.ACCESS_LOG: _access_log,
    DataKind.CONSENT_EVIDENCE: _consent_evidence,
    DataKind.CLOSED_REQUESTS: _closed_requests,
    DataKind.IMPORT_FILES: _import_files,
    DataKind.DESTRUCTION_LOGS: _destruction_logs,
}


def destruction_runs(*, tenant: Tenant) -> Any:
    return DestructionRun.objects.filter(tenant=tenant).select_related("actor")
