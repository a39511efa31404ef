"""Public consent URLs (no login, outside /t/<slug>/): the opt-out page and the SMS
provider's reply webhook. Both authenticate themselves (signed token, secret)."""

from __future__ import annotations

from django.urls import path

from consent import views

urlpatterns = [
    path("optout/<str:token>/", views.opt_out, name="consent_opt_out"),
    path("hooks/sms-reply/<slug:slug>/", views.sms_reply_webhook, name="consent_sms_reply"),
]
