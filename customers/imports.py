"""Importing customers from CSV/XLSX files people already have.

The same path serves the upload screen (as a background job), the
``import_customers`` command and dedup_eval: read the table, map columns to fields,
normalise every value, and resolve identity so that re-importing a file, or a file
overlapping what is already there, links rows to existing customers instead of
creating duplicates. Good rows go in; a bad optional value keeps the row and is
reported as a warning; only a row that cannot be a customer at all is rejected.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Branch, Tenant, User
from crm.tables import ImportFileError, Table
from crm.tenancy import ensure_same_tenant
from crm.text import matching_key
from customers import normalize, selectors, services
from customers.models import Address, Customer, Touchpoint

MAX_CELL_CHARS = 1000

IMPORT_FIELDS: dict[str, Any] = {
    "full_name": gettext_lazy("Full name"),
    "first_name": gettext_lazy("First name(s)"),
    "last_name": gettext_lazy("Last name"),
    "trade_name": gettext_lazy("Trade name"),
    "tckn": gettext_lazy("T.C. identity number"),
    "tax_id": gettext_lazy("Tax number (VKN or TCKN)"),
    "tax_office": gettext_lazy("Tax office"),
    "birth_date": gettext_lazy("Birth date"),
    "gender": gettext_lazy("Gender"),
    "phone": gettext_lazy("Phone"),
    "phone2": gettext_lazy("Second phone"),
    "email": gettext_lazy("E-mail"),
    "province": gettext_lazy("Province (il)"),
    "district": gettext_lazy("District (ilçe)"),
    "address": gettext_lazy("Address"),
    "postal_code": gettext_lazy("Postal code"),
    "home_branch": gettext_lazy("Home branch (code)"),
}

_GENDERS = {
    "k": "f",
    "kadin": "f",
    "kadın": "f",
    "f": "f",
    "female": "f",
    "e": "m",
    "erkek": "m",
    "m": "m",
    "male": "m",
}


def parse_mapping(text: str) -> dict[str, str]:
    """``"Ad Soyad=full_name,GSM=phone"`` → {source column: field}."""
    mapping = {}
    for part in text.split(","):
        if not part.strip():
            continue
        source, sep, target = part.rpartition("=")
        if not sep or target.strip() not in IMPORT_FIELDS:
            raise ImportFileError(
                _("Bad mapping %(part)s: use COLUMN=FIELD with FIELD one of %(fields)s.")
                % {"part": part, "fields": ", ".join(IMPORT_FIELDS)}
            )
        mapping[source.strip()] = target.strip()
    return mapping


@dataclass
class RowProblem:
    line: int
    column: str
    value: str
    reason: str
    rejected: bool


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    matched: int = 0
    rejected: int = 0
    warnings: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    customer_ids: list[int | None] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "matched": self.matched,
            "rejected": self.rejected,
            "warnings": self.warnings,
        }

    def error_report_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow([_("line"), _("column"), _("value"), _("problem"), _("row")])
        for p in self.problems:
            writer.writerow(
                [
                    p.line,
                    p.column,
                    p.value[:200],
                    p.reason,
                    _("rejected") if p.rejected else _("imported, field left empty"),
                ]
            )
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def customers_import(
    *,
    tenant: Tenant,
    actor: User | None,
    table: Table,
    mapping: dict[str, str],
    source: str = Touchpoint.IMPORT,
    progress: Callable[[int, int], None] | None = None,
    resolve_identity: bool = True,
) -> ImportResult:
    """Import the table's rows; see the module docstring for what callers can rely on.

    ``resolve_identity=False`` skips the lookup of existing customers: every good row
    becomes a customer of its own (dedup_eval needs the duplicates to stay apart).
    """
    missing = [column for column in mapping if column not in table.headers]
    if missing:
        raise ImportFileError(
            _("The file has no column %(columns)s.") % {"columns": ", ".join(missing)}
        )
    index_of = {field_name: table.headers.index(column) for column, field_name in mapping.items()}
    column_of = {field_name: column for column, field_name in mapping.items()}
    branches = {b.code.upper(): b for b in Branch.objects.filter(tenant=tenant)}
    result = ImportResult()
    total = len(table.rows)
    for position, (line, cells) in enumerate(table.rows, start=1):
        values = {
            name: (cells[i].strip() if i < len(cells) else "") for name, i in index_of.items()
        }
        if not any(cell.strip() for cell in cells):
            continue  # an empty line is not a customer and not an error
        result.rows += 1
        customer_id = _import_row(
            tenant, actor, line, values, column_of, branches, source, result, resolve_identity
        )
        result.customer_ids.append(customer_id)
        if progress is not None:
            progress(position, total)
    result.warnings = sum(1 for p in result.problems if not p.rejected)
    return result


def _import_row(
    tenant: Tenant,
    actor: User | None,
    line: int,
    values: dict[str, str],
    column_of: dict[str, str],
    branches: dict[str, Branch],
    source: str,
    result: ImportResult,
    resolve_identity: bool = True,
) -> int | None:
    def problem(field_name: str, reason: str, *, rejected: bool = False) -> None:
        result.problems.append(
            RowProblem(
                line,
                column_of.get(field_name, field_name),
                values.get(field_name, ""),
                reason,
                rejected,
            )
        )

    for name, value in list(values.items()):
        if len(value) > MAX_CELL_CHARS:
            problem(name, _("Too long (%(count)s characters); left empty.") % {"count": len(value)})
            values[name] = ""

    def clean(name: str, func: Callable[[str], Any]) -> Any:
        raw = values.get(name, "")
        if not raw:
            return None
        try:
            return func(raw)
        except ValidationError as error:
            problem(name, " ".join(error.messages))
            return None

    first, last = values.get("first_name", ""), values.get("last_name", "")
    if values.get("full_name") and not (first or last):
        first, last = normalize.split_full_name(values["full_name"])
    trade_name = values.get("trade_name", "")
    tax_id = clean("tax_id", normalize.normalize_tax_id) or ""
    is_company = bool(trade_name) and not (first or last)
    phones = [p for p in (clean(n, normalize.normalize_phone) for n in ("phone", "phone2")) if p]
    email = clean("email", normalize.normalize_email)
    tckn = clean("tckn", normalize.normalize_tckn) or ""
    has_name = bool(first or last or trade_name)
    if not has_name and not (phones or email or tckn or tax_id):
        problem(
            "full_name" if "full_name" in column_of else "first_name",
            _("No name and no phone, e-mail or identity number: not a customer."),
            rejected=True,
        )
        result.rejected += 1
        return None
    birth_date = clean("birth_date", normalize.normalize_birth_date)
    gender = _GENDERS.get(matching_key(values.get("gender", "")), "")
    if values.get("gender") and not gender:
        problem("gender", _("Unknown gender value; left empty."))
    branch = None
    if values.get("home_branch"):
        branch = branches.get(values["home_branch"].upper())
        if branch is None:
            problem("home_branch", _("No branch with this code; left empty."))
    province = clean("province", normalize.normalize_province)
    incoming = selectors.incoming_from_raw(
        kind=Customer.Kind.COMPANY if is_company else Customer.Kind.PERSON,
        first_name=first,
        last_name=last,
        trade_name=trade_name,
        tckn=tckn,
        tax_id=tax_id,
        birth_date=birth_date,
        phones=[p.e164 for p in phones],
        emails=[email] if email else [],
    )
    with transaction.atomic():
        candidates = (
            selectors.customer_duplicate_candidates(tenant=tenant, incoming=incoming, limit=1)
            if resolve_identity
            else []
        )
        if candidates and candidates[0].match.is_same_customer:
            customer = candidates[0].customer
            result.matched += 1
        else:
            try:
                customer = services.customer_create(
                    tenant=tenant,
                    actor=actor,
                    data=services.CustomerInput(
                        kind=Customer.Kind.COMPANY if is_company else Customer.Kind.PERSON,
                        first_name=first,
                        last_name=last,
                        trade_name=trade_name,
                        tckn=tckn,
                        tax_id=tax_id,
                        tax_office=values.get("tax_office", ""),
                        birth_date=birth_date,
                        gender=gender,
                        home_branch=branch,
                        source=source,
                    ),
                )
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    problem(name, " ".join(messages), rejected=True)
                result.rejected += 1
                return None
            result.created += 1
        for index, phone in enumerate(phones):
            services.phone_add(
                tenant=tenant,
                customer=customer,
                phone=phone,
                is_primary=index == 0 and not customer.phones.exists(),
                source=source,
            )
        if email:
            services.email_add(
                tenant=tenant,
                customer=customer,
                address=email,
                is_primary=not customer.emails.exists(),
                source=source,
            )
        if values.get("address") and province:
            _address_add(tenant, customer, values, province, problem, source)
    return customer.pk


def _address_add(
    tenant: Tenant,
    customer: Customer,
    values: dict[str, str],
    province: str,
    problem: Callable[..., None],
    source: str,
) -> None:
    ensure_same_tenant(tenant, customer)
    postal_code = ""
    if values.get("postal_code"):
        try:
            postal_code = normalize.normalize_postal_code(values["postal_code"])
        except ValidationError as error:
            problem("postal_code", " ".join(error.messages))
    line = " ".join(values["address"].split())
    district = normalize.normalize_district(values["district"]) if values.get("district") else ""
    if not Address.objects.filter(customer=customer, line=line, province=province).exists():
        Address.objects.create(
            tenant=tenant,
            customer=customer,
            line=line,
            province=province,
            district=district,
            postal_code=postal_code,
            source=source,
            is_primary=not customer.addresses.exists(),
        )


def iter_suggested_mapping(headers: list[str]) -> Iterator[tuple[str, str]]:
    """Guess a field for common Turkish and English column titles."""
    guesses = {
        "ad soyad": "full_name",
        "adi soyadi": "full_name",
        "musteri adi": "full_name",
        "isim": "first_name",
        "ad": "first_name",
        "adi": "first_name",
        "first name": "first_name",
        "soyad": "last_name",
        "soyadi": "last_name",
        "last name": "last_name",
        "unvan": "trade_name",
        "firma": "trade_name",
        "firma adi": "trade_name",
        "tckn": "tckn",
        "tc": "tckn",
        "tc kimlik no": "tckn",
        "tc no": "tckn",
        "vkn": "tax_id",
        "vergi no": "tax_id",
        "vergi dairesi": "tax_office",
        "dogum tarihi": "birth_date",
        "birth date": "birth_date",
        "cinsiyet": "gender",
        "telefon": "phone",
        "tel": "phone",
        "gsm": "phone",
        "cep": "phone",
        "phone": "phone",
        "cep telefonu": "phone",
        "telefon 2": "phone2",
        "e-posta": "email",
        "eposta": "email",
        "email": "email",
        "e-mail": "email",
        "mail": "email",
        "il": "province",
        "sehir": "province",
        "ilce": "district",
        "adres": "address",
        "address": "address",
        "posta kodu": "postal_code",
        "sube": "home_branch",
        "sube kodu": "home_branch",
    }
    for header in headers:
        guess = guesses.get(matching_key(header))
        if guess:
            yield header, guess


def headers_key(headers: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\x1f".join(matching_key(h) for h in headers).encode()).hexdigest()


def mapping_for(*, tenant: Tenant, headers: list[str]) -> dict[str, str]:
    """The mapping saved for files with these headers, else a guess from the titles."""
    from customers.models import ImportMapping

    saved = ImportMapping.objects.filter(tenant=tenant, headers_key=headers_key(headers)).first()
    if saved is not None:
        return {k: v for k, v in saved.mapping.items() if k in headers and v in IMPORT_FIELDS}
    return dict(iter_suggested_mapping(headers))


def mapping_save(*, tenant: Tenant, headers: list[str], mapping: dict[str, str]) -> None:
    from customers.models import ImportMapping

    ImportMapping.objects.update_or_create(
        tenant=tenant,
        headers_key=headers_key(headers),
        defaults={"headers": headers, "mapping": mapping},
    )


def preview_rows(table: Table, mapping: dict[str, str], limit: int = 5) -> list[dict[str, Any]]:
    """The first rows as they will be stored, with the problems each value has."""
    previews = []
    checks: dict[str, Callable[[str], Any]] = {
        "phone": lambda v: normalize.normalize_phone(v).e164,
        "phone2": lambda v: normalize.normalize_phone(v).e164,
        "email": normalize.normalize_email,
        "tckn": normalize.normalize_tckn,
        "tax_id": normalize.normalize_tax_id,
        "birth_date": lambda v: normalize.normalize_birth_date(v).isoformat(),
        "province": normalize.normalize_province,
        "first_name": normalize.normalize_person_name,
        "last_name": normalize.normalize_person_name,
        "full_name": normalize.normalize_person_name,
    }
    for line, cells in table.rows[:limit]:
        row = {}
        for column, field_name in mapping.items():
            raw = (
                cells[table.headers.index(column)].strip()
                if table.headers.index(column) < len(cells)
                else ""
            )
            shown, problem = raw, ""
            if raw and field_name in checks:
                try:
                    shown = str(checks[field_name](raw))
                except ValidationError as error:
                    shown, problem = "", " ".join(error.messages)
            row[field_name] = {"value": shown, "problem": problem}
        previews.append({"line": line, "fields": row})
    return previews
