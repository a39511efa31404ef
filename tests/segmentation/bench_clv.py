"""Time and memory of the CLV step at scale, on customers simulated from the models.

    python -m tests.segmentation.bench_clv [--customers 1000000] [--json]

Simulates BG/NBD purchase histories (CDNOW-like parameters, first purchases
spread over two years, times in whole days) and Gamma-Gamma spend, then runs
what the segmentation run calls: bgnbd_fit, gamma_gamma_fit (on a
MAX_FIT_CUSTOMERS sample when larger), customer_value and value_tiers. Prints
seconds per step and peak memory (tracemalloc peak of the measured steps, and
the process's maximum resident size), and the predicted vs simulated purchases
of the next year as a sanity check. Not a test: the figures go in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import tracemalloc

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--max-fit", type=int, default=-1, help="-1: the module default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    import numpy as np

    from segmentation import clv

    n = args.customers
    rng = np.random.default_rng(1)
    T = rng.integers(1, 731, size=n) / 7
    customers = clv.bgnbd_simulate(n, r=0.25, alpha=4.4, a=0.79, b=2.43, T=T, holdout=52.0, seed=2)
    customers["monetary_value"] = clv.gamma_gamma_simulate(
        customers["frequency"], p=6.25, q=3.74, v=15.44, seed=3
    )
    max_fit = clv.MAX_FIT_CUSTOMERS if args.max_fit == -1 else (args.max_fit or None)

    tracemalloc.start()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    bgnbd = clv.bgnbd_fit(customers, max_customers=max_fit)
    seconds["bgnbd_fit"] = time.perf_counter() - started
    mark = time.perf_counter()
    gg = clv.gamma_gamma_fit(customers, max_customers=max_fit)
    seconds["gamma_gamma_fit"] = time.perf_counter() - mark
    mark = time.perf_counter()
    value = clv.customer_value(customers, bgnbd, gg)
    seconds["customer_value"] = time.perf_counter() - mark
    mark = time.perf_counter()
    clv.value_tiers(value["clv"])
    seconds["value_tiers"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    figures = {
        "customers": n,
        "repeat_buyers": int((customers["frequency"] > 0).sum()),
        "fitted_on": bgnbd.n_fitted,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "peak_mib_measured_steps": round(peak / 2**20, 1),
        "max_rss_mib_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bgnbd": {k: round(getattr(bgnbd, k), 4) for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: round(getattr(gg, k), 3) for k in ("p", "q", "v")},
        "next_year_predicted": round(float(value["expected_purchases_365"].sum())),
        "next_year_simulated": int(customers["frequency_holdout"].sum()),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, val in figures.items():
            print(f"{key:<26}{val}")


if __name__ == "__main__":
    main()
