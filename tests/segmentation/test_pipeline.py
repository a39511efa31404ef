"""The segmentation run on hand-made tenants: features, pipeline, failure, stability,
offers and KVKK profiling exclusion."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from django.db import models

from crm.models import Tenant
from crm.tenancy import tenant_context
from customers.models import (
    Complaint,
    Interaction,
    Product,
    ProductCategory,
    Purchase,
    PurchaseLine,
)
from segmentation import features, offers, services
from segmentation.models import (
    BehaviourCluster,
    CustomerScore,
    NextBestOffer,
    RunStatus,
    SegmentationRun,
)
from segmentation.selectors import current_run
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory

AS_OF = datetime.date(2026, 6, 30)
IST = ZoneInfo("Europe/Istanbul")


def _at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), IST)


class Shop:
    """A tenant with categories A, B, C, D and helpers to record purchases."""

    def __init__(self, tenant: Tenant, branch: Any) -> None:
        self.tenant = tenant
        self.branch = branch
        self.products: dict[str, Product] = {}
        self.categories: dict[str, ProductCategory] = {}
        for name in "ABCD":
            category = ProductCategory.objects.create(tenant=tenant, name=f"Kategori {name}")
            self.categories[name] = category
            self.products[name] = Product.objects.create(
                tenant=tenant, sku=f"SKU-{name}", name=name, category=category, list_price=100
            )

    def buy(
        self,
        customer: Any,
        day: datetime.date,
        categories: str,
        *,
        amount: str = "100.00",
        hour: int = 10,
        discount: str = "0",
        is_return: bool = False,
        touchpoint: str = "branch_visit",
    ) -> Purchase:
        purchase = Purchase.objects.create(
            tenant=self.tenant,
            customer=customer,
            branch=self.branch,
            touchpoint=touchpoint,
            purchased_at=_at(day, hour),
            total_amount=Decimal(amount),
            discount_amount=Decimal(discount),
            is_return=is_return,
        )
        for name in categories:
            PurchaseLine.objects.create(
                tenant=self.tenant,
                purchase=purchase,
                product=self.products[name],
                quantity=1,
                unit_price=Decimal(amount),
                line_total=Decimal(amount),
            )
        return purchase


@pytest.fixture
def shop(world_a: TenantWorld) -> Iterator[Shop]:
    with tenant_context(world_a.tenant):
        yield Shop(world_a.tenant, world_a.branch)


def test_features_on_hand_made_purchases(shop: Shop) -> None:
    anna = CustomerFactory.create(tenant=shop.tenant)
    never = CustomerFactory.create(tenant=shop.tenant)
    # Saturday 2026-06-27 evening, Monday 2026-06-01 morning with a discount, a return.
    shop.buy(anna, datetime.date(2026, 6, 27), "A", amount="300.00", hour=19)
    shop.buy(anna, datetime.date(2026, 6, 1), "AB", amount="100.00", hour=9, discount="100")
    shop.buy(anna, datetime.date(2026, 6, 2), "A", amount="50.00", is_return=True)
    # After as_of: ignored.
    shop.buy(anna, datetime.date(2026, 7, 2), "C", amount="999.00")
    Interaction.objects.create(
        tenant=shop.tenant,
        customer=anna,
        touchpoint="call_in",
        subject="x",
        occurred_at=_at(AS_OF - datetime.timedelta(days=5)),
    )
    Complaint.objects.create(
        tenant=shop.tenant, customer=anna, subject="late", due_on=AS_OF, opened_at=_at(AS_OF)
    )

    data = features.customer_features(tenant=shop.tenant, as_of=AS_OF)
    row = data.customers.loc[anna.pk]
    assert row["frequency"] == 2
    assert row["returns"] == 1
    assert row["monetary"] == pytest.approx(350.0)  # 300 + 100 - 50
    assert row["recency_days"] == 3
    assert row["tenure_days"] == 29
    assert row["average_basket"] == pytest.approx(200.0)
    assert row["return_rate"] == pytest.approx(0.5)
    assert row["discount_share"] == pytest.approx(100 / 500)
    assert row["weekend_share"] == pytest.approx(0.5)
    assert row["evening_share"] == pytest.approx(0.5)
    assert row["morning_share"] == pytest.approx(0.5)
    assert row["wd_mon"] == 1 and row["wd_sat"] == 1
    assert row["complaint_count"] == 1
    assert row["days_since_contact"] == 5
    assert row["top_category_id"] == shop.categories["A"].pk
    assert row["top_branch_id"] == shop.branch.pk
    cats = data.categories[data.categories["customer_id"] == anna.pk].set_index("category_id")
    assert set(cats.index) == {shop.categories["A"].pk, shop.categories["B"].pk}
    assert cats.loc[shop.categories["A"].pk, "lines"] == 2
    import json

    mixes = features.mix_json(data)
    mix = json.loads(mixes.loc[anna.pk])
    a, b = str(shop.categories["A"].pk), str(shop.categories["B"].pk)
    assert mix["categories"] == {a: 0.667, b: 0.333}
    assert mix["weekdays"]["sat"] == 0.5 and mix["hours"]["evening"] == 0.5
    assert json.loads(mixes.loc[never.pk])["categories"] == {}
    empty = data.customers.loc[never.pk]
    assert empty["frequency"] == 0 and pd.isna(empty["recency_days"])


def _populate(shop: Shop, count: int = 60) -> list[Any]:
    """Customers in three habits; most A buyers buy B within a month."""
    rng = np.random.default_rng(7)
    people = []
    for n in range(count):
        customer = CustomerFactory.create(tenant=shop.tenant)
        people.append(customer)
        habit = n % 3
        visits = 2 + n % 5
        for v in range(visits):
            day = AS_OF - datetime.timedelta(days=int(20 + 60 * v + rng.integers(0, 20)))
            if habit == 0:
                shop.buy(customer, day, "A" if v == visits - 1 else "C", hour=9, amount="80.00")
            elif habit == 1:
                shop.buy(customer, day, "D", hour=20, amount="900.00", discount="300")
            else:
                shop.buy(customer, day, "C", hour=14, amount="250.00", touchpoint="ecommerce")
        if habit == 0 and n % 2 == 0:
            # First A, then B 10 days later: A → B is the strong follow-on.
            first_a = AS_OF - datetime.timedelta(days=int(400 + n))
            shop.buy(customer, first_a, "A")
            shop.buy(customer, first_a + datetime.timedelta(days=10), "B")
    return people


def test_pipeline_end_to_end(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    people = _populate(shop)
    hidden = people[1]
    monkeypatch.setattr(
        "consent.profiling.profiling_excluded_customer_ids",
        lambda *, tenant: {hidden.pk},
    )
    run = services.segmentation_run(tenant=shop.tenant, trigger="command", as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert current_run(tenant=shop.tenant) == run
    assert set(run.step_seconds) == {"features", "rfm", "clv", "clusters", "offers", "segments"}
    assert run.customer_count == 60 and run.excluded_from_profiling == 1
    scores = CustomerScore.objects.filter(tenant=shop.tenant, run=run)
    assert scores.count() == 60
    params = run.parameters
    assert params["clusters"]["k"] >= 3 and -1 <= params["clusters"]["silhouette"] <= 1
    assert params["clv_state"] in {"fitted", "not_enough_data"}
    assert sum(params["rfm_counts"].values()) == 60
    assert "hit_rate_at_3" in params["offers"] and "baseline_hit_rate_at_3" in params["offers"]

    excluded = scores.get(customer=hidden)
    assert excluded.profiling_excluded and excluded.cluster_id is None
    assert not NextBestOffer.objects.filter(tenant=shop.tenant, run=run, customer=hidden).exists()
    assert scores.filter(profiling_excluded=False, cluster__isnull=False).count() == 59
    clusters = BehaviourCluster.objects.filter(tenant=shop.tenant, run=run)
    assert sum(c.size for c in clusters) == 59
    assert all(c.name for c in clusters)
    scored = scores.get(customer=people[0])
    assert scored.frequency > 0 and scored.rfm_segment != "no_purchases"
    assert scored.features["weekdays"] and "categories" in scored.features

    # Offers: never a category the customer has bought (so never a recent one);
    # an A-only buyer is offered B because of A.
    bought = {
        (p, c)
        for p, c in PurchaseLine.objects.filter(tenant=shop.tenant).values_list(
            "purchase__customer_id", "product__category_id"
        )
    }
    all_offers = list(NextBestOffer.objects.filter(tenant=shop.tenant, run=run))
    assert all_offers
    for offer in all_offers:
        assert (offer.customer_id, offer.category_id) not in bought
        assert 0 < offer.score <= 1
        assert offer.reason["window_days"] == offers.WINDOW_DAYS
    a_only = people[3]  # habit 0, odd: bought C and A, never B
    top = [o for o in all_offers if o.customer_id == a_only.pk]
    assert top and top[0].category_id == shop.categories["B"].pk
    assert top[0].reason["because_category_id"] == shop.categories["A"].pk


def test_failed_step_keeps_previous_run(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(shop, 30)
    good = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert good.status == RunStatus.SUCCEEDED

    def broken(state: Any) -> None:
        raise RuntimeError("disk full")

    steps = [(n, label, broken if n == "offers" else fn) for n, label, fn in services.CORE_STEPS]
    monkeypatch.setattr(services, "CORE_STEPS", steps)
    failed = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert failed.status == RunStatus.FAILED
    assert failed.failed_step == "offers" and "disk full" in failed.error
    assert current_run(tenant=shop.tenant) == good
    # The failed run's rows are gone; the good run's remain.
    assert not CustomerScore.objects.filter(tenant=shop.tenant, run=failed).exists()
    assert not BehaviourCluster.objects.filter(tenant=shop.tenant, run=failed).exists()
    assert CustomerScore.objects.filter(tenant=shop.tenant, run=good).count() == 30


def test_same_data_same_cluster_labels(shop: Shop) -> None:
    _populate(shop, 45)
    first = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    second = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert first.status == second.status == RunStatus.SUCCEEDED

    def labelled(run: SegmentationRun) -> dict[int, str]:
        return dict(
            CustomerScore.objects.filter(
                tenant=shop.tenant, run=run, cluster__isnull=False
            ).values_list("customer_id", "cluster__label")
        )

    assert labelled(first) == labelled(second)
    assert len(set(labelled(first).values())) >= 3


def test_after_run_steps_run_in_order(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(shop, 24)
    # The registry is the app's own (saved segments are registered in it): leave it so.
    monkeypatch.setattr(services, "_AFTER_RUN_STEPS", list(services._AFTER_RUN_STEPS))
    seen: list[tuple[str, int]] = []
    for name in ("first", "second"):
        services.register_after_run_step(
            name, name, lambda *, tenant, run, name=name: seen.append((name, run.pk))
        )
    run = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED
    assert seen == [("first", run.pk), ("second", run.pk)]
    assert {"segments", "first", "second"} <= set(run.step_seconds)


def test_old_runs_are_pruned(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(shop, 21)
    monkeypatch.setattr(services, "KEEP_RUNS", 2)
    runs = [services.segmentation_run(tenant=shop.tenant, as_of=AS_OF) for _ in range(3)]
    kept = set(SegmentationRun.objects.filter(tenant=shop.tenant).values_list("pk", flat=True))
    assert kept == {runs[1].pk, runs[2].pk}
    assert not CustomerScore.objects.filter(tenant=shop.tenant, run_id=runs[0].pk).exists()


def test_hit_rate_on_a_known_holdout() -> None:
    # Ten customers bought A long ago and then B 10 days later (the model learns
    # A → B); five more bought A before the cut and B in the holdout.
    rows = []
    as_of = 1000
    for c in range(10):
        rows += [(c, 1, 500, 500), (c, 2, 510, 510)]
    for c in range(10, 15):
        rows += [(c, 1, 930, 930), (c, 2, 960, 960)]
    for c in range(15, 20):  # popular C is everyone's baseline pick but nobody's next buy
        rows += [(c, 3, 100, 100)]
    for c in range(20, 40):
        rows += [(c, 3, 200, 200)]
    cats = pd.DataFrame(rows, columns=["customer_id", "category_id", "first_day", "last_day"])
    result = offers.evaluate(cats, as_of_day=as_of)
    assert result["customers"] == 5
    assert result["hit_rate_at_3"] == 1.0 and result["hit_rate_at_1"] == 1.0
    # The baseline's first pick is C (most popular), which none of them bought next.
    assert result["baseline_hit_rate_at_1"] == 0.0
    # Baseline offers C, then B (A is theirs): B is a hit too with three slots.
    assert result["baseline_hit_rate_at_3"] is not None


def test_lifetime_value_is_fitted_and_stored(world_a: TenantWorld) -> None:
    """Purchases drawn from the BG/NBD process: the run fits both models and stores
    p_alive, expected purchases, CLV and value tiers per customer."""
    from segmentation import clv

    rng = np.random.default_rng(3)
    n = 400
    sim = clv.bgnbd_simulate(n, r=0.5, alpha=3.0, a=0.8, b=2.5, T=rng.uniform(20, 60, n), seed=3)
    with tenant_context(world_a.tenant):
        shop = Shop(world_a.tenant, world_a.branch)
        customers = [CustomerFactory.create(tenant=world_a.tenant) for _ in range(n)]
        purchases = []
        # Gamma-Gamma spend: each customer's own scale ν ~ Gamma(q=4, rate=66).
        nu = rng.gamma(4.0, 1 / 66.0, n)
        for customer, row, scale in zip(customers, sim.itertuples(index=False), nu, strict=True):
            first = AS_OF - datetime.timedelta(days=round(row.T * 7))
            days = [0, *sorted(rng.uniform(0, row.recency * 7, int(row.frequency)).round())]
            if row.frequency:
                days[-1] = round(row.recency * 7)
            for day in days:
                purchases.append(
                    Purchase(
                        tenant=world_a.tenant,
                        customer=customer,
                        branch=world_a.branch,
                        touchpoint="branch_visit",
                        purchased_at=_at(first + datetime.timedelta(days=int(day))),
                        total_amount=Decimal(str(round(float(rng.gamma(6.0, 1 / scale)), 2))),
                    )
                )
        Purchase.objects.bulk_create(purchases)
        assert shop.products
        run = services.segmentation_run(tenant=world_a.tenant, as_of=AS_OF)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.parameters["clv_state"] == "fitted", run.parameters.get("clv_reason")
        assert {"r", "alpha", "a", "b", "ll"} <= set(run.parameters["bgnbd"])
        assert {"p", "q", "v"} <= set(run.parameters["gamma_gamma"])
        scores = CustomerScore.objects.filter(tenant=world_a.tenant, run=run)
        assert scores.filter(clv__isnull=False).count() == n
        p_alive = list(scores.values_list("p_alive", flat=True))
        assert all(0 <= p <= 1 for p in p_alive)
        # Stored with full precision, not rounded to two decimals.
        assert any(round(p, 2) != p for p in p_alive)
        tiers = dict(scores.values_list("value_tier").annotate(n=models.Count("pk")).order_by())
        assert set(tiers) == {"top", "high", "medium", "low"}
        assert tiers["top"] <= tiers["high"] <= tiers["medium"] <= tiers["low"]
        assert sum(r["customers"] for r in run.parameters["age_value"]) >= 0


def test_cluster_descriptions_name_the_distinguishing_features() -> None:
    from django.utils import translation

    from segmentation.behaviour import describe

    with translation.override("en"):
        name, text = describe(
            [
                {"feature": "weekend_share", "z": -1.2},
                {"feature": "morning_share", "z": 0.9},
                {"feature": "discount_share", "z": 0.7},
                {"branch_id": 4, "share": 0.6},
            ],
            branch_names={4: "Kadıköy"},
        )
    assert name == "Weekday shoppers, morning shoppers"
    assert text == (
        "Weekday shoppers, morning shoppers, heavy discount use, mostly branch Kadıköy."
    )


@pytest.mark.postgres
def test_a_second_run_of_the_same_tenant_is_refused_while_one_runs(shop: Shop) -> None:
    import psycopg
    from django.db import connection

    key = f"segmentation-run:{shop.tenant.pk}"
    # Another worker's session holds the tenant's run lock.
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        with pytest.raises(services.RunInProgress):
            services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
        other.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    assert services.segmentation_run(tenant=shop.tenant, as_of=AS_OF).status == RunStatus.SUCCEEDED


def test_without_advisory_locks_a_running_run_refuses_a_second(shop: Shop) -> None:
    """SQLite (the embedded default) has no advisory locks: a run under way, seen
    when the next one is created, refuses it."""
    from django.utils import timezone

    from tests.conftest import is_postgres

    _populate(shop, 12)
    busy = SegmentationRun.objects.create(tenant=shop.tenant, as_of=AS_OF)
    with pytest.raises(services.RunInProgress):
        services._refuse_while_running(shop.tenant)
    if not is_postgres():
        with pytest.raises(services.RunInProgress):
            services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    # A run whose worker died long ago no longer blocks the tenant.
    SegmentationRun.objects.filter(pk=busy.pk).update(
        started_at=timezone.now() - services.RUN_ABANDONED_AFTER - datetime.timedelta(minutes=1)
    )
    services._refuse_while_running(shop.tenant)
    run = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED, run.error


def test_a_run_ends_by_snapshotting_the_saved_segments(shop: Shop, world_a: TenantWorld) -> None:
    from segmentation.models import SegmentSnapshot
    from segmentation.saved_segments import segment_create

    _populate(shop, 30)
    everyone = segment_create(
        tenant=shop.tenant,
        actor=world_a.owner,
        name="Herkes",
        rule={"match": "all", "conditions": [{"field": "kind", "values": ["person"]}]},
        owner=world_a.owner,
    )
    run = services.segmentation_run(tenant=shop.tenant, as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED and "segments" in run.step_seconds
    snapshot = SegmentSnapshot.objects.get(tenant=shop.tenant, segment=everyone, run=run)
    assert snapshot.size == 30
