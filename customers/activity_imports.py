"""Importing purchases and interactions, matched to the customers they belong to.

The same path serves the upload screen (a background job) and the
``import_purchases`` / ``import_interactions`` commands. Each row names its customer
by customer number, T.C. identity number, e-mail or phone; the reference is
normalised exactly as at the counter and resolved to the surviving customer (a
merged-away record's history belongs to the one it was merged into). Importing the
same file again records nothing new: receipts are keyed by their receipt number (or,
without one, by customer, time and amount), interactions by customer, time, kind and
subject. Good rows go in; a row whose customer, date or amount cannot be read is
rejected and reported with its line, column and reason.

``IMPORT_KINDS`` is what the upload screen, the task and the commands share: per kind
of file, its job kind, fields, and how to guess, check, preview and run a mapping.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Branch, Tenant, User
from crm.tables import ImportFileError, Table
from crm.text import matching_key
from customers import imports, normalize, selectors, services
from customers.imports import ImportResult, RowProblem
from customers.models import Customer, Interaction, Touchpoint

REFERENCE_FIELDS: dict[str, Any] = {
    "customer_number": gettext_lazy("Customer number"),
    "tckn": gettext_lazy("Customer's T.C. identity number"),
    "email": gettext_lazy("Customer's e-mail"),
    "phone": gettext_lazy("Customer's phone"),
}

PURCHASE_FIELDS: dict[str, Any] = {
    **REFERENCE_FIELDS,
    "purchased_at": gettext_lazy("Purchase date and time"),
    "receipt_number": gettext_lazy("Receipt number"),
    "branch_code": gettext_lazy("Branch (code)"),
    "touchpoint": gettext_lazy("Touchpoint"),
    "total_amount": gettext_lazy("Receipt total"),
    "discount_amount": gettext_lazy("Discount"),
    "sku": gettext_lazy("Product code (SKU)"),
    "product_name": gettext_lazy("Product name"),
    "quantity": gettext_lazy("Quantity"),
    "unit_price": gettext_lazy("Unit price"),
}

INTERACTION_FIELDS: dict[str, Any] = {
    **REFERENCE_FIELDS,
    "occurred_at": gettext_lazy("Date and time"),
    "touchpoint": gettext_lazy("Kind (touchpoint)"),
    "subject": gettext_lazy("Subject"),
    "notes": gettext_lazy("Notes"),
    "outcome": gettext_lazy("Outcome"),
    "branch_code": gettext_lazy("Branch (code)"),
    "follow_up_on": gettext_lazy("Follow-up date"),
}

# Rows whose references are looked up together: a few queries per chunk.
CHUNK_ROWS = 2000
MAX_RECEIPT_NUMBER = 64  # Purchase.external_ref
MAX_SKU = 50  # Product.sku
MAX_SUBJECT = 200  # Interaction.subject
# Purchase amounts have 12 digits, 2 of them after the point.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_QUANTITY = Decimal("9999999.999")
# Prefix of the receipt key made up for rows without a receipt number; a till's own
# numbers never look like this.
DERIVED_REF_PREFIX = "imp:"


@dataclass
class ActivityImportResult(ImportResult):
    """``created`` counts purchases (receipts) or interactions written; ``skipped`` the
    ones already recorded (a file imported again)."""

    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "warnings": self.warnings,
        }


# ----------------------------------------------------------------------------- rows


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    column_of: dict[str, str]
    result: ActivityImportResult
    customer_id: int | None = None
    rejected: bool = False

    def problem(self, field_name: str, reason: str, *, rejected: bool = False) -> None:
        self.result.problems.append(
            RowProblem(
                self.line,
                self.column_of.get(field_name, field_name),
                self.values.get(field_name, ""),
                reason,
                rejected,
            )
        )
        if rejected and not self.rejected:
            self.rejected = True
            self.result.rejected += 1


def _rows(
    table: Table, mapping: dict[str, str], fields: dict[str, Any], result: ActivityImportResult
) -> list[_Row]:
    """The table's non-empty rows with their mapped values (empty lines are no error)."""
    missing = [column for column in mapping if column not in table.headers]
    if missing:
        raise ImportFileError(
            _("The file has no column %(columns)s.") % {"columns": ", ".join(missing)}
        )
    unknown = sorted({name for name in mapping.values() if name not in fields})
    if unknown:
        raise ImportFileError(
            _("Unknown field %(fields)s: use one of %(known)s.")
            % {"fields": ", ".join(unknown), "known": ", ".join(fields)}
        )
    index_of = {name: table.headers.index(column) for column, name in mapping.items()}
    column_of = {name: column for column, name in mapping.items()}
    rows = []
    for line, cells in table.rows:
        if not any(cell.strip() for cell in cells):
            continue
        values = {
            name: (cells[i].strip() if i < len(cells) else "") for name, i in index_of.items()
        }
        result.rows += 1
        rows.append(_Row(line, values, column_of, result))
    return rows


def _references(row: _Row) -> list[tuple[str, str]]:
    """The row's customer references, normalised, strongest first. A value that cannot
    be normalised is reported (and the next reference tried)."""
    found = []
    for name, func in (
        ("customer_number", lambda v: v.strip()),
        ("tckn", normalize.normalize_tckn),
        ("email", lambda v: normalize.email_key(normalize.normalize_email(v))),
        ("phone", lambda v: normalize.normalize_phone(v).e164),
    ):
        raw = row.values.get(name, "")
        if not raw:
            continue
        try:
            found.append((name, func(raw)))
        except ValidationError as error:
            row.problem(name, " ".join(error.messages))
    return found


def _resolve_customers(tenant: Tenant, rows: list[_Row]) -> None:
    """Set each row's surviving customer, or reject the row saying why not."""
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        references = [(row, _references(row)) for row in chunk]
        wanted: dict[str, set[str]] = {name: set() for name in REFERENCE_FIELDS}
        for _row, refs in references:
            for name, value in refs:
                wanted[name].add(value)
        found = selectors.customers_by_reference(
            tenant=tenant,
            numbers=wanted["customer_number"],
            tckns=wanted["tckn"],
            email_keys=wanted["email"],
            phones=wanted["phone"],
        )
        for row, refs in references:
            ambiguous = None
            for name, value in refs:
                ids = found.get((name, value), set())
                if len(ids) == 1:
                    row.customer_id = next(iter(ids))
                    break
                if ids and ambiguous is None:
                    ambiguous = name
            if row.customer_id is not None:
                continue
            if ambiguous is not None:
                row.problem(
                    ambiguous,
                    _(
                        "Several customers have this value (%(field)s); add a column with "
                        "the customer number to say which one."
                    )
                    % {"field": REFERENCE_FIELDS[ambiguous]},
                    rejected=True,
                )
            elif refs:
                row.problem(
                    refs[0][0],
                    _(
                        "No customer has this value (%(field)s); import or create the "
                        "customer first."
                    )
                    % {"field": REFERENCE_FIELDS[refs[0][0]]},
                    rejected=True,
                )
            else:
                named = [n for n in REFERENCE_FIELDS if row.values.get(n)]
                row.problem(
                    named[0] if named else _first_mapped(row, REFERENCE_FIELDS),
                    _(
                        "No customer number, identity number, e-mail or phone to find the "
                        "customer by."
                    ),
                    rejected=True,
                )


def _first_mapped(row: _Row, names: dict[str, Any]) -> str:
    return next((name for name in names if name in row.column_of), next(iter(names)))


def _moment(row: _Row, name: str) -> datetime | None:
    """The row's required date/time field, or None with the row rejected."""
    raw = row.values.get(name, "")
    try:
        return normalize.parse_datetime(raw)
    except ValidationError as error:
        row.problem(name, " ".join(error.messages), rejected=True)
        return None


def _amount(row: _Row, name: str, *, places: int = 2, limit: Decimal = MAX_AMOUNT) -> Any:
    """The row's amount (None when empty); an unreadable one rejects the row."""
    raw = row.values.get(name, "")
    if not raw:
        return None
    try:
        value = normalize.parse_amount(raw, places=places)
    except ValidationError as error:
        row.problem(name, " ".join(error.messages), rejected=True)
        return None
    if abs(value) > limit:
        row.problem(name, _("This amount is too large."), rejected=True)
        return None
    return value


def _branch(row: _Row, branches: dict[str, Branch]) -> Branch | None:
    code = row.values.get("branch_code", "")
    if not code:
        return None
    branch = branches.get(code.upper())
    if branch is None:
        row.problem("branch_code", _("No branch with this code; left empty."))
    return branch


def _branches(tenant: Tenant) -> dict[str, Branch]:
    return {b.code.upper(): b for b in Branch.objects.filter(tenant=tenant)}


def _label_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", matching_key(text).replace("_", " ")).split())


TOUCHPOINT_WORDS = {
    "magaza": Touchpoint.BRANCH_VISIT,
    "sube": Touchpoint.BRANCH_VISIT,
    "kasa": Touchpoint.BRANCH_VISIT,
    "store": Touchpoint.BRANCH_VISIT,
    "branch": Touchpoint.BRANCH_VISIT,
    "gelen": Touchpoint.CALL_IN,
    "inbound call": Touchpoint.CALL_IN,
    "giden": Touchpoint.CALL_OUT,
    "arama": Touchpoint.CALL_OUT,
    "outbound call": Touchpoint.CALL_OUT,
    "resepsiyon": Touchpoint.FRONT_DESK,
    "danisma": Touchpoint.FRONT_DESK,
    "web": Touchpoint.ECOMMERCE,
    "online": Touchpoint.ECOMMERCE,
    "internet": Touchpoint.ECOMMERCE,
    "web sitesi": Touchpoint.ECOMMERCE,
    "eticaret": Touchpoint.ECOMMERCE,
    "bayi": Touchpoint.DEALER,
    "toplanti": Touchpoint.MEETING,
    "gorusme": Touchpoint.MEETING,
    "yuz yuze": Touchpoint.MEETING,
    "meeting": Touchpoint.MEETING,
    "fuar": Touchpoint.TRADE_FAIR,
    "servis": Touchpoint.SERVICE_VISIT,
    "teknik servis": Touchpoint.SERVICE_VISIT,
    "eposta": Touchpoint.EMAIL,
    "mail": Touchpoint.EMAIL,
    "sikayet": Touchpoint.COMPLAINT,
}

OUTCOME_WORDS = {
    "satis": Interaction.Outcome.SOLD,
    "satildi": Interaction.Outcome.SOLD,
    "bilgi verildi": Interaction.Outcome.INFORMED,
    "bilgilendirildi": Interaction.Outcome.INFORMED,
    "takip": Interaction.Outcome.FOLLOW_UP,
    "cevap yok": Interaction.Outcome.NO_ANSWER,
    "ulasilamadi": Interaction.Outcome.NO_ANSWER,
    "acmadi": Interaction.Outcome.NO_ANSWER,
    "cozuldu": Interaction.Outcome.RESOLVED,
    "diger": Interaction.Outcome.OTHER,
}


def _choice_labels(choices: Any, words: Mapping[str, str]) -> dict[str, str]:
    """Label (English or Turkish, any case, with or without Turkish letters) → value."""
    labels = {_label_key(word): value for word, value in words.items()}
    for value, label in choices:
        labels[_label_key(value)] = value
        for language in ("en", "tr"):
            with translation.override(language):
                labels[_label_key(str(label))] = value
    return labels


def _choice(row: _Row, name: str, labels: dict[str, str], unknown: str = "") -> str:
    """The choice the row's label names; "" when empty or unknown (with a warning,
    ``unknown`` if given: what happens instead)."""
    raw = row.values.get(name, "")
    if not raw:
        return ""
    value = labels.get(_label_key(raw), "")
    if not value:
        row.problem(name, unknown or _("Unknown value; left empty."))
    return value


# ------------------------------------------------------------------------ purchases


@dataclass
class _Receipt:
    ref: str
    customer_id: int
    purchased_at: datetime
    branch: Branch | None
    touchpoint: str
    total: Decimal | None
    discount: Decimal
    rows: list[_Row] = field(default_factory=list)
    lines: list[services.PurchaseLineInput] = field(default_factory=list)
    lines_total: Decimal = Decimal("0")


def purchases_import(
    *,
    tenant: Tenant,
    actor: User | None,
    table: Table,
    mapping: dict[str, str],
    progress: Callable[[int, int], None] | None = None,
) -> ActivityImportResult:
    """Import receipts; see the module docstring for what callers can rely on.

    Rows with the same receipt number are the lines of one purchase (its customer,
    time, branch, total and discount come from its first row). Without a receipt
    number a row is a receipt of its own, unless it shares customer, time and total
    with another row. SKUs the tenant does not know become products. Receipts are
    written through ``services.purchases_bulk_create``, which skips receipts already
    recorded. ``actor`` is not recorded as the purchase's staff: the importer did not
    make the sale.
    """
    result = ActivityImportResult()
    rows = _rows(table, mapping, PURCHASE_FIELDS, result)
    _resolve_customers(tenant, rows)
    branches = _branches(tenant)
    labels = _choice_labels(Touchpoint.choices, TOUCHPOINT_WORDS)
    receipts: dict[str, _Receipt] = {}
    products: dict[str, tuple[str, Decimal]] = {}
    for row in rows:
        receipt = _purchase_row(row, receipts, branches, labels)
        if receipt is not None and row.values.get("sku"):
            name, price = row.values.get("product_name", ""), receipt.lines[-1].unit_price
            products.setdefault(row.values["sku"], (name, price))
    services.products_ensure(tenant=tenant, products=products)
    batch: dict[int, services.PurchaseInput] = {}
    batch_receipts: dict[int, _Receipt] = {}
    written_rows = 0
    for receipt in receipts.values():
        if all(row.rejected for row in receipt.rows):
            continue
        batch[len(batch)] = services.PurchaseInput(
            purchased_at=receipt.purchased_at,
            total_amount=(
                receipt.total
                if receipt.total is not None
                else receipt.lines_total - receipt.discount
            ),
            customer_id=receipt.customer_id,
            branch_code=receipt.branch.code if receipt.branch else "",
            discount_amount=receipt.discount,
            touchpoint=receipt.touchpoint,
            external_ref=receipt.ref,
            lines=receipt.lines,
        )
        batch_receipts[len(batch_receipts)] = receipt
        if len(batch) >= services.MAX_PURCHASES_PER_BATCH:
            written_rows += _purchases_write(tenant, batch, batch_receipts, result)
            batch, batch_receipts = {}, {}
            if progress is not None:
                progress(written_rows, result.rows)
    written_rows += _purchases_write(tenant, batch, batch_receipts, result)
    if progress is not None:
        progress(result.rows, result.rows)
    result.warnings = sum(1 for p in result.problems if not p.rejected)
    return result


def _purchase_row(
    row: _Row, receipts: dict[str, _Receipt], branches: dict[str, Branch], labels: dict[str, str]
) -> _Receipt | None:
    """Check one row and add it to its receipt; None (row rejected) when it cannot be."""
    purchased_at = _moment(row, "purchased_at")
    total = _amount(row, "total_amount")
    discount = _amount(row, "discount_amount")
    quantity = _amount(row, "quantity", places=3, limit=MAX_QUANTITY)
    unit_price = _amount(row, "unit_price")
    sku = row.values.get("sku", "")
    ref = row.values.get("receipt_number", "")
    if len(ref) > MAX_RECEIPT_NUMBER:
        row.problem(
            "receipt_number",
            _("A receipt number has at most %(count)s characters.") % {"count": MAX_RECEIPT_NUMBER},
            rejected=True,
        )
    if len(sku) > MAX_SKU:
        row.problem(
            "sku",
            _("A product code has at most %(count)s characters.") % {"count": MAX_SKU},
            rejected=True,
        )
    if sku and unit_price is None and not row.rejected:
        row.problem("unit_price", _("A product line needs its unit price."), rejected=True)
    if total is None and unit_price is None and not row.rejected:
        row.problem(
            _first_mapped(row, {"total_amount": 1, "unit_price": 1}),
            _("No amount: map the receipt total or the unit price."),
            rejected=True,
        )
    if row.rejected or row.customer_id is None or purchased_at is None:
        return None
    quantity = Decimal("1") if quantity is None else quantity
    line_total = None
    if unit_price is not None:
        line_total = (quantity * unit_price).quantize(services.CENTS)
    if not ref:
        amount = total if total is not None else line_total
        ref = _derived_ref(row.customer_id, purchased_at, amount)
    receipt = receipts.get(ref)
    if receipt is None:
        touchpoint = _choice(
            row,
            "touchpoint",
            labels,
            _("Unknown touchpoint; recorded as a branch visit with a branch, else e-commerce."),
        )
        receipt = receipts[ref] = _Receipt(
            ref=ref,
            customer_id=row.customer_id,
            purchased_at=purchased_at,
            branch=_branch(row, branches),
            touchpoint=touchpoint,
            total=total,
            discount=discount or Decimal("0"),
        )
    elif receipt.customer_id != row.customer_id:
        row.problem(
            "receipt_number",
            _("Earlier lines of this receipt belong to another customer."),
            rejected=True,
        )
        return None
    receipt.rows.append(row)
    if line_total is not None:
        receipt.lines_total += line_total
    if sku and unit_price is not None:
        receipt.lines.append(
            services.PurchaseLineInput(sku=sku, unit_price=unit_price, quantity=quantity)
        )
    elif unit_price is not None:
        row.problem("sku", _("No product code: the line counts in the total but is not listed."))
    return receipt


def _derived_ref(customer_id: int, purchased_at: datetime, amount: Decimal | None) -> str:
    key = f"{customer_id}|{purchased_at.isoformat()}|{amount}"
    return DERIVED_REF_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def _purchases_write(
    tenant: Tenant,
    batch: dict[int, services.PurchaseInput],
    receipts: dict[int, _Receipt],
    result: ActivityImportResult,
) -> int:
    if not batch:
        return 0
    outcomes = services.purchases_bulk_create(tenant=tenant, actor=None, purchases=batch)
    rows = 0
    for index, outcome in outcomes.items():
        receipt = receipts[index]
        rows += len(receipt.rows)
        if outcome.status == services.PURCHASE_CREATED:
            result.created += 1
        elif outcome.status == services.PURCHASE_SKIPPED:
            result.skipped += 1
        else:
            reason = " ".join(m for messages in outcome.errors.values() for m in messages)
            for row in receipt.rows:
                row.problem("receipt_number", reason, rejected=True)
    return rows


# --------------------------------------------------------------------- interactions


def interactions_import(
    *,
    tenant: Tenant,
    actor: User | None,
    table: Table,
    mapping: dict[str, str],
    progress: Callable[[int, int], None] | None = None,
) -> ActivityImportResult:
    """Import contacts with customers; see the module docstring.

    The kind is read from English or Turkish labels ("Gelen arama", "Incoming call",
    "şube ziyareti", "e-posta" …); a missing kind is recorded as a data import, an
    unknown one too, with a warning. A missing subject becomes the kind's name. Bad
    optional values (outcome, branch, follow-up date) keep the row and are reported.
    ``actor`` is not recorded as the interaction's staff: the importer was not there.
    """
    result = ActivityImportResult()
    rows = _rows(table, mapping, INTERACTION_FIELDS, result)
    _resolve_customers(tenant, rows)
    branches = _branches(tenant)
    kinds = _choice_labels(Touchpoint.choices, TOUCHPOINT_WORDS)
    outcomes = _choice_labels(Interaction.Outcome.choices, OUTCOME_WORDS)
    pending: list[tuple[_Row, services.InteractionInput]] = []
    for done, row in enumerate(rows, start=1):
        item = _interaction_row(row, branches, kinds, outcomes)
        if item is not None:
            pending.append((row, item))
        if len(pending) >= CHUNK_ROWS:
            _interactions_write(tenant, pending, result)
            pending = []
            if progress is not None:
                progress(done, len(rows))
    _interactions_write(tenant, pending, result)
    if progress is not None:
        progress(len(rows), len(rows))
    result.warnings = sum(1 for p in result.problems if not p.rejected)
    return result


def _interaction_row(
    row: _Row, branches: dict[str, Branch], kinds: dict[str, str], outcomes: dict[str, str]
) -> services.InteractionInput | None:
    occurred_at = _moment(row, "occurred_at")
    if row.rejected or row.customer_id is None or occurred_at is None:
        return None
    touchpoint = (
        _choice(row, "touchpoint", kinds, _("Unknown kind; recorded as a data import."))
        or Touchpoint.IMPORT
    )
    subject = " ".join(row.values.get("subject", "").split())
    if len(subject) > MAX_SUBJECT:
        row.problem(
            "subject", _("Too long; shortened to %(count)s characters.") % {"count": MAX_SUBJECT}
        )
        subject = subject[:MAX_SUBJECT]
    follow_up_on: date | None = None
    if row.values.get("follow_up_on"):
        try:
            follow_up_on = normalize.parse_date(row.values["follow_up_on"])
        except ValidationError as error:
            row.problem("follow_up_on", " ".join(error.messages))
    with translation.override("tr"):
        fallback_subject = str(Touchpoint(touchpoint).label)
    return services.InteractionInput(
        customer_id=row.customer_id,
        touchpoint=touchpoint,
        subject=subject or fallback_subject,
        occurred_at=occurred_at,
        notes=row.values.get("notes", ""),
        outcome=_choice(row, "outcome", outcomes),
        branch=_branch(row, branches),
        follow_up_on=follow_up_on,
    )


def _interactions_write(
    tenant: Tenant,
    pending: list[tuple[_Row, services.InteractionInput]],
    result: ActivityImportResult,
) -> None:
    if not pending:
        return
    written = services.interactions_bulk_record(
        tenant=tenant, interactions=[item for _row, item in pending]
    )
    result.created += sum(written)
    result.skipped += len(written) - sum(written)


# -------------------------------------------------------------------- file kinds


_REFERENCE_GUESSES = {
    "musteri no": "customer_number",
    "musteri numarasi": "customer_number",
    "musteri kodu": "customer_number",
    "customer number": "customer_number",
    "customer no": "customer_number",
    "tckn": "tckn",
    "tc": "tckn",
    "tc kimlik no": "tckn",
    "tc no": "tckn",
    "telefon": "phone",
    "tel": "phone",
    "gsm": "phone",
    "cep": "phone",
    "cep telefonu": "phone",
    "phone": "phone",
    "e posta": "email",
    "eposta": "email",
    "email": "email",
    "e mail": "email",
    "mail": "email",
}

_PURCHASE_GUESSES = {
    **_REFERENCE_GUESSES,
    "tarih": "purchased_at",
    "tarih saat": "purchased_at",
    "islem tarihi": "purchased_at",
    "satis tarihi": "purchased_at",
    "fis tarihi": "purchased_at",
    "date": "purchased_at",
    "purchased at": "purchased_at",
    "fis no": "receipt_number",
    "fis numarasi": "receipt_number",
    "fis": "receipt_number",
    "belge no": "receipt_number",
    "fatura no": "receipt_number",
    "receipt": "receipt_number",
    "receipt number": "receipt_number",
    "sube": "branch_code",
    "sube kodu": "branch_code",
    "magaza": "branch_code",
    "magaza kodu": "branch_code",
    "branch": "branch_code",
    "kanal": "touchpoint",
    "temas noktasi": "touchpoint",
    "touchpoint": "touchpoint",
    "tutar": "total_amount",
    "toplam": "total_amount",
    "toplam tutar": "total_amount",
    "fis toplami": "total_amount",
    "total": "total_amount",
    "amount": "total_amount",
    "indirim": "discount_amount",
    "iskonto": "discount_amount",
    "discount": "discount_amount",
    "urun kodu": "sku",
    "stok kodu": "sku",
    "sku": "sku",
    "barkod": "sku",
    "urun": "product_name",
    "urun adi": "product_name",
    "product": "product_name",
    "adet": "quantity",
    "miktar": "quantity",
    "quantity": "quantity",
    "qty": "quantity",
    "birim fiyat": "unit_price",
    "fiyat": "unit_price",
    "unit price": "unit_price",
    "price": "unit_price",
}

_INTERACTION_GUESSES = {
    **_REFERENCE_GUESSES,
    "tarih": "occurred_at",
    "tarih saat": "occurred_at",
    "date": "occurred_at",
    "occurred at": "occurred_at",
    "tur": "touchpoint",
    "tip": "touchpoint",
    "kanal": "touchpoint",
    "temas noktasi": "touchpoint",
    "kind": "touchpoint",
    "type": "touchpoint",
    "touchpoint": "touchpoint",
    "konu": "subject",
    "baslik": "subject",
    "subject": "subject",
    "not": "notes",
    "notlar": "notes",
    "aciklama": "notes",
    "notes": "notes",
    "sonuc": "outcome",
    "outcome": "outcome",
    "sube": "branch_code",
    "sube kodu": "branch_code",
    "branch": "branch_code",
    "takip tarihi": "follow_up_on",
    "geri donus tarihi": "follow_up_on",
    "follow up": "follow_up_on",
    "follow up on": "follow_up_on",
}


def _guess(guesses: dict[str, str]) -> Callable[[list[str]], Iterator[tuple[str, str]]]:
    def suggest(headers: list[str]) -> Iterator[tuple[str, str]]:
        taken: set[str] = set()
        for header in headers:
            key = _label_key(header)
            guess = guesses.get(key) or guesses.get(key.removesuffix(" tl").strip())
            if guess and guess not in taken:
                taken.add(guess)
                yield header, guess

    return suggest


def _customer_mapping_problem(chosen: set[str]) -> str | None:
    identifying = {
        "full_name",
        "first_name",
        "last_name",
        "trade_name",
        "phone",
        "email",
        "tckn",
        "tax_id",
    }
    if not identifying & chosen:
        return _("Map at least a name, phone, e-mail or identity number column.")
    return None


def _purchase_mapping_problem(chosen: set[str]) -> str | None:
    if not set(REFERENCE_FIELDS) & chosen:
        return _("Map a column that names the customer: number, identity number, e-mail or phone.")
    if "purchased_at" not in chosen:
        return _("Map the column with the purchase date.")
    if not {"total_amount", "unit_price"} & chosen:
        return _("Map the receipt total or the unit price column.")
    return None


def _interaction_mapping_problem(chosen: set[str]) -> str | None:
    if not set(REFERENCE_FIELDS) & chosen:
        return _("Map a column that names the customer: number, identity number, e-mail or phone.")
    if "occurred_at" not in chosen:
        return _("Map the column with the date of the contact.")
    return None


def _customers_run(
    *,
    tenant: Tenant,
    actor: User | None,
    table: Table,
    mapping: dict[str, str],
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    return imports.customers_import(
        tenant=tenant, actor=actor, table=table, mapping=mapping, progress=progress
    )


@dataclass(frozen=True)
class ImportKind:
    """One kind of file people import: what it holds and how it is read."""

    key: str
    job_kind: str
    label: Any
    title: Any  # the job's title, with %(name)s for the file name
    fields: dict[str, Any]
    suggest: Callable[[list[str]], Iterator[tuple[str, str]]]
    mapping_problem: Callable[[set[str]], str | None]
    run: Callable[..., ImportResult]
    report_name: str
    summary: Any  # the finished job's message, formatted with the result's as_dict()


IMPORT_KINDS: dict[str, ImportKind] = {
    kind.key: kind
    for kind in (
        ImportKind(
            key="customers",
            job_kind="customers.import",
            label=gettext_lazy("Customers"),
            title=gettext_lazy("Customer import: %(name)s"),
            fields=imports.IMPORT_FIELDS,
            suggest=imports.iter_suggested_mapping,
            mapping_problem=_customer_mapping_problem,
            run=_customers_run,
            report_name="customer-import-problems.csv",
            summary=gettext_lazy(
                "%(created)s new, %(matched)s matched to existing customers, %(rejected)s "
                "rejected, %(warnings)s warnings"
            ),
        ),
        ImportKind(
            key="purchases",
            job_kind="customers.import_purchases",
            label=gettext_lazy("Purchases (receipts)"),
            title=gettext_lazy("Purchase import: %(name)s"),
            fields=PURCHASE_FIELDS,
            suggest=_guess(_PURCHASE_GUESSES),
            mapping_problem=_purchase_mapping_problem,
            run=purchases_import,
            report_name="purchase-import-problems.csv",
            summary=gettext_lazy(
                "%(created)s purchases recorded, %(skipped)s already there, %(rejected)s rows "
                "rejected, %(warnings)s warnings"
            ),
        ),
        ImportKind(
            key="interactions",
            job_kind="customers.import_interactions",
            label=gettext_lazy("Interactions (calls, visits, meetings)"),
            title=gettext_lazy("Interaction import: %(name)s"),
            fields=INTERACTION_FIELDS,
            suggest=_guess(_INTERACTION_GUESSES),
            mapping_problem=_interaction_mapping_problem,
            run=interactions_import,
            report_name="interaction-import-problems.csv",
            summary=gettext_lazy(
                "%(created)s interactions recorded, %(skipped)s already there, %(rejected)s "
                "rows rejected, %(warnings)s warnings"
            ),
        ),
    )
}
KIND_OF_JOB = {kind.job_kind: kind for kind in IMPORT_KINDS.values()}


def parse_mapping(kind: ImportKind, text: str) -> dict[str, str]:
    """``"Fiş No=receipt_number,GSM=phone"`` → {source column: field} for this kind."""
    mapping = {}
    for part in text.split(","):
        if not part.strip():
            continue
        source, sep, target = part.rpartition("=")
        if not sep or target.strip() not in kind.fields:
            raise ImportFileError(
                _("Bad mapping %(part)s: use COLUMN=FIELD with FIELD one of %(fields)s.")
                % {"part": part, "fields": ", ".join(kind.fields)}
            )
        mapping[source.strip()] = target.strip()
    return mapping


def _headers_key(kind: ImportKind, headers: list[str]) -> str:
    key = imports.headers_key(headers)
    if kind.key == "customers":
        return key  # as saved before files of other kinds could be imported
    return hashlib.sha256(f"{kind.key}:{key}".encode()).hexdigest()


def mapping_for(*, tenant: Tenant, kind: ImportKind, headers: list[str]) -> dict[str, str]:
    """The mapping saved for this kind of file with these headers, else a guess."""
    from customers.models import ImportMapping

    saved = ImportMapping.objects.filter(
        tenant=tenant, headers_key=_headers_key(kind, headers)
    ).first()
    if saved is not None:
        return {k: v for k, v in saved.mapping.items() if k in headers and v in kind.fields}
    return dict(kind.suggest(headers))


def mapping_save(
    *, tenant: Tenant, kind: ImportKind, headers: list[str], mapping: dict[str, str]
) -> None:
    from customers.models import ImportMapping

    ImportMapping.objects.update_or_create(
        tenant=tenant,
        headers_key=_headers_key(kind, headers),
        defaults={"headers": headers, "mapping": mapping},
    )


@dataclass
class Preview:
    rows: list[dict[str, Any]]
    shows_customer: bool


def preview(
    *, tenant: Tenant, kind: ImportKind, table: Table, mapping: dict[str, str], limit: int = 5
) -> Preview:
    """The first rows as they will be stored, each value with its problem; for
    purchases and interactions also the customer each row will be recorded for."""
    if kind.key == "customers":
        return Preview(imports.preview_rows(table, mapping, limit), shows_customer=False)
    checks: dict[str, Callable[[str], Any]] = {
        "tckn": normalize.normalize_tckn,
        "email": normalize.normalize_email,
        "phone": lambda v: normalize.normalize_phone(v).e164,
        "purchased_at": _local_text,
        "occurred_at": _local_text,
        "follow_up_on": lambda v: normalize.parse_date(v).isoformat(),
        "total_amount": normalize.parse_amount,
        "discount_amount": normalize.parse_amount,
        "unit_price": normalize.parse_amount,
        "quantity": lambda v: normalize.parse_amount(v, places=3),
    }
    labels = _choice_labels(Touchpoint.choices, TOUCHPOINT_WORDS)
    outcomes = _choice_labels(Interaction.Outcome.choices, OUTCOME_WORDS)
    checks["touchpoint"] = lambda v: _label_of(Touchpoint, labels, v)
    checks["outcome"] = lambda v: _label_of(Interaction.Outcome, outcomes, v)
    scratch = ActivityImportResult()
    sample = Table(headers=table.headers, rows=table.rows[:limit])
    rows = _rows(sample, mapping, kind.fields, scratch)
    _resolve_customers(tenant, rows)
    customers = {
        c.pk: c
        for c in Customer.objects.filter(
            tenant=tenant, pk__in={r.customer_id for r in rows if r.customer_id}
        ).only(*_DISPLAY_FIELDS)
    }
    previews = []
    for row in rows:
        fields: dict[str, dict[str, str]] = {}
        for name in mapping.values():
            raw, shown, problem = row.values.get(name, ""), row.values.get(name, ""), ""
            if raw and name in checks:
                try:
                    shown = str(checks[name](raw))
                except ValidationError as error:
                    shown, problem = "", " ".join(error.messages)
            fields[name] = {"value": shown, "problem": problem}
        customer = customers.get(row.customer_id or 0)
        reasons = [p.reason for p in scratch.problems if p.line == row.line and p.rejected]
        previews.append(
            {
                "line": row.line,
                "fields": fields,
                "customer": (
                    {
                        "value": f"{customer.customer_number} · {customer.display_name}",
                        "problem": "",
                    }
                    if customer
                    else {"value": "", "problem": " ".join(reasons)}
                ),
            }
        )
    return Preview(previews, shows_customer=True)


_DISPLAY_FIELDS = (
    *("pk", "kind", "first_name", "last_name", "trade_name"),
    *("customer_number", "anonymised_at"),
)


def _local_text(raw: str) -> str:
    from django.utils import timezone

    return timezone.localtime(normalize.parse_datetime(raw)).strftime("%Y-%m-%d %H:%M")


def _label_of(choices: Any, labels: dict[str, str], raw: str) -> str:
    value = labels.get(_label_key(raw))
    if not value:
        raise ValidationError(_("Unknown value; left empty."))
    return str(choices(value).label)
