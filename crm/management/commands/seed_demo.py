from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from crm.demo import DEMO_SEEDERS, seed_demo


class Command(BaseCommand):
    help = "Create or refresh the demo company 'Demo Mağazacılık' (idempotent, deterministic)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=1000,
            help="How many demo customers the customer seeders create.",
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed.")

    def handle(self, *args: Any, customers: int, seed: int, **options: Any) -> None:
        if customers < 0:
            self.stderr.write("--customers must be 0 or more")
            raise SystemExit(2)
        report = seed_demo(customers=customers, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo company ready: {report.tenant.name} (/t/{report.tenant.slug}/)"
            )
        )
        for line in report.lines:
            self.stdout.write(f"  {line}")
        if not DEMO_SEEDERS:
            self.stdout.write("  customers: none yet (the customers app adds its seeder)")
