"""``manage.py segment_run --tenant SLUG [--json]``: one segmentation run, now.

Runs every step synchronously (no worker needed) and prints the seconds per step,
the customers per RFM segment, value tier and behaviour cluster, and the model
parameters. Exits with an error when a step failed (the previous run stays current).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.models import Tenant
from crm.tenancy import tenant_context
from segmentation.models import BehaviourCluster, RunStatus, RunTrigger
from segmentation.services import segmentation_run


class Command(BaseCommand):
    help = "Run the segmentation pipeline for one tenant and print timings and counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, tenant: str, **options: Any) -> None:
        try:
            tenant_obj = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist as exc:
            raise CommandError(f"No tenant with slug {tenant!r}") from exc
        with tenant_context(tenant_obj):
            run = segmentation_run(tenant=tenant_obj, trigger=RunTrigger.COMMAND)
            clusters = {
                c.label: {"name": c.name, "customers": c.size}
                for c in BehaviourCluster.objects.filter(tenant=tenant_obj, run=run)
            }
        result = {
            "run": run.pk,
            "status": run.status,
            "customers": run.customer_count,
            "profiled": run.profiled_count,
            "excluded_from_profiling": run.excluded_from_profiling,
            "step_seconds": run.step_seconds,
            "seconds": round(sum(run.step_seconds.values()), 3),
            "rfm_segments": run.parameters.get("rfm_counts", {}),
            "value_tiers": run.parameters.get("value_tier_counts", {}),
            "clusters": clusters,
            "parameters": {
                k: run.parameters.get(k)
                for k in ("clv_state", "bgnbd", "gamma_gamma", "offers")
                if k in run.parameters
            },
        }
        if run.status == RunStatus.FAILED:
            result["failed_step"] = run.failed_step
            result["error"] = run.error
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        else:
            for step, seconds in run.step_seconds.items():
                self.stdout.write(f"{step:<12} {seconds:>8.2f} s")
            for heading in ("rfm_segments", "value_tiers"):
                self.stdout.write(f"\n{heading}:")
                for name, count in sorted(result[heading].items(), key=lambda kv: -kv[1]):
                    self.stdout.write(f"  {name:<22} {count:>9}")
            self.stdout.write("\nclusters:")
            for label, cluster in clusters.items():
                self.stdout.write(f"  {label:<4} {cluster['customers']:>9}  {cluster['name']}")
            self.stdout.write("\n" + json.dumps(result["parameters"], default=str))
        if run.status == RunStatus.FAILED:
            raise CommandError(f"Step {run.failed_step} failed: {run.error}")
