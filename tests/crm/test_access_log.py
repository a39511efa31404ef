"""The personal-data access log viewer: filters and paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import views
from crm.models import PersonalDataAccess
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory


def _log(world: TenantWorld, role: Role, customer_id: int, action: str, days_ago: int) -> None:
    PersonalDataAccess.objects.create(
        tenant=world.tenant,
        user=world.users[role],
        subject_type="customer",
        subject_id=customer_id,
        action=action,
        at=timezone.now() - timedelta(days=days_ago),
        path=f"/t/{world.tenant.slug}/customers/{customer_id}/",
    )


@pytest.mark.django_db
def test_owners_filter_the_access_log(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant_context(world_a.tenant):
        ayse = CustomerFactory.create(tenant=world_a.tenant)
        other = CustomerFactory.create(tenant=world_a.tenant)
        _log(world_a, Role.CALL_CENTRE, ayse.pk, "view", 0)
        _log(world_a, Role.BRANCH_STAFF, ayse.pk, "view", 10)
        _log(world_a, Role.OWNER, ayse.pk, "export", 1)
        _log(world_a, Role.CALL_CENTRE, other.pk, "view", 2)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(world_a.owner)
    url = reverse("crm:access_log", kwargs={"tenant_slug": world_a.tenant.slug})

    def rows(**query: str | int) -> int:
        response = client.get(url, query)
        assert response.status_code == 200
        return len(response.context["page"].object_list)

    assert rows() == 4
    assert rows(customer_number=ayse.customer_number) == 3
    assert rows(customer_number=ayse.customer_number, action="export") == 1
    assert rows(user=world_a.users[Role.CALL_CENTRE].pk) == 2
    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert rows(customer_number=ayse.customer_number, since=week_ago) == 2
    assert rows(until=week_ago) == 1
    assert rows(customer_number="no-such-number") == 0
    # Paging keeps the filters.
    monkeypatch.setattr(views, "ACCESS_LOG_PAGE_SIZE", 1)
    second = client.get(url, {"action": "view", "page": "2"})
    assert len(second.context["page"].object_list) == 1
    assert "action=view" in second.context["query"]
