"""KVKK pages: the data-subject request register, the export of a person's data and
erasure. Logic lives in consent.kvkk.services / export."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.kvkk import export, services
from consent.kvkk.forms import CloseForm, ErasureForm, IdentityForm, RequestForm
from consent.kvkk.models import OPEN_STATUSES, DataSubjectRequest, ErasureLog
from crm.http import TenantRequest, tenant_view
from crm.models import PersonalDataAccess
from crm.permissions import Perm


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
