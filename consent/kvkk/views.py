"""KVKK pages: the data-subject request register, the export of a person's data and
erasure. Logic lives in consent.kvkk.services / export."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.kvkk import export, notices, retention, services
from consent.kvkk.forms import (
    CloseForm,
    ErasureForm,
    IdentityForm,
    PrivacyDecisionForm,
    PrivacyTextForm,
    RequestForm,
    RetentionForm,
)
from consent.kvkk.models import (
    OPEN_STATUSES,
    DataSubjectRequest,
    DestructionRun,
    ErasureLog,
)
from crm.http import TenantRequest, tenant_view
from crm.models import PersonalDataAccess
from crm.permissions import Perm, role_has_permission
from customers.models import Customer


def _request_or_404(request: TenantRequest, datasubjectrequest_id: int) -> DataSubjectRequest:
    try:
        return DataSubjectRequest.objects.select_related("customer").get(
            tenant=request.tenant, pk=datasubjectrequest_id
        )
    except DataSubjectRequest.DoesNotExist as missing:
        raise Http404(_("No such request.")) from missing


@tenant_view(Perm.MANAGE_PRIVACY)
def request_list(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    show = request.GET.get("show", "open")
    requests = DataSubjectRequest.objects.filter(tenant=request.tenant).select_related("customer")
    if show == "open":
        requests = requests.filter(status__in=OPEN_STATUSES)
    return render(
        request,
        "consent/kvkk/requests.html",
        {"requests": requests[:500], "show": show, "today": timezone.localdate()},
    )


@tenant_view(Perm.MANAGE_PRIVACY)
def request_new(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    initial = {"received_on": timezone.localdate(), "customer_number": request.GET.get("customer")}
    form = RequestForm(request.POST or None, tenant=request.tenant, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.dsr_create(
                tenant=request.tenant,
                actor=request.user,
                requester_name=data["requester_name"],
                kind=data["kind"],
                customer=data["customer_number"],
                channel=data["channel"],
                details=data["details"],
                received_on=data["received_on"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Request registered; the answer is due by %(date)s.")
                             % {"date": created.due_on.strftime("%d.%m.%Y")})  # fmt: skip
            return redirect(
                "kvkk:request", tenant_slug=request.tenant.slug, datasubjectrequest_id=created.pk
            )
    return render(request, "consent/kvkk/request_new.html", {"form": form})


@tenant_view(Perm.MANAGE_PRIVACY)
def request_detail(
    request: TenantRequest, tenant_slug: str, datasubjectrequest_id: int
) -> HttpResponse:
    dsr = _request_or_404(request, datasubjectrequest_id)
    action = request.POST.get("action")
    forms = {
        "identity": IdentityForm(request.POST if action == "identity" else None),
        "close": CloseForm(request.POST if action == "close" else None),
        "erase": ErasureForm(request.POST if action == "erase" else None),
    }
    if request.method == "POST" and action in forms and forms[action].is_valid():
        data = forms[action].cleaned_data
        try:
            if action == "identity":
                services.dsr_identity_checked(
                    tenant=request.tenant, actor=request.user, request=dsr,
                    method=data["identity_method"],
                )  # fmt: skip
                messages.success(request, _("Identity check noted."))
            elif action == "close":
                services.dsr_close(
                    tenant=request.tenant, actor=request.user, request=dsr,
                    status=data["status"], resolution=data["resolution"],
                )  # fmt: skip
                messages.success(request, _("Request closed."))
            elif dsr.customer is None or dsr.customer.anonymised_at is not None:
                raise ValidationError(_("There is no customer record left to erase."))
            elif data["confirm"].strip() != dsr.customer.customer_number:
                raise ValidationError(_("The number typed is not this customer's number."))
            elif not dsr.identity_checked_at:
                raise ValidationError(_("Check the requester's identity before erasing."))
            else:
                services.customer_anonymise(
                    tenant=request.tenant, actor=request.user, customer=dsr.customer,
                    reason=_("Erasure request of %(date)s") % {"date": dsr.received_on},
                    request=dsr,
                )  # fmt: skip
                messages.success(request, _("The customer's personal data was destroyed."))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            return redirect(
                "kvkk:request", tenant_slug=request.tenant.slug, datasubjectrequest_id=dsr.pk
            )
    erasures = ErasureLog.objects.filter(tenant=request.tenant, request=dsr)
    return render(
        request,
        "consent/kvkk/request_detail.html",
        {
            "dsr": dsr,
            **{f"{name}_form": form for name, form in forms.items()},
            "erasures": erasures,
        },
    )


@tenant_view(Perm.MANAGE_PRIVACY)
def request_export(
    request: TenantRequest, tenant_slug: str, datasubjectrequest_id: int
) -> HttpResponse:
    """Everything held about the request's customer: JSON download or a printable page."""
    dsr = _request_or_404(request, datasubjectrequest_id)
    if dsr.customer is None:
        raise Http404(_("This request is not linked to a customer."))
    if not dsr.identity_checked_at:
        messages.error(request, _("Check the requester's identity before disclosing any data."))
        return redirect(
            "kvkk:request", tenant_slug=request.tenant.slug, datasubjectrequest_id=dsr.pk
        )
    data = export.customer_export(tenant=request.tenant, customer=dsr.customer)
    PersonalDataAccess.objects.create(
        tenant=request.tenant,
        user=request.user,
        subject_type="customer",
        subject_id=dsr.customer.pk,
        action=PersonalDataAccess.Action.EXPORT,
        path=request.path[:300],
        user_agent=request.headers.get("user-agent", "")[:300],
    )
    if request.GET.get("format") == "json":
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        filename = f"kvkk-{dsr.customer.customer_number}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return render(request, "consent/kvkk/export.html", {"dsr": dsr, "data": data})


# --- Information notices and explicit-consent texts -------------------------------------


@tenant_view(Perm.MANAGE_PRIVACY)
def privacy_text_list(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    texts = notices.privacy_texts(tenant=request.tenant).annotate(
        shown_or_decided=Count("decisions")
    )
    current = {t.pk for t in notices.current_texts(tenant=request.tenant).values()}
    return render(request, "consent/kvkk/texts.html", {"texts": texts, "current_ids": current})


@tenant_view(Perm.MANAGE_PRIVACY)
def privacy_text_new(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """Publish a text, or a new version of one (prefilled from the current version)."""
    initial: dict[str, str] = {}
    kind, purpose = request.GET.get("kind", ""), request.GET.get("purpose", "")
    base = notices.current_texts(tenant=request.tenant).get((kind, purpose))
    if base is not None:
        initial = {"kind": kind, "purpose": purpose, "title": base.title, "body": base.body}
    form = PrivacyTextForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            text = notices.privacy_text_publish(
                tenant=request.tenant, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, _("Version %(version)d published.") % {"version": text.version}
            )
            return redirect("kvkk:text", tenant_slug=tenant_slug, privacytext_id=text.pk)
    return render(request, "consent/kvkk/text_new.html", {"form": form, "base": base})


@tenant_view(Perm.MANAGE_PRIVACY)
def privacy_text_detail(
    request: TenantRequest, tenant_slug: str, privacytext_id: int
) -> HttpResponse:
    text = notices.privacy_texts(tenant=request.tenant).filter(pk=privacytext_id).first()
    if text is None:
        raise Http404(_("No such text."))
    counts = dict(
        text.decisions.values("decision").annotate(n=Count("pk")).values_list("decision", "n")
    )
    current = notices.current_texts(tenant=request.tenant).get((text.kind, text.purpose))
    return render(
        request,
        "consent/kvkk/text_detail.html",
        {"text": text, "counts": counts, "is_current": current == text, "current": current},
    )


def _privacy_panel(
    request: TenantRequest, customer: Customer, form: PrivacyDecisionForm | None, **extra: Any
) -> HttpResponse:
    return render(
        request,
        "consent/kvkk/_customer_privacy_panel.html",
        {
            "customer": customer,
            "purposes": notices.customer_privacy_status(tenant=request.tenant, customer=customer),
            "history": notices.customer_privacy_history(tenant=request.tenant, customer=customer)[
                :50
            ],
            "proof_form": form
            or PrivacyDecisionForm(
                tenant=request.tenant,
                initial={"branch": request.membership.branch},
                auto_id="privacy_%s",
            ),
            "may_record": role_has_permission(request.membership.role, Perm.RECORD_CONSENT),
            **extra,
        },
    )


@tenant_view(GET=Perm.VIEW_CUSTOMERS, POST=Perm.RECORD_CONSENT)
def customer_privacy(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    """GET: the KVKK panel of the customer page; POST: record a notice or a decision."""
    customer = Customer.objects.filter(tenant=request.tenant, pk=customer_id).first()
    if customer is None:
        raise Http404(_("No such customer."))
    if request.method != "POST":
        return _privacy_panel(request, customer, None)
    form = PrivacyDecisionForm(request.POST, tenant=request.tenant, auto_id="privacy_%s")
    if not form.is_valid():
        return _privacy_panel(request, customer, form, failed=True)
    data = form.cleaned_data
    try:
        decision = notices.privacy_decision_record(
            tenant=request.tenant,
            customer=customer,
            text=data["text"],
            decision=data["decision"],
            proof=notices.DecisionProof(
                recorded_by=request.user,
                branch=data["branch"],
                touchpoint=data["touchpoint"],
                document_ref=data["document_ref"],
                ip_address=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("user-agent", ""),
            ),
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _privacy_panel(request, customer, form, failed=True)
    return _privacy_panel(request, customer, None, saved=decision)


# --- Retention and periodic destruction ----------------------------------------------


@tenant_view(Perm.MANAGE_PRIVACY)
def retention_settings(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """The retention period of each kind of data, and the log of destruction runs."""
    from consent.kvkk.tasks import retention_destroy_task

    months = retention.retention_months(tenant=request.tenant)
    action = request.POST.get("action")
    form = RetentionForm(request.POST if action == "save" else None, months=months)
    if action == "save" and form.is_valid():
        try:
            retention.retention_rules_update(
                tenant=request.tenant, actor=request.user, months=form.cleaned_data
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Retention periods saved."))
            return redirect("kvkk:retention", tenant_slug=tenant_slug)
    elif action == "run":
        retention_destroy_task.delay(
            request.tenant.pk, trigger=DestructionRun.Trigger.MANUAL, actor_id=request.user.pk
        )
        messages.success(
            request, _("Destruction started. Its result appears below when it is done.")
        )
        return redirect("kvkk:retention", tenant_slug=tenant_slug)
    return render(
        request,
        "consent/kvkk/retention.html",
        {
            "form": form,
            "runs": retention.destruction_runs(tenant=request.tenant)[:60],
        },
    )
