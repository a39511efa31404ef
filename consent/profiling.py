"""KVKK: may this tenant profile a customer (segments, behaviour clusters, offers)?

Segmentation and personalisation ask only these two functions. The answer comes
from the KVKK notices, explicit consents and objections recorded in ``consent``.
"""

from __future__ import annotations

from crm.models import Tenant
from customers.models import Customer


def profiling_excluded_customer_ids(*, tenant: Tenant) -> set[int]:
    """Ids of the tenant's customers who must be left out of profiling."""
    # Replaced by the KVKK records (notices, explicit consent, objections) in the
    # consent-kvkk work; until then nobody has objected because nobody could.
    return set()


def may_profile(*, tenant: Tenant, customer: Customer) -> bool:
    return customer.pk not in profiling_excluded_customer_ids(tenant=tenant)
