"""Cross-tenant attacks on every tenant URL, discovered automatically.

Logged in to tenant A, each route is requested (GET and POST) with tenant A's slug
and tenant B's object ids: the answer must be 404 and B's rows must be unchanged.
Each route is also requested with tenant B's slug: 404. Then every role of A
requests every route with A's own ids: a role without the declared permission gets
403. New views are covered without editing this file.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from crm.middleware import declared_permission, permission_for_method
from crm.permissions import Role, role_has_permission
from crm.tenancy import dangerously_all_tenants, tenant_owned_models
from tests.conftest import TenantWorld
from tests.factories import FACTORIES
from tests.isolation.urls import TenantRoute, model_for_kwarg, tenant_routes

ROUTES = tenant_routes()
METHODS = ("get", "post")


def test_harness_finds_the_routes() -> None:
    names = {route.name for route in ROUTES}
    assert {"dashboards:home", "crm:branch_edit", "crm:job", "crm_api:branch"} <= names


def test_every_tenant_owned_model_has_a_factory() -> None:
    missing = [m.__name__ for m in tenant_owned_models() if m not in FACTORIES]
    assert not missing, f"add factories to tests/factories.py FACTORIES for {missing}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_tenant_route_declares_a_permission(route: TenantRoute) -> None:
    assert declared_permission(route.callback) is not None, f"{route} declares no permission"


def _objects_of(world: TenantWorld, route: TenantRoute) -> dict[str, int]:
    ids = {}
    for kwarg in route.object_kwargs:
        model = model_for_kwarg(kwarg)
        factory = FACTORIES[model]
        extra: dict[str, Any] = {}
        if model.__name__ == "Membership":
            extra["user__email"] = f"victim-{route.name.replace(':', '-')}@example.com"
        ids[kwarg] = factory.create(tenant=world.tenant, **extra).pk
    return ids


def _snapshot(world: TenantWorld) -> dict[str, list[dict[str, Any]]]:
    with dangerously_all_tenants():
        return {
            model.__name__: sorted(
                (model_to_dict(obj) for obj in model.objects.filter(tenant=world.tenant)),
                key=lambda row: str(row.get("id")),
            )
            for model in tenant_owned_models()
        }


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_other_tenants_objects_are_404(
    route: TenantRoute, world_a: TenantWorld, world_b: TenantWorld
) -> None:
    client = _client_for(world_a.owner)
    b_ids = _objects_of(world_b, route)
    before = _snapshot(world_b)
    for method in METHODS:
        if route.object_kwargs:
            url = route.path(tenant_slug=world_a.tenant.slug, **b_ids)
            response = getattr(client, method)(url)
            assert response.status_code in (404, 405), (
                f"{method.upper()} {url} with tenant B's ids gave {response.status_code}"
            )
        url = route.path(tenant_slug=world_b.tenant.slug, **b_ids)
        response = getattr(client, method)(url)
        assert response.status_code == 404, (
            f"{method.upper()} {url} in tenant B as tenant A's owner gave {response.status_code}"
        )
    assert _snapshot(world_b) == before, f"{route} changed tenant B's data"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_outsiders_and_anonymous_are_kept_out(
    route: TenantRoute, world_a: TenantWorld, outsider: Any
) -> None:
    url = route.path(tenant_slug=world_a.tenant.slug, **_objects_of(world_a, route))
    response = _client_for(outsider).get(url)
    assert response.status_code == 404
    anonymous = Client().get(url)
    if route.route.startswith("api/"):
        assert anonymous.status_code in (401, 403)
    else:
        assert anonymous.status_code == 302
        assert "/accounts/login/" in anonymous["Location"]


@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_roles_without_the_permission_get_403(
    route: TenantRoute, role: Role, world_a: TenantWorld
) -> None:
    declared = declared_permission(route.callback)
    assert declared is not None
    url = route.path(tenant_slug=world_a.tenant.slug, **_objects_of(world_a, route))
    client = _client_for(world_a.users[role])
    for method in METHODS:
        permission = permission_for_method(declared, method.upper())
        if permission is None:
            continue
        response = getattr(client, method)(url)
        if role_has_permission(role, permission):
            assert response.status_code != 403, f"{role} refused {method.upper()} {url}"
        else:
            assert response.status_code == 403, (
                f"{role} without {permission} got {response.status_code} for {method.upper()} {url}"
            )
