"""The segmentation run: features → rfm → clv → clusters → offers → registered steps.

``segmentation_run`` is the only writer of runs, scores, clusters and offers. Call
it inside the tenant's scope (``crm.tenancy.tenant_context``); the Celery task and
the ``segment_run`` command do.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consent import profiling
from crm import bulk
from crm.models import Branch, Job, Tenant, User
from customers.models import Customer, ProductCategory
from segmentation import behaviour, clv, features, offers, partitions, portable, rfm
from segmentation.models import (
    BehaviourCluster,
    CustomerScore,
    NextBestOffer,
    RunStatus,
    RunTrigger,
    SegmentationRun,
    ValueTier,
)
from segmentation.selectors import current_run

logger = logging.getLogger(__name__)

# Runs whose rows are kept (older ones are deleted in bulk after a successful run).
KEEP_RUNS = 12
# Tenants this size or larger write each run into partitions of its own (PostgreSQL).
PARTITION_MIN_CUSTOMERS = partitions.PARTITION_MIN_CUSTOMERS
# Dropping a run's partitions locks the whole table for a moment: it waits for every
# query reading it (any tenant) and holds up the ones that come after. Rather than
# stall the screens behind a long query, give up after this long and leave the drop
# to the next run's pruning.
PARTITION_DROP_LOCK_TIMEOUT = "5s"
ProgressFn = Callable[[int, int, str], None]
AfterRunStep = Callable[..., Any]


@dataclass(frozen=True)
class _Registered:
    name: str
    label: Any
    fn: AfterRunStep


_AFTER_RUN_STEPS: list[_Registered] = []


def register_after_run_step(name: str, label: Any, fn: AfterRunStep) -> None:
    """Run ``fn(tenant=, run=)`` as a step of every run, after the offers, in the
    order registered (registering a name again replaces it). The run's scores,
    clusters and offers are written by then; the run becomes current only when
    every step succeeded."""
    for index, step in enumerate(_AFTER_RUN_STEPS):
        if step.name == name:
            _AFTER_RUN_STEPS[index] = _Registered(name, label, fn)
            return
    _AFTER_RUN_STEPS.append(_Registered(name, label, fn))


def unregister_after_run_step(name: str) -> None:
    _AFTER_RUN_STEPS[:] = [s for s in _AFTER_RUN_STEPS if s.name != name]


@dataclass
class _State:
    tenant: Tenant
    run: SegmentationRun
    excluded: set[int] = field(default_factory=set)
    data: features.CustomerFeatures | None = None
    scores: pd.DataFrame | None = None
    cluster_ids: dict[str, int] = field(default_factory=dict)

    @property
    def frame(self) -> pd.DataFrame:
        assert self.data is not None
        return self.data.customers


def _step_features(state: _State) -> None:
    state.data = features.customer_features(tenant=state.tenant, as_of=state.run.as_of)
    frame = state.frame
    excluded = profiling.profiling_excluded_customer_ids(tenant=state.tenant)
    state.excluded = {int(c) for c in excluded}
    frame["profiling_excluded"] = frame.index.isin(list(state.excluded))
    state.run.customer_count = len(frame)
    state.run.excluded_from_profiling = int(frame["profiling_excluded"].sum())
    state.run.profiled_count = state.run.customer_count - state.run.excluded_from_profiling


def _step_rfm(state: _State) -> None:
    frame = state.frame
    scored = rfm.rfm_scores(
        pd.DataFrame(
            {
                "customer_id": frame.index.to_numpy(),
                "recency_days": frame["recency_days"].to_numpy(),
                "frequency": frame["frequency"].to_numpy(),
                "monetary": frame["monetary"].to_numpy(),
            }
        )
    )
    for column in ("r_score", "f_score", "m_score"):
        frame[column] = scored[column].to_numpy()
    frame["rfm_segment"] = scored["segment"].to_numpy()
    counts = frame["rfm_segment"].value_counts()
    state.run.parameters["rfm_counts"] = {str(k): int(v) for k, v in counts.items()}


def _clv_purchase_days(*, tenant: Tenant, as_of: datetime.date) -> pd.DataFrame:
    """Per customer: repeat purchase days, first and last day, total and first day's
    spend, computed by PostgreSQL (elsewhere by :mod:`segmentation.portable`)."""
    if connection.vendor != "postgresql":
        return portable.clv_purchase_days_portable(tenant=tenant, as_of=as_of)
    purchase = connection.ops.quote_name(features.Purchase._meta.db_table)
    end = features._end_of(as_of)
    day = features.local_day(features.local_seconds("p.purchased_at", end))
    # Nearly every (customer, day) is a group of its own, so hashing them spills most
    # of the table to disk; sorting streams (36 s against 17 s at 10M purchases).
    with features.planner_settings(enable_hashagg="off"):
        days = features._fetch(
            f"""
            WITH d AS (
                SELECT p.customer_id, {day} AS day,
                       {features.cents_sum("p.total_amount")} AS amount
                  FROM {purchase} p
                 WHERE p.tenant_id = %s AND p.purchased_at < %s AND NOT p.is_return
                 GROUP BY 1, 2
            )
            SELECT customer_id, COUNT(*) - 1, MIN(day), MAX(day), SUM(amount),
                   (ARRAY_AGG(amount ORDER BY day))[1]
              FROM d GROUP BY 1
            """,  # noqa: S608
            [tenant.pk, end],
            ["customer_id", "frequency", "first_day", "last_day", "total", "first_amount"],
        )
    features._kurus(days, "total", "first_amount")
    return days.set_index("customer_id").sort_index()  # same order as the features


def _clv_summary(state: _State) -> pd.DataFrame:
    """BG/NBD summary (weeks) from purchase days."""
    summary = _clv_purchase_days(tenant=state.tenant, as_of=state.run.as_of)
    as_of_day = features._day_number(state.run.as_of)
    unit = 7.0
    repeats = summary["frequency"].astype("int64")
    repeat_total = summary["total"].astype("float64") - summary["first_amount"].astype("float64")
    return pd.DataFrame(
        {
            "frequency": repeats,
            "recency": (summary["last_day"] - summary["first_day"]) / unit,
            "T": (as_of_day - summary["first_day"]) / unit,
            "monetary_value": np.where(repeats > 0, repeat_total / np.maximum(repeats, 1), 0.0),
        },
        index=summary.index,
    )


def _step_clv(state: _State) -> None:
    frame = state.frame
    summary = _clv_summary(state)
    for column in ("p_alive", "expected_purchases_90", "expected_purchases_365", "clv"):
        frame[column] = np.nan
    frame["expected_average_value"] = np.nan
    try:
        bgnbd = clv.bgnbd_fit(summary)
        gg = clv.gamma_gamma_fit(summary)
    except clv.NotEnoughData as reason:
        state.run.parameters["clv_state"] = "not_enough_data"
        state.run.parameters["clv_reason"] = reason.message
        frame["value_tier"] = ValueTier.NONE.value
        return
    values = clv.customer_value(summary, bgnbd, gg).reindex(frame.index)
    frame["p_alive"] = values["p_alive"]
    frame["expected_purchases_90"] = values["expected_purchases_90"]
    frame["expected_purchases_365"] = values["expected_purchases_365"]
    frame["expected_average_value"] = values["expected_spend"]
    frame["clv"] = values["clv"]
    tiers = clv.value_tiers(frame["clv"])
    frame["value_tier"] = tiers.where(tiers != clv.ValueTier.UNKNOWN.value, ValueTier.NONE.value)
    state.run.parameters.update(
        {
            "clv_state": "fitted",
            "bgnbd": {k: _plain(v) for k, v in bgnbd.as_dict().items()},
            "gamma_gamma": {k: _plain(v) for k, v in gg.as_dict().items()},
            "value_tier_counts": {
                str(k): int(v) for k, v in frame["value_tier"].value_counts().items()
            },
        }
    )
    matrix = clv.age_value_matrix(
        pd.DataFrame(
            {
                "birth_date": frame["birth_date"],
                "tier": tiers,
                "clv": frame["clv"],
            }
        ),
        state.run.as_of,
    )
    state.run.parameters["age_value"] = [
        {
            "age_band": str(row.age_band),
            "tier": str(row.tier),
            "customers": int(row.customers),
            "clv_total": round(float(row.clv_total), 2),
        }
        for row in matrix.itertuples(index=False)
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return round(float(value), 6)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _previous_clusters(tenant: Tenant) -> list[dict[str, Any]]:
    previous = current_run(tenant=tenant)
    if previous is None:
        return []
    return list(
        BehaviourCluster.objects.filter(tenant=tenant, run=previous).values("label", "centroid")
    )


def _step_clusters(state: _State) -> None:
    frame = state.frame
    profiled = frame[~frame["profiling_excluded"]]
    result = behaviour.behaviour_clusters(profiled, previous=_previous_clusters(state.tenant))
    state.run.parameters["clusters"] = result.parameters
    branch_names = dict(Branch.objects.filter(tenant=state.tenant).values_list("pk", "name"))
    category_names = dict(
        ProductCategory.objects.filter(tenant=state.tenant).values_list("pk", "name")
    )
    rows = []
    for cluster in result.clusters:
        name, description = behaviour.describe(
            cluster["distinguishing"], branch_names=branch_names, category_names=category_names
        )
        rows.append(
            BehaviourCluster(
                tenant=state.tenant,
                run=state.run,
                label=cluster["label"],
                name=name[:200],
                description=description,
                size=cluster["size"],
                centroid=cluster["centroid"],
                distinguishing=cluster["distinguishing"],
            )
        )
    created = BehaviourCluster.objects.bulk_create(rows)
    state.cluster_ids = {c.label: int(c.pk) for c in created}
    labels = result.assignments.reindex(frame.index).fillna("")
    frame["cluster_id"] = labels.map(state.cluster_ids)
    _write_scores(state)


def _rounded(values: pd.Series, digits: int) -> np.ndarray:
    """Floats rounded to what the column keeps (NaN stays missing); written as they
    are (``float_format=None``), so 0.1234 goes in as "0.1234", never "0.12"."""
    numbers: np.ndarray = pd.to_numeric(values, errors="coerce").to_numpy("float64")
    return np.round(numbers, digits)


def _whole(values: pd.Series) -> pd.arrays.IntegerArray:
    """Whole numbers with missing values (pandas' nullable Int64), so a gap does not
    turn the column into floats that an integer column refuses ("12.0")."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy("float64")
    return pd.array(np.round(numbers), dtype="Float64").astype("Int64")


def _write_scores(state: _State) -> None:
    frame = state.frame
    assert state.data is not None
    n = len(frame)
    data = {
        "tenant_id": np.full(n, state.tenant.pk, dtype="int64"),
        "run_id": np.full(n, state.run.pk, dtype="int64"),
        "customer_id": frame.index.to_numpy("int64"),
        "recency_days": _whole(frame["recency_days"]),
        "frequency": frame["frequency"].astype("int64"),
        "monetary": _rounded(frame["monetary"], 2),
        "tenure_days": _whole(frame["tenure_days"]),
        "average_basket": _rounded(frame["average_basket"], 2),
        "return_rate": _rounded(frame["return_rate"], 4),
        "discount_share": _rounded(frame["discount_share"], 4),
        "complaint_count": frame["complaint_count"].astype("int64"),
        "days_since_contact": _whole(frame["days_since_contact"]),
        "top_category_id": _whole(frame["top_category_id"]),
        "top_branch_id": _whole(frame["top_branch_id"]),
        "top_touchpoint": frame["top_touchpoint"].astype(str),
        "weekend_share": _rounded(frame["weekend_share"], 4),
        "evening_share": _rounded(frame["evening_share"], 4),
        "features": features.mix_json(state.data),
        "r_score": _whole(frame["r_score"].where(frame["r_score"] > 0)),
        "f_score": _whole(frame["f_score"].where(frame["f_score"] > 0)),
        "m_score": _whole(frame["m_score"].where(frame["m_score"] > 0)),
        "rfm_segment": frame["rfm_segment"],
        "p_alive": _rounded(frame["p_alive"], 6),
        "expected_purchases_90": _rounded(frame["expected_purchases_90"], 6),
        "expected_purchases_365": _rounded(frame["expected_purchases_365"], 6),
        "expected_average_value": _rounded(frame["expected_average_value"], 2),
        "clv": _rounded(frame["clv"], 2),
        "value_tier": frame["value_tier"],
        "cluster_id": _whole(frame["cluster_id"]),
        "profiling_excluded": frame["profiling_excluded"],
    }
    table = pd.DataFrame(
        {k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in data.items()}
    )
    # Saved segments are materialised from these rows minutes later (last step of the
    # run); planned against statistics from before the load — an empty table — their
    # joins become nested loops over a million rows (ten minutes instead of seconds).
    # _load analyzes the rows' partition.
    _load(CustomerScore, table, state.run)


def _step_offers(state: _State) -> None:
    assert state.data is not None
    cats = state.data.categories
    if state.excluded:
        cats = cats[~cats["customer_id"].isin(list(state.excluded))]
    as_of_day = state.data.as_of_day
    # What a branch sells shapes what its customers buy next (measured on the demo
    # data: hit-rate@3 0.840 with home-branch shares, 0.803 without, popularity 0.810).
    groups = state.frame["home_branch_id"]
    model = offers.fit(cats, end_day=as_of_day, groups=groups)
    customers = np.unique(cats["customer_id"].to_numpy())
    chosen = offers.recommend(cats, model, customers, end_day=as_of_day, groups=groups)
    evaluation = offers.evaluate(cats, as_of_day=as_of_day, groups=groups)
    state.run.parameters["offers"] = {
        **evaluation,
        "offered_customers": int(chosen["customer_id"].nunique()),
    }
    if chosen.empty:
        return
    reason = (
        '{"because_category_id": '
        + chosen["because_category_id"].astype(str)
        + ', "share": '
        + chosen["score"].round(4).astype(str)
        + f', "window_days": {offers.WINDOW_DAYS}'
        + np.where(
            chosen["group"] != offers.NO_GROUP,
            ', "branch_id": ' + chosen["group"].astype(str),
            "",
        )
        + "}"
    )
    table = pd.DataFrame(
        {
            "tenant_id": state.tenant.pk,
            "run_id": state.run.pk,
            "customer_id": chosen["customer_id"].to_numpy("int64"),
            "category_id": chosen["category_id"].to_numpy("int64"),
            "rank": chosen["rank"].to_numpy("int64"),
            "score": _rounded(chosen["score"], 6),
            "reason": reason.to_numpy(),
        }
    )
    _load(NextBestOffer, table, state.run)


def _load(
    model: type[CustomerScore | NextBestOffer], table: pd.DataFrame, run: SegmentationRun
) -> None:
    """Write a run's rows of a partitioned table and refresh the statistics of the
    partition they went to (never the whole table: ANALYZE samples every partition).

    A run with its own partitions (see :mod:`segmentation.partitions`) loads a new
    table and attaches it, in one transaction: readers see all of the run's rows or
    none, and a failure leaves no table behind."""
    db_table = model._meta.db_table
    if not partitions.has_own_partitions(run.pk):
        with transaction.atomic():
            bulk.load_frame(model, table, float_format=None)
        if connection.vendor == "postgresql":
            partitions.analyze_default_partition(db_table)
            partitions.analyze_table_once(db_table)
        return
    with transaction.atomic():
        part = partitions.create_run_partition(db_table, run.pk)
        bulk.load_frame(model, table, float_format=None, table=part, fresh_table=True)
        partitions.attach_run_partition(db_table, run.pk)
    partitions.analyze_table_once(db_table)


CORE_STEPS: list[tuple[str, Any, Callable[[_State], None]]] = [
    ("features", gettext_lazy("Computing customer features"), _step_features),
    ("rfm", gettext_lazy("Scoring recency, frequency and monetary value"), _step_rfm),
    ("clv", gettext_lazy("Estimating lifetime value"), _step_clv),
    ("clusters", gettext_lazy("Finding behaviour clusters"), _step_clusters),
    ("offers", gettext_lazy("Choosing next best offers"), _step_offers),
]


def _delete_rows(run_ids: list[int]) -> None:
    """Delete the runs' rows: drop the partitions of runs that have their own, delete
    the others' rows with one statement per table (no cascade walk in Python)."""
    if not run_ids:
        return
    own = [pk for pk in run_ids if partitions.has_own_partitions(pk)]
    shared = [pk for pk in run_ids if pk not in own]
    with transaction.atomic(), _lock_timeout(PARTITION_DROP_LOCK_TIMEOUT if own else None):
        for model in (NextBestOffer, CustomerScore):
            if own:
                partitions.drop_run_partitions(model._meta.db_table, own)
            if shared:
                model.objects.filter(run_id__in=shared)._raw_delete(model.objects.db)
        BehaviourCluster.objects.filter(run_id__in=run_ids)._raw_delete(BehaviourCluster.objects.db)


@contextlib.contextmanager
def _lock_timeout(timeout: str | None) -> Iterator[None]:
    """``lock_timeout`` for the statements inside (call in a transaction; PostgreSQL).
    On an error the savepoint's rollback restores the previous value."""
    if timeout is None or connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [timeout],
        )
        previous = cursor.fetchone()[0]
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _is_lock_timeout(error: OperationalError) -> bool:
    return isinstance(error.__cause__, psycopg.errors.LockNotAvailable)


@contextlib.contextmanager
def _unless_table_busy(run_ids: list[int], what: str) -> Iterator[None]:
    """Let a lock timeout from dropping the runs' partitions end the block quietly:
    the rows stay where they are and the runs beyond KEEP_RUNS, so the next run's
    pruning takes them. Other errors pass."""
    try:
        yield
    except OperationalError as error:
        if not _is_lock_timeout(error):
            raise
        logger.warning("segmentation runs %s: %s left for later, table busy", run_ids, what)


def _prune(tenant: Tenant) -> None:
    old = list(
        SegmentationRun.objects.filter(tenant=tenant)
        .order_by("-started_at", "-id")
        .values_list("pk", flat=True)[KEEP_RUNS:]
    )
    if old:
        with _unless_table_busy(old, "pruning"), transaction.atomic():
            _delete_rows(old)
            SegmentationRun.objects.filter(tenant=tenant, pk__in=old).delete()


def segmentation_run(
    *,
    tenant: Tenant,
    trigger: str = RunTrigger.MANUAL,
    actor: User | None = None,
    job: Job | None = None,
    progress: ProgressFn | None = None,
    as_of: datetime.date | None = None,
) -> SegmentationRun:
    """Run every step and return the run: ``succeeded`` (now the current run) or
    ``failed`` with ``failed_step`` and ``error`` (its rows deleted; the previous
    succeeded run stays current). Nothing is raised for a failed step.

    Raises :class:`RunInProgress` when another run of the tenant is under way (the
    nightly run and one started by hand must not write the same tenant at once).
    """
    with _tenant_run_lock(tenant):
        return _segmentation_run(
            tenant=tenant, trigger=trigger, actor=actor, job=job, progress=progress, as_of=as_of
        )


class RunInProgress(RuntimeError):
    """Another segmentation run of the tenant holds the run lock."""


@contextlib.contextmanager
def _tenant_run_lock(tenant: Tenant) -> Iterator[None]:
    """A session-level PostgreSQL advisory lock per tenant for the whole run (its steps
    commit separately, so a transaction-level lock would not cover it). Other
    databases have no such lock: there the run is refused when it is created, see
    :func:`_refuse_while_running`."""
    if connection.vendor != "postgresql":
        yield
        return
    key = f"segmentation-run:{tenant.pk}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        if not cursor.fetchone()[0]:
            raise RunInProgress(str(tenant.pk))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


# A run still "running" after this long was cut off (its worker stopped) and no
# longer keeps the tenant from starting another one.
RUN_ABANDONED_AFTER = datetime.timedelta(hours=2)


def _refuse_while_running(tenant: Tenant) -> None:
    """Raise :class:`RunInProgress` if the tenant has a run under way (not PostgreSQL).

    Called in the transaction that creates the new run. SQLite's transactions here
    are IMMEDIATE (settings), so they take the database's write lock at once: two
    processes cannot both see no running run and then both create one."""
    since = timezone.now() - RUN_ABANDONED_AFTER
    if SegmentationRun.objects.filter(
        tenant=tenant, status=RunStatus.RUNNING, started_at__gte=since
    ).exists():
        raise RunInProgress(str(tenant.pk))


def _segmentation_run(
    *,
    tenant: Tenant,
    trigger: str,
    actor: User | None,
    job: Job | None,
    progress: ProgressFn | None,
    as_of: datetime.date | None,
) -> SegmentationRun:
    with transaction.atomic():
        if connection.vendor != "postgresql":
            _refuse_while_running(tenant)
        own_id = (
            {"pk": partitions.next_own_partition_run_id()} if _wants_own_partitions(tenant) else {}
        )
        run = SegmentationRun.objects.create(
            **own_id,
            tenant=tenant,
            trigger=trigger,
            job=job,
            started_by=actor,
            as_of=as_of or timezone.localdate(),
        )
    state = _State(tenant=tenant, run=run)
    steps: list[tuple[str, Any, Callable[[_State], None]]] = list(CORE_STEPS)
    for registered in list(_AFTER_RUN_STEPS):
        steps.append((registered.name, registered.label, _after(registered.fn)))
    total = len(steps)
    with features.big_queries():
        failed = _run_steps(state, steps, progress)
    if failed:
        return run
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    if progress is not None:
        progress(total, total, _("Finished"))
    _prune(tenant)
    return run


def _wants_own_partitions(tenant: Tenant) -> bool:
    """Whether the tenant's new run gets partitions of its own (large tenants on
    PostgreSQL). Decided per run: a tenant that grows or shrinks past the threshold
    switches at its next run, and each run is pruned the way it was written."""
    if connection.vendor != "postgresql":
        return False
    return bool(Customer.objects.filter(tenant=tenant).count() >= PARTITION_MIN_CUSTOMERS)


def _run_steps(
    state: _State,
    steps: list[tuple[str, Any, Callable[[_State], None]]],
    progress: ProgressFn | None,
) -> bool:
    """Run the steps in order; on a failure mark the run failed and return True."""
    run = state.run
    total = len(steps)
    for index, (name, label, fn) in enumerate(steps):
        if progress is not None:
            progress(index, total, str(label))
        started = time.perf_counter()
        try:
            # A savepoint per step: a database error rolls back the step's own
            # writes and leaves the connection usable for the clean-up below.
            with transaction.atomic():
                fn(state)
        except Exception as error:
            logger.exception("segmentation run %s failed in step %s", run.pk, name)
            with _unless_table_busy([run.pk], "clean-up"):
                _delete_rows([run.pk])
            run.status = RunStatus.FAILED
            run.failed_step = name
            run.error = f"{type(error).__name__}: {error}"[:2000]
            run.finished_at = timezone.now()
            run.save()
            return True
        run.step_seconds[name] = round(time.perf_counter() - started, 3)
        SegmentationRun.objects.filter(pk=run.pk).update(
            step_seconds=run.step_seconds,
            customer_count=run.customer_count,
            profiled_count=run.profiled_count,
            excluded_from_profiling=run.excluded_from_profiling,
        )
    return False


def _after(fn: AfterRunStep) -> Callable[[_State], None]:
    def step(state: _State) -> None:
        fn(tenant=state.tenant, run=state.run)

    return step


def segmentation_delete_run_rows(*, tenant: Tenant) -> None:
    """Delete the scores, offers and clusters of every run of the tenant, dropping the
    partitions of runs that have their own; the runs themselves stay. For tearing a
    tenant down (the reference tenant builder) before its rows are deleted table by
    table, where a DELETE would leave the runs' partitions behind, empty."""
    _delete_rows(list(SegmentationRun.objects.filter(tenant=tenant).values_list("pk", flat=True)))


def segmentation_forget_customers(*, tenant: Tenant, customer_ids: list[int]) -> int:
    """Delete every run's scores, offers and segment memberships of these customers
    (KVKK erasure; a snapshot's size and value stay as they were counted)."""
    deleted = CustomerScore.objects.filter(tenant=tenant, customer_id__in=customer_ids).delete()
    offers_deleted = NextBestOffer.objects.filter(
        tenant=tenant, customer_id__in=customer_ids
    ).delete()
    from segmentation.segment_models import SegmentMembership

    memberships = SegmentMembership.objects.filter(
        tenant=tenant, customer_id__in=customer_ids
    ).delete()
    return deleted[0] + offers_deleted[0] + memberships[0]
