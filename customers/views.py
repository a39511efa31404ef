from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm import tables
from crm.http import TenantRequest, tenant_view
from crm.models import Job, PersonalDataAccess
from crm.permissions import Perm
from customers import merge, selectors, services
from customers.forms import (
    ComplaintForm,
    ComplaintStatusForm,
    CustomerForm,
    InteractionForm,
    RiskFlagForm,
)
from customers.models import Complaint, Customer, MergeLog, RiskFlag


def _customer_or_404(request: TenantRequest, customer_id: int) -> Customer:
    try:
        return Customer.objects.get(tenant=request.tenant, pk=customer_id)
    except Customer.DoesNotExist as missing:
        raise Http404(_("No such customer.")) from missing


@tenant_view(Perm.VIEW_CUSTOMERS)
def customer_list(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    query = request.GET.get("q", "")
    results = selectors.customer_search(tenant=request.tenant, query=query)
    template = "customers/_search_results.html" if request.htmx else "customers/list.html"
    return render(request, template, {"query": query, "results": results})


def _incoming_from_form_data(data: Any) -> Any:
    return selectors.incoming_from_raw(
        kind=data.get("kind") or Customer.Kind.PERSON,
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        trade_name=data.get("trade_name", ""),
        tckn=data.get("tckn", ""),
        tax_id=data.get("tax_id", ""),
        birth_date=data.get("birth_date", ""),
        phones=[data.get("phone", "")],
        emails=[data.get("email", "")],
    )


@tenant_view(Perm.EDIT_CUSTOMERS)
def customer_duplicate_check(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """HTMX: likely existing customers for what is typed so far, with the evidence."""
    candidates = selectors.customer_duplicate_candidates(
        tenant=request.tenant, incoming=_incoming_from_form_data(request.GET)
    )
    return render(request, "customers/_duplicate_candidates.html", {"candidates": candidates})


@tenant_view(Perm.EDIT_CUSTOMERS)
def customer_create(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    form = CustomerForm(request.POST or None, tenant=request.tenant)
    candidates: list[Any] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        candidates = selectors.customer_duplicate_candidates(
            tenant=request.tenant, incoming=_incoming_from_form_data(request.POST)
        )
        if candidates and not data["confirm_not_duplicate"]:
            form.add_error(
                None,
                _(
                    "This customer may already exist. Open the existing "
                    "record, or confirm that this is someone else."
                ),
            )
        else:
            try:
                customer = services.customer_create(
                    tenant=request.tenant,
                    actor=request.user,
                    data=services.CustomerInput(
                        kind=data["kind"],
                        first_name=data["first_name"],
                        last_name=data["last_name"],
                        trade_name=data["trade_name"],
                        tckn=data["tckn"],
                        tax_id=data["tax_id"],
                        tax_office=data["tax_office"],
                        birth_date=data["birth_date"],
                        gender=data["gender"],
                        preferred_channel=data["preferred_channel"],
                        preferred_language=data["preferred_language"],
                        home_branch=data["home_branch"] or request.membership.branch,
                        phones=[data["phone"]],
                        emails=[data["email"]],
                        source=_touchpoint_of(request),
                    ),
                )
            except ValidationError as error:
                _attach(form, error)
            else:
                messages.success(
                    request, _("Customer %(name)s created.") % {"name": customer.display_name}
                )
                return redirect(
                    "customers:detail", tenant_slug=tenant_slug, customer_id=customer.pk
                )
    return render(request, "customers/create.html", {"form": form, "candidates": candidates})


def _touchpoint_of(request: TenantRequest) -> str:
    from crm.permissions import Role
    from customers.models import Touchpoint

    return {Role.CALL_CENTRE: Touchpoint.CALL_IN, Role.BRANCH_STAFF: Touchpoint.BRANCH_VISIT}.get(
        request.membership.role, Touchpoint.FRONT_DESK
    )  # type: ignore[call-overload]


def _attach(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            target = {"phones": "phone", "emails": "email"}.get(field, field)
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, error)


@tenant_view(Perm.VIEW_CUSTOMERS)
def customer_detail(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    try:
        page = selectors.customer_page(tenant=request.tenant, customer_id=customer_id)
    except ObjectDoesNotExist as missing:
        raise Http404(_("No such customer.")) from missing
    crm_services.personal_data_access_record(
        tenant=request.tenant,
        user=request.user,
        subject_type="customer",
        subject_id=page.customer.pk,
        action=PersonalDataAccess.Action.VIEW,
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("user-agent", ""),
        path=request.path,
    )
    tenant = request.tenant
    # One query for the branch choices of both quick-action forms, and only if they
    # are rendered: detail.html keeps the rendered fields for five minutes.
    branches: Any = SimpleLazyObject(lambda: crm_selectors.active_branches(tenant=tenant))
    return render(
        request,
        "customers/detail.html",
        {
            "page": page,
            "customer": page.customer,
            # Three forms on one page: distinct element ids, same field names.
            "interaction_form": InteractionForm(
                tenant=tenant,
                branches=branches,
                initial={"branch": request.membership.branch},
                auto_id="interaction_%s",
            ),
            "complaint_form": ComplaintForm(
                tenant=tenant,
                branches=branches,
                initial={"branch": request.membership.branch},
                auto_id="complaint_%s",
            ),
            "risk_form": RiskFlagForm(auto_id="risk_%s"),
            "status_form": ComplaintStatusForm(),
        },
    )


def _back(request: TenantRequest, customer: Customer, anchor: str = "") -> HttpResponse:
    response = redirect(
        "customers:detail", tenant_slug=request.tenant.slug, customer_id=customer.pk
    )
    response["Location"] += anchor
    return response


def _report_form_errors(request: TenantRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


@require_POST
@tenant_view(Perm.EDIT_CUSTOMERS)
def interaction_create(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    form = InteractionForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        services.interaction_log(
            tenant=request.tenant, actor=request.user, customer=customer, **form.cleaned_data
        )
        messages.success(request, _("Contact logged."))
    else:
        _report_form_errors(request, form)
    return _back(request, customer, "#timeline")


@require_POST
@tenant_view(Perm.EDIT_CUSTOMERS)
def complaint_create(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    form = ComplaintForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        services.complaint_open(
            tenant=request.tenant, actor=request.user, customer=customer, **form.cleaned_data
        )
        messages.success(request, _("Complaint opened."))
    else:
        _report_form_errors(request, form)
    return _back(request, customer, "#complaints")


@require_POST
@tenant_view(Perm.EDIT_CUSTOMERS)
def complaint_status(request: TenantRequest, tenant_slug: str, complaint_id: int) -> HttpResponse:
    try:
        complaint = Complaint.objects.select_related("customer").get(
            tenant=request.tenant, pk=complaint_id
        )
    except Complaint.DoesNotExist as missing:
        raise Http404 from missing
    form = ComplaintStatusForm(request.POST)
    if form.is_valid():
        try:
            services.complaint_change_status(
                tenant=request.tenant, actor=request.user, complaint=complaint, **form.cleaned_data
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Complaint updated."))
    else:
        _report_form_errors(request, form)
    return _back(request, complaint.customer, "#complaints")


@require_POST
@tenant_view(Perm.EDIT_CUSTOMERS)
def risk_flag_create(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    form = RiskFlagForm(request.POST)
    if form.is_valid():
        try:
            services.risk_flag_set(
                tenant=request.tenant, actor=request.user, customer=customer, **form.cleaned_data
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Risk flag added."))
    else:
        _report_form_errors(request, form)
    return _back(request, customer)


@require_POST
@tenant_view(Perm.EDIT_CUSTOMERS)
def risk_flag_clear(request: TenantRequest, tenant_slug: str, riskflag_id: int) -> HttpResponse:
    try:
        flag = RiskFlag.objects.select_related("customer").get(
            tenant=request.tenant, pk=riskflag_id
        )
    except RiskFlag.DoesNotExist as missing:
        raise Http404 from missing
    services.risk_flag_clear(tenant=request.tenant, actor=request.user, flag=flag)
    messages.success(request, _("Risk flag cleared."))
    return _back(request, flag.customer)


# --- Merging duplicates -----------------------------------------------------------------


def _other_or_404(request: TenantRequest, raw: str | None) -> Customer | None:
    if not raw:
        return None
    try:
        return _customer_or_404(request, int(raw))
    except ValueError as invalid:
        raise Http404(_("No such customer.")) from invalid


def _record_access(request: TenantRequest, action: str, *customers: Customer) -> None:
    for customer in customers:
        crm_services.personal_data_access_record(
            tenant=request.tenant,
            user=request.user,
            subject_type="customer",
            subject_id=customer.pk,
            action=action,
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("user-agent", ""),
            path=request.path,
        )


@tenant_view(Perm.MERGE_CUSTOMERS)
def customer_merge(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    """Find the other record (no ``other`` yet), compare the two (GET), merge (POST).

    The record of the URL is kept; ``other`` is merged into it.
    """
    keep = _customer_or_404(request, customer_id)
    drop = _other_or_404(request, request.GET.get("other") or request.POST.get("other"))
    if drop is None:
        if request.method == "POST":
            messages.error(request, _("Choose the record to merge first."))
            return redirect("customers:merge", tenant_slug=tenant_slug, customer_id=keep.pk)
        return _merge_search(request, keep)
    if request.method == "POST":
        merged = _merge_post(request, keep, drop)
        if merged is not None:
            return merged
    preview = merge.merge_preview(tenant=request.tenant, keep=keep, drop=drop)
    _record_access(request, PersonalDataAccess.Action.VIEW, keep, drop)
    return render(request, "customers/merge_compare.html", {"preview": preview, "customer": keep})


def _merge_post(request: TenantRequest, keep: Customer, drop: Customer) -> HttpResponse | None:
    """Merge with the user's choices; None (with an error message) when refused."""
    choices = {
        name: request.POST[f"choice_{name}"]
        for name in merge.merge_fields(keep.kind)
        if f"choice_{name}" in request.POST
    }
    try:
        log = merge.customer_merge(
            tenant=request.tenant, actor=request.user, keep=keep, drop=drop, choices=choices
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return None
    _record_access(request, PersonalDataAccess.Action.UPDATE, keep, drop)
    messages.success(
        request,
        _(
            "%(dropped)s (#%(number)s) was merged into this record. "
            "If this was a mistake, undo it in the merge log."
        )
        % {"dropped": log.dropped.display_name, "number": log.dropped.customer_number},
    )
    return redirect("customers:detail", tenant_slug=request.tenant.slug, customer_id=keep.pk)


def _merge_search(request: TenantRequest, keep: Customer) -> HttpResponse:
    query = request.GET.get("q", "")
    results = [
        c
        for c in selectors.customer_search(tenant=request.tenant, query=query)
        if c.pk != keep.pk and c.kind == keep.kind
    ]
    return render(
        request,
        "customers/merge_search.html",
        {"customer": keep, "query": query, "results": results},
    )


@tenant_view(Perm.MERGE_CUSTOMERS)
def merge_log(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    logs = Paginator(merge.merge_log_list(tenant=request.tenant), 50)
    return render(
        request, "customers/merge_log.html", {"page": logs.get_page(request.GET.get("page"))}
    )


@require_POST
@tenant_view(Perm.MERGE_CUSTOMERS)
def merge_undo(request: TenantRequest, tenant_slug: str, mergelog_id: int) -> HttpResponse:
    try:
        log = merge.merge_log_get(tenant=request.tenant, mergelog_id=mergelog_id)
    except MergeLog.DoesNotExist as missing:
        raise Http404(_("No such merge.")) from missing
    try:
        kept, dropped = merge.customer_unmerge(
            tenant=request.tenant, actor=request.user, merge_log=log
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        _record_access(request, PersonalDataAccess.Action.UPDATE, kept, dropped)
        messages.success(
            request,
            _("Merge undone: %(kept)s and %(dropped)s are separate records again.")
            % {"kept": kept.display_name, "dropped": dropped.display_name},
        )
    return redirect("customers:merge_log", tenant_slug=tenant_slug)


# --- Import -----------------------------------------------------------------------


@tenant_view(Perm.IMPORT_CUSTOMERS)
def customer_import_upload(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """Step 1: the file and what it holds (customers, purchases or interactions). It
    waits in a draft job until the columns are mapped."""
    from crm import jobs
    from customers.activity_imports import IMPORT_KINDS
    from customers.forms import ImportUploadForm

    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        kind = IMPORT_KINDS[form.cleaned_data["kind"]]
        job = jobs.job_create(
            tenant=request.tenant,
            kind=kind.job_kind,
            title=str(kind.title) % {"name": upload.name},
            actor=request.user,
            input_name=upload.name,
            input_data=upload.read(),
            status=Job.Status.DRAFT,
        )
        return redirect("customers:import_mapping", tenant_slug=tenant_slug, job_id=job.pk)
    return render(request, "customers/import_upload.html", {"form": form})


@tenant_view(Perm.IMPORT_CUSTOMERS)
def customer_import_mapping(request: TenantRequest, tenant_slug: str, job_id: int) -> HttpResponse:
    """Step 2: which column is which field, with a preview; then the background job."""
    from crm import jobs
    from customers import activity_imports
    from customers.forms import ImportMappingForm
    from customers.tasks import activity_import_task

    try:
        job = Job.objects.get(
            tenant=request.tenant, pk=job_id, kind__in=list(activity_imports.KIND_OF_JOB)
        )
    except Job.DoesNotExist as missing:
        raise Http404 from missing
    if job.status != Job.Status.DRAFT:
        return redirect("crm:job", tenant_slug=tenant_slug, job_id=job.pk)
    kind = activity_imports.KIND_OF_JOB[job.kind]
    try:
        table = tables.read_table(bytes(job.input_data or b""), job.input_name)
    except tables.ImportFileError as error:
        messages.error(request, str(error))
        return redirect("customers:import", tenant_slug=tenant_slug)
    initial = activity_imports.mapping_for(tenant=request.tenant, kind=kind, headers=table.headers)
    form = ImportMappingForm(
        request.POST or None, headers=table.headers, initial_mapping=initial, kind=kind
    )
    mapping = form.mapping() if request.method == "POST" and form.is_valid() else initial
    if request.method == "POST" and form.is_valid() and "start" in request.POST:
        activity_imports.mapping_save(
            tenant=request.tenant, kind=kind, headers=table.headers, mapping=mapping
        )
        jobs.job_queue(job, result={"mapping": mapping})
        jobs.job_enqueue(job, activity_import_task, language=get_language())
        return redirect("crm:job", tenant_slug=tenant_slug, job_id=job.pk)
    preview = activity_imports.preview(
        tenant=request.tenant, kind=kind, table=table, mapping=mapping
    )
    return render(
        request,
        "customers/import_mapping.html",
        {
            "job": job,
            "kind": kind,
            "form": form,
            "rows": len(table.rows),
            "preview": preview.rows,
            "shows_customer": preview.shows_customer,
            "mapping": mapping,
            "field_labels": kind.fields,
        },
    )


# --- Duplicate review queue -------------------------------------------------------------


@tenant_view(Perm.MERGE_CUSTOMERS)
def duplicate_queue(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """Pairs to review side by side; POST starts a new search or merges confident groups."""
    from django.core.paginator import Paginator

    from crm import jobs
    from customers import duplicates
    from customers.tasks import customers_dedup_task

    if request.method == "POST" and request.POST.get("action") == "find":
        job = jobs.job_create(
            tenant=request.tenant,
            kind="customers.dedup",
            title=_("Duplicate search"),
            actor=request.user,
        )
        jobs.job_enqueue(job, customers_dedup_task, language=get_language())
        return redirect("crm:job", tenant_slug=tenant_slug, job_id=job.pk)
    if request.method == "POST" and request.POST.get("action") == "merge_confident":
        merged = duplicates.duplicates_merge_confident(tenant=request.tenant, actor=request.user)
        messages.success(
            request,
            _("%(count)s records merged. Each merge can be undone in the merge log.")
            % {"count": merged},
        )
        return redirect("customers:duplicates", tenant_slug=tenant_slug)
    queue = duplicates.duplicate_queue(tenant=request.tenant)
    page = Paginator(queue, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "customers/duplicates.html",
        {
            "page": page,
            "confident": duplicates.confident_clusters(tenant=request.tenant),
            "confident_score": duplicates.CONFIDENT_SCORE,
        },
    )


@require_POST
@tenant_view(Perm.MERGE_CUSTOMERS)
def duplicate_decide(
    request: TenantRequest, tenant_slug: str, duplicatepair_id: int
) -> HttpResponse:
    from customers import duplicates
    from customers.models import DuplicatePair

    try:
        pair = DuplicatePair.objects.get(tenant=request.tenant, pk=duplicatepair_id)
    except DuplicatePair.DoesNotExist as missing:
        raise Http404 from missing
    status = request.POST.get("status", "")
    if status not in (DuplicatePair.Status.NOT_DUPLICATE, DuplicatePair.Status.SKIPPED):
        messages.error(request, _("Choose merge, not a duplicate, or skip."))
    else:
        duplicates.duplicate_pair_decide(
            tenant=request.tenant, actor=request.user, pair=pair, status=status
        )
    return redirect("customers:duplicates", tenant_slug=tenant_slug)
