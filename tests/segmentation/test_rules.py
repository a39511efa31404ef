"""The rule compiler: every condition, negation, any/all, validation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from consent import services as consent_services
from consent.models import ConsentStatus, ConsentType
from crm.tenancy import tenant_context
from customers.models import Complaint, Customer, RiskFlag, Touchpoint
from segmentation import rules, saved_segments
from segmentation.models import SegmentationRun
from tests.conftest import TenantWorld
from tests.factories import (
    AddressFactory,
    BranchFactory,
    ComplaintFactory,
    CustomerFactory,
    CustomerScoreFactory,
    InteractionFactory,
    PhoneFactory,
    ProductCategoryFactory,
    ProductFactory,
    PurchaseFactory,
    PurchaseLineFactory,
    RiskFlagFactory,
    SegmentationRunFactory,
)

TODAY = dt.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def _messages_in_english() -> Iterator[None]:
    # The messages are Turkish by default; these tests read the English ones.
    with translation.override("en"):
        yield


class Shop:
    def __init__(self, world: TenantWorld) -> None:
        t = world.tenant
        self.world = world
        self.other_branch = BranchFactory.create(tenant=t, code="X-2")
        self.ayse = CustomerFactory.create(
            tenant=t, birth_date=dt.date(1990, 6, 15), home_branch=world.branch
        )
        self.mehmet = CustomerFactory.create(
            tenant=t, birth_date=dt.date(1960, 1, 1), home_branch=self.other_branch
        )
        self.firma = CustomerFactory.create(tenant=t, kind=Customer.Kind.COMPANY, first_name="")
        self.merged = CustomerFactory.create(tenant=t, merged_into=self.ayse)
        AddressFactory.create(
            tenant=t, customer=self.ayse, province="34", district="Kadıköy", is_primary=True
        )
        AddressFactory.create(
            tenant=t, customer=self.mehmet, province="06", district="Çankaya", is_primary=True
        )
        # Not primary: does not count.
        AddressFactory.create(
            tenant=t, customer=self.firma, province="34", district="Kadıköy", is_primary=False
        )
        self.old_run = SegmentationRunFactory.create(
            tenant=t, finished_at=timezone.now() - dt.timedelta(days=30)
        )
        self.run = SegmentationRunFactory.create(tenant=t, finished_at=timezone.now())
        score: dict[str, Any] = {"tenant": t, "run": self.run}
        CustomerScoreFactory.create(
            **score,
            customer=self.ayse,
            rfm_segment="loyal",
            value_tier="top",
            clv=Decimal("5000"),
            p_alive=0.9,
            recency_days=10,
            frequency=12,
            monetary=Decimal("8000"),
            discount_share=0.1,
        )
        CustomerScoreFactory.create(
            **score,
            customer=self.mehmet,
            rfm_segment="at_risk",
            value_tier="low",
            clv=Decimal("100"),
            p_alive=0.2,
            recency_days=300,
            frequency=2,
            monetary=Decimal("300"),
            discount_share=0.6,
        )
        # The old run said Mehmet was loyal: only the current run counts.
        CustomerScoreFactory.create(
            tenant=t, run=self.old_run, customer=self.mehmet, rfm_segment="loyal"
        )
        self.shoes = ProductCategoryFactory.create(tenant=t, name="Ayakkabı")
        self.boots = ProductCategoryFactory.create(tenant=t, name="Bot", parent=self.shoes)
        recent = PurchaseFactory.create(
            tenant=t, customer=self.ayse, purchased_at=timezone.now() - dt.timedelta(days=5)
        )
        PurchaseLineFactory.create(
            tenant=t, purchase=recent, product=ProductFactory.create(tenant=t, category=self.boots)
        )
        old = PurchaseFactory.create(
            tenant=t, customer=self.mehmet, purchased_at=timezone.now() - dt.timedelta(days=200)
        )
        PurchaseLineFactory.create(
            tenant=t, purchase=old, product=ProductFactory.create(tenant=t, category=self.shoes)
        )
        InteractionFactory.create(
            tenant=t,
            customer=self.mehmet,
            touchpoint=Touchpoint.CALL_IN,
            occurred_at=timezone.now() - dt.timedelta(days=3),
        )
        ComplaintFactory.create(tenant=t, customer=self.mehmet, status=Complaint.Status.OPEN)
        ComplaintFactory.create(tenant=t, customer=self.ayse, status=Complaint.Status.RESOLVED)
        RiskFlagFactory.create(tenant=t, customer=self.firma, kind=RiskFlag.Kind.BOUNCED_CHEQUE)
        RiskFlagFactory.create(
            tenant=t, customer=self.ayse, cleared_at=timezone.now(), kind=RiskFlag.Kind.CUSTOM
        )

    def ids(self, *conditions: dict[str, Any], match: str = "all", negate: bool = False) -> set:
        rule = {"match": match, "negate": negate, "conditions": list(conditions)}
        qs = rules.compile_rule(tenant=self.world.tenant, rule=rule, today=TODAY)
        return set(qs.values_list("pk", flat=True))


@pytest.fixture
def shop(world_a: TenantWorld) -> Any:
    with tenant_context(world_a.tenant):
        yield Shop(world_a)


def test_empty_rule_is_every_active_customer(shop: Shop) -> None:
    assert shop.ids() == {shop.ayse.pk, shop.mehmet.pk, shop.firma.pk}


def test_geography_branch_type(shop: Shop) -> None:
    assert shop.ids({"field": "province", "values": ["34"]}) == {shop.ayse.pk}
    assert shop.ids({"field": "province", "values": ["6"]}) == {shop.mehmet.pk}
    assert shop.ids({"field": "district", "values": ["kadıköy"]}) == {shop.ayse.pk}
    assert shop.ids({"field": "home_branch", "values": [shop.other_branch.pk]}) == {shop.mehmet.pk}
    assert shop.ids({"field": "kind", "values": ["company"]}) == {shop.firma.pk}


def test_age_range_counts_birthdays(shop: Shop) -> None:
    # Ayşe turns 36 on TODAY; Mehmet is 66.
    assert shop.ids({"field": "age", "min": 36, "max": 36}) == {shop.ayse.pk}
    assert shop.ids({"field": "age", "max": 35}) == set()
    assert shop.ids({"field": "age", "min": 60}) == {shop.mehmet.pk}


def test_score_conditions_read_the_current_run(shop: Shop) -> None:
    assert shop.ids({"field": "rfm_segment", "values": ["loyal"]}) == {shop.ayse.pk}
    assert shop.ids({"field": "value_tier", "values": ["low"]}) == {shop.mehmet.pk}
    assert shop.ids({"field": "clv", "min": 1000}) == {shop.ayse.pk}
    assert shop.ids({"field": "p_alive", "max": 0.5}) == {shop.mehmet.pk}
    assert shop.ids({"field": "feature", "name": "recency_days", "min": 100}) == {shop.mehmet.pk}
    assert shop.ids({"field": "feature", "name": "discount_share", "max": 0.2}) == {shop.ayse.pk}
    assert shop.ids({"field": "feature", "name": "monetary", "min": 1000, "max": 9000}) == {
        shop.ayse.pk
    }


def test_cluster_condition(shop: Shop) -> None:
    from tests.factories import BehaviourClusterFactory

    cluster = BehaviourClusterFactory.create(tenant=shop.world.tenant, run=shop.run, label="B7")
    from segmentation.models import CustomerScore

    CustomerScore.objects.filter(run=shop.run, customer=shop.mehmet).update(cluster=cluster)
    assert shop.ids({"field": "cluster", "values": ["B7"]}) == {shop.mehmet.pk}


def test_activity_conditions(shop: Shop) -> None:
    # Boots are under shoes: buying boots is buying from "shoes".
    assert shop.ids({"field": "purchased_category", "category": shop.shoes.pk, "days": 30}) == {
        shop.ayse.pk
    }
    assert shop.ids({"field": "purchased_category", "category": shop.shoes.pk}) == {
        shop.ayse.pk,
        shop.mehmet.pk,
    }
    assert shop.ids({"field": "interaction", "touchpoints": ["call_in"], "days": 7}) == {
        shop.mehmet.pk
    }
    assert shop.ids({"field": "interaction", "touchpoints": ["email"]}) == set()
    assert shop.ids({"field": "open_complaint"}) == {shop.mehmet.pk}
    assert shop.ids({"field": "risk_flag"}) == {shop.firma.pk}
    assert shop.ids({"field": "risk_flag", "values": ["overdue_payment"]}) == set()


def test_any_all_and_negation(shop: Shop) -> None:
    loyal = {"field": "rfm_segment", "values": ["loyal"]}
    company = {"field": "kind", "values": ["company"]}
    assert shop.ids(loyal, company, match="any") == {shop.ayse.pk, shop.firma.pk}
    assert shop.ids(loyal, company, match="all") == set()
    assert shop.ids({**loyal, "negate": True}) == {shop.mehmet.pk, shop.firma.pk}
    assert shop.ids(loyal, company, match="any", negate=True) == {shop.mehmet.pk}
    nested = {"match": "any", "conditions": [company, {"field": "open_complaint"}]}
    assert shop.ids(nested, {"field": "age", "min": 18}) == {shop.mehmet.pk}


def test_consent_uses_the_consent_app(shop: Shop) -> None:
    world = shop.world
    PhoneFactory.create(tenant=world.tenant, customer=shop.mehmet, e164="+905321112233")
    PhoneFactory.create(tenant=world.tenant, customer=shop.ayse, e164="+905321112244")
    consent_services.consent_record(
        tenant=world.tenant,
        actor=world.owner,
        recipient="+905321112233",
        consent_type=ConsentType.MESAJ,
        status=ConsentStatus.ONAY,
        source="HS_FIZIKSEL_ORTAM",
        consent_date=timezone.now() - dt.timedelta(minutes=5),
        customer=shop.mehmet,
    )
    assert shop.ids({"field": "consent", "values": ["MESAJ"]}) == {shop.mehmet.pk}
    assert shop.ids({"field": "consent", "values": ["MESAJ"], "negate": True}) == {
        shop.ayse.pk,
        shop.firma.pk,
    }


def test_member_of_another_segment(shop: Shop) -> None:
    world = shop.world
    loyal = saved_segments.segment_create(
        tenant=world.tenant,
        actor=world.owner,
        name="Sadık",
        rule={"match": "all", "conditions": [{"field": "rfm_segment", "values": ["loyal"]}]},
        owner=world.owner,
    )
    with pytest.raises(rules.RuleError, match="not been materialised"):
        shop.ids({"field": "segment", "segment": loyal.pk})
    saved_segments.segment_materialise(tenant=world.tenant, segment=loyal)
    assert shop.ids({"field": "segment", "segment": loyal.pk}) == {shop.ayse.pk}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "nope"}, "Unknown condition"),
        ({"field": "kind", "values": []}, "at least one value"),
        ({"field": "kind", "values": ["alien"]}, "unknown value"),
        ({"field": "age", "min": "abc"}, "not a number"),
        ({"field": "age"}, "minimum or a maximum"),
        ({"field": "clv", "min": 10, "max": 5}, "minimum is above"),
        ({"field": "feature", "name": "shoe_size", "min": 1}, "choose a measure"),
        ({"field": "purchased_category", "category": 999999}, "unknown category"),
        ({"field": "interaction", "days": 0}, "between 1 and 3650"),
        ({"field": "home_branch", "values": [999999]}, "unknown branch"),
        ({"field": "consent", "values": ["FAX"]}, "unknown value"),
    ],
)
def test_bad_rules_get_clear_messages(shop: Shop, condition: dict, message: str) -> None:
    with pytest.raises(rules.RuleError, match=message):
        shop.ids(condition)


def test_bad_group_shapes(shop: Shop) -> None:
    with pytest.raises(rules.RuleError, match="all” or “any"):
        rules.compile_rule(tenant=shop.world.tenant, rule={"match": "some", "conditions": []})
    with pytest.raises(rules.RuleError, match="group"):
        rules.compile_rule(tenant=shop.world.tenant, rule=["x"])
    deep: dict[str, Any] = {"field": "open_complaint"}
    for _ in range(6):
        deep = {"match": "all", "conditions": [deep]}
    with pytest.raises(rules.RuleError, match="nested"):
        rules.compile_rule(tenant=shop.world.tenant, rule=deep)


def test_score_condition_without_a_run(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        SegmentationRun.objects.all().delete()
        with pytest.raises(rules.RuleError, match="finished segmentation run"):
            rules.compile_rule(
                tenant=world_a.tenant,
                rule={"conditions": [{"field": "rfm_segment", "values": ["loyal"]}]},
            )


def test_other_tenants_customers_never_match(shop: Shop, world_b: TenantWorld) -> None:
    with tenant_context(world_b.tenant):
        CustomerFactory.create(tenant=world_b.tenant)
    assert len(shop.ids()) == 3
