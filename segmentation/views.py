"""Segmentation runs: the list (start one on demand) and a run's results."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crm.http import TenantRequest, tenant_view
from crm.models import Branch
from crm.permissions import Perm
from customers.models import Customer, ProductCategory
from segmentation import behaviour, rfm, selectors
from segmentation.clv import AgeBand
from segmentation.models import SegmentationRun, ValueTier
from segmentation.tasks import segmentation_job_start


@tenant_view(GET=Perm.VIEW_SEGMENTS, POST=Perm.MANAGE_SEGMENTS)
def run_list(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """Past runs; POST starts a new one (unless one is already under way)."""
    tenant = request.tenant
    running = selectors.running_job(tenant=tenant)
    if request.method == "POST":
        if running is None:
            running = segmentation_job_start(
                tenant=tenant, actor=request.user, language=get_language()
            )
        else:
            messages.info(request, _("A segmentation run is already under way; follow it here."))
        return redirect("segmentation_runs:list", tenant_slug=tenant_slug)
    return render(
        request,
        "segmentation/runs.html",
        {
            "runs": selectors.run_list(tenant=tenant)[:50],
            "running": running,
            "current": selectors.current_run(tenant=tenant),
        },
    )


def _tier_label(code: str) -> str:
    return str(dict(ValueTier.choices).get(code, code))


def _age_value_rows(run: SegmentationRun) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str], dict[str, Any]] = {
        (c["age_band"], c["tier"]): c for c in run.parameters.get("age_value", [])
    }
    tiers = ["top", "high", "medium", "low"]
    rows = []
    for band, label in AgeBand.choices:
        rows.append(
            {
                "label": label,
                "cells": [cells.get((band, t), {"customers": 0, "clv_total": 0}) for t in tiers],
            }
        )
    return rows


@tenant_view(Perm.VIEW_SEGMENTS)
def run_detail(request: TenantRequest, tenant_slug: str, segmentationrun_id: int) -> HttpResponse:
    tenant = request.tenant
    try:
        run = selectors.run_get(tenant=tenant, run_id=segmentationrun_id)
    except SegmentationRun.DoesNotExist as missing:
        raise Http404(_("No such segmentation run.")) from missing
    counts = run.parameters.get("rfm_counts", {})
    rules = [{**rule, "customers": counts.get(rule["segment"], 0)} for rule in rfm.rule_table()]
    tier_counts = run.parameters.get("value_tier_counts", {})
    tiers = [
        {"code": code, "label": label, "customers": tier_counts.get(code, 0)}
        for code, label in ValueTier.choices
    ]
    branch_names = dict(Branch.objects.filter(tenant=tenant).values_list("pk", "name"))
    category_names = dict(ProductCategory.objects.filter(tenant=tenant).values_list("pk", "name"))
    clusters = []
    for cluster in selectors.run_clusters(tenant=tenant, run=run):
        name, description = behaviour.describe(
            cluster.distinguishing, branch_names=branch_names, category_names=category_names
        )
        clusters.append(
            {"label": cluster.label, "name": name, "description": description, "size": cluster.size}
        )
    return render(
        request,
        "segmentation/run_detail.html",
        {
            "run": run,
            "rules": rules,
            "no_purchases": counts.get("no_purchases", 0),
            "tiers": tiers,
            "tier_headers": [_tier_label(t) for t in ("top", "high", "medium", "low")],
            "age_rows": _age_value_rows(run),
            "clusters": clusters,
            "offers": run.parameters.get("offers", {}),
            "cluster_params": run.parameters.get("clusters", {}),
        },
    )


@tenant_view(Perm.VIEW_CUSTOMERS)
def customer_value_card(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    """The customer page's "Value & segments" card, loaded after the page (HTMX) so
    the page itself stays within its query budget."""
    from consent import profiling

    customer = Customer.objects.filter(tenant=request.tenant, pk=customer_id).first()
    if customer is None:
        raise Http404(_("No such customer."))
    card = selectors.customer_value_card(tenant=request.tenant, customer_id=customer_id)
    # Why, in words, so staff can tell the customer what would change it.
    excluded_because = (
        profiling.profiling_exclusion_reason(tenant=request.tenant, customer=customer)
        if card is not None and card.score.profiling_excluded
        else None
    )
    return render(
        request,
        "segmentation/_customer_card.html",
        {"value_card": card, "excluded_because": excluded_because},
    )
