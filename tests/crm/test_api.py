from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import Branch
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld


def _api(world: TenantWorld, role: Role) -> APIClient:
    client = APIClient()
    client.force_login(world.users[role])
    return client


@pytest.mark.django_db
def test_me_tells_the_role_and_permissions(world_a: TenantWorld) -> None:
    response = _api(world_a, Role.CALL_CENTRE).get("/api/v1/t/alfa/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == "alfa" and body["role"] == "call_centre"
    assert "record_consent" in body["permissions"] and "manage_members" not in body["permissions"]


@pytest.mark.django_db
def test_branch_crud_through_the_api(world_a: TenantWorld, world_b: TenantWorld) -> None:
    client = _api(world_a, Role.ADMIN)
    created = client.post(
        "/api/v1/t/alfa/branches/",
        {"code": "IZM-01", "name": "Alsancak", "province": "35", "district": "Konak"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    listed = client.get("/api/v1/t/alfa/branches/").json()
    assert {row["code"] for row in listed["results"]} == {world_a.branch.code, "IZM-01"}
    patched = client.patch(
        f"/api/v1/t/alfa/branches/{created.json()['id']}/",
        {"name": "Alsancak Çarşı"},
        format="json",
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Alsancak Çarşı"
    with tenant_context(world_b.tenant):
        assert not Branch.objects.filter(code="IZM-01").exists()


@pytest.mark.django_db
def test_api_validation_errors_are_readable(world_a: TenantWorld) -> None:
    client = _api(world_a, Role.ADMIN)
    response = client.post(
        "/api/v1/t/alfa/branches/",
        {"code": world_a.branch.code, "name": "Kopya", "province": "99"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    errors = response.json()
    assert "province" in errors
    assert "not a valid choice" in errors["province"][0]


@pytest.mark.django_db
def test_duplicate_branch_code_is_a_400_not_a_500(world_a: TenantWorld) -> None:
    response = _api(world_a, Role.ADMIN).post(
        "/api/v1/t/alfa/branches/",
        {"code": world_a.branch.code, "name": "Kopya", "province": "34"},
        format="json",
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_marketing_reads_but_cannot_write_branches(world_a: TenantWorld) -> None:
    client = _api(world_a, Role.MARKETING)
    assert client.get("/api/v1/t/alfa/branches/").status_code == 200
    refused = client.post(
        "/api/v1/t/alfa/branches/", {"code": "X", "name": "X", "province": "34"}, format="json"
    )
    assert refused.status_code == 403


@pytest.mark.django_db
def test_openapi_schema_is_served_to_logged_in_users(world_a: TenantWorld) -> None:
    client = _api(world_a, Role.MARKETING)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/t/{tenant_slug}/branches/" in schema.content
    assert APIClient().get("/api/v1/schema/").status_code == 302
