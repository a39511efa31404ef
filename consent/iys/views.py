from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent.iys import selectors, services
from consent.iys.forms import IysCredentialsForm
from crm.http import TenantRequest, tenant_view
from crm.permissions import Perm


def _page(request: TenantRequest, form: IysCredentialsForm, status: int = 200) -> HttpResponse:
    overview = selectors.iys_sync_overview(tenant=request.tenant)
    return render(
        request,
        "consent/iys/sync.html",
        {"form": form, "overview": overview, "job": overview.job},
        status=status,
    )


@tenant_view(Perm.MANAGE_PRIVACY)
def iys_sync_page(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    form = IysCredentialsForm()
    account = selectors.iys_sync_overview(tenant=request.tenant, limit=0).account
    form.initial_from(account, request.tenant)
    return _page(request, form)


@require_POST
@tenant_view(Perm.MANAGE_PRIVACY)
def iys_credentials(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    form = IysCredentialsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.iys_credentials_save(
                tenant=request.tenant,
                actor=request.user,
                iys_code=data["iys_code"],
                username=data["username"],
                password=data["password"],
                brand_codes=data["brand_codes"],
                is_active=data["is_active"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("İYS settings saved."))
            return redirect("iys:sync", tenant_slug=tenant_slug)
    return _page(request, form, status=400)


@require_POST
@tenant_view(Perm.MANAGE_PRIVACY)
def iys_sync_start(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    if selectors.iys_sync_overview(tenant=request.tenant, limit=0).account is None:
        messages.error(request, _("Enter the İYS credentials first."))
    else:
        services.iys_sync_now(tenant=request.tenant, actor=request.user, language=get_language())
        messages.info(request, _("Synchronisation with İYS started."))
    return redirect("iys:sync", tenant_slug=tenant_slug)
