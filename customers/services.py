"""Writes for customers: create with normalisation, contact points, history, flags.

Every function takes the tenant explicitly, refuses objects of another tenant and
normalises through customers.normalize, so a value is stored the same way whether
it came from the counter, the API or an import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import bulk
from crm import selectors as crm_selectors
from crm.models import Branch, Tenant, User
from crm.tenancy import ensure_same_tenant
from crm.text import matching_key
from customers import normalize, selectors
from customers.models import (
    Complaint,
    Customer,
    CustomerNumberCounter,
    Email,
    Interaction,
    Phone,
    Product,
    Purchase,
    PurchaseLine,
    RiskFlag,
    Touchpoint,
)

COMPLAINT_DEFAULT_DAYS = 3
COMPLAINT_TRANSITIONS = {
    Complaint.Status.OPEN: {
        Complaint.Status.IN_PROGRESS,
        Complaint.Status.RESOLVED,
        Complaint.Status.CLOSED,
    },
    Complaint.Status.IN_PROGRESS: {Complaint.Status.RESOLVED, Complaint.Status.CLOSED},
    Complaint.Status.RESOLVED: {Complaint.Status.CLOSED, Complaint.Status.IN_PROGRESS},
    Complaint.Status.CLOSED: {Complaint.Status.IN_PROGRESS},
}


def customer_number_next(*, tenant: Tenant) -> str:
    """A short, human-friendly number, unique in the tenant (row-locked counter)."""
    return customer_numbers_reserve(tenant=tenant, count=1)[0]


# Customer numbers are the counter's values from this offset: six digits from the first.
CUSTOMER_NUMBER_OFFSET = 100000


def customer_numbers_reserve(*, tenant: Tenant, count: int) -> list[str]:
    """``count`` consecutive customer numbers, unique in the tenant (row-locked counter)."""
    counter, _created = CustomerNumberCounter.objects.get_or_create(tenant=tenant)
    updated = CustomerNumberCounter.objects.filter(pk=counter.pk).update(
        next_value=F("next_value") + count
    )
    assert updated == 1
    counter.refresh_from_db()
    first = counter.next_value - count
    return [f"{CUSTOMER_NUMBER_OFFSET + value}" for value in range(first, first + count)]


def customer_numbers_sql(*, tenant: Tenant, count: int) -> tuple[str, str]:
    """What customer_numbers_reserve does, inside a bulk ``INSERT`` (PostgreSQL, for
    crm.bulk.rows_payload): the ``WITH`` clause that takes ``count`` numbers from the
    tenant's counter, and the number of the row at position ``incoming.n`` (from 1).

    The insert then needs no query before it, so it can be sent while Python goes on
    (crm.bulk.WriteBehind). The counter must exist: customer_number_counter_ensure."""
    counter = CustomerNumberCounter._meta.db_table
    with_sql = (
        f"WITH reserved AS (UPDATE {counter} SET next_value = next_value + {int(count)}"  # noqa: S608
        f" WHERE tenant_id = {int(tenant.pk)} RETURNING next_value - {int(count)} AS first)"
    )
    number = f"({CUSTOMER_NUMBER_OFFSET} + (SELECT first FROM reserved) + incoming.n - 1)::text"  # noqa: S608
    return with_sql, number


def customer_number_counter_ensure(*, tenant: Tenant) -> None:
    CustomerNumberCounter.objects.get_or_create(tenant=tenant)


@dataclass
class CustomerInput:
    """What staff, the API or an import give us, before normalisation."""

    kind: str = Customer.Kind.PERSON
    first_name: str = ""
    last_name: str = ""
    trade_name: str = ""
    tckn: str = ""
    tax_id: str = ""
    tax_office: str = ""
    sector: str = ""
    size: str = ""
    birth_date: Any = None
    gender: str = ""
    preferred_channel: str = ""
    preferred_language: str = "tr"
    home_branch: Branch | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    source: str = ""


@dataclass
class NormalizedCustomer:
    fields: dict[str, Any]
    phones: list[normalize.NormalizedPhone]
    emails: list[str]


def customer_normalize(data: CustomerInput) -> NormalizedCustomer:
    """Normalise and validate; raises ValidationError with a message per field."""
    errors: dict[str, list[str]] = {}

    def attempt(name: str, func: Any, value: Any) -> Any:
        if value in (None, ""):
            return "" if not isinstance(value, date) else None
        try:
            return func(value)
        except ValidationError as error:
            # Detached: kept alive by its own cycle, the error's traceback (and the one
            # of the error it was raised from) would hold a bulk import's state.
            errors.setdefault(name, []).extend(bulk.detached(error).messages)
            return None

    fields: dict[str, Any] = {"kind": data.kind}
    if data.kind == Customer.Kind.COMPANY:
        fields["trade_name"] = " ".join(data.trade_name.split())
        if not fields["trade_name"]:
            errors.setdefault("trade_name", []).append(_("A company needs its trade name."))
        fields["tax_id"] = attempt("tax_id", normalize.normalize_tax_id, data.tax_id) or ""
        fields["tax_office"] = data.tax_office.strip()
        fields["sector"] = data.sector.strip()
        fields["size"] = data.size
        fields["name_key"] = matching_key(fields["trade_name"])
    else:
        fields["first_name"] = (
            attempt("first_name", normalize.normalize_person_name, data.first_name) or ""
        )
        fields["last_name"] = (
            attempt("last_name", normalize.normalize_person_name, data.last_name) or ""
        )
        if not (fields["first_name"] or fields["last_name"] or errors):
            errors.setdefault("first_name", []).append(_("Enter the customer's name."))
        fields["tckn"] = attempt("tckn", normalize.normalize_tckn, data.tckn) or ""
        fields["birth_date"] = (
            attempt("birth_date", normalize.normalize_birth_date, data.birth_date) or None
        )
        fields["gender"] = data.gender
        fields["name_key"] = matching_key(f"{fields['first_name']} {fields['last_name']}")
    fields["preferred_channel"] = data.preferred_channel
    fields["preferred_language"] = data.preferred_language or "tr"
    fields["home_branch"] = data.home_branch
    fields["source"] = data.source
    phones = [
        p
        for p in (
            attempt("phones", normalize.normalize_phone, raw)
            for raw in data.phones
            if raw and raw.strip()
        )
        if p
    ]
    emails = [
        e
        for e in (
            attempt("emails", normalize.normalize_email, raw)
            for raw in data.emails
            if raw and raw.strip()
        )
        if e
    ]
    if errors:
        raise ValidationError(errors)
    return NormalizedCustomer(fields=fields, phones=phones, emails=emails)


@transaction.atomic
def customer_create(*, tenant: Tenant, actor: User | None, data: CustomerInput) -> Customer:
    """Create a customer with its phones and e-mails (first of each is primary)."""
    ensure_same_tenant(tenant, data.home_branch)
    normalized = customer_normalize(data)
    if (
        normalized.fields.get("tckn")
        and Customer.objects.filter(
            tenant=tenant, tckn=normalized.fields["tckn"], merged_into__isnull=True
        ).exists()
    ):
        raise ValidationError({"tckn": [_("A customer with this T.C. identity number exists.")]})
    customer = Customer(
        tenant=tenant, customer_number=customer_number_next(tenant=tenant), **normalized.fields
    )
    customer.full_clean(exclude=["name_key", "customer_number"])
    customer.save()
    for index, phone in enumerate(normalized.phones):
        phone_add(
            tenant=tenant, customer=customer, phone=phone, is_primary=index == 0, source=data.source
        )
    for index, address in enumerate(normalized.emails):
        email_add(
            tenant=tenant,
            customer=customer,
            address=address,
            is_primary=index == 0,
            source=data.source,
        )
    return customer


def phone_add(
    *,
    tenant: Tenant,
    customer: Customer,
    phone: normalize.NormalizedPhone,
    is_primary: bool = False,
    source: str = "",
) -> Phone:
    ensure_same_tenant(tenant, customer)
    existing = Phone.objects.filter(customer=customer, contact_person=None, e164=phone.e164).first()
    if existing:
        return existing
    return Phone.objects.create(
        tenant=tenant,
        customer=customer,
        e164=phone.e164,
        is_mobile=phone.is_mobile,
        is_primary=is_primary,
        source=source,
    )


def email_add(
    *, tenant: Tenant, customer: Customer, address: str, is_primary: bool = False, source: str = ""
) -> Email:
    ensure_same_tenant(tenant, customer)
    existing = Email.objects.filter(customer=customer, contact_person=None, address=address).first()
    if existing:
        return existing
    return Email.objects.create(
        tenant=tenant,
        customer=customer,
        address=address,
        match_key=normalize.email_key(address),
        is_primary=is_primary,
        source=source,
    )


@transaction.atomic
def interaction_log(
    *,
    tenant: Tenant,
    actor: User | None,
    customer: Customer,
    touchpoint: str,
    subject: str,
    notes: str = "",
    outcome: str = "",
    branch: Branch | None = None,
    occurred_at: datetime | None = None,
    follow_up_on: date | None = None,
    next_step: str = "",
) -> Interaction:
    ensure_same_tenant(tenant, customer, branch)
    interaction = Interaction(
        tenant=tenant,
        customer=customer,
        touchpoint=touchpoint,
        subject=subject.strip(),
        notes=notes.strip(),
        outcome=outcome,
        staff=actor,
        branch=branch,
        occurred_at=occurred_at or timezone.now(),
        follow_up_on=follow_up_on,
        next_step=next_step.strip(),
    )
    interaction.full_clean()
    interaction.save()
    return interaction


@transaction.atomic
def complaint_open(
    *,
    tenant: Tenant,
    actor: User | None,
    customer: Customer,
    subject: str,
    description: str = "",
    branch: Branch | None = None,
    owner: User | None = None,
    due_on: date | None = None,
) -> Complaint:
    """Open a complaint (owned by the actor unless given) and log it in the timeline."""
    ensure_same_tenant(tenant, customer, branch)
    complaint = Complaint(
        tenant=tenant,
        customer=customer,
        subject=subject.strip(),
        description=description.strip(),
        branch=branch,
        owner=owner or actor,
        due_on=due_on or (timezone.localdate() + timedelta(days=COMPLAINT_DEFAULT_DAYS)),
    )
    complaint.full_clean()
    complaint.save()
    interaction_log(
        tenant=tenant,
        actor=actor,
        customer=customer,
        touchpoint=Touchpoint.COMPLAINT,
        subject=complaint.subject,
        notes=complaint.description,
        branch=branch,
    )
    return complaint


@transaction.atomic
def complaint_change_status(
    *, tenant: Tenant, actor: User, complaint: Complaint, status: str, resolution: str = ""
) -> Complaint:
    ensure_same_tenant(tenant, complaint)
    current = Complaint.Status(complaint.status)
    if status not in COMPLAINT_TRANSITIONS[current]:
        raise ValidationError(
            _("A complaint that is %(current)s cannot become %(new)s.")
            % {"current": current.label, "new": Complaint.Status(status).label}
        )
    if status in (Complaint.Status.RESOLVED, Complaint.Status.CLOSED) and not (
        resolution.strip() or complaint.resolution
    ):
        raise ValidationError(_("Write how the complaint was resolved."))
    complaint.status = status
    if resolution.strip():
        complaint.resolution = resolution.strip()
    if status == Complaint.Status.RESOLVED:
        complaint.resolved_at = timezone.now()
    elif status == Complaint.Status.IN_PROGRESS:
        complaint.resolved_at = None
    complaint.save()
    return complaint


@transaction.atomic
def risk_flag_set(
    *, tenant: Tenant, actor: User, customer: Customer, kind: str, note: str = ""
) -> RiskFlag:
    ensure_same_tenant(tenant, customer)
    if kind == RiskFlag.Kind.CUSTOM and not note.strip():
        raise ValidationError(_("Describe the risk."))
    flag = RiskFlag(tenant=tenant, customer=customer, kind=kind, note=note.strip(), set_by=actor)
    flag.full_clean()
    flag.save()
    return flag


@transaction.atomic
def risk_flag_clear(*, tenant: Tenant, actor: User, flag: RiskFlag) -> RiskFlag:
    ensure_same_tenant(tenant, flag)
    if flag.cleared_at is None:
        flag.cleared_at, flag.cleared_by = timezone.now(), actor
        flag.save(update_fields=["cleared_at", "cleared_by"])
    return flag


# --- API: upsert and bulk purchases --------------------------------------------------


@dataclass
class UpsertResult:
    customer: Customer
    created: bool
    matched_on: list[str] = field(default_factory=list)
    score: float | None = None


def _lock_identifiers(tenant: Tenant, *key_groups: list[str]) -> None:
    """Serialise upserts that carry the same identifier until this transaction ends.

    Without it two POS calls for one new customer, arriving together, both find no
    candidate and both create: the duplicate this app exists to prevent. Keys are
    locked in sorted order so two upserts sharing several identifiers cannot deadlock.
    SQLite needs nothing: it allows one writer at a time.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({f"{tenant.pk}:{key}" for group in key_groups for key in group})
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


@transaction.atomic
def customer_upsert(*, tenant: Tenant, actor: User | None, data: CustomerInput) -> UpsertResult:
    """Link the incoming record to the customer it surely is, or create a new one.

    The input is validated as in customer_create (ValidationError per field). Only a
    candidate above matching.SAME_CUSTOMER_SCORE is linked: it gains the incoming
    phones and e-mails, nothing else of it changes (survivorship belongs to merge).
    A relative sharing a phone scores low and becomes a customer of their own.
    """
    ensure_same_tenant(tenant, data.home_branch)
    normalized = customer_normalize(data)
    _lock_identifiers(
        tenant,
        [f"tckn:{normalized.fields['tckn']}"] if normalized.fields.get("tckn") else [],
        [f"phone:{phone.e164}" for phone in normalized.phones],
        [f"email:{address}" for address in normalized.emails],
    )
    incoming = selectors.incoming_from_raw(
        kind=data.kind,
        first_name=data.first_name,
        last_name=data.last_name,
        trade_name=data.trade_name,
        tckn=data.tckn,
        tax_id=data.tax_id,
        birth_date=data.birth_date,
        phones=data.phones,
        emails=data.emails,
    )
    candidates = selectors.customer_duplicate_candidates(tenant=tenant, incoming=incoming, limit=1)
    if candidates and candidates[0].match.is_same_customer:
        best = candidates[0]
        for phone in normalized.phones:
            phone_add(tenant=tenant, customer=best.customer, phone=phone, source=data.source)
        for address in normalized.emails:
            email_add(tenant=tenant, customer=best.customer, address=address, source=data.source)
        return UpsertResult(
            customer=best.customer,
            created=False,
            matched_on=[str(reason) for reason in best.match.evidence],
            score=best.match.score,
        )
    return UpsertResult(
        customer=customer_create(tenant=tenant, actor=actor, data=data), created=True
    )


MAX_PURCHASES_PER_BATCH = 1000


@dataclass
class PurchaseLineInput:
    sku: str
    unit_price: Decimal
    quantity: Decimal = Decimal("1")
    discount_amount: Decimal = Decimal("0")


@dataclass
class PurchaseInput:
    """One receipt from a POS or shop, before its references are resolved."""

    purchased_at: datetime
    total_amount: Decimal
    customer_id: int | None = None
    customer_number: str = ""
    branch_code: str = ""
    discount_amount: Decimal = Decimal("0")
    touchpoint: str = ""
    external_ref: str = ""
    lines: list[PurchaseLineInput] = field(default_factory=list)


@dataclass
class PurchaseResult:
    status: str  # PURCHASE_CREATED, PURCHASE_SKIPPED or PURCHASE_INVALID
    purchase_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


PURCHASE_CREATED, PURCHASE_SKIPPED, PURCHASE_INVALID = "created", "skipped", "invalid"


@transaction.atomic
def purchases_bulk_create(
    *, tenant: Tenant, actor: User | None, purchases: dict[int, PurchaseInput]
) -> dict[int, PurchaseResult]:
    """Record many receipts at once; returns a result per key of ``purchases``.

    References (customer by id or number, branch by code, products by SKU) are
    resolved in a few queries. A receipt whose external_ref is already known (or
    appeared earlier in the batch) is skipped, so a POS may resend safely. Invalid
    receipts are reported and never block the valid ones: each is written in its
    own savepoint inside one transaction.
    """
    if len(purchases) > MAX_PURCHASES_PER_BATCH:
        raise ValidationError(
            _("Send at most %(count)d purchases at once.") % {"count": MAX_PURCHASES_PER_BATCH}
        )
    items = purchases.values()
    customer_ids = {p.customer_id for p in items if p.customer_id}
    numbers = {p.customer_number for p in items if p.customer_number}
    customers = list(
        Customer.objects.filter(tenant=tenant)
        .filter(Q(pk__in=customer_ids) | Q(customer_number__in=numbers))
        .only("pk", "customer_number", "merged_into_id")
    )
    # A merged-away customer's purchases belong to the one it was merged into.
    by_id = {c.pk: c.merged_into_id or c.pk for c in customers}
    by_number = {c.customer_number: c.merged_into_id or c.pk for c in customers}
    branches = crm_selectors.branches_by_code(
        tenant=tenant, codes={p.branch_code for p in items if p.branch_code}
    )
    products = {
        product.sku: product
        for product in Product.objects.filter(
            tenant=tenant, sku__in={line.sku for p in items for line in p.lines}
        )
    }
    known_refs = dict(
        Purchase.objects.filter(
            tenant=tenant, external_ref__in={p.external_ref for p in items if p.external_ref}
        ).values_list("external_ref", "pk")
    )
    results: dict[int, PurchaseResult] = {}
    for index, item in purchases.items():
        if item.external_ref and item.external_ref in known_refs:
            results[index] = PurchaseResult(PURCHASE_SKIPPED, known_refs[item.external_ref])
            continue
        errors: dict[str, list[str]] = {}
        customer_id = (
            by_id.get(item.customer_id) if item.customer_id else by_number.get(item.customer_number)
        )
        if customer_id is None:
            errors["customer"] = [_("No such customer.")]
        branch = branches.get(item.branch_code) if item.branch_code else None
        if item.branch_code and branch is None:
            errors["branch_code"] = [
                _("No branch has the code %(code)s.") % {"code": item.branch_code}
            ]
        unknown = sorted({line.sku for line in item.lines if line.sku not in products})
        if unknown:
            errors["lines"] = [_("No product has the SKU %(sku)s.") % {"sku": ", ".join(unknown)}]
        if errors or customer_id is None:
            results[index] = PurchaseResult(PURCHASE_INVALID, errors=errors)
            continue
        try:
            with transaction.atomic():
                purchase = _purchase_write(
                    tenant=tenant,
                    actor=actor,
                    item=item,
                    customer_id=customer_id,
                    branch=branch,
                    products=products,
                )
        except IntegrityError:
            # Sent at the same time by another request: the other one recorded it.
            results[index] = PurchaseResult(
                PURCHASE_INVALID,
                errors={"external_ref": [_("This receipt is being recorded already.")]},
            )
            continue
        if item.external_ref:
            known_refs[item.external_ref] = purchase.pk
        results[index] = PurchaseResult(PURCHASE_CREATED, purchase.pk)
    return results


def _purchase_write(
    *,
    tenant: Tenant,
    actor: User | None,
    item: PurchaseInput,
    customer_id: int,
    branch: Branch | None,
    products: dict[str, Product],
) -> Purchase:
    touchpoint = item.touchpoint or (
        Touchpoint.BRANCH_VISIT if branch is not None else Touchpoint.ECOMMERCE
    )
    purchase = Purchase(
        tenant=tenant,
        customer_id=customer_id,
        branch=branch,
        touchpoint=touchpoint,
        staff=actor,
        purchased_at=item.purchased_at,
        total_amount=item.total_amount,
        discount_amount=item.discount_amount,
        is_return=item.total_amount < 0,
        external_ref=item.external_ref,
    )
    purchase.save()
    PurchaseLine.objects.bulk_create(
        [
            PurchaseLine(
                tenant=tenant,
                purchase=purchase,
                product=products[line.sku],
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_amount=line.discount_amount,
                line_total=(line.quantity * line.unit_price - line.discount_amount).quantize(CENTS),
                customer_id=customer_id,
                purchased_at=purchase.purchased_at,
                is_return=purchase.is_return,
            )
            for line in item.lines
        ]
    )
    return purchase


CENTS = Decimal("0.01")


# --- Imports of purchases and interactions ----------------------------------------------


def products_ensure(*, tenant: Tenant, products: dict[str, tuple[str, Decimal]]) -> int:
    """Create the products (SKU → name, list price) the tenant does not have yet; the
    ones it has are left as they are. Returns how many were created."""
    known = set(
        Product.objects.filter(tenant=tenant, sku__in=products).values_list("sku", flat=True)
    )
    new = [
        Product(tenant=tenant, sku=sku, name=(name or sku)[:200], list_price=price)
        for sku, (name, price) in products.items()
        if sku not in known
    ]
    # Another import may create the same SKU meanwhile: theirs is as good as ours.
    Product.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


@dataclass
class InteractionInput:
    """One recorded contact, its references already resolved within the tenant."""

    customer_id: int
    touchpoint: str
    subject: str
    occurred_at: datetime
    notes: str = ""
    outcome: str = ""
    branch: Branch | None = None
    follow_up_on: date | None = None


@transaction.atomic
def interactions_bulk_record(*, tenant: Tenant, interactions: list[InteractionInput]) -> list[bool]:
    """Record many interactions at once; True for each one written.

    An interaction is skipped (False) when the customer already has one at the same
    moment, of the same kind, with the same subject — in the database or earlier in
    the list — so importing a file twice records it once. Customer ids must already
    be checked to belong to the tenant (they are re-checked here).
    """
    _lock_identifiers(tenant, ["interactions-import"])
    customer_ids = {i.customer_id for i in interactions}
    valid_ids = set(
        Customer.objects.filter(tenant=tenant, pk__in=customer_ids).values_list("pk", flat=True)
    )
    if valid_ids != customer_ids:
        raise ValidationError(_("No such customer."))
    ensure_same_tenant(tenant, *(i.branch for i in interactions))
    seen = {
        (customer_id, occurred_at, touchpoint, subject)
        for customer_id, occurred_at, touchpoint, subject in Interaction.objects.filter(
            tenant=tenant,
            customer_id__in=customer_ids,
            occurred_at__in={i.occurred_at for i in interactions},
        ).values_list("customer_id", "occurred_at", "touchpoint", "subject")
    }
    written: list[bool] = []
    new: list[Interaction] = []
    for item in interactions:
        subject = item.subject.strip()
        key = (item.customer_id, item.occurred_at, item.touchpoint, subject)
        if key in seen:
            written.append(False)
            continue
        seen.add(key)
        written.append(True)
        new.append(
            Interaction(
                tenant=tenant,
                customer_id=item.customer_id,
                touchpoint=item.touchpoint,
                subject=subject,
                notes=item.notes.strip(),
                outcome=item.outcome,
                branch=item.branch,
                occurred_at=item.occurred_at,
                follow_up_on=item.follow_up_on,
            )
        )
    Interaction.objects.bulk_create(new)
    return written
