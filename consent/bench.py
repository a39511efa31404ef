"""``bench consent``: "may I send?" in bulk for the whole tenant, and per message.

Bulk: for each channel, the time to decide every active customer's recipients in
SQL (``may_send_bulk`` grouped by reason) and to count ``customers_allowed`` —
what a campaign audience composes. Single: p50/p95 of ``may_send`` for recipients
drawn from the tenant (the check at the moment of sending).
"""

from __future__ import annotations

import random
from typing import Any

from django.db.models import Count

from consent import services
from consent.models import ConsentType
from crm.bench import BenchOptions, percentiles_ms, register_bench, timed
from crm.models import Tenant
from customers.models import Customer, Email, Phone


@register_bench("consent")
def bench_consent(tenant: Tenant, options: BenchOptions) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "customers": Customer.objects.filter(tenant=tenant, merged_into__isnull=True).count()
    }
    for channel in (ConsentType.MESAJ, ConsentType.EPOSTA):
        key = channel.lower()
        reasons: dict[str, int] = {}

        def decide_all(channel: str = channel, reasons: dict[str, int] = reasons) -> None:
            rows = (
                services.may_send_bulk(tenant=tenant, channel_type=channel)
                .values("reason")
                .annotate(n=Count("pk"))
                .order_by()
            )
            reasons.update({row["reason"]: row["n"] for row in rows})

        allowed: list[int] = []

        def count_allowed(channel: str = channel, allowed: list[int] = allowed) -> None:
            allowed.append(services.customers_allowed(tenant=tenant, channel_type=channel).count())

        figures[f"{key}_bulk_decide_s"] = round(timed(decide_all), 3)
        figures[f"{key}_recipients_decided"] = sum(reasons.values())
        figures[f"{key}_reasons"] = reasons
        figures[f"{key}_customers_allowed_s"] = round(timed(count_allowed), 3)
        figures[f"{key}_customers_allowed"] = allowed[0]
    figures.update(_single(tenant, options))
    return figures


def _single(tenant: Tenant, options: BenchOptions) -> dict[str, Any]:
    rng = random.Random(options.seed)  # noqa: S311 (sampling, not secrets)
    last_phone = Phone.objects.filter(tenant=tenant).order_by("-pk").values_list("pk", flat=True)
    top = last_phone.first() or 0
    samples: list[tuple[str, str]] = []
    for _attempt in range(options.repeat * 3):
        if len(samples) >= options.repeat or not top:
            break
        found = (
            Phone.objects.filter(tenant=tenant, pk__gte=rng.randint(1, top))
            .order_by("pk")
            .values_list("e164", flat=True)
            .first()
        )
        if found:
            samples.append((ConsentType.MESAJ, found))
    email = Email.objects.filter(tenant=tenant).values_list("address", flat=True).first()
    if email:
        samples.append((ConsentType.EPOSTA, email))
    durations = []
    for channel, recipient in samples:

        def check(channel: str = channel, recipient: str = recipient) -> None:
            services.may_send(tenant=tenant, channel_type=channel, recipient=recipient)

        durations.append(timed(check))
    return {f"single_{k}": v for k, v in percentiles_ms(durations).items()}
