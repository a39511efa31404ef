"""``manage.py bench customers --tenant SLUG [--json]``: the DESIGN.md §10 figures.

What is measured, and how:

* ``page``: the customer page (``customers:detail``) through Django's test client as
  a call-centre member of the tenant — middleware, session, tenant lookup, the
  selector, the template and the access-log write; wall time per request, and the
  number of queries per request (``page_queries_max``, counted by an execute wrapper).
  ``page_again_*``: the same pages opened a second time, their rows now in the
  database's and the system's caches. The first pass reads whatever of the sample's
  customers the caches lost: on a machine whose page cache is reclaimed (the 1M
  reference tenant is 13 GB) that is most of them, and the two differ by 15-30 ms
  at p95.
* ``search_*``: ``customers.selectors.customer_search`` (what the search box calls)
  with values taken from random real customers: a name typed as the first four
  letters of the first word and two of the last ("ayse yi"), the first seven digits
  of a phone as staff type it ("0532123"), a whole e-mail, a TCKN, a customer number.
* ``duplicate_check``: ``customer_duplicate_candidates`` for a customer typed again
  with a slip (a typo in the first name, the phone in national format).
* ``import``: ~20,000 rows (fewer on a small tenant, or ``TEKIL_BENCH_IMPORT_ROWS``),
  a third of them existing
  customers written differently, through ``customers.imports.customers_import`` in a
  transaction that is rolled back afterwards: the tenant is left as it was (the
  tables the import wrote are vacuumed after the rollback, so a second run does not
  meet the first one's dead rows). Foreign keys are checked as each statement ends,
  as they would be at commit.
* ``dedup``: ``customers.dedup.find_duplicates`` over the whole tenant (nothing is
  merged), with the process's peak resident memory.
"""

from __future__ import annotations

import csv
import io
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from crm.bench import BenchOptions, percentiles_ms, register_bench, timed
from crm.models import Membership, Tenant
from crm.permissions import ROLES_REQUIRING_TWO_FACTOR
from crm.tables import read_table
from customers import dedup, duplicates, imports, selectors
from customers.models import Customer, Email, Phone
from customers.reference import typo

IMPORT_ROWS = 20_000
# A smaller sample for a slow import path (the figure is rows per second anyway).
IMPORT_ROWS_ENV = "TEKIL_BENCH_IMPORT_ROWS"


def _sample(tenant: Tenant, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` random active customers with a phone and an e-mail if they have one."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the same seed samples the same customers
            cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000.0])
        cursor.execute(
            "SELECT id FROM customers_customer WHERE tenant_id = %s AND merged_into_id IS NULL"
            " ORDER BY random() LIMIT %s",
            [tenant.pk, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    customers = {
        c["id"]: c
        for c in Customer.objects.filter(tenant=tenant, pk__in=ids).values(
            "id", "kind", "first_name", "last_name", "trade_name", "name_key", "tckn",
            "customer_number",
        )
    }  # fmt: skip
    for customer_id, e164 in Phone.objects.filter(tenant=tenant, customer_id__in=ids).values_list(
        "customer_id", "e164"
    ):
        customers[customer_id].setdefault("phone", e164)
    for customer_id, address in Email.objects.filter(
        tenant=tenant, customer_id__in=ids
    ).values_list("customer_id", "address"):
        customers[customer_id].setdefault("email", address)
    return [customers[i] for i in ids if i in customers]


def _national(e164: str) -> str:
    return "0" + e164[3:] if e164.startswith("+90") else e164


def _bench_client(tenant: Tenant) -> Client | None:
    membership = (
        Membership.objects.filter(tenant=tenant, is_active=True)
        .exclude(role__in=ROLES_REQUIRING_TWO_FACTOR)
        .select_related("user")
        .order_by("role", "pk")
        .first()
    )
    if membership is None:
        return None
    hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")]
    client = Client(HTTP_HOST=hosts[0] if hosts else "localhost")
    client.force_login(membership.user)
    return client


def _counting(counted: list[int]) -> Callable[..., Any]:
    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        counted[0] += 1
        return execute(sql, params, many, context)

    return count


def _page(tenant: Tenant, sample: list[dict[str, Any]]) -> dict[str, Any]:
    client = _bench_client(tenant)
    if client is None or not sample:
        return {"page": "no front-line member or no customers"}
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    urls = [
        reverse("customers:detail", kwargs={"tenant_slug": tenant.slug, "customer_id": c["id"]})
        for c in sample
    ]
    samples: list[float] = []
    again: list[float] = []  # the same pages a second time
    queries: list[int] = []
    # Without collectstatic there is no manifest; asset URLs cost the same either way.
    plain_static = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=plain_static):
        client.get(urls[0], secure=secure)  # warm up (templates, translations)
        for url in urls:
            counted = [0]
            # Counted, not captured: the debug cursor's SQL formatting (a client-side
            # mogrify per query with server-side binding) is no part of page time.
            with connection.execute_wrapper(_counting(counted)):
                started = time.perf_counter()
                response = client.get(url, secure=secure)
                samples.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"customer page answered {response.status_code} for {url}")
            queries.append(counted[0])
        for url in urls:
            started = time.perf_counter()
            client.get(url, secure=secure)
            again.append(time.perf_counter() - started)
    figures = percentiles_ms(samples)
    cached = percentiles_ms(again)
    return {
        "page_p50_ms": figures["p50_ms"],
        "page_p95_ms": figures["p95_ms"],
        "page_max_ms": figures["max_ms"],
        "page_again_p50_ms": cached["p50_ms"],
        "page_again_p95_ms": cached["p95_ms"],
        "page_queries_max": max(queries),
        "page_queries_min": min(queries),
        "page_n": figures["n"],
    }


def _search_terms(sample: list[dict[str, Any]]) -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {"name": [], "phone": [], "email": [], "tckn": [], "number": []}
    for c in sample:
        words = c["name_key"].split()
        if words:
            typed = words[0][:4] + (" " + words[-1][:2] if len(words) > 1 else "")
            terms["name"].append(typed)
        if c.get("phone"):
            terms["phone"].append(_national(c["phone"])[:7])
        if c.get("email"):
            terms["email"].append(c["email"])
        if c["tckn"]:
            terms["tckn"].append(c["tckn"])
        terms["number"].append(c["customer_number"])
    return terms


def _search(tenant: Tenant, sample: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    every: list[float] = []
    for kind, values in _search_terms(sample).items():
        samples = [
            timed(lambda v=value: selectors.customer_search(tenant=tenant, query=v))  # type: ignore[misc]
            for value in values
        ]
        every += samples
        measured = percentiles_ms(samples)
        figures[f"search_{kind}_p50_ms"] = measured["p50_ms"]
        figures[f"search_{kind}_p95_ms"] = measured["p95_ms"]
    overall = percentiles_ms(every)
    figures["search_p50_ms"] = overall["p50_ms"]
    figures["search_p95_ms"] = overall["p95_ms"]
    return figures


def _duplicate_check(tenant: Tenant, sample: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    found = 0
    samples: list[float] = []
    for c in sample:
        incoming = selectors.incoming_from_raw(
            kind=c["kind"],
            first_name=typo(rng, c["first_name"]) if c["first_name"] else "",
            last_name=c["last_name"],
            trade_name=c["trade_name"],
            phones=[_national(c["phone"])] if c.get("phone") else [],
            emails=[c["email"]] if c.get("email") else [],
        )
        result: list[Any] = []

        def check(i: Any = incoming, out: list[Any] = result) -> None:
            out.extend(selectors.customer_duplicate_candidates(tenant=tenant, incoming=i))

        samples.append(timed(check))
        found += any(candidate.customer.pk == c["id"] for candidate in result)
    figures = percentiles_ms(samples)
    return {
        "duplicate_check_p50_ms": figures["p50_ms"],
        "duplicate_check_p95_ms": figures["p95_ms"],
        # How often the record typed again was among the candidates shown.
        "duplicate_check_found_share": round(found / len(sample), 3) if sample else 0.0,
    }


def _import_file(tenant: Tenant, rows: int, seed: int) -> bytes:
    """A CSV of ``rows`` customers: two thirds new people, one third existing ones
    written another way (upper case, national phone format)."""
    rng = random.Random(seed)  # noqa: S311 (benchmark data)
    existing = _sample(tenant, rows // 3, seed + 1)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["ad", "soyad", "telefon", "eposta"])
    first_names = ["Ayşe", "Mehmet", "Zeynep", "Mustafa", "Elif", "Ahmet", "Emine", "Ali"]
    last_names = ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Aydın", "Arslan"]
    for c in existing:
        writer.writerow(
            [
                (c["first_name"] or c["trade_name"]).upper(),
                c["last_name"].upper(),
                _national(c.get("phone", "")),
                c.get("email", ""),
            ]
        )
    for n in range(rows - len(existing)):
        first, last = rng.choice(first_names), rng.choice(last_names)
        writer.writerow(
            [
                first,
                last,
                f"05{rng.choice([32, 33, 42, 44, 53, 55])}{rng.randint(0, 9_999_999):07d}",
                f"bench.{n}.{rng.randint(0, 10**9)}@example.com",
            ]
        )
    return out.getvalue().encode("utf-8")


def _import(tenant: Tenant, seed: int) -> dict[str, Any]:
    active = Customer.objects.filter(tenant=tenant, merged_into__isnull=True).count()
    rows = int(os.environ.get(IMPORT_ROWS_ENV) or min(IMPORT_ROWS, max(100, active // 5)))
    table = read_table(_import_file(tenant, rows, seed), "bench.csv")
    mapping = {"ad": "first_name", "soyad": "last_name", "telefon": "phone", "eposta": "email"}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Django's foreign keys are checked at commit (DEFERRABLE INITIALLY
            # DEFERRED); this transaction is rolled back, so without this the bench
            # would never pay for them, and a real import does (~30% of its time).
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        writes_before = _table_writes()
        started = time.perf_counter()
        result = imports.customers_import(tenant=tenant, actor=None, table=table, mapping=mapping)
        seconds = time.perf_counter() - started
        written = _tables_written_since(writes_before)
        transaction.set_rollback(True)  # leave the tenant as it was
    _vacuum(written)
    return {
        "import_rows": result.rows,
        "import_seconds": round(seconds, 2),
        "import_rows_per_s": round(result.rows / seconds) if seconds else 0,
        "import_created": result.created,
        "import_matched": result.matched,
    }


def _table_writes() -> dict[str, int]:
    """Rows inserted, updated or deleted per table, as this backend's statistics for
    the transaction have them. Those also hold what earlier transactions of the
    backend wrote and has not been sent to the shared statistics yet (sent at most
    once a second), so only a difference means anything."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format('%I.%I', schemaname, relname), n_tup_ins + n_tup_upd + n_tup_del"
            " FROM pg_stat_xact_user_tables"
        )
        return dict(cursor.fetchall())


def _tables_written_since(before: dict[str, int]) -> list[str]:
    return sorted(table for table, count in _table_writes().items() if count > before.get(table, 0))


def _vacuum(tables: list[str]) -> None:
    """Clear the rolled-back rows' dead tuples and index entries. Left in place, the
    next run's import (same seed, same phones and e-mails) would find them in every
    unique-index check and lookup, and measure a cost no real import pays."""
    if not tables or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM " + ", ".join(tables))


def _dedup(tenant: Tenant) -> dict[str, Any]:
    # As the nightly job runs it: only pairs worth reviewing are kept.
    result = dedup.find_duplicates(tenant=tenant, keep_score=duplicates.REVIEW_SCORE)
    return {
        "dedup_seconds": round(result.seconds, 1),
        "dedup_records": result.counts["records"],
        "dedup_candidate_pairs": result.counts["candidate_pairs"],
        "dedup_matched_pairs": result.counts["matched_pairs"],
        "dedup_clusters": result.counts["clusters"],
    }


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@register_bench("customers")
def bench_customers(tenant: Tenant, options: BenchOptions) -> dict[str, Any]:
    sample = _sample(tenant, options.repeat, options.seed)
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("page", lambda: _page(tenant, sample)),
        ("search", lambda: _search(tenant, sample)),
        ("duplicate_check", lambda: _duplicate_check(tenant, sample, options.seed)),
        ("import", lambda: _import(tenant, options.seed)),
        ("dedup", lambda: _dedup(tenant)),
    ]
    figures: dict[str, Any] = {
        "customers": Customer.objects.filter(tenant=tenant, merged_into__isnull=True).count(),
        "sample": len(sample),
    }
    for name, step in steps:
        measured = step()
        figures.update(measured)
        # Each step as it finishes, for long runs (the command prints the whole at the end).
        print(f"bench customers {name}: {measured}", file=sys.stderr, flush=True)
    figures["peak_rss_mib"] = _peak_rss_mib()
    return figures
