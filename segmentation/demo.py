"""seed_demo's last step: a segmentation run, so the demo opens with segments,
lifetime values, behaviour clusters and offers already there."""

from __future__ import annotations

from crm.demo import DemoOptions, DemoReport, register_seeder
from crm.models import Tenant
from segmentation.models import RunStatus, RunTrigger


@register_seeder
def seed_segmentation(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    from segmentation.services import segmentation_run

    run = segmentation_run(tenant=tenant, trigger=RunTrigger.COMMAND)
    if run.status != RunStatus.SUCCEEDED:
        report.lines.append(f"segmentation run failed in {run.failed_step}: {run.error}")
        return
    clusters = run.parameters.get("clusters", {})
    report.lines.append(
        f"segmentation: {run.customer_count} customers in "
        f"{sum(run.step_seconds.values()):.1f} s, {clusters.get('k', 0)} behaviour clusters, "
        f"lifetime value {run.parameters.get('clv_state')}"
    )
