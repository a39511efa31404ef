"""Retention periods and the periodic destruction; reminders of request deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.kvkk import retention
from consent.kvkk import services as kvkk
from consent.kvkk.models import (
    DataKind,
    DataSubjectRequest,
    DestructionRun,
    ErasureLog,
    RequestKind,
    RequestStatus,
    RetentionRule,
)
from consent.kvkk.tasks import retention_destroy_all, retention_destroy_task
from consent.models import ConsentEvent, ConsentState, ConsentType, SyncStatus
from crm.models import Job, PersonalDataAccess
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services as customer_services
from customers.models import Customer, Interaction, RiskFlag
from tests.conftest import TenantWorld
from tests.factories import InteractionFactory, JobFactory, PurchaseFactory


def _customer(world: TenantWorld, first: str, phone: str) -> Customer:
    return customer_services.customer_create(
        tenant=world.tenant,
        actor=world.owner,
        data=customer_services.CustomerInput(first_name=first, last_name="Kaya", phones=[phone]),
    )


def test_months_before_clamps_to_the_end_of_the_month() -> None:
    moment = timezone.make_aware(datetime(2026, 3, 31, 10, 0))
    assert retention.months_before(moment, 1).date().isoformat() == "2026-02-28"
    assert retention.months_before(moment, 15).date().isoformat() == "2024-12-31"
    assert retention.months_before(moment, 0) == moment


@pytest.mark.django_db
def test_periods_cannot_go_below_the_legal_minimum(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        with pytest.raises(ValidationError) as refused:
            retention.retention_rules_update(
                tenant=world_a.tenant,
                actor=world_a.owner,
                months={DataKind.CONSENT_EVIDENCE: 12, DataKind.ACCESS_LOG: 30},
            )
        assert DataKind.CONSENT_EVIDENCE in refused.value.message_dict
        assert not RetentionRule.objects.filter(tenant=world_a.tenant).exists()
        retention.retention_rules_update(
            tenant=world_a.tenant, actor=world_a.owner, months={DataKind.ACCESS_LOG: 30}
        )
        months = retention.retention_months(tenant=world_a.tenant)
        assert months[DataKind.ACCESS_LOG] == 30
        assert months[DataKind.CONSENT_EVIDENCE] == 36  # the default still applies


@pytest.mark.django_db
def test_destruction_anonymises_dormant_customers_and_keeps_live_relationships(
    world_a: TenantWorld,
) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        dormant = _customer(world_a, "Eski", "0532 100 00 01")
        buying = _customer(world_a, "Sadık", "0532 100 00 02")
        flagged = _customer(world_a, "Borçlu", "0532 100 00 03")
        permitted = _customer(world_a, "İzinli", "0532 100 00 04")
        PurchaseFactory(tenant=tenant, customer=dormant, total_amount=Decimal("100"))
        # "Now" is eleven years on; the loyal customer bought last month.
        now = timezone.now() + timedelta(days=11 * 365)
        PurchaseFactory(tenant=tenant, customer=buying, purchased_at=now - timedelta(days=30))
        customer_services.risk_flag_set(
            tenant=tenant, actor=world_a.owner, customer=flagged, kind=RiskFlag.Kind.OVERDUE_PAYMENT
        )
        consent_services.consent_record(
            tenant=tenant,
            actor=world_a.owner,
            recipient="+905321000004",
            consent_type=ConsentType.MESAJ,
            status="ONAY",
            source="HS_FIZIKSEL_ORTAM",
            consent_date=timezone.now(),
            customer=permitted,
        )
        # Keep logs out of this test: the run's own erasure logs would be "old" too.
        retention.retention_rules_update(
            tenant=tenant, actor=None, months={DataKind.DESTRUCTION_LOGS: 600}
        )
        run = retention.retention_destroy(tenant=tenant, actor=None, trigger="manual", now=now)
        assert run.status == DestructionRun.Status.DONE
        assert run.destroyed[DataKind.DORMANT_CUSTOMERS] == 1
        assert run.rules[DataKind.DORMANT_CUSTOMERS] == 120
        anonymised = dict(Customer.objects.filter(tenant=tenant).values_list("pk", "anonymised_at"))
        assert anonymised[dormant.pk] is not None
        assert [anonymised[c.pk] for c in (buying, flagged, permitted)] == [None, None, None]
        assert ErasureLog.objects.filter(tenant=tenant, customer_id_erased=dormant.pk).exists()
        # Running again finds nothing more to do.
        again = retention.retention_destroy(tenant=tenant, actor=None, trigger="manual", now=now)
        assert again.destroyed[DataKind.DORMANT_CUSTOMERS] == 0


@pytest.mark.django_db
def test_destruction_of_texts_logs_superseded_consents_requests_and_files(
    world_a: TenantWorld,
) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        ayse = _customer(world_a, "Ayşe", "0532 200 00 01")
        old_note: Interaction = InteractionFactory.create(
            tenant=tenant, customer=ayse, notes="Eşi hastanede"
        )
        PersonalDataAccess.objects.create(
            tenant=tenant, subject_type="customer", subject_id=ayse.pk, action="view"
        )
        onay = consent_services.consent_record(
            tenant=tenant,
            actor=world_a.owner,
            recipient="+905322000001",
            consent_type=ConsentType.MESAJ,
            status="ONAY",
            source="HS_FIZIKSEL_ORTAM",
            consent_date=timezone.now() - timedelta(hours=2),
            customer=ayse,
        )
        ret = consent_services.consent_record(
            tenant=tenant,
            actor=world_a.owner,
            recipient="+905322000001",
            consent_type=ConsentType.MESAJ,
            status="RET",
            source="HS_FIZIKSEL_ORTAM",
            consent_date=timezone.now() - timedelta(hours=1),
            customer=ayse,
        )
        ConsentEvent.objects.filter(pk__in=[onay.pk, ret.pk]).update(
            sync_status=SyncStatus.ACCEPTED
        )
        closed_access = kvkk.dsr_create(
            tenant=tenant, actor=None, requester_name="", kind=RequestKind.ACCESS, customer=ayse
        )
        objection = kvkk.dsr_create(
            tenant=tenant, actor=None, requester_name="", kind=RequestKind.OBJECTION, customer=ayse
        )
        for dsr in (closed_access, objection):
            kvkk.dsr_identity_checked(
                tenant=tenant, actor=world_a.owner, request=dsr, method="in_person"
            )
            kvkk.dsr_close(
                tenant=tenant,
                actor=world_a.owner,
                request=dsr,
                status=RequestStatus.COMPLETED,
                resolution="Yanıtlandı",
            )
        upload: Job = JobFactory.create(
            tenant=tenant,
            kind="customers.import",
            status=Job.Status.SUCCEEDED,
            finished_at=timezone.now(),
            input_data=b"Ad;Telefon\nAyse;0532",
        )
        old_log = ErasureLog.objects.create(
            tenant=tenant, customer_id_erased=1, customer_number="1", reason="test"
        )
        retention.retention_rules_update(
            tenant=tenant, actor=None, months={DataKind.CONTACT_TEXTS: 36}
        )
        now = timezone.now() + timedelta(days=40 * 31)  # 40 months on
        run = retention.retention_destroy(tenant=tenant, actor=None, trigger="scheduled", now=now)
        assert run.destroyed[DataKind.CONTACT_TEXTS] >= 1
        old_note.refresh_from_db()
        assert old_note.notes == ""
        assert not PersonalDataAccess.objects.filter(tenant=tenant).exists()
        # The superseded ONAY goes; the RET the current state rests on stays.
        assert list(ConsentEvent.objects.filter(tenant=tenant).values_list("pk", flat=True)) == [
            ret.pk
        ]
        assert ConsentState.objects.get(tenant=tenant, recipient="+905322000001").status == "RET"
        # A closed access request goes; a standing objection keeps the person out of
        # profiling and stays.
        assert list(DataSubjectRequest.objects.filter(tenant=tenant)) == [objection]
        upload.refresh_from_db()
        assert upload.input_data is None
        assert not ErasureLog.objects.filter(pk=old_log.pk).exists()
        assert run.destroyed[DataKind.DESTRUCTION_LOGS] == 1


@pytest.mark.django_db
def test_a_second_run_waits_for_the_first_and_the_beat_fans_out(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        DestructionRun.objects.create(tenant=tenant, trigger="scheduled")
        with pytest.raises(retention.DestructionBusy):
            retention.retention_destroy(tenant=tenant, actor=None, trigger="manual")
        assert retention_destroy_task.apply(args=(tenant.pk,)).get() == {"skipped": "busy"}
        DestructionRun.objects.filter(tenant=tenant).update(status=DestructionRun.Status.DONE)
    result = retention_destroy_task.apply(args=(tenant.pk,), kwargs={"actor_id": world_a.owner.pk})
    assert set(result.get()["destroyed"]) == set(DataKind.values)
    with tenant_context(tenant):
        latest = DestructionRun.objects.filter(tenant=tenant).first()
        assert latest is not None and latest.actor == world_a.owner
    assert retention_destroy_all.apply().get() >= 1


@pytest.mark.django_db
def test_retention_page_saves_periods_and_starts_a_run(world_a: TenantWorld) -> None:
    slug = world_a.tenant.slug
    url = reverse("kvkk:retention", kwargs={"tenant_slug": slug})
    client = Client()
    client.force_login(world_a.owner)
    page = client.get(url).content.decode()
    assert 'data-testid="retention-form"' in page
    with tenant_context(world_a.tenant):
        months = retention.retention_months(tenant=world_a.tenant)
    too_short = {**{k: str(v) for k, v in months.items()}, DataKind.CONSENT_EVIDENCE: "6"}
    refused = client.post(url, {"action": "save", **too_short})
    assert refused.status_code == 200 and "36" in refused.content.decode()
    fine = {**{k: str(v) for k, v in months.items()}, DataKind.ACCESS_LOG: "36"}
    assert client.post(url, {"action": "save", **fine}).status_code == 302
    with tenant_context(world_a.tenant):
        assert retention.retention_months(tenant=world_a.tenant)[DataKind.ACCESS_LOG] == 36
    assert client.post(url, {"action": "run"}).status_code == 302
    staff = Client()
    staff.force_login(world_a.users[Role.BRANCH_STAFF])
    assert staff.get(url).status_code == 403


@pytest.mark.django_db
def test_daily_reminder_goes_to_the_owner_or_the_privacy_handlers_once_a_day(
    world_a: TenantWorld,
) -> None:
    tenant = world_a.tenant
    today = timezone.localdate()
    with tenant_context(tenant):
        overdue = kvkk.dsr_create(
            tenant=tenant,
            actor=None,
            requester_name="Ayşe Kaya",
            kind=RequestKind.ERASURE,
            received_on=today - timedelta(days=31),
        )
        overdue.owner = world_a.users[Role.ADMIN]
        overdue.save(update_fields=["owner"])
        kvkk.dsr_create(
            tenant=tenant,
            actor=None,
            requester_name="Mehmet Demir",
            kind=RequestKind.ACCESS,
            received_on=today - timedelta(days=25),
        )
        kvkk.dsr_create(
            tenant=tenant, actor=None, requester_name="Zeynep Ak", kind=RequestKind.ACCESS
        )
        sent = kvkk.dsr_reminders_send(tenant=tenant, base_url="https://crm.example.com")
        recipients = sorted(m.to[0] for m in mail.outbox)
        # The admin owns the overdue one and handles privacy; the owner handles privacy.
        assert sent == 2 and recipients == sorted(
            [world_a.users[Role.ADMIN].email, world_a.owner.email]
        )
        admin_mail = next(m for m in mail.outbox if m.to == [world_a.users[Role.ADMIN].email])
        assert "Ayşe Kaya" in admin_mail.body and "Mehmet Demir" in admin_mail.body
        assert "Zeynep Ak" not in admin_mail.body  # due in 30 days: not yet
        assert "https://crm.example.com/t/alfa/kvkk/requests/" in admin_mail.body
        assert kvkk.dsr_reminders_send(tenant=tenant) == 0  # once a day


@pytest.mark.django_db
def test_interactions_of_living_customers_keep_recent_notes(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        ayse = _customer(world_a, "Ayşe", "0532 300 00 01")
        recent: Interaction = InteractionFactory.create(
            tenant=tenant, customer=ayse, notes="Yeni not"
        )
        run = retention.retention_destroy(tenant=tenant, actor=None, trigger="manual")
        assert run.destroyed[DataKind.CONTACT_TEXTS] == 0
        assert Interaction.objects.get(pk=recent.pk).notes == "Yeni not"
