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


NAMES = [
    ("Mehmet", "Aslan"),
    ("Mehmet Ali", "Aksoy"),
    ("Mehmet", "Kaya"),
    ("Ali", "Mehmetoğlu"),
    ("Ayşe", "Aslan"),
    ("Aslı", "Mert"),
    ("Fatma", "Kılıç"),
    ("Fatma Ayşe", "Kiraz"),
    ("Ahmet", "Aslanbaş"),
]
QUERIES = ["mehm as", "as mehm", "mehmet a", "a mehm", "fatm ki", "ay as", "as", "al meh", "m a k"]


@pytest.mark.parametrize("probe_limit", [0, 10_000], ids=["hash-join", "probe"])
def test_name_words_match_the_same_customers_by_either_plan(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch, probe_limit: int
) -> None:
    # PROBE_DRIVER_LIMIT decides between probing from the rarest typed word and
    # hash-joining every word's customers; both must find the same people.
    monkeypatch.setattr(selectors, "PROBE_DRIVER_LIMIT", probe_limit)
    with tenant_context(world_a.tenant):
        people = {
            services.customer_create(
                tenant=world_a.tenant,
                actor=world_a.owner,
                data=services.CustomerInput(first_name=first, last_name=last),
            ).pk: f"{first} {last}"
            for first, last in NAMES
        }
        keys = dict(Customer.objects.filter(pk__in=people).values_list("pk", "name_key"))
        for query in QUERIES:
            typed = query.split()
            expected = {
                pk
                for pk, key in keys.items()
                if all(any(word.startswith(t) for word in key.split()) for t in typed)
            }
            found = selectors.customer_search(tenant=world_a.tenant, query=query, limit=50)
            assert {c.pk for c in found} == expected, query
            # Names that start with the first typed word come first.
            starts = [keys[c.pk].startswith(typed[0]) for c in found]
            assert starts == sorted(starts, reverse=True), query
