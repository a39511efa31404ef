from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from crm import selectors as crm_selectors
from crm.http import TenantRequest, tenant_view
from crm.permissions import Perm
from dashboards import selectors


@tenant_view(Perm.VIEW_HOME)
def home(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    return render(
        request,
        "dashboards/home.html",
        {
            "overview": selectors.tenant_overview(tenant=request.tenant),
            "branches": crm_selectors.branch_list(tenant=request.tenant, include_inactive=False),
            "recent_jobs": crm_selectors.job_list(tenant=request.tenant, limit=5),
        },
    )
