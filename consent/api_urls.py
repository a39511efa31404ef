from __future__ import annotations

from django.urls import path

from consent import api

app_name = "consent_api"

urlpatterns = [
    path("consents/check", api.ConsentCheckApi.as_view(), name="check"),
    path("consents/", api.ConsentRecordApi.as_view(), name="record"),
]
