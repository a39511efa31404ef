"""KVKK: may this tenant profile a customer (segments, behaviour clusters, offers)?

Segmentation and personalisation ask only these two functions. A customer is left
out when they objected to profiling (a KVKK objection request that was not rejected)
or when their data was erased. Versioned explicit-consent texts (açık rıza) per
purpose are not recorded yet; when they are, "the tenant requires explicit consent
for profiling and this person has not given it" joins the same query.
"""

from __future__ import annotations

from crm.models import Tenant
from customers.models import Customer


def profiling_excluded_customer_ids(*, tenant: Tenant) -> set[int]:
    """Ids of the tenant's customers who must be left out of profiling (one query)."""
    from consent.kvkk.models import DataSubjectRequest, RequestKind, RequestStatus

    objected = (
        DataSubjectRequest.objects.filter(
            tenant=tenant, kind=RequestKind.OBJECTION, customer__isnull=False
        )
        .exclude(status=RequestStatus.REJECTED)
        .values("customer_id")
    )
    erased = Customer.objects.filter(tenant=tenant, anonymised_at__isnull=False).values("pk")
    return set(
        Customer.objects.filter(tenant=tenant)
        .filter(pk__in=objected.union(erased, all=True))
        .values_list("pk", flat=True)
    )


def may_profile(*, tenant: Tenant, customer: Customer) -> bool:
    return customer.pk not in profiling_excluded_customer_ids(tenant=tenant)
