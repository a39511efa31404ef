"""Benchmarks as commands (``manage.py bench AREA --tenant SLUG --json``).

Each app registers its areas in its own ``bench.py`` (found with Django's module
autodiscovery) so the command stays one: ``bench customers``, ``bench consent``,
``bench segmentation``. A benchmark returns a flat-ish dict of figures (ms, s,
rows/s, bytes); the command prints it as JSON or as aligned text. Benchmarks
measure, tests assert: nothing here fails on a slow figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from crm.models import Tenant


@dataclass
class BenchOptions:
    repeat: int = 200
    seed: int = 1


Benchmark = Callable[[Tenant, BenchOptions], dict[str, Any]]
_BENCHMARKS: dict[str, Benchmark] = {}


def register_bench(area: str) -> Callable[[Benchmark], Benchmark]:
    def register(benchmark: Benchmark) -> Benchmark:
        _BENCHMARKS[area] = benchmark
        return benchmark

    return register


def benchmarks() -> dict[str, Benchmark]:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("bench")
    return dict(sorted(_BENCHMARKS.items()))


def percentiles_ms(samples_s: Iterable[float]) -> dict[str, float]:
    """p50/p95/max in milliseconds, rounded to 0.01 ms."""
    values = sorted(samples_s)
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0, "n": 0}
    if len(values) == 1:
        p50 = p95 = values[0]
    else:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        p50, p95 = cuts[49], cuts[94]
    return {
        "p50_ms": round(p50 * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(values[-1] * 1000, 2),
        "n": len(values),
    }


def database_settings() -> dict[str, str]:
    """The server the figures were taken on. At a million customers they depend on
    its buffer pool more than on anything else: with PostgreSQL's default 128 MB it
    holds nothing of what a run reads, and on a host that drops idle file pages from
    its own cache (as the machines these benches ran on do) every read is a disk
    read. See README, "Benchmarks"."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"db_server": connection.vendor}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('shared_buffers'),"
            " current_setting('effective_cache_size')"
        )
        version, shared_buffers, effective_cache_size = cursor.fetchone()
    return {
        "db_server": f"PostgreSQL {version.split()[0]}",
        "db_shared_buffers": shared_buffers,
        "db_effective_cache_size": effective_cache_size,
    }


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
