from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from crm import services
from crm.models import ApiKey
from crm.permissions import ApiScope, Role
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld

CUSTOMERS = "/api/v1/t/alfa/customers/"


def make_key(world: TenantWorld, *scopes: str, **extra: object) -> tuple[ApiKey, str]:
    with tenant_context(world.tenant):
        return services.api_key_create(
            tenant=world.tenant,
            actor=world.owner,
            name="Kasa",
            scopes=list(scopes or [ApiScope.CUSTOMERS_READ]),
            **extra,  # type: ignore[arg-type]
        )


def key_client(full_key: str, *, enforce_csrf_checks: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=enforce_csrf_checks)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {full_key}")
    return client


@pytest.mark.django_db
def test_key_is_shown_once_and_only_its_hash_is_stored(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.owner)
    created = client.post(
        "/t/alfa/api-keys/",
        {"name": "Mağaza POS", "scopes": ["customers:read", "purchases:write"]},
    )
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    match = re.search(r"tk_([0-9a-f]{8})_([A-Za-z0-9_-]{40,})", created.content.decode())
    assert match, "the full key is on the page right after creation"
    full_key, prefix, secret = match.group(0), match.group(1), match.group(2)
    with tenant_context(world_a.tenant):
        key = ApiKey.objects.get()
    assert key.prefix == prefix and key.name == "Mağaza POS"
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(vars(key))
    assert key.scopes == ["customers:read", "purchases:write"] and key.created_by == world_a.owner
    listed = client.get("/t/alfa/api-keys/").content.decode()
    assert "Mağaza POS" in listed and f"tk_{prefix}_" in listed and full_key not in listed
    assert key_client(full_key).get(CUSTOMERS).status_code == 200


@pytest.mark.django_db
def test_a_valid_key_reads_and_records_its_use(world_a: TenantWorld) -> None:
    key, full_key = make_key(world_a)
    response = key_client(full_key).get(CUSTOMERS)
    assert response.status_code == 200, response.content
    with tenant_context(world_a.tenant):
        key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(world_a: TenantWorld) -> None:
    key, full_key = make_key(world_a)
    recently = timezone.now() - timedelta(seconds=30)
    with tenant_context(world_a.tenant):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=recently)
    key_client(full_key).get(CUSTOMERS)
    with tenant_context(world_a.tenant):
        key.refresh_from_db()
        assert key.last_used_at == recently
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=recently - timedelta(minutes=2))
    key_client(full_key).get(CUSTOMERS)
    with tenant_context(world_a.tenant):
        key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at > recently


@pytest.mark.django_db
def test_revoked_expired_and_unknown_keys_get_401(world_a: TenantWorld) -> None:
    revoked, revoked_key = make_key(world_a)
    with tenant_context(world_a.tenant):
        services.api_key_revoke(tenant=world_a.tenant, key=revoked)
    expired, expired_key = make_key(world_a, expires_at=timezone.now() + timedelta(hours=1))
    with tenant_context(world_a.tenant):
        ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    _key, good_key = make_key(world_a)
    tampered = good_key[:-4] + ("aaaa" if not good_key.endswith("aaaa") else "bbbb")
    cases = {
        revoked_key: "revoked",
        expired_key: "expired",
        tampered: "not valid",
        "tk_00000000_nothing": "not valid",
        "garbage": "not valid",
    }
    for full_key, reason in cases.items():
        response = key_client(full_key).get(CUSTOMERS, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 401, full_key
        assert reason in response.json()["detail"]
        assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.django_db
def test_a_key_of_another_tenant_is_404(world_a: TenantWorld, world_b: TenantWorld) -> None:
    _key, b_key = make_key(world_b, *ApiScope)
    assert key_client(b_key).get(CUSTOMERS).status_code == 404
    assert key_client(b_key).get("/api/v1/t/beta/customers/").status_code == 200


@pytest.mark.django_db
def test_scopes_are_enforced(world_a: TenantWorld) -> None:
    _key, read_only = make_key(world_a, ApiScope.CUSTOMERS_READ)
    client = key_client(read_only)
    assert client.get(CUSTOMERS).status_code == 200
    refused = client.post(CUSTOMERS, {"first_name": "Ali"}, format="json")
    assert refused.status_code == 403
    assert "customers:write" in refused.json()["detail"]
    assert client.post("/api/v1/t/alfa/purchases/bulk/", {}, format="json").status_code == 403
    # Endpoints that declare no scope are not open to keys at all.
    assert client.get("/api/v1/t/alfa/me/").status_code == 403
    assert client.get("/api/v1/t/alfa/branches/").status_code == 403


@pytest.mark.django_db
def test_key_requests_need_no_csrf_token(world_a: TenantWorld) -> None:
    _key, full_key = make_key(world_a, ApiScope.CUSTOMERS_WRITE)
    client = key_client(full_key, enforce_csrf_checks=True)
    response = client.post(CUSTOMERS, {"first_name": "Ali", "last_name": "Kaya"}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_session_users_work_as_before(world_a: TenantWorld) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world_a.users[Role.BRANCH_STAFF])
    assert client.get(CUSTOMERS).status_code == 200
    assert client.get("/api/v1/t/alfa/me/").json()["role"] == "branch_staff"
    # A session still needs its CSRF token to write.
    assert client.post(CUSTOMERS, {"first_name": "Ali"}, format="json").status_code == 403
    assert APIClient().get(CUSTOMERS).status_code in (401, 403)


@pytest.mark.django_db
def test_a_browser_page_ignores_api_key_headers(world_a: TenantWorld) -> None:
    _key, full_key = make_key(world_a, *ApiScope)
    page = Client().get("/t/alfa/customers/", HTTP_AUTHORIZATION=f"Api-Key {full_key}")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]


@pytest.mark.django_db
def test_owner_revokes_a_key_on_the_page(world_a: TenantWorld) -> None:
    key, full_key = make_key(world_a)
    client = Client()
    client.force_login(world_a.users[Role.ADMIN])
    response = client.post(f"/t/alfa/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    with tenant_context(world_a.tenant):
        key.refresh_from_db()
    assert key.revoked_at is not None
    assert key_client(full_key).get(CUSTOMERS).status_code == 401


@pytest.mark.django_db
def test_only_owners_and_admins_manage_keys(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.users[Role.MARKETING])
    assert client.get("/t/alfa/api-keys/").status_code == 403
    client.force_login(world_a.owner)
    page = client.get("/t/alfa/api-keys/")
    assert page.status_code == 200 and b"/t/alfa/api-keys/" in page.content


@pytest.mark.django_db
def test_key_creation_refuses_bad_input(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.owner)
    response = client.post(
        "/t/alfa/api-keys/", {"name": "X", "scopes": []}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200 and b"tk_" not in response.content
    with tenant_context(world_a.tenant):
        assert not ApiKey.objects.exists()
