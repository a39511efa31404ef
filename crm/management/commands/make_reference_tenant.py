"""``manage.py make_reference_tenant --customers N --purchases M --interactions K``

Builds the benchmark tenant of DESIGN.md §10: replaces the tenant ``--slug`` (default
"reference") with a fresh one that has 100 branches and a few staff, runs every
builder registered in ``crm.reference`` (each app's ``reference.py``; customers
first), then ANALYZE, and prints rows and seconds per table. The same seed gives the
same tenant.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils.module_loading import autodiscover_modules
from localflavor.tr.tr_provinces import PROVINCE_CHOICES

from crm import bulk
from crm.models import Branch, Membership, Tenant, User
from crm.permissions import Role
from crm.reference import ReferenceOptions, ReferenceReport, reference_builders
from crm.tenancy import tenant_context, tenant_owned_models
from segmentation.services import segmentation_delete_run_rows

# One branch per province (in its centre) and more in the big cities: 100 in all.
EXTRA_BRANCHES = [
    ("34", "Kadıköy"),
    ("34", "Beşiktaş"),
    ("34", "Bakırköy"),
    ("34", "Üsküdar"),
    ("34", "Şişli"),
    ("34", "Ataşehir"),
    ("34", "Beylikdüzü"),
    ("34", "Pendik"),
    ("06", "Çankaya"),
    ("06", "Keçiören"),
    ("06", "Yenimahalle"),
    ("06", "Etimesgut"),
    ("35", "Karşıyaka"),
    ("35", "Bornova"),
    ("35", "Buca"),
    ("35", "Konak"),
    ("16", "Nilüfer"),
    ("16", "Osmangazi"),
    ("07", "Muratpaşa"),
]
STAFF_COUNT = 20
BENCH_ROLE = Role.CALL_CENTRE  # views customers and runs the duplicate check; no 2FA


def bench_user_email(slug: str) -> str:
    return f"bench@{slug}.reference.tekil.local"


def tenant_replace(slug: str, name: str) -> Tenant:
    """Delete the tenant ``slug`` and everything it owns (if it exists), then create it.

    Rows are deleted per table with one statement each (a reference tenant has tens
    of millions; Django's cascading delete would load them all)."""
    existing = Tenant.objects.filter(slug=slug).first()
    if existing is not None:
        with tenant_context(existing), transaction.atomic():
            # A large tenant's runs have tables of their own: drop them, not their rows.
            segmentation_delete_run_rows(tenant=existing)
            with connection.cursor() as cursor:
                for model in bulk.children_first(tenant_owned_models()):
                    table = connection.ops.quote_name(model._meta.db_table)
                    cursor.execute(
                        f"DELETE FROM {table} WHERE tenant_id = %s",  # noqa: S608
                        [existing.pk],
                    )
            existing.delete()  # anything else that points at the tenant (none is left)
    return Tenant.objects.create(slug=slug, name=name, legal_name=f"{name} A.Ş.")


def tenant_skeleton(tenant: Tenant) -> None:
    """100 branches, STAFF_COUNT branch staff and the bench user (call centre)."""
    branches = [
        Branch(tenant=tenant, code=f"B{code}", name=name, province=code, district=name)
        for code, name in PROVINCE_CHOICES
    ]
    branches += [
        Branch(
            tenant=tenant, code=f"B{code}-{n:02d}", name=district, province=code, district=district
        )
        for n, (code, district) in enumerate(EXTRA_BRANCHES, start=1)
    ]
    Branch.objects.bulk_create(branches)
    branches = list(Branch.objects.filter(tenant=tenant).order_by("code"))
    people: list[tuple[str, str, Role, Branch | None]] = [
        (bench_user_email(tenant.slug), "Bench Kullanıcı", BENCH_ROLE, None)
    ]
    people += [
        (
            f"staff{n:02d}@{tenant.slug}.reference.tekil.local",
            f"Personel {n:02d}",
            Role.BRANCH_STAFF,
            branches[n * 5 % len(branches)],
        )
        for n in range(1, STAFF_COUNT + 1)
    ]
    for email, full_name, role, branch in people:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None, full_name=full_name)
        Membership.objects.create(tenant=tenant, user=user, role=role, branch=branch)


class Command(BaseCommand):
    help = "Build (replace) a benchmark tenant of the given size and print rows/seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True)
        parser.add_argument("--purchases", type=int, required=True)
        parser.add_argument("--interactions", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--slug", default="reference")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("customers", "purchases", "interactions"):
            if options[name] < 0:
                raise CommandError(f"--{name} must be 0 or more")
        autodiscover_modules("reference")
        slug = options["slug"]
        started = time.perf_counter()
        tenant = tenant_replace(slug, f"Referans {slug}")
        self.stdout.write(f"tenant {slug}: replaced in {time.perf_counter() - started:.1f} s")
        reference = ReferenceOptions(
            customers=options["customers"],
            purchases=options["purchases"],
            interactions=options["interactions"],
            seed=options["seed"],
        )
        report = ReferenceReport(tenant=tenant)
        with tenant_context(tenant):
            with transaction.atomic():
                tenant_skeleton(tenant)
            for name, builder in reference_builders():
                began = time.perf_counter()
                builder(tenant, reference, report)
                report.figures[f"{name} builder seconds"] = round(time.perf_counter() - began, 1)
                # Fresh statistics before the next builder's INSERT ... SELECT: planned
                # against tables the planner still believes empty, a join of a million
                # rows becomes a nested loop (the consents took 500 s instead of 20).
                began = time.perf_counter()
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("ANALYZE")
                report.figures[f"{name} analyze seconds"] = round(time.perf_counter() - began, 1)
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # (Tests run the command inside a transaction, where VACUUM cannot run.)
            # A production database is vacuumed by autovacuum as it fills; a bulk-loaded
            # one is not yet, and without a visibility map the planner cannot use the
            # index-only scans search relies on (customers migration 0007).
            began = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE)")
            report.figures["vacuum seconds"] = round(time.perf_counter() - began, 1)
        report.figures["total seconds"] = round(time.perf_counter() - started, 1)
        width = max(len(key) for key in report.figures)
        for key, value in report.figures.items():
            self.stdout.write(f"{key.ljust(width)}  {value}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Reference tenant ready: /t/{slug}/ (bench user {bench_user_email(slug)})"
            )
        )
