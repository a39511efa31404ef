from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from crm.models import PersonalDataAccess
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import selectors, services
from customers.models import Complaint, Customer, Interaction, Phone, RiskFlag
from tests.conftest import TenantWorld
from tests.factories import (
    BranchFactory,
    ComplaintFactory,
    InteractionFactory,
    PurchaseLineFactory,
)


def _client(world: TenantWorld, role: Role = Role.BRANCH_STAFF) -> Client:
    client = Client()
    client.force_login(world.users[role])
    return client


def _create(world: TenantWorld, **fields: Any) -> Customer:
    with tenant_context(world.tenant):
        return services.customer_create(
            tenant=world.tenant, actor=world.owner, data=services.CustomerInput(**fields)
        )


@pytest.mark.django_db
def test_create_normalises_and_numbers(world_a: TenantWorld) -> None:
    customer = _create(
        world_a,
        first_name="AYŞE gül",
        last_name="YILMAZ",
        phones=["0532 123 45 67"],
        emails=[" Ayse.Yilmaz@Example.COM "],
        tckn="10000000146",
        birth_date="23.04.1985",
    )
    assert (customer.first_name, customer.last_name) == ("Ayşe Gül", "Yılmaz")
    assert customer.name_key == "ayse gul yilmaz"
    assert customer.birth_date == date(1985, 4, 23)
    assert customer.customer_number.isdigit()
    with tenant_context(world_a.tenant):
        phone = Phone.objects.get(customer=customer)
        assert (phone.e164, phone.is_mobile, phone.is_primary) == ("+905321234567", True, True)
        assert customer.emails.get().address == "ayse.yilmaz@example.com"
    second = _create(world_a, first_name="Mehmet", last_name="Öz")
    assert int(second.customer_number) == int(customer.customer_number) + 1


@pytest.mark.django_db
def test_invalid_identifiers_are_refused_with_a_message(world_a: TenantWorld) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        _create(world_a, first_name="Ali", last_name="Veli", tckn="12345678901", phones=["12"])
    assert set(refused.value.message_dict) == {"tckn", "phones"}
    with tenant_context(world_a.tenant):
        assert not Customer.objects.filter(first_name="Ali").exists()


@pytest.mark.django_db
def test_search_finds_by_name_phone_email_tckn_and_number(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    ayse = _create(
        world_a,
        first_name="Ayşe Gül",
        last_name="Yılmaz",
        phones=["+90 (532) 123-45-67"],
        emails=["ayse@example.com"],
        tckn="17291716060",
    )
    _create(world_b, first_name="Ayşe", last_name="Yılmaz", phones=["05321234567"])
    with tenant_context(world_a.tenant):
        for query in [
            "ayse yil",
            "AYŞE",
            "yılmaz",
            "YILMAZ",
            "gul",
            "0532 123 45 67",
            "5321234567",
            "0532123",
            "ayse@exa",
            "17291716060",
            ayse.customer_number,
        ]:
            found = selectors.customer_search(tenant=world_a.tenant, query=query)
            assert [c.pk for c in found] == [ayse.pk], query
        assert selectors.customer_search(tenant=world_a.tenant, query="zeynep") == []


@pytest.mark.django_db
def test_duplicate_check_shows_evidence_but_spares_family_members(world_a: TenantWorld) -> None:
    mother = _create(
        world_a,
        first_name="Fatma",
        last_name="Demir",
        phones=["05321112233"],
        birth_date="1970-01-02",
    )
    with tenant_context(world_a.tenant):
        same = selectors.customer_duplicate_candidates(
            tenant=world_a.tenant,
            incoming=selectors.incoming_from_raw(
                kind="person", first_name="FATMA", last_name="demir", phones=["5321112233"]
            ),
        )
        assert [c.customer.pk for c in same] == [mother.pk]
        assert same[0].match.is_same_customer
        with translation.override("en"):
            assert {"same phone", "same first name", "same last name"} <= {
                str(e) for e in same[0].match.evidence
            }
        daughter = selectors.customer_duplicate_candidates(
            tenant=world_a.tenant,
            incoming=selectors.incoming_from_raw(
                kind="person",
                first_name="Elif",
                last_name="Demir",
                phones=["05321112233"],
                birth_date="2001-05-05",
            ),
        )
        assert daughter == []


@pytest.mark.django_db
def test_create_page_warns_about_a_likely_duplicate_before_creating(world_a: TenantWorld) -> None:
    _create(world_a, first_name="Can", last_name="Kara", phones=["05427654321"])
    client = _client(world_a)
    url = reverse("customers:create", kwargs={"tenant_slug": "alfa"})
    data = {
        "kind": "person",
        "first_name": "can",
        "last_name": "KARA",
        "phone": "+905427654321",
        "preferred_language": "tr",
    }
    check = client.get(reverse("customers:duplicate_check", kwargs={"tenant_slug": "alfa"}), data)
    assert "Kara" in check.content.decode()
    refused = client.post(url, data)
    assert refused.status_code == 200
    with tenant_context(world_a.tenant):
        assert Customer.objects.filter(name_key="can kara").count() == 1
    created = client.post(url, {**data, "confirm_not_duplicate": "on"})
    assert created.status_code == 302
    with tenant_context(world_a.tenant):
        assert Customer.objects.filter(name_key="can kara").count() == 2


@pytest.mark.django_db
def test_customer_page_logs_access_and_uses_a_fixed_number_of_queries(world_a: TenantWorld) -> None:
    customer = _create(world_a, first_name="Deniz", last_name="Ak", phones=["05321230000"])
    client = _client(world_a)
    url = reverse("customers:detail", kwargs={"tenant_slug": "alfa", "customer_id": customer.pk})

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def add_history() -> None:
        PurchaseLineFactory(tenant=world_a.tenant, purchase__customer=customer)
        InteractionFactory(tenant=world_a.tenant, customer=customer)
        ComplaintFactory(tenant=world_a.tenant, customer=customer)

    # The first opening renders the quick-action forms, later ones take them from
    # the cache (and skip their branch query).
    count_queries()
    add_history()
    few = count_queries()
    for _ in range(5):
        PurchaseLineFactory(tenant=world_a.tenant, purchase__customer=customer)
        InteractionFactory(tenant=world_a.tenant, customer=customer)
        ComplaintFactory(tenant=world_a.tenant, customer=customer)
    many = count_queries()
    assert many == few, f"{few} queries with a short history, {many} with a longer one"
    with tenant_context(world_a.tenant):
        log = PersonalDataAccess.objects.filter(subject_id=customer.pk)
        assert log.count() == 3  # one per opening
        assert log.first().user == world_a.users[Role.BRANCH_STAFF]  # type: ignore[union-attr]


@pytest.mark.django_db
def test_quick_actions_from_the_customer_page(world_a: TenantWorld) -> None:
    customer = _create(world_a, first_name="Eda", last_name="Su")
    client = _client(world_a, Role.CALL_CENTRE)
    kwargs = {"tenant_slug": "alfa", "customer_id": customer.pk}
    client.post(
        reverse("customers:interaction_create", kwargs=kwargs),
        {"touchpoint": "call_in", "subject": "Kargo sordu", "outcome": "informed"},
    )
    client.post(
        reverse("customers:complaint_create", kwargs=kwargs),
        {"subject": "Ürün kırık geldi", "description": "Kutu ezik"},
    )
    client.post(
        reverse("customers:risk_flag_create", kwargs=kwargs),
        {"kind": "overdue_payment", "note": "2 taksit"},
    )
    with tenant_context(world_a.tenant):
        subjects = set(
            Interaction.objects.filter(customer=customer).values_list("subject", flat=True)
        )
        assert subjects == {"Kargo sordu", "Ürün kırık geldi"}
        complaint = Complaint.objects.get(customer=customer)
        assert complaint.status == Complaint.Status.OPEN
        assert complaint.owner == world_a.users[Role.CALL_CENTRE]
        assert complaint.due_on > date.today()
        flag = RiskFlag.objects.get(customer=customer)
    status_url = reverse(
        "customers:complaint_status", kwargs={"tenant_slug": "alfa", "complaint_id": complaint.pk}
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(status_url, {"status": "resolved"}, follow=True)
    assert "Write how the complaint was resolved" in response.content.decode()
    client.post(status_url, {"status": "resolved", "resolution": "Yenisi gönderildi"})
    client.post(
        reverse("customers:risk_flag_clear", kwargs={"tenant_slug": "alfa", "riskflag_id": flag.pk})
    )
    with tenant_context(world_a.tenant):
        complaint.refresh_from_db()
        flag.refresh_from_db()
    assert complaint.status == Complaint.Status.RESOLVED and complaint.resolved_at
    assert flag.cleared_at is not None


@pytest.mark.django_db
def test_marketing_can_look_but_not_edit(world_a: TenantWorld) -> None:
    customer = _create(world_a, first_name="Ece", last_name="Tan")
    client = _client(world_a, Role.MARKETING)
    assert (
        client.get(
            reverse("customers:detail", kwargs={"tenant_slug": "alfa", "customer_id": customer.pk})
        ).status_code
        == 200
    )
    assert (
        client.get(reverse("customers:create", kwargs={"tenant_slug": "alfa"})).status_code == 403
    )


@pytest.mark.django_db
def test_a_bad_name_is_a_field_error_not_a_crash(world_a: TenantWorld) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        _create(world_a, first_name="Ayşe2", last_name="")
    assert "first_name" in refused.value.message_dict
    only_last = _create(world_a, first_name="", last_name="KARA")
    assert only_last.display_name == "Kara"


@pytest.mark.django_db
def test_quick_action_forms_offer_the_open_branches_from_cache_too(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        BranchFactory(tenant=world_a.tenant, code="KAP-01", name="Kapalı Şube", is_active=False)
    customer = _create(world_a, first_name="Nur", last_name="Er")
    client = _client(world_a)
    url = reverse("customers:detail", kwargs={"tenant_slug": "alfa", "customer_id": customer.pk})
    for _ in range(2):  # rendered, then from the cache
        page = client.get(url).content.decode()
        assert page.count(f'<option value="{world_a.branch.pk}"') == 2  # both forms
        assert "Kapalı Şube" not in page
