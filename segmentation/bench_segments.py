"""``manage.py bench segments --tenant SLUG [--json]``: live counts and materialisation.

Figures: p50/p95 of the live count for a set of typical rules (each rule counted
``repeat`` times, at most 5), each rule's own median and count, and the seconds one
materialisation (INSERT … SELECT of a large segment) takes.

Score conditions need a finished segmentation run. When the tenant has none, the
bench writes a synthetic one (``parameters = {"bench_data": true}``, random scores,
one INSERT … SELECT) so the queries have rows to read; a real run replaces it as the
current run as soon as one finishes.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from crm.bench import BenchOptions, percentiles_ms, register_bench
from crm.models import Branch, Tenant, User
from customers.models import ProductCategory
from segmentation import partitions, saved_segments
from segmentation.models import CustomerScore, RunStatus, RunTrigger, SegmentationRun
from segmentation.segment_models import SavedSegment
from segmentation.selectors import current_run

_SYNTHETIC_SCORES = """
INSERT INTO segmentation_customerscore (
    tenant_id, run_id, customer_id, recency_days, frequency, monetary, return_rate,
    discount_share, complaint_count, top_touchpoint, weekend_share, evening_share, features,
    rfm_segment, value_tier, p_alive, clv, profiling_excluded)
SELECT c.tenant_id, %s, c.id, r.rec, r.freq, r.freq * 180.0, 0, random() * 0.5, 0, '',
       random(), random(), '{}'::jsonb,
       (ARRAY['champions','loyal','potential_loyalists','new','promising','need_attention',
              'about_to_sleep','at_risk','cant_lose','hibernating','lost'])
           [1 + (r.u * 11)::int %% 11],
       (ARRAY['top','high','medium','low'])[1 + (r.v * 4)::int %% 4],
       random(), round((r.freq * 180.0 * random() * 3)::numeric, 2), false
FROM customers_customer c
CROSS JOIN LATERAL (SELECT (random() * 720)::int AS rec, 1 + (random() * 20)::int AS freq,
                           random() AS u, random() AS v WHERE c.id IS NOT NULL) r
WHERE c.tenant_id = %s AND c.merged_into_id IS NULL
"""


def _synthetic_run(tenant: Tenant) -> SegmentationRun:
    with transaction.atomic():
        run = SegmentationRun.objects.create(
            tenant=tenant,
            status=RunStatus.SUCCEEDED,
            trigger=RunTrigger.COMMAND,
            as_of=timezone.localdate(),
            finished_at=timezone.now(),
            parameters={"bench_data": True},
            error="",
        )
        with connection.cursor() as cursor:
            cursor.execute(_SYNTHETIC_SCORES, [run.pk, tenant.pk])
            run.customer_count = cursor.rowcount
        run.save(update_fields=["customer_count"])
    if connection.vendor == "postgresql":
        # As a real run's load does (services._load): without fresh statistics the
        # planner took the million new scores for one row, and materialising a
        # segment joined them row by row for minutes.
        partitions.analyze_default_partition(CustomerScore._meta.db_table)
        partitions.analyze_table_once(CustomerScore._meta.db_table)
    return run


def typical_rules(tenant: Tenant) -> dict[str, dict[str, Any]]:
    branch = Branch.objects.filter(tenant=tenant).order_by("pk").first()
    category = ProductCategory.objects.filter(tenant=tenant).order_by("pk").first()

    def rule(*conditions: dict[str, Any], match: str = "all") -> dict[str, Any]:
        return {"match": match, "conditions": list(conditions)}

    rules: dict[str, dict[str, Any]] = {
        "persons": rule({"field": "kind", "values": ["person"]}),
        "loyal_or_champions": rule({"field": "rfm_segment", "values": ["loyal", "champions"]}),
        "top_tier_istanbul": rule(
            {"field": "value_tier", "values": ["top"]}, {"field": "province", "values": ["34"]}
        ),
        "age_25_40": rule({"field": "age", "min": 25, "max": 40}),
        "lapsed_valuable": rule(
            {"field": "feature", "name": "recency_days", "min": 180},
            {"field": "clv", "min": 1000},
        ),
        "at_risk_without_complaint": rule(
            {
                "match": "any",
                "conditions": [{"field": "rfm_segment", "values": ["at_risk", "cant_lose"]}],
            },
            {"field": "open_complaint", "negate": True},
        ),
        "called_in_last_30_days": rule(
            {"field": "interaction", "touchpoints": ["call_in"], "days": 30}
        ),
        "sms_allowed": rule({"field": "consent", "values": ["MESAJ"]}),
    }
    if branch is not None:
        rules["home_branch_adults"] = rule(
            {"field": "home_branch", "values": [branch.pk]}, {"field": "age", "min": 18}
        )
    if category is not None:
        rules["bought_category_90d"] = rule(
            {"field": "purchased_category", "category": category.pk, "days": 90}
        )
        rules["bought_category_365d"] = rule(
            {"field": "purchased_category", "category": category.pk, "days": 365}
        )
        rules["bought_category_ever"] = rule(
            {"field": "purchased_category", "category": category.pk}
        )
    return rules


@register_bench("segments")
def bench_segments(tenant: Tenant, options: BenchOptions) -> dict[str, Any]:
    run = current_run(tenant=tenant)
    synthetic = False
    if run is None:
        started = time.perf_counter()
        run = _synthetic_run(tenant)
        synthetic = True
        synthetic_seconds = round(time.perf_counter() - started, 2)
    repeat = max(1, min(options.repeat, 5))
    all_samples: list[float] = []
    per_rule: dict[str, Any] = {}
    for name, rule in typical_rules(tenant).items():
        samples = []
        count = 0
        for _ in range(repeat):
            started = time.perf_counter()
            count = saved_segments.live_count(tenant=tenant, rule=rule)["total"]
            samples.append(time.perf_counter() - started)
        all_samples += samples
        per_rule[name] = {"customers": count, "median_ms": round(statistics.median(samples) * 1000)}
    owner = saved_segments.owner_choices(tenant=tenant).first() or User.objects.first()
    segment = SavedSegment.objects.create(
        tenant=tenant,
        name=f"bench {timezone.now().isoformat()}",
        rule={
            "match": "any",
            "conditions": [
                {"field": "rfm_segment", "values": ["loyal", "champions", "potential_loyalists"]}
            ],
        },
        owner=owner,
    )
    try:
        started = time.perf_counter()
        snapshot = saved_segments.segment_materialise(tenant=tenant, segment=segment, run=run)
        materialise_s = time.perf_counter() - started
        size = snapshot.size
    finally:
        segment.delete()  # bench segment: its snapshot and memberships go with it
    figures: dict[str, Any] = {
        "live_count": percentiles_ms(all_samples),
        "rules": per_rule,
        "materialise_seconds": round(materialise_s, 2),
        "materialised_customers": size,
        "run_id": run.pk,
        "synthetic_run": synthetic,
    }
    if synthetic:
        figures["synthetic_run_seconds"] = synthetic_seconds
    return figures
