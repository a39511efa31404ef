"""Property: the SQL a rule compiles to selects exactly what a pandas reference selects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.tenancy import tenant_context
from customers.models import Complaint, Customer, Product, Purchase, PurchaseLine
from segmentation import rules
from segmentation.models import CustomerScore
from tests.conftest import TenantWorld
from tests.factories import ProductCategoryFactory, SegmentationRunFactory

TODAY = dt.date(2026, 6, 15)
RFM = ["loyal", "at_risk", "champions", "lost"]
TIERS = ["top", "high", "low", "none"]

customer_rows = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["person", "company"]),
            "age": st.one_of(st.none(), st.integers(18, 80)),
            "rfm": st.sampled_from(RFM),
            "tier": st.sampled_from(TIERS),
            "clv": st.one_of(st.none(), st.integers(0, 5000)),
            "recency": st.one_of(st.none(), st.integers(0, 400)),
            "bought": st.booleans(),
            "complaint": st.booleans(),
        }
    ),
    min_size=1,
    max_size=12,
)

leaf = st.one_of(
    st.builds(
        lambda v: {"field": "kind", "values": v},
        st.lists(st.sampled_from(["person", "company"]), min_size=1, unique=True),
    ),
    st.builds(
        lambda v: {"field": "rfm_segment", "values": v},
        st.lists(st.sampled_from(RFM), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda v: {"field": "value_tier", "values": v},
        st.lists(st.sampled_from(TIERS), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda a, b: {"field": "age", "min": min(a, b), "max": max(a, b)},
        st.integers(18, 80),
        st.integers(18, 80),
    ),
    st.builds(lambda a: {"field": "clv", "min": a}, st.integers(0, 5000)),
    st.builds(
        lambda a: {"field": "feature", "name": "recency_days", "max": a}, st.integers(0, 400)
    ),
    st.just({"field": "purchased_category", "category": "CAT"}),
    st.just({"field": "open_complaint"}),
)


def _negatable(node: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    return st.builds(lambda n, neg: {**n, "negate": neg}, node, st.booleans())


rule_trees = st.recursive(
    _negatable(leaf),
    lambda children: _negatable(
        st.builds(
            lambda m, c: {"match": m, "conditions": c},
            st.sampled_from(["all", "any"]),
            st.lists(children, max_size=3),
        )
    ),
    max_leaves=6,
).map(lambda n: n if "conditions" in n else {"match": "all", "conditions": [n]})


def _age(birth: dt.date | None) -> int | None:
    if birth is None:
        return None
    return TODAY.year - birth.year - ((TODAY.month, TODAY.day) < (birth.month, birth.day))


def _reference(df: pd.DataFrame, node: dict[str, Any]) -> pd.Series:
    if "field" in node:
        f = node["field"]
        if f == "kind":
            mask = df["kind"].isin(node["values"])
        elif f == "rfm_segment":
            mask = df["rfm"].isin(node["values"])
        elif f == "value_tier":
            mask = df["tier"].isin(node["values"])
        elif f == "age":
            mask = df["age"].notna() & df["age"].between(node["min"], node["max"])
        elif f == "clv":
            mask = df["clv"].notna() & (df["clv"] >= node["min"])
        elif f == "feature":
            mask = df["recency"].notna() & (df["recency"] <= node["max"])
        elif f == "purchased_category":
            mask = df["bought"]
        else:
            mask = df["complaint"]
    else:
        mask = pd.Series(node["match"] == "all", index=df.index)
        if node["match"] == "all":
            mask = pd.Series(True, index=df.index)
            for child in node["conditions"]:
                mask &= _reference(df, child)
        else:
            mask = pd.Series(not node["conditions"], index=df.index)
            for child in node["conditions"]:
                mask |= _reference(df, child)
    return ~mask if node.get("negate") else mask


def _with_category(node: dict[str, Any], category_id: int) -> dict[str, Any]:
    if "field" in node:
        return {**node, "category": category_id} if node["field"] == "purchased_category" else node
    return {**node, "conditions": [_with_category(c, category_id) for c in node["conditions"]]}


class _Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=customer_rows, rule=rule_trees)
def test_sql_matches_pandas(world_a: TenantWorld, rows: list[dict], rule: dict) -> None:
    tenant = world_a.tenant
    try:
        with tenant_context(tenant), transaction.atomic():
            run = SegmentationRunFactory.create(tenant=tenant, finished_at=dt.datetime.now(dt.UTC))
            category = ProductCategoryFactory.create(tenant=tenant)
            product = Product.objects.create(
                tenant=tenant, sku="P1", name="p", category=category, list_price=1
            )
            customers = Customer.objects.bulk_create(
                [
                    Customer(
                        tenant=tenant,
                        kind=r["kind"],
                        customer_number=str(i + 1),
                        first_name="A",
                        name_key=f"a{i}",
                        birth_date=(
                            TODAY.replace(year=TODAY.year - r["age"]) - dt.timedelta(days=i % 3)
                            if r["age"] is not None
                            else None
                        ),
                    )
                    for i, r in enumerate(rows)
                ]
            )
            CustomerScore.objects.bulk_create(
                [
                    CustomerScore(
                        tenant=tenant,
                        run=run,
                        customer=c,
                        rfm_segment=r["rfm"],
                        value_tier=r["tier"],
                        clv=Decimal(r["clv"]) if r["clv"] is not None else None,
                        recency_days=r["recency"],
                    )
                    for c, r in zip(customers, rows, strict=True)
                ]
            )
            for c, r in zip(customers, rows, strict=True):
                if r["bought"]:
                    p = Purchase.objects.create(
                        tenant=tenant,
                        customer=c,
                        purchased_at=dt.datetime.now(dt.UTC),
                        total_amount=1,
                    )
                    PurchaseLine.objects.create(
                        tenant=tenant,
                        purchase=p,
                        product=product,
                        unit_price=1,
                        line_total=1,
                    )
                if r["complaint"]:
                    Complaint.objects.create(
                        tenant=tenant, customer=c, subject="x", due_on=TODAY, status="open"
                    )
            df = pd.DataFrame(rows, index=[c.pk for c in customers])
            df["age"] = [_age(c.birth_date) for c in customers]
            compiled = _with_category(rule, category.pk)
            got = set(
                rules.compile_rule(tenant=tenant, rule=compiled, today=TODAY).values_list(
                    "pk", flat=True
                )
            )
            expected = set(df.index[_reference(df, compiled)])
            assert got == expected, compiled
            raise _Rollback
    except _Rollback:
        pass
