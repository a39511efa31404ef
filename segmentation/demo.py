"""seed_demo's last step: a segmentation run, so the demo opens with segments,
lifetime values, behaviour clusters and offers already there."""

from __future__ import annotations

from crm.demo import DemoOptions, DemoReport, register_seeder
from crm.models import Tenant
from segmentation.models import RunStatus, RunTrigger, SegmentationRun


@register_seeder
def seed_segmentation(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    from segmentation.services import segmentation_run

    run = segmentation_run(tenant=tenant, trigger=RunTrigger.COMMAND)
    if run.status != RunStatus.SUCCEEDED:
        report.lines.append(f"segmentation run failed in {run.failed_step}: {run.error}")
        return
    _demo_segments(tenant, run)
    clusters = run.parameters.get("clusters", {})
    report.lines.append(
        f"segmentation: {run.customer_count} customers in "
        f"{sum(run.step_seconds.values()):.1f} s, {clusters.get('k', 0)} behaviour clusters, "
        f"lifetime value {run.parameters.get('clv_state')}"
    )


# Two segments a marketing manager would keep, owned by the demo's marketing user.
# They are created after the run (their rules read its scores) and snapshotted at
# once. Names are the tenant's (Turkish) data.
DEMO_SEGMENTS = (
    (
        "Kaybetmememiz gerekenler",
        "Değerli ama uzaklaşan müşteriler: geri kazanma kampanyası için.",
        {
            "match": "all",
            "conditions": [
                {"field": "rfm_segment", "values": ["cant_lose", "at_risk"]},
                {"field": "open_complaint", "negate": True},
            ],
        },
    ),
    (
        "SMS izni olan şampiyonlar",
        "En iyi müşteriler arasından SMS ile ulaşılabilenler.",
        {
            "match": "all",
            "conditions": [
                {"field": "rfm_segment", "values": ["champions", "loyal"]},
                {"field": "consent", "values": ["MESAJ"]},
            ],
        },
    ),
)


def _demo_segments(tenant: Tenant, run: SegmentationRun) -> None:
    from crm.models import Membership
    from crm.permissions import Role
    from segmentation.saved_segments import segment_create, segment_materialise
    from segmentation.segment_models import SavedSegment

    owner = (
        Membership.objects.filter(tenant=tenant, role=Role.MARKETING, is_active=True)
        .select_related("user")
        .first()
    )
    if owner is None:
        return
    for name, description, rule in DEMO_SEGMENTS:
        if SavedSegment.objects.filter(tenant=tenant, name=name).exists():
            continue  # seed_demo is idempotent
        segment = segment_create(
            tenant=tenant,
            actor=owner.user,
            name=name,
            description=description,
            rule=rule,
            owner=owner.user,
        )
        segment_materialise(tenant=tenant, segment=segment, run=run)
