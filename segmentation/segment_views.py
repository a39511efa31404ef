"""Saved segments: list, builder (with live count), detail, movement and CSV export."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import services as crm_services
from crm.http import TenantRequest, tenant_view
from crm.models import Branch, PersonalDataAccess
from crm.permissions import Perm
from crm.tables import csv_safe_cell
from crm.tenancy import tenant_context
from customers.models import Customer, ProductCategory, RiskFlag, Touchpoint
from segmentation import rules, saved_segments
from segmentation.models import BehaviourCluster, RfmSegment, SegmentationRun, ValueTier
from segmentation.segment_forms import SavedSegmentForm, parse_rule
from segmentation.segment_models import SavedSegment, SegmentSnapshot
from segmentation.selectors import current_run


def _get(request: TenantRequest, savedsegment_id: int) -> SavedSegment:
    try:
        return saved_segments.segment_get(tenant=request.tenant, segment_id=savedsegment_id)
    except SavedSegment.DoesNotExist as missing:
        raise Http404(_("No such segment.")) from missing


@tenant_view(Perm.VIEW_SEGMENTS)
def segment_list(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    archived = request.GET.get("archived") == "1"
    return render(
        request,
        "segmentation/segments/list.html",
        {
            "segments": saved_segments.segment_list(tenant=request.tenant, archived=archived),
            "archived": archived,
        },
    )


def _choices(request: TenantRequest) -> dict[str, list[tuple[str, str]]]:
    """Options for the builder's condition rows, by field."""
    from localflavor.tr.tr_provinces import PROVINCE_CHOICES

    tenant = request.tenant
    run = current_run(tenant=tenant)
    clusters: list[tuple[str, str]] = []
    if run is not None:
        clusters = [
            (c.label, c.name)
            for c in BehaviourCluster.objects.filter(tenant=tenant, run=run).order_by("label")
        ]
    return {
        "province": [(code, str(name)) for code, name in PROVINCE_CHOICES],
        "home_branch": [
            (str(b.pk), b.name) for b in Branch.objects.filter(tenant=tenant).order_by("name")
        ],
        "kind": [(v, str(label)) for v, label in Customer.Kind.choices],
        "rfm_segment": [(v, str(label)) for v, label in RfmSegment.choices],
        "value_tier": [(v, str(label)) for v, label in ValueTier.choices],
        "cluster": clusters,
        "risk_flag": [(v, str(label)) for v, label in RiskFlag.Kind.choices],
        "consent": [
            ("MESAJ", _("SMS")),
            ("ARAMA", _("Phone call")),
            ("EPOSTA", _("E-mail")),
        ],
        "interaction": [(v, str(label)) for v, label in Touchpoint.choices],
        "purchased_category": [
            (str(c.pk), c.name)
            for c in ProductCategory.objects.filter(tenant=tenant).order_by("name")[:500]
        ],
        "segment": [
            (str(s.pk), s.name)
            for s in saved_segments.segment_list(tenant=tenant).exclude(
                last_materialised_at__isnull=True
            )
        ],
        "feature": [(k, str(v)) for k, v in rules.FEATURES.items()],
    }


def _builder(
    request: TenantRequest, form: SavedSegmentForm, segment: SavedSegment | None
) -> HttpResponse:
    rule = segment.rule if segment else rules.empty_rule()
    if form.is_bound:
        with contextlib.suppress(rules.RuleError):
            rule = parse_rule(form.data.get("rule"))
    return render(
        request,
        "segmentation/segments/builder.html",
        {
            "form": form,
            "segment": segment,
            "rule": rule,
            "conditions": [
                {"field": k, "label": str(v.label), "input": v.input}
                for k, v in rules.CONDITIONS.items()
            ],
            "choices": _choices(request),
        },
    )


@tenant_view(Perm.MANAGE_SEGMENTS)
def segment_create(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    tenant = request.tenant
    if request.method == "POST":
        form = SavedSegmentForm(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                segment = saved_segments.segment_create(
                    tenant=tenant,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    rule=form.cleaned_data["rule"],
                    owner=form.cleaned_data["owner"],
                    schedule=form.cleaned_data["schedule"],
                )
            except saved_segments.SegmentError as bad:
                form.add_error(None, str(bad))
            else:
                saved_segments.segment_materialise(tenant=tenant, segment=segment)
                messages.success(request, _("Segment saved."))
                return redirect(
                    "segments:detail", tenant_slug=tenant_slug, savedsegment_id=segment.pk
                )
    else:
        form = SavedSegmentForm(tenant=tenant, initial={"owner": request.user.pk})
    return _builder(request, form, None)


@tenant_view(Perm.MANAGE_SEGMENTS)
def segment_edit(request: TenantRequest, tenant_slug: str, savedsegment_id: int) -> HttpResponse:
    tenant = request.tenant
    segment = _get(request, savedsegment_id)
    if request.method == "POST":
        form = SavedSegmentForm(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                saved_segments.segment_update(
                    tenant=tenant,
                    segment=segment,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    rule=form.cleaned_data["rule"],
                    owner=form.cleaned_data["owner"],
                    schedule=form.cleaned_data["schedule"],
                )
            except saved_segments.SegmentError as bad:
                form.add_error(None, str(bad))
            else:
                messages.success(request, _("Segment saved."))
                return redirect(
                    "segments:detail", tenant_slug=tenant_slug, savedsegment_id=segment.pk
                )
    else:
        form = SavedSegmentForm(
            tenant=tenant,
            initial={
                "name": segment.name,
                "description": segment.description,
                "owner": segment.owner_id,
                "schedule": segment.schedule,
            },
        )
    return _builder(request, form, segment)


@tenant_view(Perm.MANAGE_SEGMENTS)
def segment_count(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """HTMX: the live count of the rule being edited."""
    context: dict[str, Any] = {}
    try:
        rule = parse_rule(request.POST.get("rule") or request.GET.get("rule"))
        context["counts"] = saved_segments.live_count(tenant=request.tenant, rule=rule)
    except rules.RuleError as bad:
        context["error"] = str(bad)
    return render(request, "segmentation/segments/_count.html", context)


@tenant_view(Perm.VIEW_SEGMENTS)
def segment_detail(request: TenantRequest, tenant_slug: str, savedsegment_id: int) -> HttpResponse:
    tenant = request.tenant
    segment = _get(request, savedsegment_id)
    history = list(saved_segments.snapshots(tenant=tenant, segment=segment)[:60])
    latest = history[0] if history else None
    chart = [
        {
            "t": s.taken_at.strftime("%Y-%m-%d %H:%M"),
            "size": s.size,
            "value": float(s.total_clv),
        }
        for s in reversed(history)
    ]
    return render(
        request,
        "segmentation/segments/detail.html",
        {
            "segment": segment,
            "latest": latest,
            "history": history,
            "chart": chart,
            "composition": (
                saved_segments.composition(tenant=tenant, snapshot=latest) if latest else None
            ),
        },
    )


@tenant_view(Perm.MANAGE_SEGMENTS)
def segment_materialise(
    request: TenantRequest, tenant_slug: str, savedsegment_id: int
) -> HttpResponse:
    segment = _get(request, savedsegment_id)
    if request.method == "POST":
        try:
            saved_segments.segment_materialise(tenant=request.tenant, segment=segment)
            messages.success(request, _("Snapshot taken."))
        except rules.RuleError as bad:
            messages.error(request, str(bad))
    return redirect("segments:detail", tenant_slug=tenant_slug, savedsegment_id=segment.pk)


@tenant_view(Perm.MANAGE_SEGMENTS)
def segment_archive(request: TenantRequest, tenant_slug: str, savedsegment_id: int) -> HttpResponse:
    segment = _get(request, savedsegment_id)
    if request.method == "POST":
        archive = not segment.is_archived
        saved_segments.segment_archive(tenant=request.tenant, segment=segment, archived=archive)
        messages.success(request, _("Segment archived.") if archive else _("Segment restored."))
    return redirect("segments:detail", tenant_slug=tenant_slug, savedsegment_id=segment.pk)


def _snapshot(request: TenantRequest, segment: SavedSegment, key: str) -> SegmentSnapshot | None:
    raw = request.GET.get(key)
    qs = saved_segments.snapshots(tenant=request.tenant, segment=segment)
    if raw and raw.isdigit():
        return qs.filter(pk=int(raw)).first()
    return None


def _run(request: TenantRequest, key: str) -> SegmentationRun | None:
    raw = request.GET.get(key)
    if raw and raw.isdigit():
        return SegmentationRun.objects.filter(
            tenant=request.tenant, pk=int(raw), status="succeeded"
        ).first()
    return None


@tenant_view(Perm.VIEW_SEGMENTS)
def segment_movement(
    request: TenantRequest, tenant_slug: str, savedsegment_id: int
) -> HttpResponse:
    """Who entered/left between two snapshots; RFM transitions between two runs."""
    tenant = request.tenant
    segment = _get(request, savedsegment_id)
    history = list(saved_segments.snapshots(tenant=tenant, segment=segment)[:60])
    after = _snapshot(request, segment, "after") or (history[0] if history else None)
    before = _snapshot(request, segment, "before") or (history[1] if len(history) > 1 else None)
    context: dict[str, Any] = {
        "segment": segment,
        "history": history,
        "before": before,
        "after": after,
    }
    if before and after:
        moved = saved_segments.movement(tenant=tenant, before=before, after=after)
        context["entered"] = moved.entered.order_by("pk")[:200]
        context["left"] = moved.left.order_by("pk")[:200]
        context["entered_count"] = moved.entered.count()
        context["left_count"] = moved.left.count()
    runs = list(
        SegmentationRun.objects.filter(tenant=tenant, status="succeeded").order_by(
            "-finished_at", "-id"
        )[:20]
    )
    to_run = _run(request, "to_run") or (runs[0] if runs else None)
    from_run = _run(request, "from_run") or (runs[1] if len(runs) > 1 else None)
    context.update({"runs": runs, "from_run": from_run, "to_run": to_run})
    if from_run and to_run:
        counts = saved_segments.rfm_transitions(
            tenant=tenant, from_run=from_run, to_run=to_run, snapshot=after
        )
        present = sorted({a for a, _b in counts} | {b for _a, b in counts})
        labels = dict(RfmSegment.choices)
        order = [code for code in RfmSegment.values if code in present]
        context["matrix_cols"] = [(c, labels[c]) for c in order]
        context["matrix"] = [
            {
                "code": a,
                "label": labels[a],
                "cells": [(b, counts.get((a, b), 0)) for b in order],
            }
            for a in order
        ]
        src, dst = request.GET.get("from_segment"), request.GET.get("to_segment")
        if src in RfmSegment.values and dst in RfmSegment.values:
            drill = saved_segments.rfm_transition_customers(
                tenant=tenant,
                from_run=from_run,
                to_run=to_run,
                from_segment=src,
                to_segment=dst,
            )
            if after is not None:
                drill = drill.filter(
                    pk__in=saved_segments.snapshot_members(tenant=tenant, snapshot=after).values(
                        "pk"
                    )
                )
            context["drill"] = drill.order_by("pk")[:200]
            context["drill_from"], context["drill_to"] = labels[src], labels[dst]
    return render(request, "segmentation/segments/movement.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@tenant_view(Perm.EXPORT_DATA)
def segment_export(
    request: TenantRequest, tenant_slug: str, savedsegment_id: int
) -> StreamingHttpResponse:
    """The latest snapshot's members as CSV, streamed; logged as a personal-data export."""
    tenant = request.tenant
    segment = _get(request, savedsegment_id)
    latest = saved_segments.snapshots(tenant=tenant, segment=segment).first()
    if latest is None:
        raise Http404(_("This segment has no snapshot yet."))
    crm_services.personal_data_access_record(
        tenant=tenant,
        user=request.user,
        subject_type="segment",
        subject_id=segment.pk,
        action=PersonalDataAccess.Action.EXPORT,
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        path=request.path,
    )
    members = (
        saved_segments.snapshot_members(tenant=tenant, snapshot=latest)
        .order_by("pk")
        .values_list("customer_number", "kind", "first_name", "last_name", "trade_name")
    )
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(
            [_("Customer number"), _("Type"), _("First name"), _("Last name"), _("Trade name")]
        )
        # The response streams after the request's tenant scope has closed.
        with tenant_context(tenant):
            for row in members.iterator(chunk_size=5000):
                yield writer.writerow([csv_safe_cell(v) for v in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(latest.taken_at).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{stamp}.csv"'
    return response
