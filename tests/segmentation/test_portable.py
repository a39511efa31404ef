"""The portable run (pandas over raw rows, for SQLite) against the PostgreSQL one.

The equivalence tests run both paths on the same PostgreSQL data; the pipeline test
runs on whatever database the suite uses (``make run``'s SQLite without
DATABASE_URL)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from django.utils import timezone

from crm.models import Branch
from crm.tenancy import tenant_context
from customers.models import (
    Complaint,
    Customer,
    Interaction,
    Product,
    ProductCategory,
    Purchase,
    PurchaseLine,
)
from segmentation import features, portable, saved_segments, services
from segmentation.models import CustomerScore, NextBestOffer, RunStatus
from segmentation.segment_models import SegmentMembership, SegmentSnapshot
from tests.conftest import TenantWorld
from tests.factories import BranchFactory, CustomerFactory

AS_OF = datetime.date(2026, 6, 30)  # a Tuesday
IST = ZoneInfo("Europe/Istanbul")
UTC = datetime.UTC


class Shop:
    def __init__(self, world: TenantWorld) -> None:
        self.tenant = world.tenant
        self.branch = world.branch
        self.other_branch: Branch = BranchFactory.create(tenant=self.tenant, code="ALF-02")
        self.categories = [
            ProductCategory.objects.create(tenant=self.tenant, name=f"Kategori {n}")
            for n in range(4)
        ]
        self.products = [
            Product.objects.create(
                tenant=self.tenant, sku=f"SKU-{n}", name=f"P{n}", category=c, list_price=10
            )
            for n, c in enumerate(self.categories)
        ]
        # Lines of a product without a category count nowhere in the category mix.
        self.products.append(
            Product.objects.create(tenant=self.tenant, sku="SKU-X", name="X", list_price=5)
        )

    def buy(
        self,
        customer: Customer,
        at: datetime.datetime,
        amount: str,
        *,
        products: tuple[int, ...] = (0,),
        discount: str = "0",
        is_return: bool = False,
        touchpoint: str = "branch_visit",
        branch: Branch | str | None = "home",
    ) -> Purchase:
        purchase = Purchase.objects.create(
            tenant=self.tenant,
            customer=customer,
            branch=self.branch if branch == "home" else branch,
            touchpoint=touchpoint,
            purchased_at=at,
            total_amount=Decimal(amount),
            discount_amount=Decimal(discount),
            is_return=is_return,
        )
        for n, index in enumerate(products):
            line = (Decimal(amount) / len(products)).quantize(Decimal("0.01"))
            PurchaseLine.objects.create(
                tenant=self.tenant,
                purchase=purchase,
                product=self.products[index],
                quantity=1,
                unit_price=line,
                line_total=line + Decimal(n) / 100,
            )
        return purchase


def _ist(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), IST)


def _fill(shop: Shop) -> dict[str, Customer]:
    t = shop.tenant
    people = {
        name: CustomerFactory.create(tenant=t, home_branch=shop.branch if n % 2 else None)
        for n, name in enumerate(
            ["night_owl", "weekender", "returner", "online", "only_returns", "quiet", "merged"]
        )
    }
    d = AS_OF
    owl, weekend = people["night_owl"], people["weekender"]
    # 22:30 UTC is 01:30 the next day in Istanbul: local day, hour and weekday move.
    shop.buy(owl, datetime.datetime(2026, 6, 28, 22, 30, tzinfo=UTC), "10.10", products=(0, 1))
    shop.buy(owl, _ist(d, 23, 59), "20.20", products=(1,))  # the last minute of as_of
    shop.buy(owl, _ist(d + datetime.timedelta(days=1), 0, 0), "999.99")  # after as_of
    shop.buy(owl, _ist(datetime.date(2026, 5, 4), 5, 59), "0.10", products=(2, 4), branch=None)
    shop.buy(owl, _ist(datetime.date(2026, 5, 4), 6, 0), "0.20", discount="0.05")
    for week in range(6):
        day = datetime.date(2026, 5, 16) + datetime.timedelta(days=7 * week)  # Saturdays
        shop.buy(weekend, _ist(day, 11, 59), "33.33", products=(week % 4,), discount="3.33")
        shop.buy(
            weekend,
            _ist(day + datetime.timedelta(days=1), 12, 0),
            "66.67",
            products=(3, 2, 1),
            branch=shop.other_branch,
        )
    returner = people["returner"]
    first = shop.buy(returner, _ist(datetime.date(2025, 12, 31), 18, 0), "1000.00", products=(2,))
    shop.buy(returner, _ist(datetime.date(2026, 1, 2), 17, 59), "-400.00", is_return=True)
    shop.buy(returner, _ist(datetime.date(2026, 1, 3), 9, 0), "250.50", discount="49.50")
    shop.buy(returner, _ist(datetime.date(2025, 12, 31), 21, 0), "0.01", products=(2,))
    assert first.pk
    online = people["online"]
    for n, touchpoint in enumerate(["ecommerce", "email", "ecommerce", "branch_visit"]):
        shop.buy(
            online,
            _ist(datetime.date(2026, 3, 1 + n), 20 + n % 4),
            "19.99",
            products=(n % 2, 3),
            touchpoint=touchpoint,
            branch=None if touchpoint != "branch_visit" else shop.branch,
        )
    shop.buy(people["only_returns"], _ist(datetime.date(2026, 4, 1), 10), "15.00", is_return=True)
    merged = people["merged"]
    shop.buy(merged, _ist(datetime.date(2026, 2, 2), 10), "70.00")
    Customer.objects.filter(pk=merged.pk).update(merged_into=owl)
    for customer, at in [
        (owl, _ist(d, 23, 0)),
        (owl, datetime.datetime(2026, 6, 20, 21, 30, tzinfo=UTC)),
        (people["quiet"], _ist(datetime.date(2026, 1, 1), 0, 30)),
        (weekend, _ist(d + datetime.timedelta(days=2), 9)),  # after as_of
    ]:
        Interaction.objects.create(
            tenant=shop.tenant, customer=customer, touchpoint="call_in", subject="x", occurred_at=at
        )
    for customer, at in [(returner, _ist(datetime.date(2026, 1, 2), 18)), (returner, _ist(d, 9))]:
        Complaint.objects.create(
            tenant=shop.tenant, customer=customer, subject="iade", due_on=d, opened_at=at
        )
    return people


@pytest.fixture
def shop(world_a: TenantWorld, world_b: TenantWorld) -> Iterator[Shop]:
    # The other tenant's purchases must not leak into either path.
    with tenant_context(world_b.tenant):
        _fill(Shop(world_b))
    with tenant_context(world_a.tenant):
        yield Shop(world_a)


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by).reset_index(drop=True)


@pytest.mark.postgres
def test_portable_features_equal_the_postgresql_ones(shop: Shop) -> None:
    people = _fill(shop)
    for as_of in (AS_OF, datetime.date(2026, 1, 2), datetime.date(2020, 1, 1)):
        sql = features.customer_features(tenant=shop.tenant, as_of=as_of)
        pandas = portable.customer_features_portable(tenant=shop.tenant, as_of=as_of)
        pd.testing.assert_frame_equal(pandas.customers, sql.customers)
        by = ["customer_id", "category_id"]
        pd.testing.assert_frame_equal(_sorted(pandas.categories, by), _sorted(sql.categories, by))
        assert pandas.as_of_day == sql.as_of_day
        pd.testing.assert_series_equal(features.mix_json(pandas), features.mix_json(sql))
    # The data set exercises what it claims to (local days and hours, returns, mixes).
    frame = features.customer_features(tenant=shop.tenant, as_of=AS_OF).customers
    owl = frame.loc[people["night_owl"].pk]
    assert owl["frequency"] == 4 and owl["night"] == 2 and owl["wd_mon"] == 3
    assert owl["recency_days"] == 0 and owl["days_since_contact"] == 0
    assert people["merged"].pk not in frame.index
    assert frame.loc[people["only_returns"].pk, "returns"] == 1


@pytest.mark.postgres
def test_portable_lifetime_value_summary_equals_the_postgresql_one(shop: Shop) -> None:
    _fill(shop)
    for as_of in (AS_OF, datetime.date(2026, 1, 2), datetime.date(2020, 1, 1)):
        sql = services._clv_purchase_days(tenant=shop.tenant, as_of=as_of)
        pandas = portable.clv_purchase_days_portable(tenant=shop.tenant, as_of=as_of)
        pd.testing.assert_frame_equal(pandas, sql)


@pytest.mark.postgres
def test_portable_materialisation_equals_the_postgresql_one(
    shop: Shop, world_a: TenantWorld
) -> None:
    _fill(shop)
    run = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED, run.error
    CustomerScore.objects.filter(tenant=shop.tenant, run=run).update(clv=Decimal("0.10"))
    segment = saved_segments.segment_create(
        tenant=shop.tenant,
        actor=world_a.owner,
        name="Alıcılar",
        rule={"match": "all", "conditions": [{"field": "feature", "name": "frequency", "min": 1}]},
        owner=world_a.owner,
    )
    sql = saved_segments.segment_materialise(tenant=shop.tenant, segment=segment, run=run)
    pandas = saved_segments._materialise_portable(tenant=shop.tenant, segment=segment, run=run)
    assert (pandas.size, pandas.total_clv) == (sql.size, sql.total_clv) == (4, Decimal("0.40"))

    def members(snapshot: SegmentSnapshot) -> set[int]:
        return set(
            SegmentMembership.objects.filter(tenant=shop.tenant, snapshot=snapshot).values_list(
                "customer_id", flat=True
            )
        )

    assert members(pandas) == members(sql)
    assert segment.last_size == 4 and segment.last_value == Decimal("0.40")


def test_a_whole_run_on_this_database(shop: Shop, world_a: TenantWorld) -> None:
    """features → RFM → CLV → clusters → offers → saved segments, on SQLite too."""
    from tests.segmentation.test_pipeline import Shop as PipelineShop
    from tests.segmentation.test_pipeline import _populate

    people = _fill(shop)
    _populate(PipelineShop(shop.tenant, shop.branch), 45)
    # Rules on scores need a finished run; the next run snapshots the segment.
    first = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert first.status == RunStatus.SUCCEEDED, first.error
    segment = saved_segments.segment_create(
        tenant=shop.tenant,
        actor=world_a.owner,
        name="Sadıklar",
        rule={
            "match": "any",
            "conditions": [
                {"field": "rfm_segment", "values": ["champions", "loyal", "potential_loyalists"]},
                {"field": "feature", "name": "weekend_share", "min": "0.5"},
            ],
        },
        owner=world_a.owner,
    )
    run = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert set(run.step_seconds) == {"features", "rfm", "clv", "clusters", "offers", "segments"}
    active = Customer.objects.filter(tenant=shop.tenant, merged_into__isnull=True).count()
    assert run.customer_count == active == 51
    scores = CustomerScore.objects.filter(tenant=shop.tenant, run=run)
    assert scores.count() == active
    assert run.parameters["clusters"]["k"] >= 2
    assert NextBestOffer.objects.filter(tenant=shop.tenant, run=run).exists()
    weekender = scores.get(customer=people["weekender"])
    assert weekender.frequency == 12 and weekender.weekend_share == Decimal("1.0000")
    assert weekender.features["weekdays"]["sat"] == 0.5
    returner = scores.get(customer=people["returner"])
    assert returner.monetary == Decimal("850.51") and returner.complaint_count == 2
    snapshot = SegmentSnapshot.objects.get(tenant=shop.tenant, segment=segment, run=run)
    members: Any = SegmentMembership.objects.filter(tenant=shop.tenant, snapshot=snapshot)
    assert snapshot.size == members.count() > 0
    values = scores.filter(customer_id__in=members.values("customer_id")).values_list(
        "clv", flat=True
    )
    assert snapshot.total_clv == sum((v or Decimal(0) for v in values), Decimal(0))


@pytest.mark.postgres
def test_portable_reads_equal_the_postgresql_ones_on_the_demo(db: None) -> None:
    """The demo `make run` shows (generated purchases over two years, duplicates,
    returns, consents) gives the same features and summary both ways."""
    from crm.demo import seed_demo

    tenant = seed_demo(customers=300, seed=7).tenant
    with tenant_context(tenant):
        for as_of in (timezone.localdate(), AS_OF):
            sql = features.customer_features(tenant=tenant, as_of=as_of)
            pandas = portable.customer_features_portable(tenant=tenant, as_of=as_of)
            assert sql.customers["frequency"].sum() > 300
            pd.testing.assert_frame_equal(pandas.customers, sql.customers)
            by = ["customer_id", "category_id"]
            pd.testing.assert_frame_equal(
                _sorted(pandas.categories, by), _sorted(sql.categories, by)
            )
            pd.testing.assert_frame_equal(
                portable.clv_purchase_days_portable(tenant=tenant, as_of=as_of),
                services._clv_purchase_days(tenant=tenant, as_of=as_of),
            )
