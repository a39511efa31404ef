"""Root URLs. Everything that belongs to a company lives under /t/<tenant_slug>/
(HTML) or /api/v1/t/<tenant_slug>/ (REST); TenantMiddleware guards both.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm import views

handler403 = "crm.errors.permission_denied"
handler404 = "crm.errors.page_not_found"
handler500 = "crm.errors.server_error"

tenant_patterns = [
    path("", include("dashboards.urls")),
    path("", include("crm.tenant_urls")),
    path("", include("customers.urls")),
    path("consent/", include("consent.urls")),
    path("", include("consent.iys.urls")),
    path("", include("consent.kvkk.urls")),
    path("", include("segmentation.run_urls")),
    path("", include("segmentation.segment_urls")),
]

api_tenant_patterns = [
    path("", include("crm.api_urls")),
    path("", include("customers.api_urls")),
    path("", include("consent.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/catalog.js", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("", include("consent.public_urls")),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("api/v1/t/<slug:tenant_slug>/", include(api_tenant_patterns)),
    path(
        "api/v1/schema/",
        login_required(SpectacularAPIView.as_view(permission_classes=[])),
        name="api-schema",
    ),
    path(
        "api/v1/docs/",
        login_required(
            SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[])
        ),
        name="api-docs",
    ),
]
