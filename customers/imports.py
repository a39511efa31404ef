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
import dataclasses
import functools
import io
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from psycopg import sql

from crm import bulk
from crm.models import Branch, Tenant, User
from crm.tables import ImportFileError, Table, csv_safe_cell
from crm.text import matching_key
from customers import normalize, selectors, services
from customers.matching import Incoming, Match, score
from customers.models import Address, Customer, Email, Phone, Touchpoint

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
            # The values come from the uploaded file: a cell such as =HYPERLINK(…) must
            # stay text when the report is opened in a spreadsheet.
            writer.writerow(
                [
                    p.line,
                    csv_safe_cell(p.column),
                    csv_safe_cell(p.value[:200]),
                    csv_safe_cell(p.reason),
                    _("rejected") if p.rejected else _("imported, field left empty"),
                ]
            )
        return ("\ufeff" + out.getvalue()).encode("utf-8")


# Rows parsed, resolved and written per step: large enough that the lookups and the
# COPY are amortised, small enough that a chunk's frames stay a few MB.
CHUNK_ROWS = 2000
# The cycles a problem leaves (a ValidationError, the frames of its traceback) are
# a few kilobytes: collected once this many have piled up, not after every chunk
# that had one. A collection walks every object the import made since the last one
# and still holds (0.015 s a chunk), whether there is garbage or not.
PROBLEMS_PER_COLLECTION = 2000


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

    Rows go in ``CHUNK_ROWS`` at a time: each chunk's identifiers are looked up in
    one query, every row is scored against its candidates exactly as at the counter
    (customers.matching), and the new customers and contact points are written with
    COPY. A row matches a customer already in the tenant or one created earlier in
    the same file, so a file that names a person twice makes one customer. Each
    chunk is committed on its own (a savepoint inside a caller's transaction).

    On PostgreSQL the database and Python work side by side (crm.bulk.WriteBehind):
    one message asks for the next chunk's candidates and inserts this chunk's rows;
    Python parses the chunk after next while the candidates are found, and resolves
    the next chunk while the rows go in. The lookup may run before the inserts
    because it needs nothing they write: whoever this file created or touched is
    already in ``known``. Each chunk's lookup is also offered, once parsed, to two
    warmer connections (crm.bulk.ReadAhead) that read its pages while the inserts of
    the chunks before still run: on a server whose caches have gone cold the lookups
    were most of the import's time.

    ``resolve_identity=False`` skips the lookup of existing customers: every good row
    becomes a customer of its own (dedup_eval needs the duplicates to stay apart).
    """
    missing = [column for column in mapping if column not in table.headers]
    if missing:
        raise ImportFileError(
            _("The file has no column %(columns)s.") % {"columns": ", ".join(missing)}
        )
    result = ImportResult()
    with bulk.collector_paused():
        # In a function of its own: what it holds is freed before the collector resumes.
        written = _import_chunks(tenant, table, mapping, source, progress, resolve_identity, result)
    if progress is not None and written:
        progress(written, len(table.rows))
    # A chunk's writing finds problems (an address) after later chunks were parsed;
    # the report is in file order (stable: a line's parsing problems stay first).
    result.problems.sort(key=lambda problem: problem.line)
    result.warnings = sum(1 for p in result.problems if not p.rejected)
    return result


def _import_chunks(
    tenant: Tenant,
    table: Table,
    mapping: dict[str, str],
    source: str,
    progress: Callable[[int, int], None] | None,
    resolve_identity: bool,
    result: ImportResult,
) -> int:
    """customers_import's work, chunk by chunk, into ``result``; the position of the
    last line written."""
    index_of = {field_name: table.headers.index(column) for column, field_name in mapping.items()}
    column_of = {field_name: column for column, field_name in mapping.items()}
    branches = {b.code.upper(): b for b in Branch.objects.filter(tenant=tenant)}
    known = _KnownCustomers()
    total = len(table.rows)
    services.customer_number_counter_ensure(tenant=tenant)

    def parsed_chunks() -> Iterator[_Chunk]:
        chunk: list[_ParsedRow | None] = []
        for position, (line, cells) in enumerate(table.rows, start=1):
            values = {
                name: (cells[i].strip() if i < len(cells) else "") for name, i in index_of.items()
            }
            if not any(cell.strip() for cell in cells):
                continue  # an empty line is not a customer and not an error
            result.rows += 1
            chunk.append(_parse_row(line, values, column_of, branches, result))
            if len(chunk) >= CHUNK_ROWS:
                yield _Chunk(chunk, position)
                chunk = []
        if chunk:
            yield _Chunk(chunk, total)

    def reserve_ids(chunk: _Chunk) -> None:
        chunk.new_ids = iter(bulk.reserve_ids(Customer, len(chunk.parsed)).tolist())

    pipelined = resolve_identity and connection.vendor == "postgresql"

    def parsed_chunks_with_lookups() -> Iterator[_Chunk]:
        for number, chunk in enumerate(parsed_chunks()):
            if pipelined:  # written out while parsing, not while the database waits
                chunk.lookup = _known_rows_sql(tenant, chunk.parsed)
                if number:  # the first is looked up at once anyway
                    # Its pages read while this connection inserts the chunks before.
                    read_ahead.offer(lookup(chunk))
            yield chunk

    def lookup(chunk: _Chunk) -> list[str]:
        return [*_LOOKUP_SETTINGS, chunk.lookup] if pipelined else []

    def candidates(chunk: _Chunk) -> list[_KnownRow]:
        # Sent with writer.send(reads=lookup(chunk)) on PostgreSQL.
        return writer.read()[-1] if pipelined else _known_rows(tenant, chunk)

    chunks = parsed_chunks_with_lookups()
    written = 0  # rows up to this position are committed
    problems_collected = 0
    # Two warmers: one lookup's page reads wait on the disk one after the other, and
    # two running side by side kept ahead of the import where one fell behind.
    with (
        bulk.WriteBehind(tenant_id=tenant.pk) as writer,
        bulk.ReadAhead(connections=2 if pipelined else 0) as read_ahead,
    ):
        current = next(chunks, None)
        if current is not None:
            reserve_ids(current)
            if pipelined:  # looked up while the next chunk is parsed, as every other
                writer.open()
                writer.send(reads=lookup(current))
        upcoming = next(chunks, None)
        if current is not None and resolve_identity:
            known.remember(candidates(current))
        while current is not None:
            writes = _resolve(tenant, current, known, source, result, resolve_identity)
            writer.wait()  # the previous chunk's inserts, run while this one resolved
            if progress is not None and written:
                progress(written, total)
            writer.open()
            _write(writer, tenant, writes, source)
            if upcoming is not None:
                reserve_ids(upcoming)
            writer.send(reads=lookup(upcoming) if upcoming is not None else [])
            written = current.position
            following = next(chunks, None)  # parsed while the database works
            if upcoming is not None and resolve_identity:
                known.remember(candidates(upcoming))
            if len(result.problems) - problems_collected >= PROBLEMS_PER_COLLECTION:
                # A ValidationError refers to itself: problems leave cycles behind.
                problems_collected = len(result.problems)
                bulk.collect_young()
            current, upcoming = upcoming, following
    return written


@dataclass
class _Chunk:
    parsed: list[_ParsedRow | None]
    position: int  # of the chunk's last line in the table
    new_ids: Iterator[int] = field(default_factory=lambda: iter(()))
    lookup: str = ""  # the query for its candidates (PostgreSQL)


@dataclass
class _ParsedRow:
    line: int
    values: dict[str, str]
    problem: Callable[..., None]
    data: services.CustomerInput
    phones: list[normalize.NormalizedPhone]
    email: str | None
    email_key: str | None
    province: str | None
    district: str | None
    postal_code: str | None
    incoming: Incoming


def _parse_row(
    line: int,
    values: dict[str, str],
    column_of: dict[str, str],
    branches: dict[str, Branch],
    result: ImportResult,
) -> _ParsedRow | None:
    """Normalise one row; problems are recorded. None for a row that is no customer."""

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
            problem(name, " ".join(bulk.detached(error).messages))
            return None

    first, last = values.get("first_name", ""), values.get("last_name", "")
    if values.get("full_name") and not (first or last):
        try:
            first, last = normalize.split_full_name(values["full_name"])
        except ValidationError as error:
            # As a bad first or last name column: the row cannot be stored as named.
            problem("full_name", " ".join(bulk.detached(error).messages), rejected=True)
            result.rejected += 1
            return None
    trade_name = values.get("trade_name", "")
    tax_id = clean("tax_id", normalize.normalize_tax_id) or ""
    is_company = bool(trade_name) and not (first or last)
    phones: list[normalize.NormalizedPhone] = []
    for name in ("phone", "phone2"):
        phone = clean(name, normalize.normalize_phone)
        if phone and all(phone.e164 != p.e164 for p in phones):
            phones.append(phone)
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
    kind = Customer.Kind.COMPANY if is_company else Customer.Kind.PERSON
    email_key = normalize.email_key(email) if email else None
    # The values are normalised already: the matching view is built from them directly.
    incoming = selectors.incoming_from_values(
        kind=kind,
        first_name=first,
        last_name=last,
        trade_name=trade_name,
        tckn=tckn,
        tax_id=tax_id,
        birth_date=birth_date,
        phones=(p.e164 for p in phones),
        email_keys=(email_key,) if email_key else (),
    )
    return _ParsedRow(
        line=line,
        values=values,
        problem=problem,
        data=services.CustomerInput(
            kind=kind,
            first_name=first,
            last_name=last,
            trade_name=trade_name,
            tckn=tckn,
            tax_id=tax_id,
            tax_office=values.get("tax_office", ""),
            birth_date=birth_date,
            gender=gender,
            home_branch=branch,
            source="",
        ),
        phones=phones,
        email=email,
        email_key=email_key,
        province=clean("province", normalize.normalize_province),
        district=clean("district", normalize.normalize_district),
        postal_code=clean("postal_code", normalize.normalize_postal_code),
        incoming=incoming,
    )


@dataclass
class _Known:
    """What identity resolution knows of one customer."""

    incoming: Incoming
    phones: set[str]
    email_addresses: set[str]
    # False: the customer may have phones and e-mails besides these (a lookup
    # brings only those sharing a key with the file's rows).
    complete: bool = True

    def match_on_contacts(self, email_keys: frozenset[str]) -> None:
        """Let its matching view have every phone it is known to have, and these
        e-mail keys too (added to ``phones``/``email_addresses`` by the caller)."""
        self.incoming = dataclasses.replace(
            self.incoming,
            phones=frozenset(self.phones),
            email_keys=self.incoming.email_keys | email_keys,
        )


class _KnownCustomers:
    """Customers the import has seen (from the tenant, or created by this import),
    indexed by the same keys the counter's duplicate check blocks on."""

    def __init__(self) -> None:
        self.by_id: dict[int, _Known] = {}
        self.index: dict[tuple[str, str], set[int]] = defaultdict(set)

    def add(self, customer_id: int, known: _Known, *, index: bool = True) -> None:
        self.by_id[customer_id] = known
        if not index:
            return  # nothing will be matched against it (dedup_eval keeps rows apart)
        for key in _keys(known.incoming):
            self.index[key].add(customer_id)

    def remember(self, rows: list[_KnownRow]) -> None:
        """Add the customers of a lookup that the import does not know yet, and what
        it found of those it knows: a lookup brings the phones and e-mails that share
        a key with its chunk (the ones the import created or touched are newer in
        memory than in the database, and only ever gain)."""
        for (
            customer_id, kind, first_name, last_name, trade_name, tckn, tax_id, birth_date,
            phones, addresses, email_keys, complete,
        ) in rows:  # fmt: skip
            known = self.by_id.get(customer_id)
            if known is not None:
                if not set(phones) <= known.phones or not set(addresses) <= known.email_addresses:
                    known.phones.update(phones)
                    known.email_addresses.update(addresses)
                    known.match_on_contacts(frozenset(email_keys))
                    self.add(customer_id, known)
                continue
            incoming = selectors.incoming_from_values(
                kind=kind,
                first_name=first_name,
                last_name=last_name,
                trade_name=trade_name,
                tckn=tckn,
                tax_id=tax_id,
                birth_date=birth_date,
                phones=phones,
                email_keys=email_keys,
            )
            self.add(customer_id, _Known(incoming, set(phones), set(addresses), complete))

    def candidates(self, incoming: Incoming) -> set[int]:
        found: set[int] = set()
        for key in _keys(incoming):
            found |= self.index.get(key, set())
        return found


def _keys(incoming: Incoming) -> Iterator[tuple[str, str]]:
    if incoming.tckn:
        yield ("tckn", incoming.tckn)
    if incoming.tax_id:
        yield ("tax_id", incoming.tax_id)
    for phone in incoming.phones:
        yield ("phone", phone)
    for key in incoming.email_keys:
        yield ("email", key)
    # Not the name key the counter's check also blocks on: without a shared identifier,
    # phone or e-mail a candidate cannot reach SAME_CUSTOMER_SCORE (name and birth date
    # give at most 8.5), and at a million customers a common name brings hundreds.


# What identity resolution needs of a candidate customer, one row each:
# id, kind, first_name, last_name, trade_name, tckn, tax_id, birth_date,
# phones (E.164), e-mail addresses, e-mail match keys, and whether those are all the
# customer has or only the ones that share a key with the chunk (_known_rows_sql).
# The customer's own phones and e-mails only: a contact person's lead to the company
# but are not its own.
_KnownRow = tuple[int, str, str, str, str, str, str, Any, list[str], list[str], list[str], bool]


def _lookup_keys(rows: list[_ParsedRow | None]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {"tckn": set(), "tax_id": set(), "phone": set(), "email": set()}
    for row in rows:
        if row is None:
            continue
        incoming = row.incoming
        if incoming.tckn:
            keys["tckn"].add(incoming.tckn)
        if incoming.tax_id:
            keys["tax_id"].add(incoming.tax_id)
        keys["phone"].update(incoming.phones)
        keys["email"].update(incoming.email_keys)
    return keys


# For the rest of the chunk's transaction only. The lookup's estimated cost crosses
# jit_above_cost, and compiling it took 30 ms of the 40 it ran. Parallel workers
# (a planner's choice on a smaller tenant) take the core the import's own Python
# works on while the database looks up: imports of 20,000 rows ran 5% slower.
_LOOKUP_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL max_parallel_workers_per_gather = 0")


def _known_rows_sql(tenant: Tenant, rows: list[_ParsedRow | None]) -> str:
    """One query (PostgreSQL) for the active customers sharing a blocking key with
    ``rows``, as _KnownRow. The values are inlined as quoted literals so that the
    query can travel in crm.bulk.WriteBehind's message, which takes no parameters.

    A candidate's phones and e-mails are only those the probes by the rows' numbers
    and e-mail keys found (from phone_e164_idx and email_key_idx alone), not all of
    its own: reading those took one more index page per candidate for each, four in
    ten of the pages a lookup read on a cold server. Identity resolution needs no
    more (a score counts only what a row and a candidate share, and a row's own
    phones and e-mails are among the probed ones); whether a customer had a phone or
    e-mail before is asked by the insert that gives it one (_resolve).

    The T.C. and tax numbers' conditions repeat the predicates of their partial
    indexes (customer_tckn_unique_per_tenant, customer_tax_id_given_idx): the planner
    cannot prove them from a list of more than 100 values, and without it read every
    customer (90 ms a chunk at 100,000 customers)."""
    keys = _lookup_keys(rows)

    def table(model: type[Any]) -> sql.Identifier:
        return sql.Identifier(model._meta.db_table)

    def values(name: str) -> sql.Composable:
        return sql.SQL(bulk.array_literal(sorted(keys[name])) + "::text[]")

    query = sql.SQL(
        """
        WITH phone_hits AS (
            SELECT customer_id, e164, contact_person_id IS NULL AS own FROM {phone}
            WHERE tenant_id = {tenant} AND e164 = ANY({phones})
        ), email_hits AS (
            SELECT customer_id, address, match_key, contact_person_id IS NULL AS own
            FROM {email} WHERE tenant_id = {tenant} AND match_key = ANY({emails})
        ), own_phones AS (
            SELECT customer_id, array_agg(e164) AS numbers FROM phone_hits WHERE own
            GROUP BY customer_id
        ), own_emails AS (
            SELECT customer_id, array_agg(address) AS addresses, array_agg(match_key) AS keys
            FROM email_hits WHERE own GROUP BY customer_id
        )
        SELECT c.id, c.kind, c.first_name, c.last_name, c.trade_name, c.tckn, c.tax_id,
               c.birth_date, coalesce(p.numbers, '{{}}'), coalesce(e.addresses, '{{}}'),
               coalesce(e.keys, '{{}}'), false
        FROM {customer} c
        LEFT JOIN own_phones p ON p.customer_id = c.id
        LEFT JOIN own_emails e ON e.customer_id = c.id
        WHERE c.tenant_id = {tenant} AND c.merged_into_id IS NULL AND c.id IN (
            SELECT id FROM {customer} WHERE tenant_id = {tenant} AND tckn = ANY({tckn})
                AND tckn <> '' AND merged_into_id IS NULL
            UNION ALL
            SELECT id FROM {customer} WHERE tenant_id = {tenant} AND tax_id = ANY({tax_id})
                AND tax_id <> ''
            UNION ALL
            SELECT customer_id FROM phone_hits
            UNION ALL
            SELECT customer_id FROM email_hits)
        """
    ).format(
        customer=table(Customer),
        phone=table(Phone),
        email=table(Email),
        tenant=sql.Literal(tenant.pk),
        tckn=values("tckn"),
        tax_id=values("tax_id"),
        phones=values("phone"),
        emails=values("email"),
    )
    return query.as_string(connection.connection)


def _known_rows(tenant: Tenant, chunk: _Chunk) -> list[_KnownRow]:
    """The _KnownRow of each active customer sharing a blocking key with the chunk's
    rows: through its ``lookup`` query when it has one (PostgreSQL), else the ORM."""
    if chunk.lookup:
        with transaction.atomic(), connection.cursor() as cursor:
            for setting in _LOOKUP_SETTINGS:
                cursor.execute(setting)
            cursor.execute(chunk.lookup)
            return cursor.fetchall()
    keys = _lookup_keys(chunk.parsed)
    active = Customer.objects.filter(tenant=tenant, merged_into__isnull=True).order_by()
    ids: set[int] = set()
    for name in ("tckn", "tax_id"):
        if keys[name]:
            # "<> ''" as the partial indexes say, so that they can be used here too.
            matching = active.filter(**{f"{name}__any_of": keys[name]}).exclude(**{name: ""})
            ids |= set(matching.values_list("pk", flat=True))
    for model, column, name in ((Phone, "e164", "phone"), (Email, "match_key", "email")):
        if keys[name]:
            ids |= set(
                model.objects.filter(tenant=tenant, **{f"{column}__any_of": keys[name]})
                .order_by()
                .values_list("customer_id", flat=True)
            )
    if not ids:
        return []
    phones: dict[int, list[str]] = defaultdict(list)
    for customer_id, e164 in (
        Phone.objects.filter(tenant=tenant, customer_id__any_of=ids, contact_person__isnull=True)
        .order_by()
        .values_list("customer_id", "e164")
    ):
        phones[customer_id].append(e164)
    emails: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for customer_id, address, key in (
        Email.objects.filter(tenant=tenant, customer_id__any_of=ids, contact_person__isnull=True)
        .order_by()
        .values_list("customer_id", "address", "match_key")
    ):
        emails[customer_id].append((address, key))
    return [
        (
            *customer,
            phones[customer[0]],
            [address for address, _key in emails[customer[0]]],
            [key for _address, key in emails[customer[0]]],
            True,
        )
        for customer in active.filter(pk__any_of=ids).values_list(
            "pk", "kind", "first_name", "last_name", "trade_name", "tckn", "tax_id", "birth_date"
        )
    ]


def _best_match(incoming: Incoming, known: _KnownCustomers) -> int | None:
    best: Match | None = None
    for customer_id in sorted(known.candidates(incoming)):
        match = score(incoming, known.by_id[customer_id].incoming, customer_id)
        if match.is_same_customer and (best is None or match.score > best.score):
            best = match
    return best.customer_id if best else None


@dataclass
class _ChunkWrites:
    now: Any  # the chunk's created_at, one for all its rows
    # SQLite: new customers, numbered in the chunk's transaction (PostgreSQL numbers
    # them in their INSERT, among the payloads).
    customers: list[dict[str, Any]]
    payloads: list[bulk.RowsPayload]  # customers (PostgreSQL), phones and e-mails
    addresses: list[tuple[int, _ParsedRow]]  # made into rows once the stored ones are read


def _resolve(
    tenant: Tenant,
    chunk: _Chunk,
    known: _KnownCustomers,
    source: str,
    result: ImportResult,
    resolve_identity: bool,
) -> _ChunkWrites:
    """Match each row of the chunk (its candidates are in ``known``) or make it a new
    customer, and say what to write. Python only: the connection may be busy."""
    new_ids = chunk.new_ids
    new_customers: list[dict[str, Any]] = []
    phone_rows: list[dict[str, Any]] = []
    email_rows: list[dict[str, Any]] = []
    later_addresses: list[tuple[int, _ParsedRow]] = []
    for row in chunk.parsed:
        if row is None:
            result.customer_ids.append(None)
            continue
        customer_id = _best_match(row.incoming, known) if resolve_identity else None
        created = False
        if customer_id is not None:
            result.matched += 1
        else:
            tckn = row.incoming.tckn
            if tckn and resolve_identity and known.index.get(("tckn", tckn)):
                row.problem(
                    "tckn", _("A customer with this T.C. identity number exists."), rejected=True
                )
                result.rejected += 1
                result.customer_ids.append(None)
                continue
            try:
                fields = _customer_fields(row.data)
            except ValidationError as error:
                for name, messages in bulk.detached(error).message_dict.items():
                    row.problem(name, " ".join(messages), rejected=True)
                result.rejected += 1
                result.customer_ids.append(None)
                continue
            customer_id = next(new_ids)
            new_customers.append({**fields, "id": customer_id, "source": source})
            result.created += 1
            created = True
            # Indexed below, once its phones and e-mails are known.
            known.add(customer_id, _Known(row.incoming, set(), set()), index=False)
        result.customer_ids.append(customer_id)
        customer = known.by_id[customer_id]
        gained = False  # a phone or e-mail the customer did not have
        for phone in row.phones:
            if phone.e164 in customer.phones:
                continue
            phone_rows.append(
                {
                    "customer_id": customer_id,
                    "e164": phone.e164,
                    "is_mobile": phone.is_mobile,
                    "is_primary": _first(customer.phones, customer.complete),
                    "source": source,
                }
            )
            customer.phones.add(phone.e164)
            gained = True
        if row.email and row.email not in customer.email_addresses:
            email_rows.append(
                {
                    "customer_id": customer_id,
                    "address": row.email,
                    "match_key": row.email_key,
                    "is_primary": _first(customer.email_addresses, customer.complete),
                    "source": source,
                }
            )
            customer.email_addresses.add(row.email)
            gained = True
        if any(row.values.get(name) for name in _ADDRESS_FIELDS):
            later_addresses.append((customer_id, row))
        if resolve_identity and (gained or created):
            # Later rows of the file find this customer by its new phones/e-mails too.
            # (A new customer's matching view is its row's, which has them already.)
            if gained and not created:
                customer.match_on_contacts(row.incoming.email_keys)
            known.add(customer_id, customer)
    # Formatted now, while the database may still be inserting the previous chunk.
    now = timezone.now()
    payloads = [
        bulk.rows_payload(
            model,
            model_rows,
            tenant_id=tenant.pk,
            now=now,
            when_null=(
                {"is_primary": _has_none_sql(model, tenant)}
                if any(row["is_primary"] is None for row in model_rows)
                else None
            ),
        )
        for model, model_rows in ((Phone, phone_rows), (Email, email_rows))
    ]
    if new_customers and connection.vendor == "postgresql":
        # The insert takes its numbers from the counter itself: no query before it.
        with_sql, number = services.customer_numbers_sql(tenant=tenant, count=len(new_customers))
        customers_payload = bulk.rows_payload(
            Customer,
            new_customers,
            tenant_id=tenant.pk,
            now=now,
            with_ids=True,
            computed={"customer_number": number},
            with_sql=with_sql,
        )
        return _ChunkWrites(now, [], [customers_payload, *payloads], later_addresses)
    return _ChunkWrites(now, new_customers, payloads, later_addresses)


def _first(known: set[str], complete: bool) -> bool | None:
    """Whether a customer's next phone (or e-mail) is its first, so its primary one:
    None when only the database can say (it had none the import knows of, but the
    import knows only those that shared a key with the file's rows)."""
    if known:
        return False
    return True if complete else None


def _has_none_sql(model: type[Phone] | type[Email], tenant: Tenant) -> str:
    """For crm.bulk.rows_payload's when_null: whether the row's customer had no phone
    (or e-mail) of its own before the insert (which sees none of the rows it adds)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} own"  # noqa: S608
        f" WHERE own.customer_id = incoming.customer_id AND own.contact_person_id IS NULL"
        f" AND own.tenant_id = {int(tenant.pk)})"
    )


def _write(writer: bulk.WriteBehind, tenant: Tenant, writes: _ChunkWrites, source: str) -> None:
    """Queue the chunk's rows on ``writer`` (open, and the connection free)."""
    now = writes.now
    if writes.customers:  # SQLite
        numbers = services.customer_numbers_reserve(tenant=tenant, count=len(writes.customers))
        for fields, number in zip(writes.customers, numbers, strict=True):
            fields["customer_number"] = number
        writer.add(
            bulk.rows_payload(
                Customer, writes.customers, tenant_id=tenant.pk, now=now, with_ids=True
            )
        )
    for payload in writes.payloads:
        writer.add(payload)
    addresses = _address_rows(tenant, writes.addresses, source)
    writer.add(bulk.rows_payload(Address, addresses, tenant_id=tenant.pk, now=now))


# Columns the import writes itself (name_key, customer_number, tenant) or has checked
# already (home_branch comes from the tenant's own branches).
_UNCHECKED_FIELDS = frozenset({"name_key", "customer_number", "tenant", "home_branch"})


@functools.cache
def _checked_customer_fields() -> tuple[dict[str, Any], dict[str, list[ValidationError]]]:
    """The Customer fields clean_fields checks, by the name a row's values use, and
    the errors clean_fields gives a customer made of model defaults only (none today).

    Building a Customer per row only to call clean_fields cost a third of the import's
    Python time; _customer_fields runs the same field checks on the values alone."""
    checked = {
        f.name: f
        for f in Customer._meta.fields
        if f.name not in _UNCHECKED_FIELDS and not f.generated
    }
    default_errors: dict[str, list[ValidationError]] = {}
    try:
        Customer().clean_fields(exclude=list(_UNCHECKED_FIELDS))
    except ValidationError as error:
        default_errors = bulk.detached(error).error_dict
    return checked, default_errors


def _customer_fields(data: services.CustomerInput) -> dict[str, Any]:
    """The customer's column values as customer_create would store them, validated as
    Customer.clean_fields would validate them (same checks, same messages)."""
    normalized = services.customer_normalize(data)
    fields = dict(normalized.fields)
    branch = fields.pop("home_branch", None)
    fields["home_branch_id"] = branch.pk if branch else None
    checked, default_errors = _checked_customer_fields()
    # Fields the row leaves out keep the model default, checked once for all rows.
    errors = {k: v for k, v in default_errors.items() if k not in fields}
    for name, value in fields.items():
        model_field = checked.get(name)
        if model_field is None or (model_field.blank and value in model_field.empty_values):
            continue
        problems = _field_problems(name, value)
        if problems:
            errors[name] = problems
    if errors:
        raise ValidationError(errors)
    return fields


# Names, kinds and languages repeat from row to row: each value is checked once.
@functools.lru_cache(maxsize=65_536)
def _field_problems(name: str, value: Any) -> list[ValidationError] | None:
    try:
        _checked_customer_fields()[0][name].clean(value, None)
    except ValidationError as error:
        return list(bulk.detached(error).error_list)
    return None


_ADDRESS_FIELDS = ("address", "province", "district", "postal_code")
_ADDRESS_LINE_MAX = Address._meta.get_field("line").max_length or 300


def _address_rows(
    tenant: Tenant, addresses: list[tuple[int, _ParsedRow]], source: str
) -> list[dict[str, Any]]:
    """The chunk's new addresses, as rows for bulk.rows_payload.

    An address is kept when it has a line or a province: without a province column
    (or with one that is not a province, already reported) the province is read from
    the end of the line ("… Kadıköy/İSTANBUL") or the postal code's plate digits, and
    stays empty when neither tells. One already stored for the customer (same line
    in any case, same province) is not added again, so re-importing a file adds
    nothing; a customer's first address is primary."""
    if not addresses:
        return []
    stored: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for customer_id, line, province in Address.objects.filter(
        tenant=tenant, customer_id__any_of={customer_id for customer_id, _row in addresses}
    ).values_list("customer_id", "line", "province"):
        stored[customer_id].add((matching_key(line), province))
    rows: list[dict[str, Any]] = []
    for customer_id, row in addresses:
        address = _address_of(row)
        if address is None:
            continue
        key = (matching_key(address["line"]), address["province"])
        if key in stored[customer_id]:
            continue
        rows.append(
            {
                **address,
                "customer_id": customer_id,
                "source": source,
                "is_primary": not stored[customer_id],
            }
        )
        stored[customer_id].add(key)
    return rows


def _address_of(row: _ParsedRow) -> dict[str, str] | None:
    """The row's address (district and postal code already checked in _parse_row,
    bad ones reported there and left empty), or None when nothing of an address is left."""
    values = row.values
    line = " ".join(values.get("address", "").split())
    if len(line) > _ADDRESS_LINE_MAX:
        row.problem(
            "address",
            _("An address can have at most %(max)d characters; not imported.")
            % {"max": _ADDRESS_LINE_MAX},
        )
        line = ""
    district = row.district or ""
    postal_code = row.postal_code or ""
    province = row.province or ""
    if not province and line:
        found = normalize.province_from_address_line(line)
        province = found.province
        district = district or found.district
    if not province and postal_code:
        province = postal_code[:2]
    if not (line or province):
        if district:
            row.problem(
                "district",
                _("A district without a province or an address line; not imported."),
            )
        return None
    return {"line": line, "province": province, "district": district, "postal_code": postal_code}


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
