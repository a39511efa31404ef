"""Customer lifetime value: BG/NBD for the number of purchases, Gamma-Gamma for spend.

Pure and vectorised (pandas/numpy/scipy, no Django models). The segmentation run
calls these functions per tenant; ``manage.py clv_eval`` checks them on any
transaction file. Both models are fitted by maximum likelihood here (the
unmaintained ``lifetimes`` package is used only as the source of the CDNOW test
data), and reproduce the published CDNOW estimates
(tests/segmentation/test_clv_cdnow.py).

References
- Fader, Hardie & Lee (2005), "Counting Your Customers" the Easy Way: An
  Alternative to the Pareto/NBD Model. Marketing Science 24(2) — BG/NBD.
- Fader, Hardie & Lee (2005), RFM and CLV: Using Iso-Value Curves for Customer
  Base Analysis. Journal of Marketing Research 42(4) — Gamma-Gamma spend model.
- Fader & Hardie (2013), The Gamma-Gamma Model of Monetary Value (note).

Conventions (as in the papers): purchases on the same day are one purchase (their
amounts added); ``frequency`` is the number of repeat purchase days (all days
after the first); ``recency`` is the time from the first to the last purchase;
``T`` the time from the first purchase to the end of the period; time in weeks
by default; ``monetary_value`` is the mean value of the repeat purchases (0 when
there are none), because the first purchase is often different in kind.

Use in the segmentation run::

    summary = summary_from_transactions(tx, customer_col=..., date_col=...,
                                        amount_col=..., observation_end=today)
    try:
        bgnbd = bgnbd_fit(summary)         # on a 200k sample above MAX_FIT_CUSTOMERS
        gg = gamma_gamma_fit(summary)
    except NotEnoughData as reason:        # store reason.code + reason.params;
        ...                                # NotEnoughData(code, **params).message
    value = customer_value(summary, bgnbd, gg)   # p_alive, expected_*, clv
    tiers = value_tiers(value["clv"])
    matrix = age_value_matrix(people_with_birth_date_tier_clv, as_of=today)

``summary`` may equally be built in SQL: one row per customer with the four
columns above, in weeks, index = customer id.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db import models
from django.utils.translation import gettext_lazy as _
from scipy import optimize, special

__all__ = [
    "LOG_BOUND",
    "MAX_FIT_CUSTOMERS",
    "MIN_CUSTOMERS",
    "MIN_REPEAT_BUYERS",
    "TIME_UNIT_DAYS",
    "VALUE_TIER_CUTS",
    "AgeBand",
    "BgNbdFit",
    "GammaGammaFit",
    "HoldoutEvaluation",
    "NotEnoughData",
    "ValueTier",
    "age_value_matrix",
    "bgnbd_conditional_expected_purchases",
    "bgnbd_expected_purchases",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "bgnbd_probability_alive",
    "bgnbd_simulate",
    "customer_value",
    "evaluate_holdout",
    "gamma_gamma_conditional_expected_spend",
    "gamma_gamma_fit",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_simulate",
    "summary_from_transactions",
    "summary_with_holdout",
    "value_tiers",
]

# Days in one unit of model time.
TIME_UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}

# Below these the fit describes noise, not customers: the caller gets NotEnoughData.
MIN_CUSTOMERS = 100
MIN_REPEAT_BUYERS = 30

# Parameters are searched in [1e-4, 1e4] (log scale), the scale parameters α and
# γ relative to the data (mean T, mean repeat spend), so the range does not depend
# on the time unit or currency. A fit that ends on the edge has found no interior
# maximum: e.g. every repeat buyer stopped after one repeat purchase (a/b runs
# off), or all purchases have the same value. Published fits on real bases
# (CDNOW: r 0.24, α/mean T 0.14, a 0.79, b 2.4) sit far inside.
LOG_BOUND = math.log(1e4)
_AT_BOUND = 1e-3


def _unit_days(time_unit: str) -> float:
    try:
        return TIME_UNIT_DAYS[time_unit]
    except KeyError:
        raise ValueError(
            f"time_unit must be one of {', '.join(TIME_UNIT_DAYS)}, not {time_unit!r}"
        ) from None


# --- Not enough data ---------------------------------------------------------------


_REASONS: dict[str, Any] = {
    "too_few_customers": _(
        "Only %(count)d customers have purchases; lifetime value needs at least %(minimum)d."
    ),
    "too_few_repeat_buyers": _(
        "Only %(count)d customers have bought more than once; lifetime value needs at least "
        "%(minimum)d. It will be calculated once more customers have come back."
    ),
    "not_converged": _(
        "The %(model)s model could not be fitted to this purchase history "
        "(the optimiser did not converge)."
    ),
    "spend_undefined": _(
        "The spend model found no stable average purchase value for this history "
        "(purchase values vary too much between customers)."
    ),
    "at_bounds": _(
        "The %(model)s model has no reliable estimate for this purchase history "
        "(a parameter ran to the edge of its range; usually the history is too short "
        "or too uniform)."
    ),
}


class NotEnoughData(Exception):
    """The history does not support a fit; ``message`` says why in the user's language.

    ``code`` and ``params`` are stable, so a run can store them and show the
    reason later in whichever language the reader uses (``message`` is
    translated when read).
    """

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(code)

    @property
    def message(self) -> str:
        # str() of the lazy text translates it into the active language.
        return str(_REASONS[self.code]) % self.params

    def __str__(self) -> str:
        return self.message


# --- Summaries from transactions -------------------------------------------------


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Dates (datetime64, date objects, ISO 8601 text) as int64 days since 1970-01-01.

    Aware timestamps count by their local calendar day. Raises ValueError on text
    that is not a date and on missing dates.
    """
    stamps = values if pd.api.types.is_datetime64_any_dtype(values) else None
    if stamps is None:
        stamps = pd.to_datetime(values, errors="raise", format="ISO8601")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    if stamps.isna().any():
        raise ValueError(f"missing date in row {int(np.flatnonzero(stamps.isna())[0])}")
    days: np.ndarray = stamps.to_numpy(dtype="datetime64[D]").astype("int64")
    return days


def _as_day(value: datetime.date | str | pd.Timestamp) -> int:
    stamp = pd.Timestamp(value)
    return int(np.datetime64(stamp.date(), "D").astype("int64"))


@dataclass(frozen=True)
class _PurchaseDays:
    """One entry per (customer, day) with the day's total, sorted by customer then day.

    ``code`` indexes ``customers`` (sorted ids). Plain arrays rather than a
    groupby on two keys: ten million transactions summarise in seconds.
    """

    customers: pd.Index
    code: np.ndarray
    day: np.ndarray
    amount: np.ndarray


def _purchase_days(
    tx: pd.DataFrame, *, customer_col: str, date_col: str, amount_col: str
) -> _PurchaseDays:
    missing = [c for c in (customer_col, date_col, amount_col) if c not in tx.columns]
    if missing:
        raise KeyError(", ".join(missing))
    if tx[customer_col].isna().any():
        raise ValueError("missing customer id")
    day = _day_numbers(tx[date_col])
    amount = pd.to_numeric(tx[amount_col], errors="raise").astype("float64").to_numpy()
    if np.isnan(amount).any():
        raise ValueError(f"missing amount in row {int(np.flatnonzero(np.isnan(amount))[0])}")
    codes, customers = pd.factorize(tx[customer_col], sort=True)
    if len(day) == 0:
        return _PurchaseDays(pd.Index(customers), codes, day, amount)
    first_day = int(day.min())
    span = int(day.max()) - first_day + 1
    key = codes.astype("int64") * span + (day - first_day)
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    unique_key = key[starts]
    return _PurchaseDays(
        customers=pd.Index(customers),
        code=unique_key // span,
        day=unique_key % span + first_day,
        amount=np.add.reduceat(amount[order], starts),
    )


def _summarise(days: _PurchaseDays, end_day: int, unit: float) -> pd.DataFrame:
    """Summary of the purchase days up to and including ``end_day``."""
    keep = days.day <= end_day
    code, day, amount = days.code[keep], days.day[keep], days.amount[keep]
    if len(code) == 0:
        empty = pd.DataFrame(
            {
                "frequency": pd.Series(dtype="int64"),
                "recency": pd.Series(dtype="float64"),
                "T": pd.Series(dtype="float64"),
                "monetary_value": pd.Series(dtype="float64"),
            }
        )
        empty.index.name = "customer_id"
        return empty
    # Entries are sorted by customer, then day: each customer's run starts
    # with their first purchase day and ends with their last.
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.r_[starts[1:], len(code)] - 1
    count = ends - starts + 1
    repeats = count - 1
    total = np.add.reduceat(amount, starts)
    repeat_total = total - amount[starts]
    monetary = np.where(repeats > 0, repeat_total / np.maximum(repeats, 1), 0.0)
    summary = pd.DataFrame(
        {
            "frequency": repeats.astype("int64"),
            "recency": (day[ends] - day[starts]) / unit,
            "T": (end_day - day[starts]) / unit,
            "monetary_value": monetary,
        },
        index=days.customers[code[starts]],
    )
    summary.index.name = "customer_id"
    return summary


def summary_from_transactions(
    tx: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str,
    observation_end: datetime.date | str | pd.Timestamp,
    calibration_end: datetime.date | str | pd.Timestamp | None = None,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Per customer ``frequency, recency, T, monetary_value`` (index: customer id).

    Transactions after ``observation_end`` are ignored. With ``calibration_end``
    the summary describes the calibration period only (customers whose first
    purchase is on or before it, T measured to it) and gets the holdout columns
    of :func:`summary_with_holdout`. Raises KeyError naming missing columns and
    ValueError for unreadable dates or amounts.
    """
    if calibration_end is not None:
        return summary_with_holdout(
            tx,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            calibration_end=calibration_end,
            observation_end=observation_end,
            time_unit=time_unit,
        )
    unit = _unit_days(time_unit)
    end_day = _as_day(observation_end)
    days = _purchase_days(tx, customer_col=customer_col, date_col=date_col, amount_col=amount_col)
    return _summarise(days, end_day, unit)


def summary_with_holdout(
    tx: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str,
    calibration_end: datetime.date | str | pd.Timestamp,
    observation_end: datetime.date | str | pd.Timestamp,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Calibration summary plus what each customer did in the holdout period.

    Columns: ``frequency, recency, T, monetary_value`` for the calibration
    period (up to and including ``calibration_end``), then
    ``frequency_holdout`` (purchase days after ``calibration_end`` up to and
    including ``observation_end``), ``monetary_value_holdout`` (their mean
    value, 0 if none) and ``duration_holdout`` (holdout length in time units).
    Only customers who bought in the calibration period are included.
    """
    unit = _unit_days(time_unit)
    cal_day = _as_day(calibration_end)
    end_day = _as_day(observation_end)
    if end_day <= cal_day:
        raise ValueError("observation_end must be after calibration_end")
    days = _purchase_days(tx, customer_col=customer_col, date_col=date_col, amount_col=amount_col)
    summary = _summarise(days, cal_day, unit)
    in_holdout = (days.day > cal_day) & (days.day <= end_day)
    n_codes = len(days.customers)
    count_by_code = np.bincount(days.code[in_holdout], minlength=n_codes)
    amount_by_code = np.bincount(
        days.code[in_holdout], weights=days.amount[in_holdout], minlength=n_codes
    )
    # Only customers who bought in the calibration period are in the summary.
    positions = days.customers.get_indexer(summary.index)
    count = count_by_code[positions]
    amount = amount_by_code[positions]
    summary["frequency_holdout"] = count.astype("int64")
    summary["monetary_value_holdout"] = np.where(count > 0, amount / np.maximum(count, 1), 0.0)
    summary["duration_holdout"] = (end_day - cal_day) / unit
    return summary


# --- BG/NBD ---------------------------------------------------------------------


@dataclass(frozen=True)
class BgNbdFit:
    r: float
    alpha: float
    a: float
    b: float
    ll: float
    n_customers: int
    converged: bool
    # Customers the parameters were estimated on (< n_customers when sampled).
    n_fitted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    frequency: np.ndarray | pd.Series,
    recency: np.ndarray | pd.Series,
    T: np.ndarray | pd.Series,
) -> np.ndarray:
    """Per-customer log-likelihood of the BG/NBD model (FHL 2005, eq. 6).

    L = B(a, b+x)/B(a, b) · Γ(r+x)/Γ(r) · α^r/(α+T)^(r+x)
        + [x > 0] · B(a+1, b+x-1)/B(a, b) · Γ(r+x)/Γ(r) · α^r/(α+t_x)^(r+x),
    summed in log space (logaddexp) so large x or T never overflow.
    """
    x = np.asarray(frequency, dtype="float64")
    t_x = np.asarray(recency, dtype="float64")
    t = np.asarray(T, dtype="float64")
    common = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    beta_ab = special.betaln(a, b)
    term_t = special.betaln(a, b + x) - beta_ab - (r + x) * np.log(alpha + t)
    repeat = x > 0
    # For x = 0 the second term does not exist; b + x - 1 may be <= 0 there, so
    # evaluate it only where it is defined.
    x_safe = np.where(repeat, x, 1.0)
    term_dropout = (
        special.betaln(a + 1, b + x_safe - 1) - beta_ab - (r + x_safe) * np.log(alpha + t_x)
    )
    ll: np.ndarray = common + np.where(repeat, np.logaddexp(term_t, term_dropout), term_t)
    return ll


def _compress(columns: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Unique rows and their counts: the likelihood is then evaluated once per pattern."""
    frame = pd.DataFrame(columns)
    counts = frame.groupby(list(columns), sort=False).size()
    unique = counts.index.to_frame(index=False)
    return {c: unique[c].to_numpy(dtype="float64") for c in columns}, counts.to_numpy("float64")


def _sample_positions(n: int, limit: int | None, seed: int) -> np.ndarray | None:
    if limit is None or n <= limit:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def _minimise(
    objective: Any, starts: Sequence[np.ndarray], n_params: int
) -> tuple[np.ndarray, float, bool]:
    """L-BFGS-B over bounded log-parameters from the first start; the further
    starts are tried only when it fails or ends on a bound, and the best wins."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * n_params
    best: Any = None
    best_converged = False
    for start in starts:
        result = optimize.minimize(
            objective,
            start,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
        )
        if not np.isfinite(result.fun):
            continue
        # L-BFGS-B reports "ABNORMAL" when it cannot improve further on a flat
        # optimum; a small gradient relative to the sample is the real test.
        converged = bool(result.success) or bool(
            np.max(np.abs(result.jac)) < 1e-6 * max(1.0, abs(result.fun))
        )
        if best is None or result.fun < best.fun:
            best, best_converged = result, converged
        interior = bool(np.all(np.abs(result.x) < LOG_BOUND - _AT_BOUND))
        if best_converged and interior and best is result:
            break
    if best is None:
        return np.full(n_params, np.nan), math.inf, False
    return np.asarray(best.x), float(best.fun), best_converged


# Above this many customers a fit uses a deterministic random sample of them:
# parameters estimated on 200,000 customers are as good as on a million for
# four (or three) numbers, at a fifth of the time. Predictions still cover everyone.
MAX_FIT_CUSTOMERS = 200_000


@dataclass(frozen=True)
class _ByFrequency:
    """Data for an objective whose special functions depend on x only.

    Gamma, beta and digamma functions are evaluated on the few hundred distinct
    purchase counts and gathered back with ``inverse``; only logs run per row.
    That keeps one evaluation cheap at a million customers.
    """

    x_unique: np.ndarray
    inverse: np.ndarray
    x: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, weights: np.ndarray) -> _ByFrequency:
        x_unique, inverse = np.unique(x, return_inverse=True)
        return cls(x_unique=x_unique, inverse=inverse, x=x, weights=weights)


def _bgnbd_negll_and_grad(
    log_params: np.ndarray, data: _ByFrequency, t_x: np.ndarray, t: np.ndarray
) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    xu, inv, x, weights = data.x_unique, data.inverse, data.x, data.weights
    repeat_u = xu > 0
    xs_u = np.where(repeat_u, xu, 1.0)
    beta_ab = special.betaln(a, b)
    dg_ab = special.digamma(a + b)
    # Per distinct x: the constant parts of both terms and their derivatives.
    common_u = special.gammaln(r + xu) - special.gammaln(r) + r * math.log(alpha)
    b1_u = special.betaln(a, b + xu) - beta_ab
    b2_u = special.betaln(a + 1, b + xs_u - 1) - beta_ab
    d_common_r_u = special.digamma(r + xu) - special.digamma(r) + math.log(alpha)
    d1_a_u = dg_ab - special.digamma(a + b + xu)
    d1_b_u = special.digamma(b + xu) - special.digamma(a + b + xu) - (special.digamma(b) - dg_ab)
    d2_a_u = special.digamma(a + 1) - special.digamma(a + b + xs_u) - (special.digamma(a) - dg_ab)
    d2_b_u = (
        special.digamma(b + xs_u - 1) - special.digamma(a + b + xs_u) - (special.digamma(b) - dg_ab)
    )

    repeat = repeat_u[inv]
    x_safe = xs_u[inv]
    log_at = np.log(alpha + t)
    log_atx = np.log(alpha + t_x)
    term1 = b1_u[inv] - (r + x) * log_at
    term2 = b2_u[inv] - (r + x_safe) * log_atx
    mix = np.where(repeat, np.logaddexp(term1, term2), term1)
    ll = common_u[inv] + mix
    # Share of each term in the sum, for the chain rule through logaddexp.
    w1 = np.where(repeat, np.exp(term1 - mix), 1.0)
    w2 = 1.0 - w1
    d_r = d_common_r_u[inv] - w1 * log_at - w2 * log_atx
    d_alpha = r / alpha - w1 * (r + x) / (alpha + t) - w2 * (r + x_safe) / (alpha + t_x)
    d_a = w1 * d1_a_u[inv] + w2 * np.where(repeat, d2_a_u[inv], 0.0)
    d_b = w1 * d1_b_u[inv] + w2 * np.where(repeat, d2_b_u[inv], 0.0)
    grad = np.array(
        [
            np.dot(weights, d_r) * r,
            np.dot(weights, d_alpha) * alpha,
            np.dot(weights, d_a) * a,
            np.dot(weights, d_b) * b,
        ]
    )
    value = -float(np.dot(weights, ll))
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return math.inf, np.zeros(4)
    return value, -grad


def _check_summary(summary: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse a malformed summary loudly: that is a bug in the caller, not thin data."""
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks columns {', '.join(missing)}")
    values = summary[list(columns)].to_numpy("float64")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("summary values must be finite and non-negative")
    if "recency" in columns and (summary["recency"] > summary["T"] + 1e-9).any():
        raise ValueError("recency must not exceed T")


def bgnbd_fit(
    summary: pd.DataFrame,
    *,
    min_customers: int = MIN_CUSTOMERS,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
    max_customers: int | None = MAX_FIT_CUSTOMERS,
    seed: int = 0,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit on ``frequency, recency, T``.

    Customers with identical (x, t_x, T) are evaluated once and weighted, so
    the cost grows with the number of distinct histories rather than customers.
    ``max_customers`` fits on a deterministic random sample (``seed``) when the
    base is larger. Raises NotEnoughData when the history cannot support a fit.
    """
    _check_summary(summary, ("frequency", "recency", "T"))
    n = len(summary)
    repeaters = int((summary["frequency"] > 0).sum())
    if n < min_customers:
        raise NotEnoughData("too_few_customers", count=n, minimum=min_customers)
    if repeaters < min_repeat_buyers:
        raise NotEnoughData("too_few_repeat_buyers", count=repeaters, minimum=min_repeat_buyers)
    rows = _sample_positions(n, max_customers, seed)
    part = summary if rows is None else summary.iloc[rows]
    data, weights = _compress(
        {
            "x": part["frequency"].to_numpy("float64"),
            "t_x": part["recency"].to_numpy("float64"),
            "t": part["T"].to_numpy("float64"),
        }
    )
    # α is a time scale: fit in units of the mean T, so the search range and the
    # starts mean the same for a base observed for weeks or for years.
    scale = float(np.average(data["t"], weights=weights))
    if not scale > 0:
        raise NotEnoughData("too_few_repeat_buyers", count=0, minimum=min_repeat_buyers)
    t_x_scaled = data["t_x"] / scale
    t_scaled = data["t"] / scale
    by_x = _ByFrequency.of(data["x"], weights)

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        return _bgnbd_negll_and_grad(log_params, by_x, t_x_scaled, t_scaled)

    starts = [np.log([1.0, 1.0, 1.0, 1.0]), np.log([0.5, 0.25, 0.8, 2.5])]
    log_params, _negll, converged = _minimise(objective, starts, 4)
    if not converged:
        raise NotEnoughData("not_converged", model="BG/NBD")
    if np.any(np.abs(log_params) > LOG_BOUND - _AT_BOUND):
        raise NotEnoughData("at_bounds", model="BG/NBD")
    r, alpha, a, b = (float(v) for v in np.exp(log_params))
    alpha *= scale
    # The log-likelihood of the whole base, in the caller's time unit.
    ll = float(
        bgnbd_log_likelihood(
            r, alpha, a, b, summary["frequency"], summary["recency"], summary["T"]
        ).sum()
    )
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        ll=ll,
        n_customers=n,
        converged=converged,
        n_fitted=len(part),
    )


def bgnbd_probability_alive(
    fit: BgNbdFit,
    frequency: np.ndarray | pd.Series,
    recency: np.ndarray | pd.Series,
    T: np.ndarray | pd.Series,
) -> np.ndarray:
    """P(still active | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))."""
    x = np.asarray(frequency, dtype="float64")
    t_x = np.asarray(recency, dtype="float64")
    t = np.asarray(T, dtype="float64")
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    log_odds = (
        math.log(fit.a)
        - np.log(fit.b + x_safe - 1)
        + (fit.r + x_safe) * (np.log(fit.alpha + t) - np.log(fit.alpha + t_x))
    )
    # expit(-log_odds) = 1 / (1 + exp(log_odds)), stable for large odds.
    p: np.ndarray = np.where(repeat, special.expit(-log_odds), 1.0)
    return p


def _bgnbd_bracket(
    fit: BgNbdFit, t: float | np.ndarray, x: np.ndarray, big_t: np.ndarray | float
) -> np.ndarray:
    """1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z), z = t/(α+T+t).

    Through Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)
    this is 1 - (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z): x then appears only
    in C, where a large x makes the series converge quickly, and no power of
    (r+x) has to cancel a huge hypergeometric value. It equals the printed form
    to ~1e-12 wherever that one is finite (tests), and stays finite where the
    printed form overflows (hundreds of purchases within days).
    """
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    log_one_minus_z = np.log(alpha + big_t) - np.log(alpha + big_t + t)
    z = t / (alpha + big_t + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    # 1 - e^{(a-1)·log(1-z)}·hyp, written so a ≈ 1 loses as little as possible.
    bracket: np.ndarray = -np.expm1((a - 1) * log_one_minus_z) * hyp + (1.0 - hyp)
    return bracket


def bgnbd_conditional_expected_purchases(
    fit: BgNbdFit,
    t: float,
    frequency: np.ndarray | pd.Series,
    recency: np.ndarray | pd.Series,
    T: np.ndarray | pd.Series,
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (FHL 2005, eq. 10).

    (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
    / (1 + [x>0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)), evaluated stably.
    """
    x = np.asarray(frequency, dtype="float64")
    t_x = np.asarray(recency, dtype="float64")
    big_t = np.asarray(T, dtype="float64")
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    if t <= 0:
        return np.zeros_like(x)
    numerator = (a + b + x - 1) / (a - 1) * _bgnbd_bracket(fit, t, x, big_t)
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    log_odds = (
        math.log(a)
        - np.log(b + x_safe - 1)
        + (r + x_safe) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    alive = np.where(repeat, special.expit(-log_odds), 1.0)
    expected: np.ndarray = numerator * alive
    return expected


def bgnbd_expected_purchases(fit: BgNbdFit, t: np.ndarray | float) -> np.ndarray:
    """E[X(t)] for a new customer: (a+b-1)/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b; a+b-1; t/(α+t))]."""
    tt = np.asarray(t, dtype="float64")
    a, b = fit.a, fit.b
    result: np.ndarray = (a + b - 1) / (a - 1) * _bgnbd_bracket(fit, tt, np.zeros_like(tt), 0.0)
    return result


# --- Gamma-Gamma ----------------------------------------------------------------


@dataclass(frozen=True)
class GammaGammaFit:
    p: float
    q: float
    v: float
    ll: float
    n_customers: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gamma_gamma_log_likelihood(
    p: float,
    q: float,
    v: float,
    frequency: np.ndarray | pd.Series,
    monetary_value: np.ndarray | pd.Series,
) -> np.ndarray:
    """Per-customer log-likelihood of the mean repeat spend m_x over x repeat purchases.

    f(m_x | p, q, γ, x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m_x^(px-1) · x^(px) / (γ + x·m_x)^(px+q)
    (Fader & Hardie 2013, eq. 5).
    """
    x = np.asarray(frequency, dtype="float64")
    m = np.asarray(monetary_value, dtype="float64")
    px = p * x
    ll: np.ndarray = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m)
    )
    return ll


def _gamma_gamma_negll_and_grad(
    log_params: np.ndarray, data: _ByFrequency, m: np.ndarray, log_m: np.ndarray
) -> tuple[float, np.ndarray]:
    p, q, v = np.exp(log_params)
    xu, inv, x, weights = data.x_unique, data.inverse, data.x, data.weights
    pxu = p * xu
    const_u = (
        special.gammaln(pxu + q) - special.gammaln(pxu) - special.gammaln(q) + pxu * np.log(xu)
    )
    dg_u = special.digamma(pxu + q)
    d_p_u = xu * (dg_u - special.digamma(pxu) + np.log(xu))
    d_q_u = dg_u - special.digamma(q)
    px = p * x
    log_vxm = np.log(v + x * m)
    ll = const_u[inv] + q * math.log(v) + (px - 1) * log_m - (px + q) * log_vxm
    d_p = d_p_u[inv] + x * (log_m - log_vxm)
    d_q = d_q_u[inv] + math.log(v) - log_vxm
    d_v = q / v - (px + q) / (v + x * m)
    grad = np.array([np.dot(weights, d_p) * p, np.dot(weights, d_q) * q, np.dot(weights, d_v) * v])
    value = -float(np.dot(weights, ll))
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return math.inf, np.zeros(3)
    return value, -grad


def gamma_gamma_fit(
    summary: pd.DataFrame,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
    max_customers: int | None = MAX_FIT_CUSTOMERS,
    seed: int = 0,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on repeat buyers' mean repeat value.

    Uses customers with ``frequency > 0`` and ``monetary_value > 0`` (refunds
    that net to zero or less say nothing about spend). Raises NotEnoughData when
    there are too few of them, the fit fails, or q <= 1 (then the expected spend
    is undefined).
    """
    _check_summary(summary, ("frequency",))
    if "monetary_value" not in summary.columns:
        raise ValueError("summary lacks column monetary_value")
    usable = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    n = len(usable)
    if n < min_repeat_buyers:
        raise NotEnoughData("too_few_repeat_buyers", count=n, minimum=min_repeat_buyers)
    rows = _sample_positions(n, max_customers, seed)
    part = usable if rows is None else usable.iloc[rows]
    data, weights = _compress(
        {
            "x": part["frequency"].to_numpy("float64"),
            "m": part["monetary_value"].to_numpy("float64"),
        }
    )
    # γ is in money: fit in units of the mean repeat spend, so the search range
    # and the starts mean the same in lira, kuruş or thousands.
    scale = float(np.average(data["m"], weights=weights))
    m_scaled = data["m"] / scale
    by_x = _ByFrequency.of(data["x"], weights)
    log_m = np.log(m_scaled)

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        return _gamma_gamma_negll_and_grad(log_params, by_x, m_scaled, log_m)

    starts = [np.log([1.0, 1.0, 1.0]), np.log([2.0, 3.0, 2.0])]
    log_params, _negll, converged = _minimise(objective, starts, 3)
    if not converged:
        raise NotEnoughData("not_converged", model="Gamma-Gamma")
    if np.any(np.abs(log_params) > LOG_BOUND - _AT_BOUND):
        raise NotEnoughData("at_bounds", model="Gamma-Gamma")
    p, q, v = (float(value) for value in np.exp(log_params))
    v *= scale
    if q <= 1:
        # The expected spend p·γ/(q-1) does not exist.
        raise NotEnoughData("spend_undefined")
    # The log-likelihood of all usable repeat buyers, in the caller's money unit.
    ll = float(
        gamma_gamma_log_likelihood(p, q, v, usable["frequency"], usable["monetary_value"]).sum()
    )
    return GammaGammaFit(p=p, q=q, v=v, ll=ll, n_customers=n)


def gamma_gamma_conditional_expected_spend(
    fit: GammaGammaFit,
    frequency: np.ndarray | pd.Series,
    monetary_value: np.ndarray | pd.Series,
) -> np.ndarray:
    """E[M | p, q, γ, m_x, x] = p(γ + x·m_x) / (px + q - 1).

    With x = 0 this is the population mean pγ/(q-1): a one-time buyer's first
    purchase is not used, as in the model. A mean repeat value below 0 counts as 0.
    """
    x = np.asarray(frequency, dtype="float64")
    # Repeat purchases that net to zero or less (refunds) count as spending
    # nothing: the estimate shrinks from the population mean towards 0.
    m = np.where(x > 0, np.maximum(np.asarray(monetary_value, dtype="float64"), 0.0), 0.0)
    spend: np.ndarray = fit.p * (fit.v + x * m) / (fit.p * x + fit.q - 1)
    return spend


# --- Customer value ---------------------------------------------------------------


def customer_value(
    summary: pd.DataFrame,
    bgnbd: BgNbdFit,
    gg: GammaGammaFit,
    *,
    horizons_days: Sequence[int] = (90, 365),
    monthly_discount_rate: float = 0.01,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Per customer: ``p_alive``, ``expected_purchases_<days>`` for each horizon,
    ``expected_spend`` (Gamma-Gamma expected value of one future purchase) and
    ``clv`` (discounted expected margin-free revenue over the longest horizon).

    CLV adds, month by month, the expected purchases in that month times the
    expected spend, discounted at ``monthly_discount_rate`` per month (the
    Fader-Hardie-Lee discrete approximation). ``time_unit`` must be the one the
    summary was built with. Index: the summary's.
    """
    unit = _unit_days(time_unit)
    x = summary["frequency"].to_numpy("float64")
    t_x = summary["recency"].to_numpy("float64")
    big_t = summary["T"].to_numpy("float64")
    # Purchase predictions depend on (x, t_x, T) only, and a million customers
    # share far fewer distinct histories: compute each once, then spread back.
    codes, first = _distinct_rows(x, t_x, big_t)
    ux, utx, ut = x[first], t_x[first], big_t[first]

    out = pd.DataFrame(index=summary.index)
    out["p_alive"] = bgnbd_probability_alive(bgnbd, ux, utx, ut)[codes]
    for days in horizons_days:
        out[f"expected_purchases_{days}"] = bgnbd_conditional_expected_purchases(
            bgnbd, days / unit, ux, utx, ut
        )[codes]
    spend = gamma_gamma_conditional_expected_spend(gg, x, summary["monetary_value"])
    out["expected_spend"] = spend

    horizon = max(horizons_days)
    months = max(1, math.ceil(horizon / TIME_UNIT_DAYS["M"] - 1e-9))
    step = horizon / months / unit
    # Expected purchases month by month, each discounted to today.
    discounted = np.zeros_like(ux)
    previous = np.zeros_like(ux)
    for month in range(1, months + 1):
        cumulative = bgnbd_conditional_expected_purchases(bgnbd, month * step, ux, utx, ut)
        discounted += (cumulative - previous) / (1 + monthly_discount_rate) ** month
        previous = cumulative
    out["clv"] = spend * discounted[codes]
    return out


def _distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, first): row i equals row ``first[codes[i]]``."""
    codes = (
        pd.DataFrame({str(n): c for n, c in enumerate(columns)})
        .groupby(list(map(str, range(len(columns)))), sort=False)
        .ngroup()
        .to_numpy()
    )
    # Groups are numbered in order of first appearance, so the first row of
    # each code, in row order, is the code's representative.
    first = pd.Series(codes).drop_duplicates().index.to_numpy()
    return codes, first


# --- Value tiers and the age-value matrix -------------------------------------------


class ValueTier(models.TextChoices):
    TOP = "top", _("Top 5%")
    HIGH = "high", _("Next 15%")
    MEDIUM = "medium", _("Next 30%")
    LOW = "low", _("Remaining 50%")
    UNKNOWN = "unknown", _("No estimate")


# Upper edge of each tier as a share of customers ranked by CLV, best first.
VALUE_TIER_CUTS: tuple[tuple[ValueTier, float], ...] = (
    (ValueTier.TOP, 0.05),
    (ValueTier.HIGH, 0.20),
    (ValueTier.MEDIUM, 0.50),
    (ValueTier.LOW, 1.0),
)


def value_tiers(clv: pd.Series) -> pd.Series:
    """Tier per customer from CLV: top 5%, next 15%, next 30%, remaining 50%.

    A customer's place is the share of customers with a strictly higher CLV, so
    equal values share a tier and the result does not depend on input order.
    Missing CLV gets ``unknown``.
    """
    values = pd.to_numeric(clv, errors="coerce")
    present = values.notna()
    tiers = pd.Series(ValueTier.UNKNOWN.value, index=clv.index, dtype=object)
    n = int(present.sum())
    if n == 0:
        return tiers
    better = (-values[present]).rank(method="min").to_numpy() - 1.0
    share = better / n
    codes = np.full(n, ValueTier.LOW.value, dtype=object)
    for tier, cut in reversed(VALUE_TIER_CUTS):
        codes[share < cut] = tier.value
    tiers[present] = codes
    return tiers


class AgeBand(models.TextChoices):
    UNDER_18 = "under_18", _("Under 18")
    AGE_18_24 = "18_24", _("18–24")
    AGE_25_34 = "25_34", _("25–34")
    AGE_35_44 = "35_44", _("35–44")
    AGE_45_54 = "45_54", _("45–54")
    AGE_55_64 = "55_64", _("55–64")
    AGE_65_PLUS = "65_plus", _("65 and over")


_AGE_EDGES = np.array([18, 25, 35, 45, 55, 65])


def _ages(birth: pd.Series, as_of: datetime.date) -> np.ndarray:
    stamps = pd.to_datetime(birth, errors="coerce")
    years = as_of.year - stamps.dt.year
    before_birthday = (stamps.dt.month > as_of.month) | (
        (stamps.dt.month == as_of.month) & (stamps.dt.day > as_of.day)
    )
    ages: np.ndarray = (years - before_birthday.astype("float64")).to_numpy("float64")
    return ages


def age_value_matrix(
    frame: pd.DataFrame,
    as_of: datetime.date,
    *,
    birth_col: str = "birth_date",
    tier_col: str = "tier",
    clv_col: str = "clv",
) -> pd.DataFrame:
    """Age band × value tier: customers and their CLV.

    ``frame`` has ``birth_date``, ``tier`` (ValueTier values) and optionally
    ``clv``. Customers without a birth date (and companies) are left out, as are
    birth dates after ``as_of``. Returns one row per (age_band, tier), every
    combination present in AgeBand × ValueTier order, with ``customers``,
    ``clv_total`` and ``clv_mean`` (NaN where there are no customers).
    """
    ages = _ages(frame[birth_col], as_of)
    known = ~np.isnan(ages) & (ages >= 0)
    bands = np.array(AgeBand.values, dtype=object)
    band = bands[np.searchsorted(_AGE_EDGES, ages[known], side="right")]
    clv = (
        pd.to_numeric(frame[clv_col], errors="coerce").to_numpy("float64")[known]
        if clv_col in frame.columns
        else np.zeros(int(known.sum()))
    )
    data = pd.DataFrame({"age_band": band, "tier": frame[tier_col].to_numpy()[known], "clv": clv})
    grouped = data.groupby(["age_band", "tier"])["clv"].agg(["size", "sum"])
    full = pd.MultiIndex.from_product(
        [AgeBand.values, ValueTier.values], names=["age_band", "tier"]
    )
    grouped = grouped.reindex(full, fill_value=0)
    result = pd.DataFrame(
        {
            "customers": grouped["size"].astype("int64"),
            "clv_total": grouped["sum"].astype("float64"),
        }
    )
    result["clv_mean"] = result["clv_total"] / result["customers"].where(result["customers"] > 0)
    return result.reset_index()


# --- Holdout evaluation and simulation ---------------------------------------------


@dataclass(frozen=True)
class HoldoutEvaluation:
    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit
    customers: int
    holdout_length: float  # in time units
    predicted: float  # expected repeat purchases in the holdout, all customers
    actual: int  # repeat purchase days that happened in the holdout
    mae: float  # mean over customers of |predicted - actual|


def evaluate_holdout(
    summary: pd.DataFrame, *, max_customers: int | None = MAX_FIT_CUSTOMERS, seed: int = 0
) -> HoldoutEvaluation:
    """Fit both models on a :func:`summary_with_holdout` frame and compare the
    BG/NBD prediction for the holdout period with what customers actually did."""
    bgnbd = bgnbd_fit(summary, max_customers=max_customers, seed=seed)
    gg = gamma_gamma_fit(summary, max_customers=max_customers, seed=seed)
    length = float(summary["duration_holdout"].iloc[0])
    predicted = bgnbd_conditional_expected_purchases(
        bgnbd, length, summary["frequency"], summary["recency"], summary["T"]
    )
    actual = summary["frequency_holdout"].to_numpy("float64")
    return HoldoutEvaluation(
        bgnbd=bgnbd,
        gamma_gamma=gg,
        customers=len(summary),
        holdout_length=length,
        predicted=float(predicted.sum()),
        actual=int(actual.sum()),
        mae=float(np.abs(predicted - actual).mean()),
    )


def bgnbd_simulate(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: np.ndarray | float,
    holdout: float = 0.0,
    seed: int = 0,
    days_per_unit: float | None = 7.0,
) -> pd.DataFrame:
    """Customers drawn from the BG/NBD process itself, vectorised.

    Each customer buys at Poisson rate λ ~ Gamma(r, α) and, after every repeat
    purchase, leaves for good with probability p ~ Beta(a, b). Returns
    ``frequency, recency, T`` for the observation window ``(0, T]`` and
    ``frequency_holdout`` for ``(T, T + holdout]``. With ``days_per_unit``
    times are rounded to whole days, as real purchase dates are. Used to test
    the fit and to measure it at a million customers.
    """
    rng = np.random.default_rng(seed)
    big_t = np.broadcast_to(np.asarray(T, dtype="float64"), (n,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    # Repeat purchases made before leaving: geometric on 1, 2, ... (alive until the first).
    lifetime_purchases = rng.geometric(p)
    in_window = rng.poisson(rate * big_t)
    x = np.minimum(lifetime_purchases, in_window)
    # Given n Poisson arrivals in (0, T], they are uniform; the x-th is Beta(x, n-x+1)·T.
    has = x > 0
    recency = np.zeros(n)
    recency[has] = rng.beta(x[has], in_window[has] - x[has] + 1) * big_t[has]
    later = in_window + rng.poisson(rate * holdout)
    x_holdout = np.minimum(lifetime_purchases, later) - x
    if days_per_unit:
        # Same-day purchases are one purchase in real data; rounding may
        # therefore only shorten recency, never push it past T.
        recency = np.minimum(np.round(recency * days_per_unit) / days_per_unit, big_t)
    return pd.DataFrame(
        {
            "frequency": x.astype("int64"),
            "recency": recency,
            "T": big_t,
            "frequency_holdout": x_holdout.astype("int64"),
        }
    )


def gamma_gamma_simulate(
    frequency: np.ndarray | pd.Series, *, p: float, q: float, v: float, seed: int = 0
) -> np.ndarray:
    """Mean repeat spend drawn from the Gamma-Gamma model (0 where frequency is 0).

    Each customer's ν ~ Gamma(q, γ); a purchase is Gamma(p, ν), so the mean of x
    purchases is Gamma(px, xν).
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype="float64")
    nu = rng.gamma(q, 1.0 / v, size=len(x))
    has = x > 0
    m = np.zeros(len(x))
    m[has] = rng.gamma(p * x[has], 1.0 / (x[has] * nu[has]))
    return m
