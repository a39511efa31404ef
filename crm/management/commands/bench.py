from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.bench import BenchOptions, benchmarks, database_settings
from crm.models import Tenant
from crm.tenancy import tenant_context


class Command(BaseCommand):
    help = "Measure one area on a tenant and print the figures (bench customers|consent|...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("area", help="What to measure: " + ", ".join(benchmarks()))
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument("--repeat", type=int, default=200, help="Samples per latency figure.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, area: str, tenant: str, **options: Any) -> None:
        known = benchmarks()
        if area not in known:
            raise CommandError(f"Unknown area {area!r}; choose one of: {', '.join(known)}")
        try:
            tenant_obj = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist as exc:
            raise CommandError(f"No tenant with slug {tenant!r}") from exc
        bench_options = BenchOptions(repeat=max(1, options["repeat"]), seed=options["seed"])
        with tenant_context(tenant_obj):
            figures = known[area](tenant_obj, bench_options)
        figures = {"area": area, "tenant": tenant_obj.slug, **figures, **database_settings()}
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False, default=str))
            return
        width = max(len(key) for key in figures)
        for key, value in figures.items():
            self.stdout.write(f"{key.ljust(width)}  {value}")
