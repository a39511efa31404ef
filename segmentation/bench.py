"""``manage.py bench segmentation --tenant SLUG [--json]``: one full segmentation run.

Figures: wall seconds of the run and of each step, customers scored, offers written,
and ``peak_rss_mib``: the process's resident-memory high-water mark
(``getrusage(RUSAGE_SELF).ru_maxrss``) after the run. The bench command is a fresh
process, so the mark is the run's peak plus Django's baseline (``baseline_rss_mib``,
the mark before the run). The run is a real one (trigger "command"): it becomes the
tenant's current run, and only the last runs are kept.
"""

from __future__ import annotations

import resource
import time
from typing import Any

from crm.bench import BenchOptions, register_bench
from crm.models import Tenant
from segmentation.models import NextBestOffer, RunTrigger
from segmentation.services import segmentation_run


def _maxrss_mib() -> float:
    # Linux reports kilobytes.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@register_bench("segmentation")
def bench_segmentation(tenant: Tenant, options: BenchOptions) -> dict[str, Any]:
    baseline = _maxrss_mib()
    started = time.perf_counter()
    run = segmentation_run(tenant=tenant, trigger=RunTrigger.COMMAND)
    seconds = time.perf_counter() - started
    offers = NextBestOffer.objects.filter(tenant=tenant, run=run).count()
    return {
        "status": run.status,
        "failed_step": run.failed_step or None,
        "error": run.error or None,
        "seconds": round(seconds, 2),
        "step_seconds": run.step_seconds,
        "customers": run.customer_count,
        "excluded_from_profiling": run.excluded_from_profiling,
        "offers": offers,
        "peak_rss_mib": _maxrss_mib(),
        "baseline_rss_mib": baseline,
        "clv_state": run.parameters.get("clv_state"),
        "clusters": {
            k: run.parameters.get("clusters", {}).get(k) for k in ("k", "silhouette", "customers")
        },
        "offer_evaluation": run.parameters.get("offers"),
    }
