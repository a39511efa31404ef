"""Name words for search follow name_key on every write path (PostgreSQL triggers)."""

from __future__ import annotations

import pytest

from crm.tenancy import tenant_context
from customers import selectors, services
from customers.models import Customer, CustomerNameWord
from tests.conftest import TenantWorld

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _ids(world: TenantWorld, query: str) -> list[int]:
    return [c.pk for c in selectors.customer_search(tenant=world.tenant, query=query)]


def test_words_follow_creates_renames_and_bulk_updates(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with tenant_context(world_a.tenant):
        ayse = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(first_name="Ayşe Gül", last_name="Yılmaz"),
        )
        words = set(CustomerNameWord.objects.filter(customer=ayse).values_list("word", flat=True))
        assert words == {"ayse", "gul", "yilmaz"}
        assert _ids(world_a, "yil") == [ayse.pk]
        assert _ids(world_a, "gul ay") == [ayse.pk]
        assert _ids(world_a, "AYSE YILMAZ") == [ayse.pk]
        assert _ids(world_a, "ayse kaya") == []

        ayse.last_name, ayse.name_key = "Kaya", "ayse gul kaya"
        ayse.save()
        assert _ids(world_a, "kaya") == [ayse.pk]
        assert _ids(world_a, "yilmaz") == []

        Customer.objects.filter(pk=ayse.pk).update(name_key="ayse demir")
        assert _ids(world_a, "dem") == [ayse.pk]
        assert CustomerNameWord.objects.filter(customer=ayse).count() == 2
    with tenant_context(world_b.tenant):
        assert _ids(world_b, "ayse") == []  # other tenants see nothing
        assert not CustomerNameWord.objects.exists()
