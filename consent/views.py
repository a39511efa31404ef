"""HTML: the consent panel on the customer page, the public opt-out page, the SMS
reply-keyword webhook. Logic lives in consent.services and consent.selectors."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from consent import selectors, services
from consent.forms import ConsentRecordForm, ConsentSettingsForm, OptOutForm
from consent.models import ConsentOrigin
from crm.http import TenantRequest, tenant_view
from crm.models import Tenant
from crm.permissions import Perm, role_has_permission
from crm.tenancy import tenant_context
from customers.models import Customer


def _customer_or_404(request: TenantRequest, customer_id: int) -> Customer:
    try:
        return Customer.objects.get(tenant=request.tenant, pk=customer_id)
    except Customer.DoesNotExist as missing:
        raise Http404(_("No such customer.")) from missing


def _panel(
    request: TenantRequest, customer: Customer, form: ConsentRecordForm | None, **extra: Any
) -> HttpResponse:
    consents = selectors.customer_consents(tenant=request.tenant, customer=customer)
    if form is None:
        form = ConsentRecordForm(
            tenant=request.tenant,
            recipients=consents.recipients,
            initial={"branch": request.membership.branch},
            auto_id="consent_%s",
        )
    return render(
        request,
        "consent/_customer_consents_panel.html",
        {
            "customer": customer,
            "consents": consents,
            "consent_form": form,
            "may_record": role_has_permission(request.membership.role, Perm.RECORD_CONSENT),
            **extra,
        },
    )


@tenant_view(GET=Perm.VIEW_CUSTOMERS, POST=Perm.RECORD_CONSENT)
def customer_consents(request: TenantRequest, tenant_slug: str, customer_id: int) -> HttpResponse:
    """GET: the panel (loaded into the customer page); POST: record a change, re-render."""
    customer = _customer_or_404(request, customer_id)
    if request.method != "POST":
        return _panel(request, customer, None)
    recipients = selectors.customer_recipients(tenant=request.tenant, customer=customer)
    form = ConsentRecordForm(
        request.POST, tenant=request.tenant, recipients=recipients, auto_id="consent_%s"
    )
    if not form.is_valid():
        return _panel(request, customer, form, form_open=True)
    data = form.cleaned_data
    try:
        services.consent_record(
            tenant=request.tenant,
            actor=request.user,
            recipient=data["recipient"],
            consent_type=data["consent_type"],
            status=data["status"],
            source=data["source"],
            consent_date=data["consent_date"],
            recipient_type=data["recipient_type"],
            customer=customer,
            proof=services.Proof(
                recorded_by=request.user,
                branch=data["branch"],
                touchpoint=data["touchpoint"],
                document_ref=data["document_ref"],
                note=data["note"],
                ip_address=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("user-agent", ""),
            ),
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _panel(request, customer, form, form_open=True)
    return _panel(request, customer, None, saved=True)


# --- Public: the opt-out page and the SMS keyword webhook -----------------------------


def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """Public (no login): the person opts out per channel; a bad token shows nothing."""
    target = services.opt_out_token_read(token)
    if target is None:
        return render(request, "consent/opt_out_invalid.html", status=404)
    allowed = services.opt_out_types_for(target.recipient)
    form = OptOutForm(request.POST or None, allowed_types=allowed)
    done: list[services.OptOutResult] = []
    if request.method == "POST" and form.is_valid():
        with tenant_context(target.tenant), transaction.atomic():
            done = services.consent_opt_out(
                tenant=target.tenant,
                recipient=target.recipient,
                consent_types=form.cleaned_data["consent_types"],
                origin=ConsentOrigin.OPT_OUT_LINK,
                proof=services.Proof(
                    ip_address=request.META.get("REMOTE_ADDR"),
                    user_agent=request.headers.get("user-agent", ""),
                ),
            )
    return render(
        request,
        "consent/opt_out.html",
        {
            "tenant_name": target.tenant.name,
            "recipient": services.mask_recipient(target.recipient),
            "form": form,
            "done": done,
        },
    )


def _webhook_field(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


@csrf_exempt
@require_POST
def sms_reply_webhook(request: HttpRequest, slug: str) -> JsonResponse:
    """An SMS provider forwards a reply: ``RET``/``İPTAL``/``STOP`` opts the sender out.

    Authenticated by the tenant's webhook secret in the ``X-Tekil-Webhook-Secret``
    header. Accepts JSON or form data with the sender in ``from``/``sender``/
    ``msisdn`` and the text in ``text``/``message``/``body``.
    """
    tenant = get_object_or_404(Tenant, slug=slug, is_active=True)
    secret = request.headers.get("X-Tekil-Webhook-Secret", "")
    with tenant_context(tenant):
        if not services.consent_webhook_secret_matches(tenant=tenant, secret=secret):
            return JsonResponse({"detail": _("Wrong or missing webhook secret.")}, status=403)
        data: dict[str, Any]
        if request.content_type == "application/json":
            try:
                loaded = json.loads(request.body or b"{}")
            except ValueError:
                return JsonResponse({"detail": _("The body is not valid JSON.")}, status=400)
            data = loaded if isinstance(loaded, dict) else {}
        else:
            data = request.POST.dict()
        sender = _webhook_field(data, "from", "sender", "msisdn")
        text = _webhook_field(data, "text", "message", "body")
        if not sender:
            return JsonResponse({"detail": _("The sender's number is missing.")}, status=400)
        if not services.sms_keyword_is_opt_out(text):
            return JsonResponse({"opted_out": False})
        try:
            done = services.consent_opt_out(
                tenant=tenant,
                recipient=sender,
                consent_types=services.opt_out_types_for(sender),
                origin=ConsentOrigin.SMS_KEYWORD,
                proof=services.Proof(note=text[:300]),
            )
        except ValidationError as error:
            return JsonResponse({"detail": " ".join(error.messages)}, status=400)
    return JsonResponse(
        {
            "opted_out": True,
            "channels": [r.consent_type for r in done],
            "reply": _("You will no longer receive messages from %(name)s.")
            % {"name": tenant.name},
        }
    )


@tenant_view(Perm.MANAGE_SETTINGS)
def consent_settings(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """TACIR policy, and the SMS provider's webhook secret (shown once when created)."""
    current = services.consent_settings_get(tenant=request.tenant)
    form = ConsentSettingsForm(
        request.POST if request.POST.get("action") == "policy" else None,
        initial={
            "tacir_policy": current.tacir_policy,
            "profiling_needs_explicit_consent": current.profiling_needs_explicit_consent,
        },
    )
    new_secret = None
    if request.method == "POST" and request.POST.get("action") == "rotate":
        new_secret = services.consent_webhook_secret_rotate(tenant=request.tenant)
    elif request.method == "POST" and form.is_valid():
        services.consent_settings_update(
            tenant=request.tenant,
            tacir_policy=form.cleaned_data["tacir_policy"],
            profiling_needs_explicit_consent=form.cleaned_data["profiling_needs_explicit_consent"],
        )
        messages.success(request, _("Consent settings saved."))
        return redirect("consent:settings", tenant_slug=request.tenant.slug)
    return render(
        request,
        "consent/settings.html",
        {
            "form": form,
            "has_secret": bool(current.sms_webhook_secret_hash) or new_secret is not None,
            "new_secret": new_secret,
            "webhook_url": request.build_absolute_uri(
                reverse("consent_sms_reply", kwargs={"slug": request.tenant.slug})
            ),
        },
    )
