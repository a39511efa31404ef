"""The İYS sync page: write-only credentials, counts, rejections, overdue, "sync now"."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from consent.iys import sync
from consent.iys.client import TURKEY
from consent.iys.crypto import CredentialsUnreadable, decrypt_secret
from consent.iys.models import IysAccount, IysBrand
from consent.iys.selectors import business_days_before, iys_overdue
from consent.models import ConsentEvent, SyncStatus
from crm.models import Job
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld
from tests.consent.fake_iys import BRAND_CODE, IYS_CODE, PASSWORD, USERNAME, FakeIys
from tests.factories import ConsentEventFactory, CustomerFactory

SECRET = "Çok-gizli-İYS-parolası-42"


def _client(world: TenantWorld, role: Role = Role.OWNER) -> Client:
    client = Client()
    client.force_login(world.users[role])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _url(world: TenantWorld, name: str) -> str:
    return reverse(name, kwargs={"tenant_slug": world.tenant.slug})


def _save(client: Client, world: TenantWorld, **overrides: str) -> object:
    data = {
        "iys_code": IYS_CODE,
        "brand_codes": f"{BRAND_CODE}, 700102",
        "username": USERNAME,
        "password": SECRET,
        "is_active": "on",
        **overrides,
    }
    return client.post(_url(world, "iys:credentials"), data, follow=True)


def test_credentials_are_stored_encrypted_and_never_shown_again(world_a: TenantWorld) -> None:
    client = _client(world_a)
    response = _save(client, world_a)
    body = response.content.decode()  # type: ignore[attr-defined]
    assert "İYS settings saved." in body
    assert SECRET not in body
    assert 'name="password"' in body and f'value="{SECRET}"' not in body
    assert "Password set on" in body and world_a.owner.display_name in body
    with tenant_context(world_a.tenant):
        account = IysAccount.objects.get(tenant=world_a.tenant)
        brands = list(IysBrand.objects.filter(tenant=world_a.tenant).order_by("-is_default"))
    assert SECRET not in account.password_encrypted
    assert decrypt_secret(account.password_encrypted) == SECRET
    assert account.password_set_by == world_a.owner
    assert [(b.brand_code, b.is_default) for b in brands] == [(BRAND_CODE, True), ("700102", False)]
    # Saving again without a password keeps the stored one.
    _save(client, world_a, password="", username="yeni-kullanici")
    with tenant_context(world_a.tenant):
        account.refresh_from_db()
    assert account.username == "yeni-kullanici"
    assert decrypt_secret(account.password_encrypted) == SECRET
    # Another key (SECRET_KEY rotated) cannot read it; the page asks for it again.
    with (
        override_settings(IYS_CREDENTIALS_KEY="x" * 43 + "="),
        pytest.raises(CredentialsUnreadable),
    ):
        decrypt_secret(account.password_encrypted)


def test_bad_credentials_form_says_what_to_fix_and_saves_nothing(world_a: TenantWorld) -> None:
    client = _client(world_a)
    response = client.post(
        _url(world_a, "iys:credentials"),
        {"iys_code": IYS_CODE, "brand_codes": "abc", "username": USERNAME, "password": SECRET},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "İYS brand codes are numbers" in body
    assert USERNAME in body and SECRET not in body  # typed fields kept, the secret is not
    with tenant_context(world_a.tenant):
        assert not IysAccount.objects.filter(tenant=world_a.tenant).exists()


def test_page_shows_counts_rejections_and_overdue(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    long_ago = datetime.now(TURKEY) - timedelta(days=10)
    ConsentEventFactory(tenant=tenant, recipient="+905320000001", sync_status=SyncStatus.ACCEPTED)
    customer = CustomerFactory.create(tenant=tenant)
    ConsentEventFactory(
        tenant=tenant,
        recipient="+905320000002",
        customer=customer,
        sync_status=SyncStatus.REJECTED,
        iys_error_code="DATE_NOT_LATER",
        iys_error_message="İzin tarihi kayıtlı izinden sonra olmalıdır.",
    )
    ConsentEventFactory(
        tenant=tenant, recipient="+905320000003", consent_date=long_ago, created_at=long_ago
    )
    ConsentEventFactory(tenant=tenant, recipient="+905320000004")  # pending, still in time
    response = _client(world_a).get(_url(world_a, "iys:sync"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-state="pending">2<' in body
    assert 'data-state="accepted">1<' in body
    assert 'data-state="rejected">1<' in body
    assert "DATE_NOT_LATER" in body and "kayıtlı izinden sonra" in body
    assert f'/customers/{customer.pk}/">+905320000002</a>' in body  # one click to fix it
    assert 'data-testid="iys-overdue"' in body
    assert "1 consent is past the 3-business-day deadline" in body
    assert "+905320000003" in body.split('data-testid="iys-overdue"')[1].split("</table>")[0]
    assert "+905320000004" not in body.split('data-testid="iys-overdue"')[1].split("</table>")[0]


def test_business_days_skip_weekends() -> None:
    monday = datetime(2026, 11, 30, 10, tzinfo=TURKEY)
    assert business_days_before(monday, 3).date().isoformat() == "2026-11-25"  # Wednesday
    friday = datetime(2026, 12, 4, 10, tzinfo=TURKEY)
    assert business_days_before(friday, 3).date().isoformat() == "2026-12-01"


def test_overdue_counts_rejected_too(world_a: TenantWorld) -> None:
    long_ago = datetime.now(TURKEY) - timedelta(days=10)
    with tenant_context(world_a.tenant):
        ConsentEventFactory(
            tenant=world_a.tenant,
            consent_date=long_ago,
            sync_status=SyncStatus.REJECTED,
            iys_error_code="BACKDATED",
        )
        ConsentEventFactory(tenant=world_a.tenant, consent_date=long_ago, sync_status="accepted")
        assert iys_overdue(tenant=world_a.tenant).count() == 1


def test_roles_without_privacy_permission_cannot_open_it(world_a: TenantWorld) -> None:
    for role in (Role.MARKETING, Role.BRANCH_STAFF, Role.CALL_CENTRE):
        assert _client(world_a, role).get(_url(world_a, "iys:sync")).status_code == 403
    assert _client(world_a, Role.ADMIN).get(_url(world_a, "iys:sync")).status_code == 200


def test_sync_now_runs_a_job_that_pushes_and_pulls(
    world_a: TenantWorld, fake_iys: FakeIys, celery_worker_thread: None
) -> None:
    sync._limiters.clear()
    with override_settings(
        IYS_BASE_URL=fake_iys.url, IYS_RESULT_POLL_INTERVAL=0.01, IYS_RATE_LIMITS={}
    ):
        client = _client(world_a)
        _save(client, world_a, password=PASSWORD, brand_codes=BRAND_CODE)
        event: ConsentEvent = ConsentEventFactory.create(
            tenant=world_a.tenant,
            recipient="+905321234567",
            consent_date=datetime.now(TURKEY) - timedelta(minutes=5),
        )
        fake_iys.citizen_change(BRAND_CODE, "+905329999999", "MESAJ", "ONAY", source="IYS_WEB")
        response = client.post(_url(world_a, "iys:sync_start"), follow=True)
        assert "Synchronisation with İYS started." in response.content.decode()
        with tenant_context(world_a.tenant):
            job = Job.objects.get(tenant=world_a.tenant, kind="consent.iys_sync")
            import time

            deadline = time.monotonic() + 30
            while not job.is_finished and time.monotonic() < deadline:
                time.sleep(0.2)
                job.refresh_from_db()
            assert job.status == Job.Status.SUCCEEDED, job.error
            assert job.result["accepted"] == 1 and job.result["applied"] == 1
            event.refresh_from_db()
            assert event.sync_status == SyncStatus.ACCEPTED
            assert ConsentEvent.objects.filter(
                tenant=world_a.tenant, recipient="+905329999999", origin="iys_pull"
            ).exists()
        page = client.get(_url(world_a, "iys:sync")).content.decode()
        assert 'data-testid="job-progress"' in page and 'data-status="succeeded"' in page


def test_consents_of_a_brand_that_is_not_set_up_are_flagged(world_a: TenantWorld) -> None:
    client = _client(world_a)
    _save(client, world_a, brand_codes=BRAND_CODE)
    ConsentEventFactory(tenant=world_a.tenant, brand_code="999999")
    ConsentEventFactory(tenant=world_a.tenant, brand_code="")  # default brand: fine
    body = client.get(_url(world_a, "iys:sync")).content.decode()
    assert "1 waiting consent belongs to a brand code that is not set up" in body


def test_push_soon_sends_an_opt_out_without_waiting_for_the_beat(
    world_a: TenantWorld, fake_iys: FakeIys, celery_worker_thread: None
) -> None:
    from consent import services as ledger
    from consent.iys import services as iys_services

    sync._limiters.clear()
    with override_settings(
        IYS_BASE_URL=fake_iys.url, IYS_RESULT_POLL_INTERVAL=0.01, IYS_RATE_LIMITS={}
    ):
        client = _client(world_a)
        _save(client, world_a, password=PASSWORD, brand_codes=BRAND_CODE)
        phone = "+905327654321"
        # İYS dates have whole seconds: the RET must come at least a second later.
        fake_iys.citizen_change(
            BRAND_CODE,
            phone,
            "MESAJ",
            "ONAY",
            source="IYS_WEB",
            when=datetime.now(TURKEY) - timedelta(minutes=1),
        )
        with tenant_context(world_a.tenant):
            assert iys_services.iys_run(tenant=world_a.tenant, operations=["pull"])["applied"] == 1
            ledger.consent_opt_out(
                tenant=world_a.tenant,
                recipient=phone,
                consent_types=["MESAJ"],
                origin="opt_out_link",
            )
            assert iys_services.iys_push_soon(tenant=world_a.tenant)
            assert not iys_services.iys_push_soon(tenant=world_a.tenant)  # debounced
        import time

        deadline = time.monotonic() + 30
        with tenant_context(world_a.tenant):
            ret = ConsentEvent.objects.get(tenant=world_a.tenant, status="RET")
            while ret.is_pending_sync and time.monotonic() < deadline:
                time.sleep(0.2)
                ret.refresh_from_db()
        assert ret.sync_status == SyncStatus.ACCEPTED, ret.iys_error_code
        held = fake_iys.current(BRAND_CODE, phone, "MESAJ")
        assert held is not None and held.status == "RET"
        assert held.source == "HS_WEB" and held.transaction_id == ret.iys_transaction_id
