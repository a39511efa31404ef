from __future__ import annotations

from django.urls import path

from consent.iys import views

app_name = "iys"

urlpatterns = [
    path("consent/iys/", views.iys_sync_page, name="sync"),
    path("consent/iys/credentials/", views.iys_credentials, name="credentials"),
    path("consent/iys/sync/", views.iys_sync_start, name="sync_start"),
]
