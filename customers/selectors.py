"""Reads for customers: search, entry-time duplicate candidates, the customer page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet, Sum, prefetch_related_objects

from crm.models import Tenant
from crm.text import matching_key
from customers import normalize
from customers.matching import POSSIBLE_DUPLICATE_SCORE, Incoming, Match, score
from customers.models import (
    Complaint,
    Customer,
    Email,
    Interaction,
    Phone,
    Purchase,
    RiskFlag,
)

OPEN_COMPLAINT_STATUSES = (Complaint.Status.OPEN, Complaint.Status.IN_PROGRESS)


def _active(tenant: Tenant) -> QuerySet[Customer]:
    return Customer.objects.filter(tenant=tenant, merged_into__isnull=True)


def customer_search(*, tenant: Tenant, query: str, limit: int = 20) -> list[Customer]:
    """Find by customer number, TCKN/VKN, phone (any format), e-mail or name.

    Names match per word prefix, in any case and with or without Turkish letters:
    "ayse yil" finds "Ayşe Gül Yılmaz".
    """
    query = query.strip()
    if not query:
        return []
    customers = _active(tenant)
    digits = "".join(ch for ch in query if ch.isdigit())
    condition = Q(pk__in=[])
    if "@" in query:
        # What is typed may be half an address: prefix-match the stored form.
        typed = query.lower()
        condition |= Q(
            pk__in=Email.objects.filter(tenant=tenant, address__startswith=typed).values(
                "customer_id"
            )
        )
    elif digits and len(digits) >= 4 and len(digits) >= len(query.replace(" ", "")) - 3:
        condition |= Q(customer_number=digits) | Q(tckn=digits) | Q(tax_id=digits)
        try:
            phone = normalize.normalize_phone(query)
        except ValidationError:
            phone = None
        phone_prefix = phone.e164 if phone else "+90" + digits.lstrip("0").removeprefix("90")
        condition |= Q(
            pk__in=Phone.objects.filter(tenant=tenant, e164__startswith=phone_prefix).values(
                "customer_id"
            )
        )
    else:
        words = matching_key(query).split()
        name_condition = Q()
        for word in words:
            name_condition &= Q(name_key__startswith=word) | Q(name_key__contains=f" {word}")
        condition |= name_condition
    return list(
        customers.filter(condition)
        .select_related("home_branch")
        .prefetch_related(Prefetch("phones", queryset=Phone.objects.filter(tenant=tenant)))
        .order_by("name_key")[:limit]
    )


@dataclass
class DuplicateCandidate:
    customer: Customer
    match: Match


def _incoming_from_customer(customer: Customer, phones: set[str], emails: set[str]) -> Incoming:
    first_key = matching_key(customer.first_name)
    return Incoming(
        kind=customer.kind,
        first_key=first_key,
        last_key=matching_key(customer.last_name),
        company_key=matching_key(customer.trade_name),
        tckn=customer.tckn,
        tax_id=customer.tax_id,
        birth_date=customer.birth_date,
        phones=frozenset(phones),
        email_keys=frozenset(emails),
    )


def customer_duplicate_candidates(
    *, tenant: Tenant, incoming: Incoming, exclude_id: int | None = None, limit: int = 5
) -> list[DuplicateCandidate]:
    """Existing customers that may be the one being entered, best first, with evidence.

    Candidates come only through indexed keys (identifiers, phone, e-mail, exact name
    key), so the cost does not grow with the size of the tenant.
    """
    blocking = Q(pk__in=[])
    if incoming.tckn:
        blocking |= Q(tckn=incoming.tckn)
    if incoming.tax_id:
        blocking |= Q(tax_id=incoming.tax_id)
    if incoming.phones:
        blocking |= Q(
            pk__in=Phone.objects.filter(tenant=tenant, e164__in=incoming.phones).values(
                "customer_id"
            )
        )
    if incoming.email_keys:
        blocking |= Q(
            pk__in=Email.objects.filter(tenant=tenant, match_key__in=incoming.email_keys).values(
                "customer_id"
            )
        )
    name_key = (
        incoming.company_key
        if incoming.kind == Customer.Kind.COMPANY
        else f"{incoming.first_key} {incoming.last_key}".strip()
    )
    if name_key:
        blocking |= Q(name_key=name_key)
    customers = _active(tenant).filter(blocking)
    if exclude_id is not None:
        customers = customers.exclude(pk=exclude_id)
    candidates = list(customers[:50])
    if not candidates:
        return []
    ids = [c.pk for c in candidates]
    phones: dict[int, set[str]] = defaultdict(set)
    for customer_id, e164 in Phone.objects.filter(tenant=tenant, customer_id__in=ids).values_list(
        "customer_id", "e164"
    ):
        phones[customer_id].add(e164)
    emails: dict[int, set[str]] = defaultdict(set)
    for customer_id, key in Email.objects.filter(tenant=tenant, customer_id__in=ids).values_list(
        "customer_id", "match_key"
    ):
        emails[customer_id].add(key)
    scored = [
        DuplicateCandidate(
            customer=candidate,
            match=score(
                incoming,
                _incoming_from_customer(candidate, phones[candidate.pk], emails[candidate.pk]),
                candidate.pk,
            ),
        )
        for candidate in candidates
    ]
    scored = [c for c in scored if c.match.score >= POSSIBLE_DUPLICATE_SCORE]
    scored.sort(key=lambda c: -c.match.score)
    return scored[:limit]


def incoming_from_raw(
    *,
    kind: str,
    first_name: str = "",
    last_name: str = "",
    trade_name: str = "",
    tckn: str = "",
    tax_id: str = "",
    birth_date: Any = None,
    phones: list[str] | None = None,
    emails: list[str] | None = None,
) -> Incoming:
    """Build the matching view of half-typed input; unparseable values are ignored."""

    def quietly(func: Any, value: Any) -> Any:
        if not value:
            return None
        try:
            return func(value)
        except ValidationError:
            return None

    phone_values = {
        p.e164 for p in (quietly(normalize.normalize_phone, raw) for raw in phones or []) if p
    }
    email_values = {
        normalize.email_key(e)
        for e in (quietly(normalize.normalize_email, raw) for raw in emails or [])
        if e
    }
    return Incoming(
        kind=kind,
        first_key=matching_key(first_name),
        last_key=matching_key(last_name),
        company_key=matching_key(trade_name),
        tckn=quietly(normalize.normalize_tckn, tckn) or "",
        tax_id=quietly(normalize.normalize_tax_id, tax_id) or "",
        birth_date=quietly(normalize.normalize_birth_date, birth_date),
        phones=frozenset(phone_values),
        email_keys=frozenset(email_values),
    )


@dataclass
class CustomerPage:
    customer: Customer
    purchases: list[Purchase]
    purchase_count: int
    purchase_total: Any
    interactions: list[Interaction]
    open_complaints: list[Complaint]
    complaints: list[Complaint]
    risk_flags: list[RiskFlag]


def customer_page(*, tenant: Tenant, customer_id: int, recent: int = 20) -> CustomerPage:
    """Everything the customer page shows, in a fixed number of queries."""
    customer = (
        Customer.objects.filter(tenant=tenant)
        .select_related("home_branch", "merged_into")
        .prefetch_related(
            Prefetch("phones", queryset=Phone.objects.filter(tenant=tenant)),
            Prefetch("emails", queryset=Email.objects.filter(tenant=tenant)),
            "addresses",
        )
        .get(pk=customer_id)
    )
    if customer.kind == Customer.Kind.COMPANY:
        prefetch_related_objects([customer], "contacts__phones", "contacts__emails")
    purchases = Purchase.objects.filter(tenant=tenant, customer=customer)
    totals = purchases.aggregate(total=Sum("total_amount"), count=Count("pk"))
    complaints = list(
        Complaint.objects.filter(tenant=tenant, customer=customer).select_related(
            "owner", "branch"
        )[:recent]
    )
    return CustomerPage(
        customer=customer,
        purchases=list(
            purchases.select_related("branch").prefetch_related("lines__product")[:recent]
        ),
        purchase_count=totals["count"],
        purchase_total=totals["total"] or 0,
        interactions=list(
            Interaction.objects.filter(tenant=tenant, customer=customer).select_related(
                "staff", "branch"
            )[:recent]
        ),
        open_complaints=[c for c in complaints if c.status in OPEN_COMPLAINT_STATUSES],
        complaints=complaints,
        risk_flags=list(
            RiskFlag.objects.filter(
                tenant=tenant, customer=customer, cleared_at__isnull=True
            ).select_related("set_by")
        ),
    )


def customer_list(*, tenant: Tenant) -> QuerySet[Customer]:
    """Every active customer, oldest first (stable order for paging through the API)."""
    return (
        _active(tenant)
        .select_related("home_branch")
        .prefetch_related("phones", "emails")
        .order_by("pk")
    )


def customer_get(*, tenant: Tenant, customer_id: int) -> Customer:
    """One customer with its contact points; raises Customer.DoesNotExist."""
    return (
        Customer.objects.filter(tenant=tenant)
        .select_related("home_branch")
        .prefetch_related("phones", "emails", "addresses")
        .get(pk=customer_id)
    )


def interaction_list(*, tenant: Tenant, customer: Customer) -> QuerySet[Interaction]:
    return (
        Interaction.objects.filter(tenant=tenant, customer=customer)
        .select_related("staff", "branch")
        .order_by("-occurred_at", "-pk")
    )
