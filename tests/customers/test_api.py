from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from crm.permissions import ApiScope, Role
from crm.tenancy import tenant_context
from customers import services
from customers.models import (
    Complaint,
    Customer,
    Email,
    Interaction,
    Product,
    Purchase,
    PurchaseLine,
)
from tests.conftest import TenantWorld
from tests.crm.test_api_keys import key_client, make_key
from tests.factories import AddressFactory, CustomerFactory, ProductFactory

BASE = "/api/v1/t/alfa"


@pytest.fixture
def api(world_a: TenantWorld) -> APIClient:
    _key, full_key = make_key(world_a, *ApiScope)
    return key_client(full_key)


def _existing(world: TenantWorld, **fields: object) -> Customer:
    data = services.CustomerInput(**fields)  # type: ignore[arg-type]
    with tenant_context(world.tenant):
        return services.customer_create(tenant=world.tenant, actor=world.owner, data=data)


@pytest.mark.django_db
def test_create_normalises_and_returns_the_customer(api: APIClient) -> None:
    response = api.post(
        f"{BASE}/customers/",
        {
            "first_name": "AYŞE GÜL",
            "last_name": "yılmaz",
            "phones": ["0532 111 22 33"],
            "emails": [" Ayse@Example.COM "],
            "birth_date": "23.04.1985",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["first_name"] == "Ayşe Gül" and body["last_name"] == "Yılmaz"
    assert body["phones"][0]["e164"] == "+905321112233" and body["phones"][0]["source"] == "api"
    assert body["emails"][0]["address"] == "ayse@example.com"
    assert body["birth_date"] == "1985-04-23" and body["source"] == "api"
    assert "tckn" not in body


@pytest.mark.django_db
def test_field_errors_are_readable_in_english_and_turkish(api: APIClient) -> None:
    response = api.post(
        f"{BASE}/customers/",
        {"first_name": "Ali", "tckn": "12345678901", "phones": ["12"]},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"tckn", "phones"}
    assert "T.C. identity number" in errors["tckn"][0]
    unknown_branch = api.post(
        f"{BASE}/customers/",
        {"first_name": "Ali", "home_branch_code": "NOPE"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert unknown_branch.json() == {"home_branch_code": ["No branch has the code NOPE."]}
    customer_id = api.post(f"{BASE}/customers/", {"first_name": "Ali"}, format="json").json()["id"]
    turkish = api.post(
        f"{BASE}/customers/{customer_id}/interactions/",
        {},
        format="json",
        HTTP_ACCEPT_LANGUAGE="tr",
    )
    assert turkish.status_code == 400
    assert turkish.json() == {"subject": ["Bu alan zorunlu."]}


@pytest.mark.django_db
def test_search_list_and_detail(api: APIClient, world_a: TenantWorld) -> None:
    ayse = _existing(world_a, first_name="Ayşe", last_name="Yılmaz", phones=["05321112233"])
    _existing(world_a, first_name="Mehmet", last_name="Demir")
    AddressFactory.create(tenant=world_a.tenant, customer=ayse)
    found = api.get(f"{BASE}/customers/", {"q": "ayse yil"}).json()
    assert [row["id"] for row in found["results"]] == [ayse.pk]
    by_phone = api.get(f"{BASE}/customers/", {"q": "0532 111 22 33"}).json()
    assert [row["id"] for row in by_phone["results"]] == [ayse.pk]
    everyone = api.get(f"{BASE}/customers/", {"limit": 1}).json()
    assert everyone["count"] == 2 and len(everyone["results"]) == 1
    detail = api.get(f"{BASE}/customers/{ayse.pk}/").json()
    assert detail["display_name"] == "Ayşe Yılmaz"
    assert detail["phones"][0]["e164"] == "+905321112233"
    assert detail["addresses"][0]["district"] == "Kadıköy"


@pytest.mark.django_db
def test_upsert_links_on_same_phone_and_name(api: APIClient, world_a: TenantWorld) -> None:
    ayse = _existing(world_a, first_name="Ayşe", last_name="Yılmaz", phones=["05321112233"])
    response = api.post(
        f"{BASE}/customers/upsert/",
        {
            "first_name": "AYSE",
            "last_name": "yilmaz",
            "phones": ["+90 532 111 2233"],
            "emails": ["ayse@example.com"],
        },
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] is False and body["customer"]["id"] == ayse.pk
    assert {"same phone", "same first name", "same last name"} <= set(body["matched_on"])
    assert body["score"] >= 9
    assert [e["address"] for e in body["customer"]["emails"]] == ["ayse@example.com"]
    with tenant_context(world_a.tenant):
        assert Customer.objects.count() == 1
        assert Email.objects.get().customer_id == ayse.pk


@pytest.mark.django_db
def test_upsert_creates_a_family_member_sharing_the_phone(
    api: APIClient, world_a: TenantWorld
) -> None:
    mother = _existing(
        world_a,
        first_name="Ayşe",
        last_name="Yılmaz",
        birth_date="1960-01-01",
        phones=["05321112233"],
    )
    response = api.post(
        f"{BASE}/customers/upsert/",
        {
            "first_name": "Zeynep",
            "last_name": "Yılmaz",
            "birth_date": "1995-05-05",
            "phones": ["05321112233"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True and body["customer"]["id"] != mother.pk
    assert body["matched_on"] == [] and body["score"] is None
    assert body["customer"]["phones"][0]["e164"] == "+905321112233"


@pytest.mark.django_db
def test_bulk_purchases_report_each_item(api: APIClient, world_a: TenantWorld) -> None:
    customer: Customer = CustomerFactory.create(tenant=world_a.tenant, customer_number="200001")
    product: Product = ProductFactory.create(tenant=world_a.tenant, sku="CAY-1")
    when = "2026-03-01T10:00:00+03:00"
    line = {"sku": "CAY-1", "quantity": "2", "unit_price": "45.50", "discount_amount": "1"}
    payload = {
        "purchases": [
            {
                "customer_id": customer.pk,
                "branch_code": world_a.branch.code,
                "purchased_at": when,
                "total_amount": "90.00",
                "external_ref": "FIS-1",
                "lines": [line],
            },
            {"customer_number": "200001", "purchased_at": when, "total_amount": "10"},
            {
                "customer_id": customer.pk,
                "purchased_at": when,
                "total_amount": "5",
                "lines": [{"sku": "YOK", "unit_price": "5"}],
            },
            {"customer_id": customer.pk, "total_amount": "abc"},
            {"customer_number": "999999", "purchased_at": when, "total_amount": "5"},
            {
                "customer_id": customer.pk,
                "branch_code": "NOPE",
                "purchased_at": when,
                "total_amount": "5",
            },
            "not an object",
        ]
    }
    response = api.post(
        f"{BASE}/purchases/bulk/", payload, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["skipped"], body["invalid"]) == (2, 0, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == ["created", "created"] + ["invalid"] * 5
    assert "YOK" in results[2]["errors"]["lines"][0]
    assert set(results[3]["errors"]) == {"purchased_at", "total_amount"}
    assert results[4]["errors"] == {"customer": ["No such customer."]}
    assert "NOPE" in results[5]["errors"]["branch_code"][0]
    assert results[6]["errors"]
    with tenant_context(world_a.tenant):
        first = Purchase.objects.get(external_ref="FIS-1")
        assert first.customer_id == customer.pk and first.branch == world_a.branch
        line_row = PurchaseLine.objects.get(purchase=first)
        assert line_row.product == product and line_row.line_total == Decimal("90.00")
        assert Purchase.objects.get(pk=results[1]["purchase_id"]).touchpoint == "ecommerce"

    again = api.post(
        f"{BASE}/purchases/bulk/",
        {"purchases": [payload["purchases"][0], payload["purchases"][0]]},
        format="json",
    ).json()
    assert (again["created"], again["skipped"]) == (0, 2)
    bare_list = api.post(f"{BASE}/purchases/bulk/", [payload["purchases"][0]], format="json")
    assert bare_list.json()["results"][0]["status"] == "skipped"
    assert {r["purchase_id"] for r in again["results"]} == {first.pk}
    with tenant_context(world_a.tenant):
        assert Purchase.objects.count() == 2


@pytest.mark.django_db
def test_bulk_purchases_refuse_an_oversized_or_empty_batch(api: APIClient) -> None:
    assert api.post(f"{BASE}/purchases/bulk/", {"purchases": []}, format="json").status_code == 400
    too_many: dict[str, list[dict[str, str]]] = {"purchases": [{}] * 1001}
    response = api.post(f"{BASE}/purchases/bulk/", too_many, format="json")
    assert response.status_code == 400 and "purchases" in response.json()


@pytest.mark.django_db
def test_interactions_and_complaints(api: APIClient, world_a: TenantWorld) -> None:
    customer: Customer = CustomerFactory.create(tenant=world_a.tenant)
    logged = api.post(
        f"{BASE}/customers/{customer.pk}/interactions/",
        {
            "subject": "Sipariş durumu",
            "touchpoint": "ecommerce",
            "branch_code": world_a.branch.code,
        },
        format="json",
    )
    assert logged.status_code == 201, logged.json()
    assert (
        logged.json()["staff_email"] is None and logged.json()["branch_code"] == world_a.branch.code
    )
    listed = api.get(f"{BASE}/customers/{customer.pk}/interactions/").json()
    assert [row["subject"] for row in listed["results"]] == ["Sipariş durumu"]
    opened = api.post(
        f"{BASE}/customers/{customer.pk}/complaints/",
        {"subject": "Kırık ürün", "description": "Kutu ezik geldi"},
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    assert opened.json()["status"] == "open"
    with tenant_context(world_a.tenant):
        assert Complaint.objects.get().customer_id == customer.pk
        assert Interaction.objects.filter(touchpoint="complaint").count() == 1
    assert api.get(f"{BASE}/customers/{customer.pk}/complaints/").status_code == 405


@pytest.mark.django_db
def test_interaction_scopes(world_a: TenantWorld) -> None:
    customer: Customer = CustomerFactory.create(tenant=world_a.tenant)
    _key, reader = make_key(world_a, ApiScope.INTERACTIONS_READ)
    client = key_client(reader)
    url = f"{BASE}/customers/{customer.pk}/interactions/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"subject": "x"}, format="json").status_code == 403
    assert client.get(f"{BASE}/customers/{customer.pk}/").status_code == 403


@pytest.mark.django_db
def test_other_tenants_customers_are_404(
    api: APIClient, world_a: TenantWorld, world_b: TenantWorld
) -> None:
    theirs: Customer = CustomerFactory.create(tenant=world_b.tenant)
    for url in (
        f"{BASE}/customers/{theirs.pk}/",
        f"{BASE}/customers/{theirs.pk}/interactions/",
    ):
        assert api.get(url).status_code == 404
    assert (
        api.post(
            f"{BASE}/customers/{theirs.pk}/complaints/", {"subject": "x"}, format="json"
        ).status_code
        == 404
    )
    bulk = api.post(
        f"{BASE}/purchases/bulk/",
        {
            "purchases": [
                {
                    "customer_id": theirs.pk,
                    "purchased_at": "2026-01-01T10:00:00Z",
                    "total_amount": "5",
                }
            ]
        },
        format="json",
    ).json()
    assert bulk["results"][0]["status"] == "invalid"
    _key, b_key = make_key(world_b, *ApiScope)
    assert key_client(b_key).get(f"{BASE}/customers/").status_code == 404
    with tenant_context(world_b.tenant):
        assert not Purchase.objects.exists() and not Complaint.objects.exists()


@pytest.mark.django_db
def test_staff_use_the_same_api_with_their_session(world_a: TenantWorld) -> None:
    client = APIClient()
    client.force_login(world_a.users[Role.CALL_CENTRE])
    created = client.post(f"{BASE}/customers/", {"first_name": "Ali"}, format="json")
    assert created.status_code == 201
    customer_id = created.json()["id"]
    logged = client.post(
        f"{BASE}/customers/{customer_id}/interactions/", {"subject": "Arama"}, format="json"
    )
    assert logged.json()["staff_email"] == world_a.users[Role.CALL_CENTRE].email
    marketing = APIClient()
    marketing.force_login(world_a.users[Role.MARKETING])
    assert marketing.get(f"{BASE}/customers/{customer_id}/").status_code == 200
    assert (
        marketing.post(f"{BASE}/customers/", {"first_name": "X"}, format="json").status_code == 403
    )
