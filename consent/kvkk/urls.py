from __future__ import annotations

from django.urls import path

from consent.kvkk import views

app_name = "kvkk"

urlpatterns = [
    path("kvkk/requests/", views.request_list, name="requests"),
    path("kvkk/requests/new/", views.request_new, name="request_new"),
    path("kvkk/requests/<int:datasubjectrequest_id>/", views.request_detail, name="request"),
    path(
        "kvkk/requests/<int:datasubjectrequest_id>/export/",
        views.request_export,
        name="request_export",
    ),
    path("kvkk/texts/", views.privacy_text_list, name="texts"),
    path("kvkk/texts/new/", views.privacy_text_new, name="text_new"),
    path("kvkk/texts/<int:privacytext_id>/", views.privacy_text_detail, name="text"),
    path("kvkk/retention/", views.retention_settings, name="retention"),
    path("customers/<int:customer_id>/privacy/", views.customer_privacy, name="customer_privacy"),
]
