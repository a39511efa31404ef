"""The segmentation run's PostgreSQL-only reads, for any database Django supports.

The embedded default (``make run``, SQLite) holds a demo of a few thousand
customers, so these functions read the raw rows through the ORM and aggregate
them with pandas. They return exactly what the PostgreSQL statements in
:mod:`segmentation.features` and :mod:`segmentation.services` return for the same
data (same columns, dtypes and values), so every later step is shared; the tests
compare both on the same PostgreSQL data. They work on PostgreSQL too, but load
every purchase into memory: the run uses them only where the SQL cannot run.

Money is summed in whole kuruş (int64) and divided by 100 at the end: that gives
the same float as PostgreSQL's exact ``numeric`` sum, where summing floats would
differ in the last digits.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Count

from crm.models import Tenant
from customers.models import Complaint, Customer, Interaction, Purchase, PurchaseLine
from segmentation.features import (
    ONLINE_TOUCHPOINTS,
    WEEKDAYS,
    CustomerFeatures,
    _end_of,
    _finish,
    rows_frame,
)

EPOCH = pd.Timestamp("1970-01-01")


def _local(stamps: pd.Series) -> pd.Series:
    # Calendar days and hours as people in the tenant's country see them, like
    # PostgreSQL's AT TIME ZONE.
    return pd.to_datetime(stamps, utc=True).dt.tz_convert(settings.TIME_ZONE)


def _day_numbers(local: pd.Series) -> pd.Series:
    """Local calendar days as days since 1970-01-01 (int64)."""
    days = (local.dt.tz_localize(None).dt.normalize() - EPOCH).dt.days
    return days.astype("int64")


def _cents(amounts: pd.Series) -> pd.Series:
    return pd.Series(
        np.rint(amounts.to_numpy("float64") * 100).astype("int64"), index=amounts.index
    )


def _like_records(column: pd.Series) -> pd.Series:
    """Whole numbers without gaps as int64, as ``from_records`` infers them from
    PostgreSQL's integers (a column with NULLs stays float64)."""
    if len(column) and column.notna().all():
        return column.astype("int64")
    return column


def _purchase_rows(tenant: Tenant, end: datetime.datetime) -> pd.DataFrame:
    rows = (
        Purchase.objects.filter(tenant=tenant, purchased_at__lt=end)
        .order_by()
        .values_list(
            "customer_id",
            "is_return",
            "total_amount",
            "discount_amount",
            "touchpoint",
            "branch_id",
            "purchased_at",
        )
    )
    frame = rows_frame(
        list(rows),
        [
            "customer_id",
            "is_return",
            "total_amount",
            "discount_amount",
            "touchpoint",
            "branch_id",
            "purchased_at",
        ],
    )
    frame["is_return"] = frame["is_return"].astype(bool)
    return frame


def _purchase_aggregates(rows: pd.DataFrame) -> pd.DataFrame:
    """Per customer: what the PostgreSQL statement's one pass over purchases returns."""
    columns = [
        "customer_id",
        "frequency",
        "returns",
        "paid",
        "refunded",
        "discount",
        "first_day",
        "last_day",
        "morning",
        "afternoon",
        "evening",
        "night",
        "online",
        *(f"wd_{d}" for d in WEEKDAYS),
    ]
    if rows.empty:
        return rows_frame([], columns).set_index("customer_id")
    local = _local(rows["purchased_at"])
    day, hour, weekday = _day_numbers(local), local.dt.hour, local.dt.dayofweek + 1
    sale = ~rows["is_return"]
    total = _cents(rows["total_amount"])
    habits = pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "frequency": sale,
            "returns": ~sale,
            "paid": total.where(sale, 0),
            "refunded": total.abs().where(~sale, 0),
            "discount": _cents(rows["discount_amount"]).where(sale, 0),
            "first_day": day.where(sale),
            "last_day": day.where(sale),
            "morning": sale & (hour >= 6) & (hour < 12),
            "afternoon": sale & (hour >= 12) & (hour < 18),
            "evening": sale & (hour >= 18),
            "night": sale & (hour < 6),
            "online": sale & rows["touchpoint"].isin(ONLINE_TOUCHPOINTS),
            **{f"wd_{d}": sale & (weekday == n) for n, d in enumerate(WEEKDAYS, start=1)},
        }
    )
    how = {c: "sum" for c in columns[1:]}
    how.update(first_day="min", last_day="max")
    result = habits.groupby("customer_id").agg(how)
    for column in ("paid", "refunded", "discount"):
        result[column] = result[column] / 100
    for column in ("first_day", "last_day"):
        result[column] = _like_records(result[column])
    return result


def _places(rows: pd.DataFrame) -> pd.DataFrame:
    """(customer, branch, touchpoint) counts of purchases (returns excluded)."""
    columns = ["customer_id", "branch_id", "touchpoint", "count"]
    sales = rows[~rows["is_return"]]
    if sales.empty:
        return rows_frame([], columns)
    places = (
        sales.groupby(["customer_id", "branch_id", "touchpoint"], dropna=False)
        .size()
        .reset_index(name="count")
    )
    places["branch_id"] = _like_records(places["branch_id"])
    return places[columns]


def _categories(tenant: Tenant, end: datetime.datetime) -> pd.DataFrame:
    columns = ["customer_id", "category_id", "first_day", "last_day", "lines", "amount"]
    rows = (
        PurchaseLine.objects.filter(
            tenant=tenant,
            purchase__tenant=tenant,
            purchase__purchased_at__lt=end,
            purchase__is_return=False,
            product__tenant=tenant,
            product__category__isnull=False,
        )
        .order_by()
        .values_list(
            "purchase__customer_id",
            "product__category_id",
            "purchase__purchased_at",
            "line_total",
        )
    )
    lines = rows_frame(list(rows), ["customer_id", "category_id", "purchased_at", "line_total"])
    if lines.empty:
        return rows_frame([], columns)
    lines["day"] = _day_numbers(_local(lines["purchased_at"]))
    lines["cents"] = _cents(lines["line_total"])
    categories = lines.groupby(["customer_id", "category_id"], as_index=False).agg(
        first_day=("day", "min"),
        last_day=("day", "max"),
        lines=("day", "size"),
        amount=("cents", "sum"),
    )
    categories["amount"] = categories["amount"] / 100
    return categories[columns]


def _last_contacts(tenant: Tenant, end: datetime.datetime) -> pd.DataFrame:
    rows = (
        Interaction.objects.filter(tenant=tenant, occurred_at__lt=end)
        .order_by()
        .values_list("customer_id", "occurred_at")
    )
    contacts = rows_frame(list(rows), ["customer_id", "occurred_at"])
    if contacts.empty:
        return rows_frame([], ["customer_id", "last_contact_day"]).set_index("customer_id")
    contacts["last_contact_day"] = _day_numbers(_local(contacts["occurred_at"]))
    return contacts.groupby("customer_id")[["last_contact_day"]].max()


def customer_features_portable(*, tenant: Tenant, as_of: datetime.date) -> CustomerFeatures:
    """What :func:`segmentation.features.customer_features` returns, on any database."""
    end = _end_of(as_of)
    base = rows_frame(
        list(
            Customer.objects.filter(tenant=tenant, merged_into__isnull=True)
            .order_by("pk")
            .values_list("pk", "birth_date", "home_branch_id")
        ),
        ["customer_id", "birth_date", "home_branch_id"],
    ).set_index("customer_id")
    rows = _purchase_rows(tenant, end)
    complaints = rows_frame(
        list(
            Complaint.objects.filter(tenant=tenant, opened_at__lt=end)
            .order_by()
            .values("customer_id")
            .annotate(n=Count("pk"))
            .values_list("customer_id", "n")
        ),
        ["customer_id", "complaints"],
    ).set_index("customer_id")
    return _finish(
        base,
        _purchase_aggregates(rows),
        _places(rows),
        _categories(tenant, end),
        _last_contacts(tenant, end),
        complaints,
        as_of,
    )


def clv_purchase_days_portable(*, tenant: Tenant, as_of: datetime.date) -> pd.DataFrame:
    """Per customer (index, ascending): repeat purchase days (``frequency``), first and
    last purchase day, ``total`` spent and ``first_amount`` spent on the first day;
    what :func:`segmentation.services._clv_purchase_days` returns."""
    columns = ["customer_id", "frequency", "first_day", "last_day", "total", "first_amount"]
    rows = _purchase_rows(tenant, _end_of(as_of))
    sales = rows[~rows["is_return"]]
    if sales.empty:
        return rows_frame([], columns).set_index("customer_id")
    daily = (
        pd.DataFrame(
            {
                "customer_id": sales["customer_id"],
                "day": _day_numbers(_local(sales["purchased_at"])),
                "cents": _cents(sales["total_amount"]),
            }
        )
        .groupby(["customer_id", "day"], as_index=False)["cents"]
        .sum()
        .sort_values(["customer_id", "day"])
    )
    summary = daily.groupby("customer_id").agg(
        frequency=("day", "size"),
        first_day=("day", "min"),
        last_day=("day", "max"),
        total=("cents", "sum"),
        first_amount=("cents", "first"),
    )
    summary["frequency"] = summary["frequency"] - 1
    summary["total"] = summary["total"] / 100
    summary["first_amount"] = summary["first_amount"] / 100
    return summary
