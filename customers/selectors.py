"""Reads for customers: search, entry-time duplicate candidates, the customer page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Count,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from crm.models import Tenant, User
from crm.precompiled import precompiled
from crm.text import matching_key
from customers import normalize
from customers.matching import POSSIBLE_DUPLICATE_SCORE, Incoming, Match, score
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    Email,
    Interaction,
    Phone,
    Purchase,
    PurchaseLine,
    RiskFlag,
)

OPEN_COMPLAINT_STATUSES = (Complaint.Status.OPEN, Complaint.Status.IN_PROGRESS)


def _active(tenant: Tenant) -> QuerySet[Customer]:
    return Customer.objects.filter(tenant=tenant, merged_into__isnull=True)


def starts_with(field: str, prefix: str) -> Any:
    """``field`` starts with ``prefix``, as a condition an index can answer under
    row-level security. PostgreSQL only lets *leakproof* conditions use an index ahead
    of the tenant policy: ``LIKE`` is not leakproof, ``starts_with()`` is (and, with
    the ``varchar_pattern_ops`` indexes of migration 0005, uses them)."""
    if connection.vendor == "postgresql":
        return Func(F(field), Value(prefix), function="starts_with", output_field=BooleanField())
    return Q(**{f"{field}__startswith": prefix})


# A name search matching more customers than this (two letters of a common name)
# orders only this many of them: the list is "as you type", people type on.
NAME_MATCHES_CAP = 500


def customer_search(*, tenant: Tenant, query: str, limit: int = 20) -> list[Customer]:
    """Find by customer number, TCKN/VKN, phone (any format), e-mail or name.

    Names match per word prefix, in any case and with or without Turkish letters:
    "ayse yil" finds "Ayşe Gül Yılmaz". Every branch is answered by an index
    (migration 0005): identifiers and phones through one UNION of index lookups
    rather than an OR the planner could only answer by scanning the tenant; name
    words through CustomerNameWord.
    """
    query = query.strip()
    if not query:
        return []
    customers = _active(tenant)
    digits = "".join(ch for ch in query if ch.isdigit())
    if "@" in query:
        # What is typed may be half an address: prefix-match the stored form.
        typed = query.lower()
        customers = customers.filter(
            pk__in=Email.objects.filter(starts_with("address", typed), tenant=tenant).values(
                "customer_id"
            )
        )
    elif digits and len(digits) >= 4 and len(digits) >= len(query.replace(" ", "")) - 3:
        try:
            phone = normalize.normalize_phone(query)
        except ValidationError:
            phone = None
        phone_prefix = phone.e164 if phone else "+90" + digits.lstrip("0").removeprefix("90")
        by_identifier = (
            _active(tenant)
            .filter(Q(customer_number=digits) | Q(tckn=digits) | Q(tax_id=digits))
            .order_by()
            .values("pk")
        )
        by_phone = (
            Phone.objects.filter(starts_with("e164", phone_prefix), tenant=tenant)
            .order_by()
            .values("customer_id")
        )
        customers = customers.filter(pk__in=by_identifier.union(by_phone, all=True))
    else:
        words = matching_key(query).split()
        if not words:
            return []
        if connection.vendor == "postgresql":
            # Names starting with the first typed word first (the common case, in
            # name order); if they do not fill the list, any customer with a name word
            # starting with each typed word (CustomerNameWord, see its model).
            first_in_name = _names_starting_with(tenant, words, limit)
            if len(first_in_name) >= limit:
                return _search_result(customers.filter(pk__in=first_in_name), tenant, limit)
            ids = _customers_with_word_prefixes(tenant, words)
            if len(ids) > limit:
                # Order the matches by name through their primary keys: left to itself
                # the planner walks the whole name index looking for these ids.
                named = customers.filter(pk__in=ids).order_by().values_list("pk", "name_key")
                ids = [pk for pk, _key in sorted(named, key=lambda row: (row[1], row[0]))[:limit]]
            if first_in_name:
                # Names that start with the first typed word come first, then the rest.
                found = set(first_in_name)
                rest = [pk for pk in ids if pk not in found][: limit - len(first_in_name)]
                head = _search_result(customers.filter(pk__in=first_in_name), tenant, limit)
                return head + _search_result(customers.filter(pk__in=rest), tenant, limit)
            customers = customers.filter(pk__in=ids)
        else:
            for word in words:
                customers = customers.filter(
                    Q(name_key__startswith=word) | Q(name_key__contains=f" {word}")
                )
    return _search_result(customers, tenant, limit)


def _search_result(customers: QuerySet[Customer], tenant: Tenant, limit: int) -> list[Customer]:
    return list(
        customers.select_related("home_branch")
        .prefetch_related(Prefetch("phones", queryset=Phone.objects.filter(tenant=tenant)))
        .order_by("name_key")[:limit]
    )


# How far down the name index the "name starts with the first typed word" pass reads
# before leaving the rest to the word index: bounds a search whose later words are rare.
FIRST_WORD_SCAN = 400


def _names_starting_with(tenant: Tenant, words: list[str], limit: int) -> list[int]:
    """Ids (in name order, at most ``limit``) of customers whose name starts with the
    first typed word and has a word starting with each other typed word.

    What people type first is usually the first name, so this is the common case. It
    reads the first FIRST_WORD_SCAN names in name-index order — at a million customers
    a common first name matches tens of thousands — and only then probes them for the
    other words: probed before the limit, a rare second word ("fatm to") had every one
    of 46,000 "fatm…" names probed (80 ms). The pattern operators (``~>=~``, ``~<~``,
    ``USING ~<~``) are leakproof and match the ``varchar_pattern_ops`` index
    (migration 0005), so row-level security does not force a scan.
    """
    first, others = words[0], words[1:]
    params: list[Any] = [tenant.pk, *_prefix_range(first), FIRST_WORD_SCAN]
    params += _probe_params(tenant, others)
    # The scanned names are aliased as name words (w.customer_id) so that the probe
    # for the other words is the one _customers_with_word_prefixes uses.
    sql = (
        "SELECT w.customer_id FROM (SELECT id AS customer_id, name_key"  # noqa: S608
        " FROM customers_customer WHERE tenant_id = %s AND merged_into_id IS NULL"
        " AND name_key ~>=~ %s AND name_key ~<~ %s"
        " ORDER BY name_key USING ~<~ LIMIT %s) w"
        " WHERE true" + _PROBE_OTHER_WORD * len(others) + " ORDER BY w.name_key USING ~<~ LIMIT %s"
    )
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# A typed word whose prefix starts fewer name words than this drives the search: each
# of its customers is probed for the other words. Past it, the words' customers are
# read from the prefix index and joined by hashing, which costs what the words match,
# not a probe per candidate ("mehm as" at 1M customers: 47,000 probes, 120–180 ms).
PROBE_DRIVER_LIMIT = 3000


def _prefix_range(word: str) -> tuple[str, str]:
    """``word`` and the first string after every string starting with it, for the
    leakproof pattern operators ``~>=~`` and ``~<~`` (see _names_starting_with)."""
    return word, word[:-1] + chr(ord(word[-1]) + 1)


# The statements of _customers_with_word_prefixes are put together from these fixed
# fragments; the words are always parameters.
_WORDS_IN_RANGE = (
    "SELECT w.customer_id FROM customers_customernameword w"
    " WHERE w.tenant_id = %s AND w.word ~>=~ %s AND w.word ~<~ %s"
)
_COUNT_IN_RANGE = (
    "(SELECT count(*) FROM (SELECT 1 FROM customers_customernameword w"
    " WHERE w.tenant_id = %s AND w.word ~>=~ %s AND w.word ~<~ %s LIMIT %s) counted)"
)
# left(word) = typed, not a prefix range: the probe must go by the candidate's own few
# words (customer_id index). With an indexable prefix the planner, trusting a low
# estimate for a short prefix, read every word starting with it per candidate ("bulu
# ek" at 1M customers: 5,000 words × 619 candidates, 1.4 s).
_PROBE_OTHER_WORD = (
    " AND EXISTS (SELECT 1 FROM customers_customernameword o"
    " WHERE o.tenant_id = %s AND o.customer_id = w.customer_id AND left(o.word, %s) = %s)"
)


def _probe_params(tenant: Tenant, words: list[str]) -> list[Any]:
    """The parameters of one _PROBE_OTHER_WORD per word."""
    return [value for word in words for value in (tenant.pk, len(word), word)]


_IN_OTHER_WORD = (
    " AND w.customer_id IN (SELECT o.customer_id FROM customers_customernameword o"
    " WHERE o.tenant_id = %s AND o.word ~>=~ %s AND o.word ~<~ %s)"
)


def _customers_with_word_prefixes(tenant: Tenant, words: list[str]) -> list[int]:
    """Ids (at most NAME_MATCHES_CAP, in no order, maybe repeated) of customers with a
    name word starting with each of ``words``; PostgreSQL only.

    How common each prefix is decides the plan, counted first (up to
    PROBE_DRIVER_LIMIT words each, from the index alone): the planner's estimate for
    a short prefix can be off by a hundred times either way.
    """
    typed = sorted(set(words), key=len, reverse=True)
    counts = [0] * len(typed)
    if len(typed) > 1:
        params: list[Any] = []
        for word in typed:
            params += [tenant.pk, *_prefix_range(word), PROBE_DRIVER_LIMIT]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join([_COUNT_IN_RANGE] * len(typed)), params)
            counts = list(cursor.fetchone())
    rarest = min(range(len(typed)), key=lambda i: counts[i])
    if counts[rarest] < PROBE_DRIVER_LIMIT:
        others = [word for i, word in enumerate(typed) if i != rarest]
        sql = _WORDS_IN_RANGE + _PROBE_OTHER_WORD * len(others)
        params = [tenant.pk, *_prefix_range(typed[rarest]), *_probe_params(tenant, others)]
    else:
        # Every word common: the customers of each longer word are hashed, and the
        # shortest word's (likely the most common) stream past them until the cap is
        # reached — "fatm yi" hashes 52,000 and reads 18,000 of 149,000 (30 ms, where
        # intersecting both whole sets took 70).
        *hashed, streamed = typed
        sql = _WORDS_IN_RANGE + _IN_OTHER_WORD * len(hashed)
        params = [tenant.pk, *_prefix_range(streamed)]
        for word in hashed:
            params += [tenant.pk, *_prefix_range(word)]
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT %s", [*params, NAME_MATCHES_CAP])
        return [row[0] for row in cursor.fetchall()]


@dataclass
class DuplicateCandidate:
    customer: Customer
    match: Match


def incoming_from_customer(customer: Customer, phones: set[str], emails: set[str]) -> Incoming:
    return incoming_from_values(
        kind=customer.kind,
        first_name=customer.first_name,
        last_name=customer.last_name,
        trade_name=customer.trade_name,
        tckn=customer.tckn,
        tax_id=customer.tax_id,
        birth_date=customer.birth_date,
        phones=phones,
        email_keys=emails,
    )


def incoming_from_values(
    *,
    kind: str,
    first_name: str,
    last_name: str,
    trade_name: str,
    tckn: str,
    tax_id: str,
    birth_date: Any,
    phones: Iterable[str],
    email_keys: Iterable[str],
) -> Incoming:
    """The matching view of values already normalised (stored, or just cleaned):
    names become their matching keys, the rest is taken as it is."""
    return Incoming(
        kind=kind,
        first_key=matching_key(first_name),
        last_key=matching_key(last_name),
        company_key=matching_key(trade_name),
        tckn=tckn,
        tax_id=tax_id,
        birth_date=birth_date,
        phones=frozenset(phones),
        email_keys=frozenset(email_keys),
    )


def customer_duplicate_candidates(
    *, tenant: Tenant, incoming: Incoming, exclude_id: int | None = None, limit: int = 5
) -> list[DuplicateCandidate]:
    """Existing customers that may be the one being entered, best first, with evidence.

    Candidates come only through indexed keys (identifiers, phone, e-mail, exact name
    key), so the cost does not grow with the size of the tenant.
    """
    # One UNION of index lookups: an OR of IN-subqueries would make the planner scan
    # every customer of the tenant for each check.
    sources: list[QuerySet[Any]] = []
    if incoming.tckn:
        sources.append(_active(tenant).filter(tckn=incoming.tckn).order_by().values("pk"))
    if incoming.tax_id:
        sources.append(_active(tenant).filter(tax_id=incoming.tax_id).order_by().values("pk"))
    if incoming.phones:
        sources.append(
            Phone.objects.filter(tenant=tenant, e164__in=incoming.phones)
            .order_by()
            .values("customer_id")
        )
    if incoming.email_keys:
        sources.append(
            Email.objects.filter(tenant=tenant, match_key__in=incoming.email_keys)
            .order_by()
            .values("customer_id")
        )
    name_key = (
        incoming.company_key
        if incoming.kind == Customer.Kind.COMPANY
        else f"{incoming.first_key} {incoming.last_key}".strip()
    )
    if name_key:
        sources.append(_active(tenant).filter(name_key=name_key).order_by().values("pk"))
    if not sources:
        return []
    blocked = sources[0].union(*sources[1:], all=True) if len(sources) > 1 else sources[0]
    customers = _active(tenant).filter(pk__in=blocked)
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
                incoming_from_customer(candidate, phones[candidate.pk], emails[candidate.pk]),
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
    phones: list[Phone]
    emails: list[Email]
    addresses: list[Address]
    # Company contact people, each with ``phone_list`` and ``email_list``.
    contacts: list[ContactPerson]
    # Each purchase carries ``product_names`` (up to 3) and ``line_count``.
    purchases: list[Purchase]
    purchase_count: int
    purchase_total: Any
    interactions: list[Interaction]
    open_complaints: list[Complaint]
    complaints: list[Complaint]
    risk_flags: list[RiskFlag]


_SHOWN_PRODUCTS = 3
# Rows of each list the page shows (purchases, interactions, complaints).
PAGE_RECENT = 20

# The page's queries differ from one customer to the next only in the ids: they are
# compiled once (crm.precompiled), which halves the page's Python time.


@precompiled
def _page_customer(tenant_id: int, customer_id: int) -> QuerySet[Customer]:
    purchases_of = Purchase.objects.filter(tenant_id=tenant_id, customer=OuterRef("pk")).order_by()
    return (
        Customer.objects.filter(tenant_id=tenant_id, pk=customer_id)
        .select_related("home_branch", "merged_into")
        .annotate(
            purchase_count=Coalesce(
                Subquery(purchases_of.values("customer").annotate(n=Count("pk")).values("n")[:1]),
                0,
            ),
            purchase_total=Subquery(
                purchases_of.values("customer").annotate(t=Sum("total_amount")).values("t")[:1]
            ),
        )
    )


@precompiled
def _page_contact_rows(tenant_id: int, customer_id: int) -> QuerySet[Any]:
    """Phones, e-mails, addresses, contact people and open risk flags of one customer
    in one query (UNION ALL of rows shaped alike: kind, id, contact person or user,
    value, flag, primary, verified, created, text1, text2, text3)."""
    blank = Value("", output_field=CharField())
    no_flag = Value(False, output_field=BooleanField())
    no_person = Value(None, output_field=BigIntegerField())
    phones = Phone.objects.filter(tenant_id=tenant_id, customer_id=customer_id).values_list(
        Value("p", output_field=CharField()), "pk", "contact_person_id", "e164", "is_mobile",
        "is_primary", "is_verified", "created_at", blank, blank, blank,
    )  # fmt: skip
    emails = Email.objects.filter(tenant_id=tenant_id, customer_id=customer_id).values_list(
        Value("e", output_field=CharField()), "pk", "contact_person_id", "address", no_flag,
        "is_primary", "is_verified", "created_at", blank, blank, blank,
    )  # fmt: skip
    addresses = Address.objects.filter(tenant_id=tenant_id, customer_id=customer_id).values_list(
        Value("a", output_field=CharField()), "pk", no_person, "line", no_flag,
        "is_primary", "is_verified", "created_at", "province", "district", "postal_code",
    )  # fmt: skip
    people = ContactPerson.objects.filter(tenant_id=tenant_id, company_id=customer_id).values_list(
        Value("c", output_field=CharField()), "pk", no_person, "first_name", "is_active",
        no_flag, no_flag, "created_at", "last_name", "role", "title",
    )  # fmt: skip
    flags = RiskFlag.objects.filter(
        tenant_id=tenant_id, customer_id=customer_id, cleared_at__isnull=True
    ).values_list(
        Value("r", output_field=CharField()), "pk", "set_by_id", "kind", no_flag,
        no_flag, no_flag, "set_at", "note", "set_by__full_name", "set_by__email",
    )  # fmt: skip
    return phones.order_by().union(
        emails.order_by(), addresses.order_by(), people.order_by(), flags.order_by(), all=True
    )


@precompiled
def _page_purchases(tenant_id: int, customer_id: int) -> QuerySet[Purchase]:
    """The latest purchases, each with its line count and first product names."""
    lines_of = PurchaseLine.objects.filter(tenant_id=tenant_id, purchase=OuterRef("pk")).order_by(
        "pk"
    )
    return (
        Purchase.objects.filter(tenant_id=tenant_id, customer_id=customer_id)
        # What purchase_customer_idx covers, and the page shows.
        .only(
            "purchased_at", "total_amount", "discount_amount", "branch", "touchpoint", "is_return"
        )
        .select_related("branch")
        .annotate(
            line_count=Subquery(
                lines_of.order_by().values("purchase").annotate(n=Count("pk")).values("n")[:1]
            ),
            **{
                f"product_{i}": Subquery(lines_of.values("product__name")[i : i + 1])
                for i in range(_SHOWN_PRODUCTS)
            },
        )
        .order_by("-purchased_at", "-pk")[:PAGE_RECENT]
    )


@precompiled
def _page_complaints(tenant_id: int, customer_id: int) -> QuerySet[Complaint]:
    return Complaint.objects.filter(tenant_id=tenant_id, customer_id=customer_id).select_related(
        "owner", "branch"
    )[:PAGE_RECENT]


@precompiled
def _page_interactions(tenant_id: int, customer_id: int) -> QuerySet[Interaction]:
    return Interaction.objects.filter(tenant_id=tenant_id, customer_id=customer_id).select_related(
        "staff", "branch"
    )[:PAGE_RECENT]


def customer_page(*, tenant: Tenant, customer_id: int) -> CustomerPage:
    """Everything the customer page shows, in five queries whatever the history's
    length: the customer (with purchase count and total); contact points, contact
    people and open risk flags; recent purchases (with their first product names);
    interactions; complaints."""
    ids = {"tenant_id": tenant.pk, "customer_id": int(customer_id)}
    found: list[Any] = _page_customer(**ids)  # annotated with the purchase figures
    if not found:
        raise Customer.DoesNotExist(f"No customer {customer_id} in this tenant")
    customer = found[0]
    phones: list[Phone] = []
    emails: list[Email] = []
    addresses: list[Address] = []
    contacts: dict[int, ContactPerson] = {}
    person_phones: list[Phone] = []
    person_emails: list[Email] = []
    risk_flags: list[RiskFlag] = []
    for kind, pk, person, value, flag, primary, verified, created, t1, t2, t3 in _page_contact_rows(
        **ids
    ):
        common = {"pk": pk, "is_primary": primary, "is_verified": verified, "created_at": created}
        if kind == "p":
            phone = Phone(
                **common, customer=customer, contact_person_id=person, e164=value, is_mobile=flag
            )
            (person_phones if person else phones).append(phone)
        elif kind == "e":
            email = Email(**common, customer=customer, contact_person_id=person, address=value)
            (person_emails if person else emails).append(email)
        elif kind == "a":
            addresses.append(
                Address(
                    **common,
                    customer=customer,
                    line=value,
                    province=t1,
                    district=t2,
                    postal_code=t3,
                )
            )
        elif kind == "r":
            setter = User(pk=person, full_name=t2 or "", email=t3 or "") if person else None
            risk_flags.append(
                RiskFlag(
                    pk=pk, customer=customer, kind=value, note=t1, set_by=setter, set_at=created
                )
            )
        else:
            contact = ContactPerson(
                pk=pk,
                company=customer,
                first_name=value,
                last_name=t1,
                role=t2,
                title=t3,
                is_active=flag,
                created_at=created,
            )
            contact.phone_list = []  # type: ignore[attr-defined]
            contact.email_list = []  # type: ignore[attr-defined]
            contacts[pk] = contact
    for point_list, attribute in ((person_phones, "phone_list"), (person_emails, "email_list")):
        for point in point_list:
            owner = contacts.get(point.contact_person_id)  # type: ignore[arg-type]
            if owner is not None:
                getattr(owner, attribute).append(point)

    def contact_order(point: Any) -> tuple[bool, Any]:
        return (not point.is_primary, point.created_at)

    phones.sort(key=contact_order)
    emails.sort(key=contact_order)
    addresses.sort(key=contact_order)

    purchases: list[Any] = _page_purchases(**ids)
    for purchase in purchases:
        names = [getattr(purchase, f"product_{i}") for i in range(_SHOWN_PRODUCTS)]
        purchase.product_names = [n for n in names if n]
        purchase.more_lines = max(0, (purchase.line_count or 0) - _SHOWN_PRODUCTS)
    complaints: list[Complaint] = _page_complaints(**ids)
    return CustomerPage(
        customer=customer,
        phones=phones,
        emails=emails,
        addresses=addresses,
        contacts=sorted(contacts.values(), key=lambda c: (c.role, c.last_name)),
        purchases=purchases,
        purchase_count=customer.purchase_count,
        purchase_total=customer.purchase_total or 0,
        interactions=_page_interactions(**ids),
        open_complaints=[c for c in complaints if c.status in OPEN_COMPLAINT_STATUSES],
        complaints=complaints,
        risk_flags=sorted(risk_flags, key=lambda f: f.set_at, reverse=True),
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


def customer_ids_with_merged(*, tenant: Tenant, customer_ids: list[int]) -> list[int]:
    """These customers and every record merged into them, however many merges deep
    (a merged-away duplicate still holds the same person's data)."""
    ids = list(customer_ids)
    frontier = list(customer_ids)
    while frontier:
        frontier = list(
            Customer.objects.filter(tenant=tenant, merged_into_id__in=frontier).values_list(
                "pk", flat=True
            )
        )
        ids += frontier
    return ids


def customer_ids_for_number(*, tenant: Tenant, number: str) -> list[int]:
    """The customer with this number and the records merged into it (the access log
    names the record that was opened, which may be a merged-away duplicate)."""
    found = list(
        Customer.objects.filter(tenant=tenant, customer_number=number).values_list("pk", flat=True)
    )
    return customer_ids_with_merged(tenant=tenant, customer_ids=found)


def surviving_customer_ids(*, tenant: Tenant, customer_ids: set[int]) -> dict[int, int]:
    """Each id → the customer it ended up as after merges (itself when never merged),
    however many merges deep. Ids of another tenant are left out."""
    found: dict[int, int] = {}
    parent: dict[int, int | None] = {}
    frontier = set(customer_ids)
    while frontier:
        rows = Customer.objects.filter(tenant=tenant, pk__any_of=frontier).values_list(
            "pk", "merged_into_id"
        )
        parent.update(rows)
        frontier = {p for p in parent.values() if p is not None and p not in parent}
    for customer_id in customer_ids:
        current, seen = customer_id, set()
        while current in parent and parent[current] is not None and current not in seen:
            seen.add(current)
            current = parent[current]  # type: ignore[assignment]
        if current in parent:
            found[customer_id] = current
    return found


def customers_by_reference(
    *,
    tenant: Tenant,
    numbers: set[str] | None = None,
    tckns: set[str] | None = None,
    email_keys: set[str] | None = None,
    phones: set[str] | None = None,
) -> dict[tuple[str, str], set[int]]:
    """Which surviving customers each already-normalised reference names.

    Keys are ``("customer_number" | "tckn" | "email" | "phone", value)``; the value is
    a set because a phone or e-mail may be shared (a family's landline): more than
    one id means the reference does not say who. Looked up through the same indexes
    as the duplicate check, a few queries however many references there are.
    """
    raw: list[tuple[str, str, int]] = []
    if numbers:
        raw += [
            ("customer_number", value, pk)
            for value, pk in Customer.objects.filter(
                tenant=tenant, customer_number__any_of=numbers
            ).values_list("customer_number", "pk")
        ]
    if tckns:
        raw += [
            ("tckn", value, pk)
            for value, pk in Customer.objects.filter(tenant=tenant, tckn__any_of=tckns).values_list(
                "tckn", "pk"
            )
        ]
    if email_keys:
        raw += [
            ("email", value, pk)
            for value, pk in Email.objects.filter(
                tenant=tenant, match_key__any_of=email_keys
            ).values_list("match_key", "customer_id")
        ]
    if phones:
        raw += [
            ("phone", value, pk)
            for value, pk in Phone.objects.filter(tenant=tenant, e164__any_of=phones).values_list(
                "e164", "customer_id"
            )
        ]
    surviving = surviving_customer_ids(tenant=tenant, customer_ids={pk for *_, pk in raw})
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for kind, value, pk in raw:
        if pk in surviving:
            found[(kind, value)].add(surviving[pk])
    return dict(found)
