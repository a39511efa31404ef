"""Counter panel, opt-out link, SMS keyword webhook, API, merge and unmerge."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services
from consent.models import (
    ConsentEvent,
    ConsentOrigin,
    ConsentState,
    ConsentStatus,
    ConsentType,
    RecipientType,
    SyncStatus,
    TacirPolicy,
)
from crm.permissions import ApiScope, Role
from crm.tenancy import tenant_context
from customers.merge import customer_merge, customer_unmerge
from customers.models import Customer
from tests.conftest import TenantWorld
from tests.crm.test_api_keys import key_client, make_key
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory

PHONE = "+905321112233"


def _customer(world: TenantWorld, phone: str = PHONE, **fields: object) -> Customer:
    customer: Customer = CustomerFactory.create(tenant=world.tenant, **fields)
    PhoneFactory.create(tenant=world.tenant, customer=customer, e164=phone, is_mobile=True)
    return customer


def _onay(world: TenantWorld, recipient: str = PHONE, **extra: object) -> ConsentEvent:
    values: dict[str, object] = {
        "tenant": world.tenant,
        "actor": world.owner,
        "recipient": recipient,
        "consent_type": ConsentType.MESAJ,
        "status": ConsentStatus.ONAY,
        "source": "HS_FIZIKSEL_ORTAM",
        "consent_date": timezone.now() - dt.timedelta(minutes=5),
    }
    values.update(extra)
    with tenant_context(world.tenant):
        return services.consent_record(**values)  # type: ignore[arg-type]


def _may(world: TenantWorld, recipient: str = PHONE, kind: str = ConsentType.MESAJ) -> str:
    with tenant_context(world.tenant):
        return services.may_send(tenant=world.tenant, channel_type=kind, recipient=recipient).reason


def _client(world: TenantWorld, role: Role) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(world.users[role])
    return client


# --- may_send -----------------------------------------------------------------------------


def test_individuals_need_onay_and_ret_wins(world_a: TenantWorld) -> None:
    _customer(world_a)
    assert _may(world_a) == services.Reason.NO_CONSENT
    _onay(world_a)
    assert _may(world_a) == services.Reason.ONAY
    assert _may(world_a, kind=ConsentType.ARAMA) == services.Reason.NO_CONSENT
    with tenant_context(world_a.tenant):
        services.consent_opt_out(
            tenant=world_a.tenant,
            recipient=PHONE,
            consent_types=[ConsentType.MESAJ],
            origin=ConsentOrigin.SMS_KEYWORD,
        )
    # The RET is pending sync and already counts.
    assert _may(world_a) == services.Reason.RET
    assert _may(world_a, "not a phone") == services.Reason.INVALID


def test_tacir_follows_the_tenant_setting(world_a: TenantWorld) -> None:
    _customer(world_a, kind=Customer.Kind.COMPANY, trade_name="Demir A.Ş.")
    assert _may(world_a) == services.Reason.TACIR_NO_RET
    with tenant_context(world_a.tenant):
        services.consent_settings_update(
            tenant=world_a.tenant, tacir_policy=TacirPolicy.REQUIRE_ONAY
        )
    assert _may(world_a) == services.Reason.NO_CONSENT
    _onay(world_a, recipient_type=RecipientType.TACIR)
    assert _may(world_a) == services.Reason.TACIR_ONAY
    with tenant_context(world_a.tenant):
        companies = Customer.objects.filter(kind=Customer.Kind.COMPANY)
        rows = services.may_send_bulk(
            tenant=world_a.tenant, channel_type=ConsentType.MESAJ, customers=companies
        )
    assert [(row.recipient, row.reason, row.allowed) for row in rows] == [
        (PHONE, services.Reason.TACIR_ONAY, True)
    ]


# --- Counter -------------------------------------------------------------------------------


def test_counter_records_consent_with_proof_and_shows_it(world_a: TenantWorld) -> None:
    customer = _customer(world_a)
    client = _client(world_a, Role.BRANCH_STAFF)
    url = f"/t/alfa/consent/customers/{customer.pk}/consents/"
    page = client.get(f"/t/alfa/customers/{customer.pk}/")
    assert url in page.content.decode()  # the customer page loads the panel
    panel = client.get(url).content.decode()
    assert "nothing recorded" in panel
    response = client.post(
        url,
        {
            "recipient": PHONE,
            "consent_type": ConsentType.MESAJ,
            "status": ConsentStatus.ONAY,
            "recipient_type": RecipientType.BIREYSEL,
            "source": "HS_ISLAK_IMZA",
            "consent_date": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "branch": world_a.branch.pk,
            "touchpoint": "branch_visit",
            "document_ref": "FORM-2026-117",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Consent recorded" in body
    with tenant_context(world_a.tenant):
        event = ConsentEvent.objects.get(recipient=PHONE)
    assert event.document_ref == "FORM-2026-117" and event.branch_id == world_a.branch.pk
    assert event.recorded_by_id == world_a.users[Role.BRANCH_STAFF].pk
    assert event.customer_id == customer.pk and event.phone_id is not None
    assert event.sync_status == SyncStatus.PENDING
    # A repeated ONAY is refused with İYS's rule, and nothing is lost from the form.
    again = client.post(
        url,
        {
            "recipient": PHONE,
            "consent_type": ConsentType.MESAJ,
            "status": ConsentStatus.ONAY,
            "recipient_type": RecipientType.BIREYSEL,
            "source": "HS_ISLAK_IMZA",
            "consent_date": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "document_ref": "FORM-2026-118",
        },
    ).content.decode()
    assert "already ONAY" in again and "FORM-2026-118" in again


def test_marketing_sees_consents_but_cannot_record(world_a: TenantWorld) -> None:
    customer = _customer(world_a)
    client = _client(world_a, Role.MARKETING)
    url = f"/t/alfa/consent/customers/{customer.pk}/consents/"
    panel = client.get(url)
    assert panel.status_code == 200 and "consent-form" not in panel.content.decode()
    assert client.post(url, {}).status_code == 403


# --- Opt-out link ------------------------------------------------------------------------


def test_opt_out_link_records_ret_at_once_and_tampering_is_refused(
    world_a: TenantWorld,
) -> None:
    _customer(world_a)
    _onay(world_a)
    url = services.opt_out_url(world_a.tenant, PHONE)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(url)
    assert page.status_code == 200 and PHONE not in page.content.decode()  # masked
    token = url.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.get(f"/optout/{forged}/").status_code == 404
    other = services.opt_out_token(tenant=world_a.tenant, recipient="+905550000000")
    body, _signature = token.rsplit(":", 1)
    assert client.post(f"/optout/{body}:{other.rsplit(':', 1)[1]}/").status_code == 404
    done = client.post(url, {"consent_types": [ConsentType.MESAJ]})
    assert "will no longer send you" in done.content.decode()
    assert _may(world_a) == services.Reason.RET
    with tenant_context(world_a.tenant):
        ret = ConsentEvent.objects.get(status=ConsentStatus.RET)
    assert (ret.origin, ret.source, ret.sync_status) == (
        ConsentOrigin.OPT_OUT_LINK,
        "HS_WEB",
        SyncStatus.PENDING,
    )
    again = client.post(url, {"consent_types": [ConsentType.MESAJ]}).content.decode()
    assert "already stopped" in again


def test_opt_out_without_any_consent_is_kept_locally(world_a: TenantWorld) -> None:
    _customer(world_a, kind=Customer.Kind.COMPANY, trade_name="Demir A.Ş.")
    assert _may(world_a) == services.Reason.TACIR_NO_RET
    Client().post(services.opt_out_url(world_a.tenant, PHONE), {"consent_types": ["MESAJ"]})
    assert _may(world_a) == services.Reason.RET
    with tenant_context(world_a.tenant):
        assert ConsentEvent.objects.get().sync_status == SyncStatus.NOT_REQUIRED


def test_opt_out_page_in_turkish_by_default(world_a: TenantWorld) -> None:
    page = Client().get(services.opt_out_url(world_a.tenant, "ayse@example.com"))
    assert page.status_code == 200
    assert re.search(r'<html lang="tr', page.content.decode())


# --- SMS keyword webhook -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["RET", "ret ", "İPTAL", "iptal", "IPTAL", "ıptal", "Stop", "STOP ALFA"]
)
def test_sms_keywords_opt_out(world_a: TenantWorld, text: str) -> None:
    _customer(world_a)
    _onay(world_a)
    with tenant_context(world_a.tenant):
        secret = services.consent_webhook_secret_rotate(tenant=world_a.tenant)
    response = Client().post(
        "/hooks/sms-reply/alfa/",
        {"from": "0532 111 22 33", "text": text},
        headers={"X-Tekil-Webhook-Secret": secret},
    )
    assert response.status_code == 200 and response.json()["opted_out"] is True
    assert _may(world_a) == services.Reason.RET
    assert _may(world_a, kind=ConsentType.ARAMA) == services.Reason.RET


@pytest.mark.parametrize("text", ["Merhaba", "retail", "", "teşekkürler ret"])
def test_other_replies_change_nothing(world_a: TenantWorld, text: str) -> None:
    _customer(world_a)
    _onay(world_a)
    with tenant_context(world_a.tenant):
        secret = services.consent_webhook_secret_rotate(tenant=world_a.tenant)
    response = Client().post(
        "/hooks/sms-reply/alfa/",
        {"from": PHONE, "text": text},
        content_type="application/json",
        headers={"X-Tekil-Webhook-Secret": secret},
    )
    assert response.json() == {"opted_out": False}
    assert _may(world_a) == services.Reason.ONAY


def test_webhook_needs_the_tenants_secret(world_a: TenantWorld, world_b: TenantWorld) -> None:
    _customer(world_a)
    _onay(world_a)
    with tenant_context(world_b.tenant):
        other_secret = services.consent_webhook_secret_rotate(tenant=world_b.tenant)
    client = Client()
    data = {"from": PHONE, "text": "RET"}
    assert client.post("/hooks/sms-reply/alfa/", data).status_code == 403  # none set yet
    with tenant_context(world_a.tenant):
        services.consent_webhook_secret_rotate(tenant=world_a.tenant)
    headers = {"X-Tekil-Webhook-Secret": other_secret}
    assert client.post("/hooks/sms-reply/alfa/", data, headers=headers).status_code == 403
    assert _may(world_a) == services.Reason.ONAY


# --- API -----------------------------------------------------------------------------------


def test_api_check_and_record(world_a: TenantWorld) -> None:
    _customer(world_a)
    _key, full_key = make_key(world_a, ApiScope.CONSENTS_READ, ApiScope.CONSENTS_WRITE)
    api: APIClient = key_client(full_key)
    check = api.get("/api/v1/t/alfa/consents/check", {"type": "MESAJ", "recipient": "05321112233"})
    assert check.status_code == 200
    assert (check.json()["allowed"], check.json()["reason"]) == (False, "no_consent")
    record = {
        "recipient": "0532 111 22 33",
        "type": "MESAJ",
        "status": "ONAY",
        "source": "HS_WEB",
        "consent_date": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "ip_address": "203.0.113.9",
    }
    created = api.post("/api/v1/t/alfa/consents/", record, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["origin"] == "api" and created.json()["sync_status"] == "pending"
    check = api.get("/api/v1/t/alfa/consents/check", {"type": "MESAJ", "recipient": PHONE})
    assert check.json()["allowed"] is True
    record["consent_date"] = timezone.now().isoformat()
    refused = api.post("/api/v1/t/alfa/consents/", record, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and refused.json()["code"] == "same_status"
    assert "already ONAY" in refused.json()["detail"]


def test_api_scopes(world_a: TenantWorld) -> None:
    _key, read_only = make_key(world_a, ApiScope.CONSENTS_READ)
    api = key_client(read_only)
    assert api.post("/api/v1/t/alfa/consents/", {}, format="json").status_code == 403
    _key, customers_only = make_key(world_a, ApiScope.CUSTOMERS_READ)
    check = key_client(customers_only).get(
        "/api/v1/t/alfa/consents/check", {"type": "MESAJ", "recipient": PHONE}
    )
    assert check.status_code == 403


# --- Merge -----------------------------------------------------------------------------------


def test_merge_opt_out_on_either_side_wins_and_unmerge_restores(world_a: TenantWorld) -> None:
    other = "+905329998877"
    keep = _customer(world_a)
    drop = _customer(world_a, phone=other)
    EmailFactory.create(tenant=world_a.tenant, customer=drop, address="d@example.com")
    _onay(world_a)
    _onay(world_a, other)
    with tenant_context(world_a.tenant):
        services.consent_opt_out(
            tenant=world_a.tenant,
            recipient=other,
            consent_types=[ConsentType.MESAJ],
            origin=ConsentOrigin.LOCAL,
        )
    assert _may(world_a) == services.Reason.ONAY
    with tenant_context(world_a.tenant):
        log = customer_merge(
            tenant=world_a.tenant, actor=world_a.owner, keep=keep, drop=drop, choices={}
        )
        allowed = set(
            services.customers_allowed(
                tenant=world_a.tenant, channel_type=ConsentType.MESAJ
            ).values_list("pk", flat=True)
        )
    assert log.snapshot["consent"] == {"opt_out_wins": [ConsentType.MESAJ]}
    assert _may(world_a) == services.Reason.CUSTOMER_RET  # the other side's RET wins
    assert _may(world_a, kind=ConsentType.ARAMA) == services.Reason.NO_CONSENT
    assert keep.pk not in allowed
    with tenant_context(world_a.tenant):
        history = {e.recipient for e in services_history(world_a, keep)}
    assert history == {PHONE, other}  # the history followed the merge
    with tenant_context(world_a.tenant):
        customer_unmerge(tenant=world_a.tenant, actor=world_a.owner, merge_log=log)
    assert _may(world_a) == services.Reason.ONAY
    assert _may(world_a, other) == services.Reason.RET
    with tenant_context(world_a.tenant):
        assert ConsentState.objects.get(recipient=other).status == ConsentStatus.RET


def services_history(world: TenantWorld, customer: Customer) -> list[ConsentEvent]:
    from consent import selectors

    return list(selectors.consent_history(tenant=world.tenant, customer=customer))


def test_settings_page_sets_the_tacir_policy_and_shows_a_new_secret_once(
    world_a: TenantWorld,
) -> None:
    client = _client(world_a, Role.OWNER)
    url = "/t/alfa/consent/settings/"
    assert client.get(url).status_code == 200
    saved = client.post(url, {"action": "policy", "tacir_policy": TacirPolicy.REQUIRE_ONAY})
    assert saved.status_code == 302
    with tenant_context(world_a.tenant):
        policy = services.consent_settings_get(tenant=world_a.tenant).tacir_policy
    assert policy == TacirPolicy.REQUIRE_ONAY
    shown = client.post(url, {"action": "rotate"}).content.decode()
    secret = re.search(r'data-testid="webhook-secret">.*?<code>([^<]+)</code>', shown, re.S)
    assert secret is not None
    with tenant_context(world_a.tenant):
        assert services.consent_webhook_secret_matches(
            tenant=world_a.tenant, secret=secret.group(1)
        )
    assert secret.group(1) not in client.get(url).content.decode()
    assert _client(world_a, Role.BRANCH_STAFF).get(url).status_code == 403


def test_an_opt_out_in_the_same_second_is_dated_after_the_consent_and_pushed_at_once(
    world_a: TenantWorld, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consent.iys import tasks as iys_tasks

    _customer(world_a)
    onay = _onay(world_a, consent_date=timezone.now())
    queued: list[int] = []
    monkeypatch.setattr(iys_tasks.iys_push_task, "delay", queued.append)
    with (
        tenant_context(world_a.tenant),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.consent_opt_out(
            tenant=world_a.tenant,
            recipient=PHONE,
            consent_types=[ConsentType.MESAJ],
            origin=ConsentOrigin.OPT_OUT_LINK,
        )
    with tenant_context(world_a.tenant):
        ret = ConsentEvent.objects.filter(tenant=world_a.tenant, status=ConsentStatus.RET).get()
    assert ret.consent_date is not None and onay.consent_date is not None
    assert ret.consent_date.replace(microsecond=0) > onay.consent_date.replace(microsecond=0)
    assert queued == [world_a.tenant.pk]
