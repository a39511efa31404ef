"""KVKK: may this tenant profile a customer (segments, behaviour clusters, offers)?

Segmentation and personalisation ask only these functions. A customer is left out
when they objected to profiling (a KVKK objection request that was not rejected),
when their data was erased, or, where the tenant's consent settings say profiling
needs explicit consent (açık rıza), when their latest decision on the profiling
consent text is not "given".
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.models import Tenant
from customers.models import Customer


def _needs_explicit_consent(tenant: Tenant) -> bool:
    from consent.services import consent_settings_get

    return consent_settings_get(tenant=tenant).profiling_needs_explicit_consent


def _objections(tenant: Tenant) -> QuerySet[Any]:
    """The tenant's objections to profiling that stand (any not rejected)."""
    from consent.kvkk.models import DataSubjectRequest, RequestKind, RequestStatus

    return DataSubjectRequest.objects.filter(
        tenant=tenant, kind=RequestKind.OBJECTION, customer__isnull=False
    ).exclude(status=RequestStatus.REJECTED)


def profiling_excluded_customer_ids(*, tenant: Tenant) -> set[int]:
    """Ids of the tenant's customers who must be left out of profiling (one query)."""
    from consent.kvkk.models import ProcessingPurpose
    from consent.kvkk.notices import customers_with_explicit_consent

    # No ordering in the UNION's parts: SQLite refuses it there.
    objected = _objections(tenant).order_by().values("customer_id")
    erased = (
        Customer.objects.filter(tenant=tenant, anonymised_at__isnull=False).order_by().values("pk")
    )
    excluded = Customer.objects.filter(tenant=tenant).filter(
        pk__in=objected.union(erased, all=True)
    )
    if _needs_explicit_consent(tenant):
        excluded = excluded | Customer.objects.filter(tenant=tenant).exclude(
            pk__in=customers_with_explicit_consent(
                tenant=tenant, purpose=ProcessingPurpose.PROFILING
            )
        )
    return set(excluded.values_list("pk", flat=True))


def may_profile(*, tenant: Tenant, customer: Customer) -> bool:
    return profiling_exclusion_reason(tenant=tenant, customer=customer) is None


def profiling_exclusion_reason(*, tenant: Tenant, customer: Customer) -> str | None:
    """Why this customer is left out of profiling, in words; None if they are not."""
    from consent.kvkk.models import PrivacyDecisionKind, ProcessingPurpose
    from consent.kvkk.notices import latest_explicit_decisions

    if customer.anonymised_at is not None:
        return _("The customer's data was erased.")
    if _objections(tenant).filter(customer=customer).exists():
        return _("The customer objected to profiling (KVKK request).")
    if _needs_explicit_consent(tenant):
        decision = latest_explicit_decisions(tenant=tenant, customer=customer).get(
            ProcessingPurpose.PROFILING
        )
        if decision is None:
            return _("No explicit consent for profiling has been given.")
        if decision.decision == PrivacyDecisionKind.DECLINED:
            return _("The customer refused explicit consent for profiling.")
        if decision.decision == PrivacyDecisionKind.WITHDRAWN:
            return _("The customer withdrew explicit consent for profiling.")
    return None
