"""segmentation.clv without external data: likelihoods against hand-computed values,
summaries of hand-made transactions, fits on simulated customers, guards, tiers and
the age-value matrix. (CDNOW: test_clv_cdnow.py.)"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd
import pytest
from django.utils import translation
from scipy import optimize

from segmentation import clv
from segmentation.clv import (
    BgNbdFit,
    GammaGammaFit,
    NotEnoughData,
    ValueTier,
    age_value_matrix,
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_purchases,
    bgnbd_fit,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    bgnbd_simulate,
    customer_value,
    gamma_gamma_conditional_expected_spend,
    gamma_gamma_fit,
    gamma_gamma_log_likelihood,
    gamma_gamma_simulate,
    summary_from_transactions,
    summary_with_holdout,
    value_tiers,
)

# --- Likelihoods against the formulas, by hand --------------------------------------


def test_bgnbd_likelihood_of_a_customer_without_repeat_purchases() -> None:
    # x = 0: L = (α/(α+T))^r. With r = α = T = 1 that is 1/2.
    ll = bgnbd_log_likelihood(1.0, 1.0, 1.0, 1.0, [0], [0.0], [1.0])
    assert ll[0] == pytest.approx(-math.log(2), abs=1e-12)


def test_bgnbd_likelihood_of_a_repeat_buyer() -> None:
    # r = α = a = b = 1, x = 1, t_x = 1, T = 2:
    # B(1,2)/B(1,1) · Γ(2)/Γ(1) · 1/(1+2)^2 = 1/2 · 1/9 = 1/18
    # B(2,1)/B(1,1) · Γ(2)/Γ(1) · 1/(1+1)^2 = 1/2 · 1/4 = 1/8;  L = 13/72
    ll = bgnbd_log_likelihood(1.0, 1.0, 1.0, 1.0, [1], [1.0], [2.0])
    assert ll[0] == pytest.approx(math.log(13 / 72), abs=1e-12)


def _bgnbd_likelihood_direct(
    r: float, alpha: float, a: float, b: float, x: int, tx: float, t: float
) -> float:
    """FHL 2005 eq. 6 with plain gamma functions (no logs), for moderate x."""

    def beta(p: float, q: float) -> float:
        return math.gamma(p) * math.gamma(q) / math.gamma(p + q)

    common = math.gamma(r + x) / math.gamma(r) * alpha**r
    first = beta(a, b + x) / beta(a, b) * common / (alpha + t) ** (r + x)
    second = beta(a + 1, b + x - 1) / beta(a, b) * common / (alpha + tx) ** (r + x) if x > 0 else 0
    return math.log(first + second)


@pytest.mark.parametrize(
    ("x", "tx", "t"),
    [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 35.0, 36.0), (15, 20.0, 60.0)],
)
def test_bgnbd_likelihood_matches_the_formula_for_single_customers(
    x: int, tx: float, t: float
) -> None:
    r, alpha, a, b = 0.2426, 4.4136, 0.7929, 2.4259
    expected = _bgnbd_likelihood_direct(r, alpha, a, b, x, tx, t)
    assert bgnbd_log_likelihood(r, alpha, a, b, [x], [tx], [t])[0] == pytest.approx(expected)


def test_bgnbd_likelihood_stays_finite_for_very_frequent_buyers() -> None:
    # Γ(r + 2000) overflows a float; the log form must not.
    ll = bgnbd_log_likelihood(0.24, 4.4, 0.79, 2.4, [2000], [500.0], [520.0])
    assert np.isfinite(ll[0])


def test_gamma_gamma_likelihood_by_hand() -> None:
    # p = 1, q = 2, γ = 1, x = 1, m = 1: Γ(3)/(Γ(1)Γ(2)) · 1 · 1 · 1 / (1+1)^3 = 2/8.
    ll = gamma_gamma_log_likelihood(1.0, 2.0, 1.0, [1], [1.0])
    assert ll[0] == pytest.approx(math.log(0.25), abs=1e-12)
    # p = 2, q = 3, γ = 4, x = 2, m = 5 (px = 4):
    # Γ(7)/(Γ(4)Γ(3)) · 4^3 · 5^3 · 2^4 / (4 + 10)^7 = 60 · 64 · 125 · 16 / 14^7
    expected = 60 * 64 * 125 * 16 / 14**7
    ll = gamma_gamma_log_likelihood(2.0, 3.0, 4.0, [2], [5.0])
    assert ll[0] == pytest.approx(math.log(expected), rel=1e-12)


def test_gradients_match_finite_differences() -> None:
    customers = bgnbd_simulate(300, r=0.5, alpha=3.0, a=1.2, b=2.0, T=30.0, seed=4)
    customers["monetary_value"] = gamma_gamma_simulate(customers["frequency"], p=4, q=3, v=10)
    weights = np.ones(len(customers))
    x = customers["frequency"].to_numpy("float64")
    by_x = clv._ByFrequency.of(x, weights)
    t_x = customers["recency"].to_numpy("float64")
    t = customers["T"].to_numpy("float64")
    point = np.log([0.4, 2.5, 1.1, 2.2])
    error = optimize.check_grad(
        lambda p: clv._bgnbd_negll_and_grad(p, by_x, t_x, t)[0],
        lambda p: clv._bgnbd_negll_and_grad(p, by_x, t_x, t)[1],
        point,
    )
    assert error < 1e-3 * np.linalg.norm(clv._bgnbd_negll_and_grad(point, by_x, t_x, t)[1]) + 1e-4
    buyers = customers[customers["frequency"] > 0]
    gx = buyers["frequency"].to_numpy("float64")
    m = buyers["monetary_value"].to_numpy("float64")
    gg_by_x = clv._ByFrequency.of(gx, np.ones(len(gx)))
    gg_point = np.log([3.0, 2.5, 12.0])
    error = optimize.check_grad(
        lambda p: clv._gamma_gamma_negll_and_grad(p, gg_by_x, m, np.log(m))[0],
        lambda p: clv._gamma_gamma_negll_and_grad(p, gg_by_x, m, np.log(m))[1],
        gg_point,
    )
    gg_norm = float(
        np.linalg.norm(clv._gamma_gamma_negll_and_grad(gg_point, gg_by_x, m, np.log(m))[1])
    )
    assert error < 1e-4 * max(1.0, gg_norm)


# --- Predictions against their closed forms --------------------------------------------


def test_probability_alive_by_hand() -> None:
    fit = BgNbdFit(r=1, alpha=1, a=1, b=1, ll=0, n_customers=1, converged=True)
    # odds = a/(b+x-1) · ((α+T)/(α+t_x))^(r+x) = 1 · (3/2)^2 = 9/4  ->  p = 4/13
    p = bgnbd_probability_alive(fit, [1, 0], [1.0, 0.0], [2.0, 5.0])
    assert p[0] == pytest.approx(4 / 13)
    assert p[1] == 1.0  # no repeat purchase: cannot have dropped out yet


def _conditional_expectation_textbook(
    fit: BgNbdFit, t: float, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """FHL 2005 eq. 10 exactly as printed (fine for moderate x and T)."""
    from scipy import special

    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
    bracket = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp
    odds = np.where(x > 0, a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x), 0.0)
    result: np.ndarray = (a + b + x - 1) / (a - 1) * bracket / (1 + odds)
    return result


@pytest.mark.parametrize(
    "params",
    [(0.2426, 4.4136, 0.7929, 2.4259), (2.0, 50.0, 1.5, 3.0), (0.5, 2.0, 3.0, 0.7)],
)
def test_conditional_expectation_equals_the_printed_formula(
    params: tuple[float, float, float, float],
) -> None:
    fit = BgNbdFit(*params, ll=0, n_customers=1, converged=True)
    x = np.array([0, 1, 2, 5, 10, 3, 0])
    tx = np.array([0.0, 5.0, 30.4, 35.0, 38.0, 2.0, 0.0])
    big_t = np.array([38.86, 38.86, 38.86, 36.0, 39.0, 30.0, 0.5])
    for t in (1.0, 13.0, 39.0, 52.0):
        np.testing.assert_allclose(
            bgnbd_conditional_expected_purchases(fit, t, x, tx, big_t),
            _conditional_expectation_textbook(fit, t, x, tx, big_t),
            rtol=1e-9,
        )


def test_conditional_expectation_stays_finite_where_the_printed_form_overflows() -> None:
    fit = BgNbdFit(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259, ll=0, n_customers=1, converged=True)
    # 400 purchases in the first 0.1 weeks: absurd, but a summary may hold anything.
    x, tx, big_t = np.array([400.0]), np.array([0.05]), np.array([0.1])
    with np.errstate(all="ignore"):
        printed = _conditional_expectation_textbook(fit, 52.0, x, tx, big_t)
    assert not np.isfinite(printed).all()
    ours = bgnbd_conditional_expected_purchases(fit, 52.0, x, tx, big_t)
    assert np.isfinite(ours).all() and ours[0] >= 0


def test_conditional_expectation_of_a_brand_new_customer_is_the_unconditional_one() -> None:
    fit = BgNbdFit(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259, ll=0, n_customers=1, converged=True)
    for t in (1.0, 13.0, 52.0):
        conditional = bgnbd_conditional_expected_purchases(fit, t, [0], [0.0], [0.0])[0]
        assert conditional == pytest.approx(float(bgnbd_expected_purchases(fit, t)), rel=1e-9)


def test_unconditional_expectation_against_numerical_integration() -> None:
    # Given p, a customer alive until the Geometric(p)-th purchase buys
    # (1 - e^{-λpt})/p in expectation; over λ ~ Gamma(r, α) that is
    # (1 - (α/(α+pt))^r)/p, and the model averages it over p ~ Beta(a, b).
    from scipy import integrate, stats

    fit = BgNbdFit(r=0.8, alpha=3.0, a=1.5, b=2.5, ll=0, n_customers=1, converged=True)
    t = 20.0

    def given_p(p: float) -> float:
        mean = (1 - (fit.alpha / (fit.alpha + p * t)) ** fit.r) / p
        return float(mean * stats.beta.pdf(p, fit.a, fit.b))

    value, _ = integrate.quad(given_p, 0, 1, epsabs=1e-12)
    assert float(bgnbd_expected_purchases(fit, t)) == pytest.approx(value, rel=1e-6)


def test_gamma_gamma_expected_spend_by_hand() -> None:
    gg = GammaGammaFit(p=6.0, q=4.0, v=15.0, ll=0)
    # p(γ + x m)/(px + q - 1): x = 2, m = 30 -> 6 · 75 / 15 = 30; x = 0 -> 6·15/3 = 30
    spend = gamma_gamma_conditional_expected_spend(gg, [2, 0], [30.0, 123.0])
    assert spend.tolist() == pytest.approx([30.0, 30.0])
    # Refunds netting below zero count as zero: 6 · 15 / (12 + 3) = 6.
    assert gamma_gamma_conditional_expected_spend(gg, [2], [-40.0])[0] == pytest.approx(6.0)


# --- Summaries from transactions ---------------------------------------------------


def _transactions() -> pd.DataFrame:
    rows = [
        ("a", "2024-01-01", 10.0),
        ("a", "2024-01-01", 5.0),  # same day: one purchase of 15
        ("a", "2024-01-15", 20.0),
        ("a", "2024-01-29 18:30", 40.0),
        ("a", "2024-03-01", 99.0),  # after the calibration end
        ("b", "2024-01-08", 12.0),
        ("c", "2024-02-05", 7.0),  # only in the holdout: not a calibration customer
        ("d", "2024-02-26", 8.0),  # after the observation end of the plain summary
    ]
    return pd.DataFrame(rows, columns=["cust", "when", "amount"])


def test_summary_counts_days_and_measures_in_weeks() -> None:
    summary = summary_from_transactions(
        _transactions(),
        customer_col="cust",
        date_col="when",
        amount_col="amount",
        observation_end="2024-02-12",
    )
    assert list(summary.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert summary.index.tolist() == ["a", "b", "c"]
    a = summary.loc["a"]
    assert a["frequency"] == 2  # 15th and 29th January
    assert a["recency"] == pytest.approx(4.0)  # 28 days
    assert a["T"] == pytest.approx(6.0)  # 1 Jan to 12 Feb = 42 days
    assert a["monetary_value"] == pytest.approx(30.0)  # (20 + 40) / 2, first purchase left out
    b = summary.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, 5.0, 0.0)


def test_summary_in_days() -> None:
    summary = summary_from_transactions(
        _transactions(),
        customer_col="cust",
        date_col="when",
        amount_col="amount",
        observation_end=datetime.date(2024, 2, 12),
        time_unit="D",
    )
    assert summary.loc["a", "T"] == 42


def test_summary_with_holdout() -> None:
    summary = summary_with_holdout(
        _transactions(),
        customer_col="cust",
        date_col="when",
        amount_col="amount",
        calibration_end="2024-01-31",
        observation_end="2024-03-06",
    )
    assert summary.index.tolist() == ["a", "b"]
    assert summary.loc["a", "T"] == pytest.approx(30 / 7)
    assert summary.loc["a", "frequency_holdout"] == 1
    assert summary.loc["a", "monetary_value_holdout"] == 99.0
    assert summary.loc["b", "frequency_holdout"] == 0
    assert summary["duration_holdout"].iloc[0] == pytest.approx(35 / 7)
    # The same through summary_from_transactions(calibration_end=...).
    same = summary_from_transactions(
        _transactions(),
        customer_col="cust",
        date_col="when",
        amount_col="amount",
        calibration_end="2024-01-31",
        observation_end="2024-03-06",
    )
    pd.testing.assert_frame_equal(summary, same)


def test_summary_of_nothing_is_empty() -> None:
    summary = summary_from_transactions(
        _transactions(),
        customer_col="cust",
        date_col="when",
        amount_col="amount",
        observation_end="2023-12-31",
    )
    assert summary.empty
    assert list(summary.columns) == ["frequency", "recency", "T", "monetary_value"]
    with pytest.raises(NotEnoughData):
        bgnbd_fit(summary)


def test_summary_matches_a_plain_pandas_reference() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    tx = pd.DataFrame(
        {
            "cust": rng.integers(0, 400, n),
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "amount": rng.gamma(2.0, 30.0, n).round(2),
        }
    )
    summary = summary_with_holdout(
        tx,
        customer_col="cust",
        date_col="when",
        amount_col="amount",
        calibration_end="2024-05-31",
        observation_end="2024-07-10",
        time_unit="D",
    )
    # Reference: groupby on (customer, calendar day), the obvious way.
    tx["day"] = tx["when"].dt.normalize()
    daily = tx.groupby(["cust", "day"], as_index=False)["amount"].sum()
    cal = daily[daily["day"] <= "2024-05-31"]
    for cust, rows in list(cal.groupby("cust"))[:60]:
        rows = rows.sort_values("day")
        got = summary.loc[cust]
        assert got["frequency"] == len(rows) - 1
        assert got["recency"] == (rows["day"].iloc[-1] - rows["day"].iloc[0]).days
        assert got["T"] == (pd.Timestamp("2024-05-31") - rows["day"].iloc[0]).days
        expected_m = rows["amount"].iloc[1:].mean() if len(rows) > 1 else 0.0
        assert got["monetary_value"] == pytest.approx(expected_m)
        later = daily[(daily["cust"] == cust) & (daily["day"] > "2024-05-31")]
        later = later[later["day"] <= "2024-07-10"]
        assert got["frequency_holdout"] == len(later)
    assert set(summary.index) == set(cal["cust"])


def test_summary_reports_missing_columns_and_bad_dates() -> None:
    with pytest.raises(KeyError, match="amount"):
        summary_from_transactions(
            _transactions().drop(columns="amount"),
            customer_col="cust",
            date_col="when",
            amount_col="amount",
            observation_end="2024-02-12",
        )
    broken = _transactions()
    broken.loc[2, "when"] = "not a date"
    with pytest.raises(ValueError):
        summary_from_transactions(
            broken,
            customer_col="cust",
            date_col="when",
            amount_col="amount",
            observation_end="2024-02-12",
        )


# --- Fits on simulated customers ---------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    T = rng.integers(7, 365, size=20_000) / 7
    customers = bgnbd_simulate(
        20_000, r=0.25, alpha=4.4, a=0.79, b=2.43, T=T, holdout=52.0, seed=12
    )
    customers["monetary_value"] = gamma_gamma_simulate(
        customers["frequency"], p=6.25, q=3.74, v=15.44, seed=13
    )
    return customers


def test_fits_recover_the_parameters_of_simulated_customers(simulated: pd.DataFrame) -> None:
    fit = bgnbd_fit(simulated)
    assert fit.converged and fit.n_customers == fit.n_fitted == 20_000
    assert fit.r == pytest.approx(0.25, rel=0.1)
    assert fit.alpha == pytest.approx(4.4, rel=0.15)
    assert fit.a == pytest.approx(0.79, rel=0.2)
    assert fit.b == pytest.approx(2.43, rel=0.25)
    gg = gamma_gamma_fit(simulated)
    assert gg.p == pytest.approx(6.25, rel=0.15)
    assert gg.q == pytest.approx(3.74, rel=0.15)
    assert gg.v == pytest.approx(15.44, rel=0.25)


def test_predictions_match_what_simulated_customers_then_do(simulated: pd.DataFrame) -> None:
    fit = bgnbd_fit(simulated)
    predicted = bgnbd_conditional_expected_purchases(
        fit, 52.0, simulated["frequency"], simulated["recency"], simulated["T"]
    )
    actual = simulated["frequency_holdout"].to_numpy()
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.05)
    # Customers the model thinks are gone buy far less than those it thinks are alive.
    alive = bgnbd_probability_alive(
        fit, simulated["frequency"], simulated["recency"], simulated["T"]
    )
    repeat = simulated["frequency"].to_numpy() > 0
    assert actual[repeat & (alive < 0.2)].mean() < 0.3 * actual[repeat & (alive > 0.8)].mean()


def test_fits_do_not_depend_on_time_unit_or_currency(simulated: pd.DataFrame) -> None:
    # Same customers in days instead of weeks, and in kuruş instead of lira (×100,
    # which pushes γ past 1e3): shape parameters stay, scale parameters scale.
    weeks = bgnbd_fit(simulated)
    days = bgnbd_fit(simulated.assign(recency=simulated["recency"] * 7, T=simulated["T"] * 7))
    assert days.r == pytest.approx(weeks.r, rel=1e-5)
    assert days.a == pytest.approx(weeks.a, rel=1e-5)
    assert days.b == pytest.approx(weeks.b, rel=1e-5)
    assert days.alpha == pytest.approx(weeks.alpha * 7, rel=1e-5)
    lira = gamma_gamma_fit(simulated)
    kurus = gamma_gamma_fit(simulated.assign(monetary_value=simulated["monetary_value"] * 100))
    assert kurus.p == pytest.approx(lira.p, rel=1e-5)
    assert kurus.q == pytest.approx(lira.q, rel=1e-5)
    assert kurus.v == pytest.approx(lira.v * 100, rel=1e-5)
    # A density in money: each buyer's log-likelihood moves by -log(100).
    assert kurus.ll == pytest.approx(lira.ll - lira.n_customers * math.log(100), rel=1e-7)


def test_sampled_fit_is_deterministic_and_close(simulated: pd.DataFrame) -> None:
    full = bgnbd_fit(simulated)
    sampled = bgnbd_fit(simulated, max_customers=10_000, seed=3)
    again = bgnbd_fit(simulated, max_customers=10_000, seed=3)
    assert sampled == again
    assert sampled.n_fitted == 10_000 and sampled.n_customers == 20_000
    assert sampled.r == pytest.approx(full.r, rel=0.2)
    # The reported log-likelihood is that of all customers.
    whole = bgnbd_log_likelihood(
        sampled.r, sampled.alpha, sampled.a, sampled.b,
        simulated["frequency"], simulated["recency"], simulated["T"],
    ).sum()  # fmt: skip
    assert sampled.ll == pytest.approx(whole)
    assert sampled.ll <= full.ll + 1e-6


def test_customer_value_columns_and_sense(simulated: pd.DataFrame) -> None:
    fit = bgnbd_fit(simulated)
    gg = gamma_gamma_fit(simulated)
    value = customer_value(simulated, fit, gg)
    assert list(value.columns) == [
        "p_alive",
        "expected_purchases_90",
        "expected_purchases_365",
        "expected_spend",
        "clv",
    ]
    assert value.index.equals(simulated.index)
    # Computed once per distinct history, the same as customer by customer.
    direct = bgnbd_conditional_expected_purchases(
        fit, 365 / 7, simulated["frequency"], simulated["recency"], simulated["T"]
    )
    np.testing.assert_allclose(value["expected_purchases_365"], direct, rtol=1e-12)
    np.testing.assert_allclose(
        value["p_alive"],
        bgnbd_probability_alive(fit, simulated["frequency"], simulated["recency"], simulated["T"]),
        rtol=1e-12,
    )
    assert np.isfinite(value.to_numpy()).all()
    assert (value["p_alive"].between(0, 1)).all()
    assert (value["expected_purchases_365"] >= value["expected_purchases_90"]).all()
    # CLV is below the undiscounted expected revenue over the year, and close to it.
    undiscounted = value["expected_purchases_365"] * value["expected_spend"]
    assert (value["clv"] <= undiscounted + 1e-9).all()
    assert value["clv"].sum() > 0.9 * undiscounted.sum()
    no_discount = customer_value(simulated, fit, gg, monthly_discount_rate=0.0)
    np.testing.assert_allclose(no_discount["clv"], undiscounted, rtol=1e-9)


# --- Guards ----------------------------------------------------------------------------


def test_a_malformed_summary_is_a_bug_not_thin_data() -> None:
    good = bgnbd_simulate(200, r=0.5, alpha=3.0, a=1.0, b=2.0, T=20.0, seed=1)
    broken = good.copy()
    broken.loc[0, "recency"] = np.nan
    with pytest.raises(ValueError, match="finite"):
        bgnbd_fit(broken)
    broken = good.copy()
    broken.loc[0, ["recency", "T"]] = [30.0, 20.0]
    with pytest.raises(ValueError, match="recency must not exceed T"):
        bgnbd_fit(broken)
    with pytest.raises(ValueError, match="monetary_value"):
        gamma_gamma_fit(good)


def test_too_few_customers() -> None:
    few = pd.DataFrame({"frequency": [1, 0, 2], "recency": [3.0, 0, 5.0], "T": [10.0, 8, 9.0]})
    with pytest.raises(NotEnoughData) as raised:
        bgnbd_fit(few)
    assert raised.value.code == "too_few_customers"
    with translation.override("en"):
        assert "Only 3 customers have purchases" in str(raised.value)


def test_too_few_repeat_buyers() -> None:
    customers = pd.DataFrame(
        {"frequency": [0] * 190 + [1] * 10, "recency": [0.0] * 190 + [2.0] * 10, "T": 20.0}
    )
    with pytest.raises(NotEnoughData) as raised:
        bgnbd_fit(customers)
    assert raised.value.code == "too_few_repeat_buyers"
    customers["monetary_value"] = np.where(customers["frequency"] > 0, 10.0, 0.0)
    with translation.override("en"), pytest.raises(NotEnoughData, match="more than once"):
        gamma_gamma_fit(customers)


def test_a_history_without_churn_is_refused_not_fitted() -> None:
    # Every repeat buyer bought in the last week of a long window, at the same
    # steady pace: nobody ever drops out, so b/a runs to the edge of its range.
    n = 400
    customers = pd.DataFrame({"frequency": np.arange(n) % 5 + 1, "T": 52.0, "recency": 52.0})
    with pytest.raises(NotEnoughData) as raised:
        bgnbd_fit(customers)
    assert raised.value.code in {"at_bounds", "not_converged"}


def test_repeat_buyers_who_all_stopped_at_once_are_refused() -> None:
    # 40 of 1040 customers came back once, the next day, and never again: the
    # likelihood keeps rising as p -> 1 for everyone (a/b -> infinity).
    customers = pd.DataFrame(
        {
            "frequency": [0] * 1000 + [1] * 40,
            "T": np.linspace(1, 50, 1040),
            "recency": [0.0] * 1000 + [0.5] * 40,
        }
    )
    with pytest.raises(NotEnoughData) as raised:
        bgnbd_fit(customers)
    assert raised.value.code == "at_bounds"
    with translation.override("en"):
        assert "BG/NBD model has no reliable estimate" in raised.value.message


def test_spend_without_a_finite_mean_is_refused() -> None:
    # Heavy-tailed spend (q < 1): the population mean pγ/(q-1) does not exist,
    # so there is no expected spend to give; the fit says so instead.
    x = np.arange(3000) % 6 + 1
    customers = pd.DataFrame(
        {"frequency": x, "monetary_value": gamma_gamma_simulate(x, p=2.0, q=0.6, v=5.0, seed=1)}
    )
    with pytest.raises(NotEnoughData) as raised:
        gamma_gamma_fit(customers)
    assert raised.value.code == "spend_undefined"


# --- Tiers and the age-value matrix ---------------------------------------------------


def test_value_tiers_on_a_hundred_customers() -> None:
    clv_values = pd.Series(np.arange(100, 0, -1, dtype=float), index=range(1000, 1100))
    tiers = value_tiers(clv_values)
    counts = tiers.value_counts()
    assert counts[ValueTier.TOP] == 5
    assert counts[ValueTier.HIGH] == 15
    assert counts[ValueTier.MEDIUM] == 30
    assert counts[ValueTier.LOW] == 50
    assert tiers[1000] == ValueTier.TOP and tiers[1099] == ValueTier.LOW


def test_value_tiers_ties_and_missing() -> None:
    tiers = value_tiers(pd.Series([5.0, 5.0, 5.0, np.nan, 1.0]))
    # Equal CLV, equal tier: nobody has a strictly higher value than the three fives.
    assert tiers.tolist()[:3] == [ValueTier.TOP] * 3
    assert tiers[3] == ValueTier.UNKNOWN
    assert tiers[4] == ValueTier.LOW
    with translation.override("en"):
        assert ValueTier.TOP.label == "Top 5%"


def test_age_value_matrix() -> None:
    as_of = datetime.date(2025, 6, 15)
    frame = pd.DataFrame(
        {
            "birth_date": [
                datetime.date(2000, 6, 15),  # 25 today: 25–34
                datetime.date(2000, 6, 16),  # 24 until tomorrow: 18–24
                datetime.date(1950, 1, 1),  # 75: 65+
                None,  # a company or unknown: left out
                datetime.date(2010, 1, 1),  # 15: under 18
                datetime.date(2000, 1, 1),
            ],
            "tier": ["top", "low", "top", "top", "medium", "top"],
            "clv": [100.0, 5.0, 50.0, 999.0, 1.0, 300.0],
        }
    )
    matrix = age_value_matrix(frame, as_of).set_index(["age_band", "tier"])
    assert len(matrix) == 7 * 5  # every band × tier, zero-filled
    assert matrix.loc[("25_34", "top"), "customers"] == 2
    assert matrix.loc[("25_34", "top"), "clv_total"] == 400.0
    assert matrix.loc[("25_34", "top"), "clv_mean"] == 200.0
    assert matrix.loc[("18_24", "low"), "customers"] == 1
    assert matrix.loc[("65_plus", "top"), "customers"] == 1
    assert matrix.loc[("under_18", "medium"), "customers"] == 1
    assert matrix["customers"].sum() == 5
    assert np.isnan(matrix.loc[("45_54", "top"), "clv_mean"])
