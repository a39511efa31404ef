"""The demo tenant: "Demo Mağazacılık", a 12-branch retailer.

``seed_demo`` calls every function registered here in order; later apps register
theirs (customers, purchases, consents, campaigns) so one command builds the whole
demo. Each seeder is idempotent and draws randomness only from ``rng``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from crm import services
from crm.models import Branch, Membership, Tenant, User
from crm.permissions import Role
from crm.tenancy import tenant_context

DEMO_SLUG = "demo"
DEMO_PASSWORD = "Tekil-Demo-2026"  # noqa: S105 (printed for the demo; documented in README)

DEMO_BRANCHES = [
    ("IST-KDK", "Kadıköy", "34", "Kadıköy"),
    ("IST-BSK", "Beşiktaş", "34", "Beşiktaş"),
    ("IST-BKR", "Bakırköy", "34", "Bakırköy"),
    ("ANK-CNK", "Çankaya", "06", "Çankaya"),
    ("ANK-KEC", "Keçiören", "06", "Keçiören"),
    ("IZM-KSK", "Karşıyaka", "35", "Karşıyaka"),
    ("IZM-BRN", "Bornova", "35", "Bornova"),
    ("BRS-NLF", "Nilüfer", "16", "Nilüfer"),
    ("ANT-MRT", "Muratpaşa", "07", "Muratpaşa"),
    ("ADA-SYH", "Seyhan", "01", "Seyhan"),
    ("KON-SLC", "Selçuklu", "42", "Selçuklu"),
    ("TRB-ORT", "Ortahisar", "61", "Ortahisar"),
]

DEMO_USERS = [
    ("owner@demo.tekil.local", "Ayşe Yılmaz", Role.OWNER, None),
    ("admin@demo.tekil.local", "Mehmet Demir", Role.ADMIN, None),
    ("marketing@demo.tekil.local", "Zeynep Kaya", Role.MARKETING, None),
    ("branch@demo.tekil.local", "Emre Şahin", Role.BRANCH_STAFF, "IST-KDK"),
    ("callcentre@demo.tekil.local", "Elif Çelik", Role.CALL_CENTRE, None),
]


@dataclass
class DemoOptions:
    customers: int
    seed: int
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 (demo data, not secrets)


@dataclass
class DemoReport:
    tenant: Tenant
    lines: list[str] = field(default_factory=list)


Seeder = Callable[[Tenant, DemoOptions, DemoReport], None]
DEMO_SEEDERS: list[Seeder] = []


def register_seeder(seeder: Seeder) -> Seeder:
    DEMO_SEEDERS.append(seeder)
    return seeder


@transaction.atomic
def seed_demo(*, customers: int = 1000, seed: int = 42) -> DemoReport:
    options = DemoOptions(customers=customers, seed=seed)
    tenant, _created = Tenant.objects.update_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Demo Mağazacılık",
            "legal_name": "Demo Mağazacılık Ticaret A.Ş.",
            "vkn": "4540536920",
            "tax_office": "Kadıköy",
        },
    )
    report = DemoReport(tenant=tenant)
    with tenant_context(tenant):
        for seeder in [seed_branches_and_people, *DEMO_SEEDERS]:
            seeder(tenant, options, report)
    return report


def seed_branches_and_people(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    branches = {}
    for code, name, province, district in DEMO_BRANCHES:
        existing = Branch.objects.filter(tenant=tenant, code=code).first()
        branches[code] = services.branch_save(
            tenant=tenant,
            branch=existing,
            code=code,
            name=name,
            province=province,
            district=district,
            is_active=True,
        )
    report.lines.append(f"{len(branches)} branches")
    for email, full_name, role, branch_code in DEMO_USERS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=DEMO_PASSWORD, full_name=full_name
            )
        Membership.objects.update_or_create(
            tenant=tenant,
            user=user,
            defaults={
                "role": role,
                "branch": branches[branch_code] if branch_code else None,
                "is_active": True,
            },
        )
        report.lines.append(f"login: {email} / {DEMO_PASSWORD}  ({role.label})")
