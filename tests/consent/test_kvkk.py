"""KVKK: the data-subject request register, the export of everything held about a
person (and its completeness), and erasure by anonymisation."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.kvkk import export
from consent.kvkk import services as kvkk
from consent.kvkk.models import DataSubjectRequest, ErasureLog, IdentityCheck, RequestKind
from consent.models import ConsentEvent, ConsentType
from crm.models import PersonalDataAccess
from crm.permissions import ApiScope
from crm.tenancy import tenant_context
from customers import selectors
from customers import services as customer_services
from customers.models import Customer, Email, Phone, Purchase
from tests.conftest import TenantWorld
from tests.crm.test_api_keys import key_client, make_key
from tests.factories import InteractionFactory, PurchaseFactory


def _ayse(world: TenantWorld) -> Customer:
    with tenant_context(world.tenant):
        return customer_services.customer_create(
            tenant=world.tenant,
            actor=world.owner,
            data=customer_services.CustomerInput(
                first_name="Ayşe",
                last_name="Yılmaz",
                tckn="10000000146",
                phones=["0532 111 22 33"],
                emails=["ayse@example.com"],
            ),
        )


# ----------------------------------------------------------------- completeness


def _relates_to_a_person(model: type[models.Model]) -> bool:
    personal = {Customer, Phone, Email}
    for field in model._meta.get_fields():
        if field.is_relation and field.concrete and field.related_model in personal:
            return True
    return False


def test_every_model_holding_personal_data_is_exported_or_declared() -> None:
    covered = export.covered_models()
    declared = export.not_personal_models()
    forgotten = [
        f"{m._meta.app_label}.{m.__name__}"
        for m in apps.get_models()
        if (_relates_to_a_person(m) or m in (Customer,)) and m not in covered and m not in declared
    ]
    assert not forgotten, (
        f"add these to an export section (<app>/kvkk_export.py) or declare them "
        f"not personal with a reason: {forgotten}"
    )
    assert all(reason.strip() for reason in declared.values())


@pytest.mark.django_db
def test_the_export_holds_the_record_contacts_purchases_history_consents_and_access_log(
    world_a: TenantWorld,
) -> None:
    ayse = _ayse(world_a)
    with tenant_context(world_a.tenant):
        PurchaseFactory.create(tenant=world_a.tenant, customer=ayse, total_amount=Decimal("250"))
        InteractionFactory.create(tenant=world_a.tenant, customer=ayse, notes="İade sordu")
        consent_services.consent_record(
            tenant=world_a.tenant,
            actor=world_a.owner,
            recipient="+905321112233",
            consent_type=ConsentType.MESAJ,
            recipient_type="BIREYSEL",
            status="ONAY",
            source="HS_FIZIKSEL_ORTAM",
            consent_date=timezone.now() - timedelta(hours=1),
            customer=ayse,
        )
        PersonalDataAccess.objects.create(
            tenant=world_a.tenant, user=world_a.owner, subject_type="customer",
            subject_id=ayse.pk, action=PersonalDataAccess.Action.VIEW,
        )  # fmt: skip
        data = export.customer_export(tenant=world_a.tenant, customer=ayse)
    by_key = {section["key"]: section["rows"] for section in data["sections"]}
    assert by_key["customer"][0]["tckn"] == "10000000146"
    kinds = {row["kind"] for row in by_key["contact_points"]}
    assert kinds == {"phone", "email"}
    assert by_key["purchases"][0]["total_amount"] == "250.00"
    assert by_key["interactions"][0]["notes"] == "İade sordu"
    assert by_key["consents"][0]["status"] == "ONAY"
    assert by_key["access_log"][0]["action"] == "view"
    json.dumps(data)  # plain data all the way down


# ----------------------------------------------------------------- anonymisation


@pytest.mark.django_db
def test_erasure_leaves_no_findable_trace_but_keeps_the_figures(world_a: TenantWorld) -> None:
    ayse = _ayse(world_a)
    with tenant_context(world_a.tenant):
        PurchaseFactory.create(tenant=world_a.tenant, customer=ayse, total_amount=Decimal("250"))
        InteractionFactory.create(tenant=world_a.tenant, customer=ayse, notes="Eşi Mehmet Bey")
        consent_services.consent_record(
            tenant=world_a.tenant,
            actor=world_a.owner,
            recipient="+905321112233",
            consent_type=ConsentType.MESAJ,
            recipient_type="BIREYSEL",
            status="ONAY",
            source="HS_FIZIKSEL_ORTAM",
            consent_date=timezone.now() - timedelta(hours=1),
            customer=ayse,
        )
        total_before = sum(p.total_amount for p in Purchase.objects.filter(tenant=world_a.tenant))
        log = kvkk.customer_anonymise(
            tenant=world_a.tenant, actor=world_a.owner, customer=ayse, reason="Silme başvurusu"
        )
        for query in ("ayse", "Ayşe Yılmaz", "yilmaz", "0532 111 22 33", "ayse@example.com",
                      "10000000146"):  # fmt: skip
            assert selectors.customer_search(tenant=world_a.tenant, query=query) == [], query
        ayse.refresh_from_db()
        assert (ayse.first_name, ayse.last_name, ayse.tckn, ayse.birth_date) == ("", "", "", None)
        assert ayse.anonymised_at is not None
        assert not Phone.objects.filter(customer=ayse).exists()
        assert ayse.interactions.get().notes == ""
        total_after = sum(p.total_amount for p in Purchase.objects.filter(tenant=world_a.tenant))
        assert total_after == total_before
        # The consent stays as the evidence İYS rules need, without the link to the person.
        event = ConsentEvent.objects.get(tenant=world_a.tenant, recipient="+905321112233")
        assert event.status == "ONAY" and event.customer_id is None
    assert log.destroyed["phones"] == 1 and log.customer_number == ayse.customer_number
    api = key_client(make_key(world_a, *ApiScope)[1])
    base = f"/api/v1/t/{world_a.tenant.slug}/customers/"
    assert api.get(base, {"q": "ayse"}).json()["results"] == []
    assert api.get(base, {"q": "10000000146"}).json()["results"] == []


# --------------------------------------------------------------- the register


@pytest.mark.django_db
def test_a_request_from_register_to_export_and_erasure(world_a: TenantWorld) -> None:
    ayse = _ayse(world_a)
    client = Client()
    client.force_login(world_a.owner)
    slug = world_a.tenant.slug
    received = timezone.localdate() - timedelta(days=31)
    response = client.post(
        reverse("kvkk:request_new", kwargs={"tenant_slug": slug}),
        {
            "customer_number": ayse.customer_number,
            "kind": RequestKind.ERASURE,
            "received_on": received.isoformat(),
            "channel": "KEP",
        },
    )
    assert response.status_code == 302
    with tenant_context(world_a.tenant):
        dsr = DataSubjectRequest.objects.get(tenant=world_a.tenant)
    assert dsr.due_on == received + timedelta(days=30) and dsr.is_overdue
    listing = client.get(reverse("kvkk:requests", kwargs={"tenant_slug": slug}))
    assert "table-danger" in listing.content.decode()
    page = reverse("kvkk:request", kwargs={"tenant_slug": slug, "datasubjectrequest_id": dsr.pk})
    export_url = reverse(
        "kvkk:request_export", kwargs={"tenant_slug": slug, "datasubjectrequest_id": dsr.pk}
    )
    # Nothing is disclosed before the identity is checked.
    assert client.get(export_url).status_code == 302
    client.post(page, {"action": "identity", "identity_method": IdentityCheck.E_SIGNATURE})
    downloaded = client.get(export_url, {"format": "json"})
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert json.loads(downloaded.content)["customer_number"] == ayse.customer_number
    assert "10000000146" in client.get(export_url).content.decode()
    # A wrong confirmation erases nothing; the right one does.
    client.post(page, {"action": "erase", "confirm": "123"})
    with tenant_context(world_a.tenant):
        assert not ErasureLog.objects.filter(tenant=world_a.tenant).exists()
        assert (
            PersonalDataAccess.objects.filter(
                tenant=world_a.tenant, subject_id=ayse.pk, action="export"
            ).count()
            == 2
        )
    client.post(page, {"action": "erase", "confirm": ayse.customer_number})
    client.post(page, {"action": "close", "status": "completed", "resolution": "Veriler silindi."})
    with tenant_context(world_a.tenant):
        ayse.refresh_from_db()
        dsr.refresh_from_db()
        assert ayse.anonymised_at is not None
        assert ErasureLog.objects.get(tenant=world_a.tenant).request_id == dsr.pk
    assert dsr.status == "completed" and dsr.completed_at is not None


@pytest.mark.django_db
def test_completing_needs_an_identity_check_and_an_answer(world_a: TenantWorld) -> None:
    from django.core.exceptions import ValidationError

    with tenant_context(world_a.tenant):
        dsr = kvkk.dsr_create(
            tenant=world_a.tenant, actor=world_a.owner, requester_name="Ali Veli",
            kind=RequestKind.ACCESS,
        )  # fmt: skip
        with pytest.raises(ValidationError):
            kvkk.dsr_close(
                tenant=world_a.tenant, actor=world_a.owner, request=dsr,
                status="completed", resolution="Gönderildi",
            )  # fmt: skip
        with pytest.raises(ValidationError):
            kvkk.dsr_create(
                tenant=world_a.tenant, actor=world_a.owner, requester_name="X",
                kind=RequestKind.ACCESS, received_on=timezone.localdate() + timedelta(days=1),
            )  # fmt: skip


@pytest.mark.django_db
def test_an_objection_to_profiling_leaves_the_customer_out(world_a: TenantWorld) -> None:
    from consent import profiling

    ayse = _ayse(world_a)
    with tenant_context(world_a.tenant):
        assert profiling.may_profile(tenant=world_a.tenant, customer=ayse)
        objection = kvkk.dsr_create(
            tenant=world_a.tenant, actor=world_a.owner, requester_name="",
            kind=RequestKind.OBJECTION, customer=ayse,
        )  # fmt: skip
        assert profiling.profiling_excluded_customer_ids(tenant=world_a.tenant) == {ayse.pk}
        objection.status = "rejected"
        objection.save()
        assert profiling.may_profile(tenant=world_a.tenant, customer=ayse)
