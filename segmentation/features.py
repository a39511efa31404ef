"""Per-customer features for a segmentation run, computed in bulk.

Every feature is a SQL aggregate that PostgreSQL computes over the tenant's
purchases, lines, interactions and complaints, in parallel where it can; Python only
receives one row per customer (or per customer and category/branch/touchpoint), read
with ``COPY`` into pandas, so memory grows with the number of customers and never
with the number of purchases.

On other databases (the embedded SQLite of ``make run``, a demo of a few thousand
customers) :mod:`segmentation.portable` reads the raw rows and computes the same
aggregates with pandas; both end in :func:`_finish`.

Conventions (the customer card and the segment builder rely on them):

* Days are calendar days in ``settings.TIME_ZONE`` relative to ``as_of``; purchases
  after ``as_of`` are ignored.
* ``frequency`` counts purchases (returns excluded); ``monetary`` is what they
  paid net of returns (a return's ``total_amount`` is the refunded amount, taken
  as positive whatever its sign).
* ``return_rate`` = returns / purchases; ``discount_share`` = discount / (paid +
  discount) over purchases.
* Hours: morning 06–12, afternoon 12–18, evening 18–24, night 00–06.
"""

from __future__ import annotations

import contextlib
import datetime
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection

from crm.models import Tenant
from customers.models import (
    Complaint,
    Customer,
    Interaction,
    Product,
    Purchase,
    PurchaseLine,
)

# Query results larger than this go to a temporary file while they are read.
SPOOL_BYTES = 64 * 1024 * 1024
_NULL = "\\N"
ONLINE_TOUCHPOINTS = ("ecommerce", "email")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class CustomerFeatures:
    """What the later steps read.

    ``customers``: one row per customer (index ``customer_id``, sorted) with the
    scalar features. ``categories``: one row per (customer, category) bought, with
    ``first_day``, ``last_day`` (dates as days since 1970-01-01), ``lines`` and
    ``amount``. ``as_of`` is the run's day as the same day number.
    """

    customers: pd.DataFrame
    categories: pd.DataFrame
    as_of_day: int


def rows_frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    """The frame :func:`_fetch` builds from these rows (same dtypes, same empty frame),
    so rows read another way give the very same features."""
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)


def _fetch(
    sql: str, params: list[Any], columns: list[str], *, dates: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Run ``sql`` as ``COPY (…) TO STDOUT`` and parse the CSV with pandas.

    Not a server-side cursor: PostgreSQL never plans a DECLAREd cursor in parallel,
    and these aggregates over millions of purchases are what parallel workers are
    for. The CSV is spooled to a temporary file as it arrives, so memory holds the
    frame, not the frame plus a Python tuple per row. ``dates`` are columns of
    calendar dates, returned as :class:`datetime.date` (``None`` when missing).
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buffer:
        with connection.cursor() as cursor:
            statement = f"COPY ({sql}) TO STDOUT (FORMAT csv, NULL '{_NULL}')"
            # The psycopg cursor under Django's wrapper; parameters are merged client-side.
            with cursor.cursor.copy(statement, params) as copy:
                for block in copy:
                    buffer.write(block)
        if not buffer.tell():
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
        buffer.seek(0)
        frame = pd.read_csv(
            buffer,
            header=None,
            names=columns,
            na_values=[_NULL],
            keep_default_na=False,
            # "t"/"f" are PostgreSQL's booleans in CSV.
            true_values=["t"],
            false_values=["f"],
        )
    for column in dates:
        stamps = pd.to_datetime(frame[column], format="%Y-%m-%d")
        frame[column] = stamps.dt.date.astype(object).where(stamps.notna(), None)
    return frame


def _day_number(day: datetime.date) -> int:
    return int(np.datetime64(day, "D").astype("int64"))


def _local(column: str) -> str:
    # Calendar days and hours as people in the tenant's country see them.
    return f"({column} AT TIME ZONE %s)"


def _utc_offsets(until: datetime.datetime) -> list[tuple[datetime.datetime, int]]:
    """``settings.TIME_ZONE``'s UTC offsets up to ``until``: (from this instant, seconds
    east of UTC), oldest first, the first one starting at 1970-01-01."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.TIME_ZONE)
    utc = datetime.UTC

    def offset(at: datetime.datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    start = datetime.datetime(1970, 1, 1, tzinfo=utc)
    periods = [(start, offset(start))]
    day = datetime.timedelta(days=1)
    at = start
    while at < until:
        following = at + day
        if offset(following) != periods[-1][1]:
            # Find the very second the offset changed (zones change on whole seconds).
            low, high = int(at.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if offset(datetime.datetime.fromtimestamp(middle, utc)) == periods[-1][1]:
                    low = middle
                else:
                    high = middle
            changed = datetime.datetime.fromtimestamp(high, utc)
            periods.append((changed, offset(changed)))
        at = following
    return periods


def local_seconds(column: str, until: datetime.datetime) -> str:
    """SQL for ``column`` (a timestamptz) as seconds since 1970-01-01 on the local
    wall clock, valid up to ``until``.

    Plain arithmetic on purpose: the aggregates below read the local day, hour and
    weekday in a dozen FILTER clauses each, and PostgreSQL re-evaluates the
    expression in every one (keeping it in a subquery fence would rule out a
    parallel plan). ``AT TIME ZONE`` there cost more than the scan itself; comparing
    with the zone's few transition instants, newest first, costs next to nothing.
    Built from our own zone data only (no user input).
    """
    periods = _utc_offsets(until)
    branches = " ".join(
        f"WHEN {column} >= TIMESTAMPTZ '{start.isoformat()}' THEN {seconds}"
        for start, seconds in reversed(periods[1:])
    )
    shift = f"CASE {branches} ELSE {periods[0][1]} END" if branches else str(periods[0][1])
    return f"(date_part('epoch', {column}) + {shift})"


def cents_sum(column: str, condition: str = "") -> str:
    """SQL summing a money column as whole kuruş (bigint).

    Summing ``numeric`` costs several times more than summing integers over millions
    of rows, and kuruş are exact: the frame divides by 100 (see ``_kurus``)."""
    where = f" FILTER (WHERE {condition})" if condition else ""
    return f"COALESCE(SUM(round({column} * 100)::bigint){where}, 0)"


def _kurus(frame: pd.DataFrame, *columns: str) -> None:
    """Money summed by :func:`cents_sum` back in lira, as float64: the very float
    PostgreSQL's numeric sum would have given (integer / 100 rounds once, exactly as
    reading the decimal text does)."""
    for column in columns:
        frame[column] = frame[column].astype("float64") / 100


def local_day(seconds: str) -> str:
    """Local calendar day as days since 1970-01-01, from :func:`local_seconds`."""
    return f"floor({seconds} / 86400)::int"


def local_hour(seconds: str) -> str:
    # mod of a mod: PostgreSQL's mod keeps the sign of a (pre-1970) negative.
    return f"mod(mod(floor({seconds} / 3600)::bigint, 24) + 24, 24)::int"


def local_isodow(seconds: str) -> str:
    """ISO weekday, Monday 1 … Sunday 7 (1970-01-01 was a Thursday)."""
    return f"(mod(mod(floor({seconds} / 86400)::bigint + 3, 7) + 7, 7) + 1)::int"


def _end_of(as_of: datetime.date) -> datetime.datetime:
    """The first instant after ``as_of`` in the project's time zone."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.TIME_ZONE)
    return datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time(), zone)


def _t(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@contextlib.contextmanager
def big_queries() -> Iterator[None]:
    """Session settings for a few large aggregates: enough memory for the hash
    aggregates to stay off disk, and no JIT (it costs seconds of compilation
    for queries that are read-bound anyway)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'; SET jit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET work_mem; RESET jit")


@contextlib.contextmanager
def planner_settings(**settings_: str) -> Iterator[None]:
    """PostgreSQL planner settings for the statements inside, reset afterwards."""
    with connection.cursor() as cursor:
        for name, value in settings_.items():
            # set_config, not SET: SET takes no bound parameter (server-side binding).
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in settings_:
                cursor.execute(f"RESET {name}")


def customer_features(*, tenant: Tenant, as_of: datetime.date) -> CustomerFeatures:
    """All features of every active (not merged-away) customer of ``tenant``."""
    if connection.vendor != "postgresql":
        from segmentation import portable

        return portable.customer_features_portable(tenant=tenant, as_of=as_of)
    tz = settings.TIME_ZONE
    end = _end_of(as_of)
    day0 = datetime.date(1970, 1, 1)
    purchase, line, product = _t(Purchase), _t(PurchaseLine), _t(Product)

    base = _fetch(
        f"SELECT c.id, c.birth_date, c.home_branch_id FROM {_t(Customer)} c"  # noqa: S608
        " WHERE c.tenant_id = %s AND c.merged_into_id IS NULL ORDER BY c.id",
        [tenant.pk],
        ["customer_id", "birth_date", "home_branch_id"],
        dates=("birth_date",),
    )
    base = base.set_index("customer_id")

    # One pass over purchases: counts, money, dates, habits.
    weekday_counts = ", ".join(
        f"COUNT(*) FILTER (WHERE NOT p.is_return AND p.dow = {n})" for n in range(1, 8)
    )
    seconds = local_seconds("q.purchased_at", end)
    purchases = _fetch(
        f"""
        SELECT p.customer_id,
               COUNT(*) FILTER (WHERE NOT p.is_return),
               COUNT(*) FILTER (WHERE p.is_return),
               {cents_sum("p.total_amount", "NOT p.is_return")},
               {cents_sum("ABS(p.total_amount)", "p.is_return")},
               {cents_sum("p.discount_amount", "NOT p.is_return")},
               MIN(p.day) FILTER (WHERE NOT p.is_return),
               MAX(p.day) FILTER (WHERE NOT p.is_return),
               COUNT(*) FILTER (WHERE NOT p.is_return AND p.hour >= 6 AND p.hour < 12),
               COUNT(*) FILTER (WHERE NOT p.is_return AND p.hour >= 12 AND p.hour < 18),
               COUNT(*) FILTER (WHERE NOT p.is_return AND p.hour >= 18),
               COUNT(*) FILTER (WHERE NOT p.is_return AND p.hour < 6),
               COUNT(*) FILTER (WHERE NOT p.is_return
                                AND p.touchpoint IN ('ecommerce', 'email')),
               {weekday_counts}
          FROM (
              SELECT q.customer_id, q.is_return, q.total_amount, q.discount_amount,
                     q.touchpoint, {local_day(seconds)} AS day,
                     {local_hour(seconds)} AS hour, {local_isodow(seconds)} AS dow
                FROM {purchase} q
               WHERE q.tenant_id = %s AND q.purchased_at < %s
          ) p
         GROUP BY p.customer_id
        """,  # noqa: S608
        [tenant.pk, end],
        [
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
        ],
    ).set_index("customer_id")
    _kurus(purchases, "paid", "refunded", "discount")

    # Branch and touchpoint mixes in one pass: (customer, branch, touchpoint) counts.
    places = _fetch(
        f"SELECT p.customer_id, p.branch_id, p.touchpoint, COUNT(*) FROM {purchase} p"  # noqa: S608
        " WHERE p.tenant_id = %s AND p.purchased_at < %s AND NOT p.is_return"
        " GROUP BY 1, 2, 3",
        [tenant.pk, end],
        ["customer_id", "branch_id", "touchpoint", "count"],
    )
    # First and last purchase instants per group, turned into local days once per
    # group rather than once per line. The lines' own copies of their receipt's
    # customer, time and return flag (customers 0009) spare a join with every purchase:
    # 26 s → 16 s at 20.5M lines.
    categories = _fetch(
        f"""
        SELECT l.customer_id, pr.category_id,
               {local_day(local_seconds("MIN(l.purchased_at)", end))},
               {local_day(local_seconds("MAX(l.purchased_at)", end))},
               COUNT(*), {cents_sum("l.line_total")}
          FROM {line} l
          JOIN {product} pr ON pr.id = l.product_id
         WHERE l.tenant_id = %s AND pr.tenant_id = %s
           AND l.purchased_at < %s AND NOT l.is_return AND pr.category_id IS NOT NULL
         GROUP BY 1, 2
        """,  # noqa: S608
        [tenant.pk, tenant.pk, end],
        ["customer_id", "category_id", "first_day", "last_day", "lines", "amount"],
    )
    _kurus(categories, "amount")
    # The latest contact per customer first, then its local day: one conversion
    # per customer rather than one per interaction.
    contacts = _fetch(
        f"SELECT i.customer_id, ({_local('MAX(i.occurred_at)')})::date - %s"  # noqa: S608
        f" FROM {_t(Interaction)} i WHERE i.tenant_id = %s AND i.occurred_at < %s"
        " GROUP BY 1",
        [tz, day0, tenant.pk, end],
        ["customer_id", "last_contact_day"],
    ).set_index("customer_id")
    complaints = _fetch(
        f"SELECT k.customer_id, COUNT(*) FROM {_t(Complaint)} k"  # noqa: S608
        " WHERE k.tenant_id = %s AND k.opened_at < %s GROUP BY 1",
        [tenant.pk, end],
        ["customer_id", "complaints"],
    ).set_index("customer_id")

    return _finish(base, purchases, places, categories, contacts, complaints, as_of)


def _finish(
    base: pd.DataFrame,
    purchases: pd.DataFrame,
    places: pd.DataFrame,
    categories: pd.DataFrame,
    contacts: pd.DataFrame,
    complaints: pd.DataFrame,
    as_of: datetime.date,
) -> CustomerFeatures:
    """The features from the per-customer aggregates, whoever computed them."""
    branches = (
        places.dropna(subset=["branch_id"])
        .groupby(["customer_id", "branch_id"], as_index=False)["count"]
        .sum()
    )
    touchpoints = places.groupby(["customer_id", "touchpoint"], as_index=False)["count"].sum()
    as_of_day = _day_number(as_of)
    frame = _assemble(base, purchases, contacts, complaints, as_of_day)
    _add_mix(frame, branches, "branch_id", "top_branch_id", "top_branch_share")
    _add_mix(frame, touchpoints, "touchpoint", "top_touchpoint", "top_touchpoint_share")
    _add_mix(frame, categories.rename(columns={"lines": "count"}), "category_id", "top_category_id")
    frame["top_touchpoint"] = frame["top_touchpoint"].fillna("")
    categories = categories[categories["customer_id"].isin(frame.index)].copy()
    for column in ("customer_id", "category_id", "first_day", "last_day", "lines"):
        categories[column] = categories[column].astype("int64")
    categories["amount"] = categories["amount"].astype("float64")
    return CustomerFeatures(
        customers=frame, categories=categories.reset_index(drop=True), as_of_day=as_of_day
    )


def _assemble(
    base: pd.DataFrame,
    purchases: pd.DataFrame,
    contacts: pd.DataFrame,
    complaints: pd.DataFrame,
    as_of_day: int,
) -> pd.DataFrame:
    frame = base.join(purchases, how="left").join(contacts, how="left").join(complaints, how="left")
    counts = [
        "frequency",
        "returns",
        "morning",
        "afternoon",
        "evening",
        "night",
        "online",
        "complaints",
        *(f"wd_{d}" for d in WEEKDAYS),
    ]
    for column in counts:
        frame[column] = frame[column].fillna(0).astype("int64")
    for column in ("paid", "refunded", "discount"):
        frame[column] = frame[column].fillna(0).astype("float64")
    frequency = frame["frequency"].to_numpy("float64")
    bought = frequency > 0
    safe = np.maximum(frequency, 1)
    frame["monetary"] = (frame["paid"] - frame["refunded"]).round(2)
    frame["recency_days"] = (as_of_day - frame["last_day"]).where(bought)
    frame["tenure_days"] = (as_of_day - frame["first_day"]).where(bought)
    frame["average_basket"] = (frame["paid"] / safe).where(bought).round(2)
    frame["return_rate"] = np.where(bought, frame["returns"] / safe, 0.0)
    gross = frame["paid"] + frame["discount"]
    frame["discount_share"] = np.where(gross > 0, frame["discount"] / gross.where(gross > 0), 0.0)
    for band in ("morning", "afternoon", "evening", "night"):
        frame[f"{band}_share"] = np.where(bought, frame[band] / safe, 0.0)
    frame["online_share"] = np.where(bought, frame["online"] / safe, 0.0)
    weekend = frame["wd_sat"] + frame["wd_sun"]
    frame["weekend_share"] = np.where(bought, weekend / safe, 0.0)
    frame["complaint_count"] = frame["complaints"]
    frame["days_since_contact"] = as_of_day - frame["last_contact_day"]
    frame.index.name = "customer_id"
    return frame.sort_index()


def _add_mix(
    frame: pd.DataFrame,
    counts: pd.DataFrame,
    key: str,
    top_column: str,
    share_column: str | None = None,
) -> None:
    """The most frequent ``key`` per customer (ties: smallest key) and its share."""
    if counts.empty:
        frame[top_column] = None
        if share_column:
            frame[share_column] = 0.0
        return
    ordered = counts.sort_values(["customer_id", "count", key], ascending=[True, False, True])
    top = ordered.drop_duplicates("customer_id").set_index("customer_id")
    frame[top_column] = top[key].reindex(frame.index)
    if share_column:
        totals = counts.groupby("customer_id")["count"].sum()
        share = (top["count"] / totals.reindex(top.index)).reindex(frame.index)
        frame[share_column] = share.fillna(0.0).astype("float64")


def mix_json(features: CustomerFeatures, *, top_categories: int = 3) -> pd.Series:
    """Per customer, the mixes the segment builder can filter on, as JSON text:
    ``{"categories": {id: share of lines}, "weekdays": {mon: share, ...},
    "hours": {morning: share, ...}, "online_share": x}`` (top categories only)."""
    frame = features.customers
    cats = features.categories
    # One text slot per rank, "" where the customer has no category of that rank;
    # later ranks carry their ", " so the slots simply follow each other.
    slots = [np.full(len(frame), "", dtype=object) for _ in range(top_categories)]
    if not cats.empty:
        owner = cats["customer_id"].to_numpy("int64")
        lines = cats["lines"].to_numpy("float64")
        category = cats["category_id"].to_numpy("int64")
        totals = pd.Series(lines).groupby(owner).transform("sum").to_numpy("float64")
        share = np.round(lines / totals, 3)
        # Per customer: largest share first, ties by category id (numpy's lexsort:
        # last key first).
        order = np.lexsort((category, -share, owner))
        owner, share, category = owner[order], share[order], category[order]
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        sizes = np.diff(np.r_[starts, len(owner)])
        position = np.arange(len(owner)) - np.repeat(starts, sizes)
        rows = np.searchsorted(frame.index.to_numpy("int64"), owner)
        for rank in range(top_categories):
            at = position == rank
            prefix = ", " if rank else ""
            pieces = [
                f'{prefix}"{c}": {v}'
                for c, v in zip(category[at].tolist(), share[at].astype(str).tolist(), strict=True)
            ]
            slots[rank][rows[at]] = pieces
    safe = np.maximum(frame["frequency"].to_numpy("float64"), 1)

    def shares(values: Any) -> list[str]:
        # numpy's float-to-text is the shortest repr, as Python's str() gives.
        return list(np.round(np.asarray(values, dtype="float64"), 3).astype(str).tolist())

    bands = ("morning", "afternoon", "evening", "night")
    template = (
        '{"categories": {'
        + "%s" * top_categories
        + '}, "weekdays": {'
        + ", ".join(f'"{d}": %s' for d in WEEKDAYS)
        + '}, "hours": {'
        + ", ".join(f'"{band}": %s' for band in bands)
        + '}, "online_share": %s}'
    )
    # One formatting call per customer over plain lists: a dozen vectorised string
    # concatenations of a million objects each cost several times more.
    columns = [
        *(slot.tolist() for slot in slots),
        *(shares(frame[f"wd_{d}"].to_numpy("float64") / safe) for d in WEEKDAYS),
        *(shares(frame[f"{band}_share"]) for band in bands),
        shares(frame["online_share"]),
    ]
    return pd.Series([template % row for row in zip(*columns, strict=True)], index=frame.index)
