from __future__ import annotations

from django.urls import path

from consent import views

app_name = "consent"

urlpatterns = [
    path("settings/", views.consent_settings, name="settings"),
    path(
        "customers/<int:customer_id>/consents/",
        views.customer_consents,
        name="customer_consents",
    ),
]
