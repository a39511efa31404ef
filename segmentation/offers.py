"""Next best offer: the categories a customer is most likely to buy next.

Model: category-to-category follow-on shares. ``share[X, Y]`` is, among customers
whose first purchase in category X lies at least ``WINDOW_DAYS`` before the end of
the data (so the window is fully observed), the share whose first purchase in Y
came after it, within ``WINDOW_DAYS`` days. Estimated on a deterministic sample of
at most ``PAIR_SAMPLE`` customers.

The shares are also estimated per group of customers, the home branch in a run
(a branch's own category mix shapes what its customers buy next), and shrunk
towards the overall ones by ``GROUP_PRIOR`` customers; a customer without a
group is scored with the overall shares.

A customer's score for Y is the largest ``share[X, Y]`` (their group's) over the
categories X they have bought (the X is the reason, with the branch). Categories bought in the last
``RECENT_DAYS`` days are never offered (they just bought them); in fact no
category the customer has ever bought is offered (offers are cross-sells), which
includes the recent ones. The top ``TOP_N`` are kept.

Evaluation (holdout): the model is refitted on the data up to ``as_of -
HOLDOUT_DAYS`` and its top-3 for every customer who bought before that cut and
again after it is compared with the categories they bought in the holdout:
hit-rate@3 = share of those customers (who bought a category new to them in the
holdout) for whom at least one of the three offers was such a category.
The baseline offers the three most popular categories (by customers, before the
cut) with the same exclusions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

WINDOW_DAYS = 60
RECENT_DAYS = 60
HOLDOUT_DAYS = 60
TOP_N = 3
PAIR_SAMPLE = 200_000
EVAL_SAMPLE = 100_000
SCORE_CHUNK = 100_000
# Customers' worth of the overall share a group's own share is blended with.
GROUP_PRIOR = 50.0
NO_GROUP = -1


@dataclass
class OfferModel:
    categories: np.ndarray  # category ids, index = position in share
    share: np.ndarray  # [X, Y] follow-on share
    popularity: np.ndarray  # customers who bought each category
    # Per group (sorted group values): [group, X, Y] shares among the group's customers,
    # shrunk towards ``share``; empty without groups.
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    group_share: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))

    def stacked_shares(self) -> np.ndarray:
        """[group, X, Y]: each group's shares, then the overall ones (last)."""
        if not len(self.groups):
            return self.share[None, :, :]
        return np.concatenate([self.group_share, self.share[None, :, :]])

    def group_positions(self, group_values: np.ndarray) -> np.ndarray:
        """Each customer's position in :meth:`stacked_shares` (the overall shares,
        last, for a group the model has not seen)."""
        if not len(self.groups):
            return np.zeros(len(group_values), dtype="int64")
        position = np.minimum(np.searchsorted(self.groups, group_values), len(self.groups) - 1)
        return np.where(self.groups[position] == group_values, position, len(self.groups))


def _sample_customers(customer_ids: np.ndarray, limit: int, seed: int) -> np.ndarray:
    unique = np.unique(customer_ids)
    if len(unique) <= limit:
        return unique
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(unique, limit, replace=False))


def _follow_on(part: pd.DataFrame, n: int, end_day: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts[X, Y], base[X]): among ``part``'s customers whose first X leaves a fully
    observed window, how many, and how many bought Y for the first time within it."""
    eligible = part[part["first_day"] <= end_day - WINDOW_DAYS]
    base = np.bincount(eligible["code"].to_numpy(), minlength=n).astype("float64")
    pairs = eligible.merge(part, on="customer_id", suffixes=("_x", "_y"))
    gap = pairs["first_day_y"] - pairs["first_day_x"]
    follow = pairs[(gap > 0) & (gap <= WINDOW_DAYS)]
    counts = np.zeros((n, n))
    np.add.at(counts, (follow["code_x"].to_numpy(), follow["code_y"].to_numpy()), 1.0)
    return counts, base


def fit(
    cats: pd.DataFrame, *, end_day: int, seed: int = 0, groups: pd.Series | None = None
) -> OfferModel:
    """Follow-on shares from (customer_id, category_id, first_day) rows, using only
    first purchases on or before ``end_day``.

    ``groups`` (customer_id → whole number, e.g. the branch they buy at most) adds
    shares per group: a branch's own category mix shapes what its customers buy
    next. A group's share is shrunk towards the overall one by ``GROUP_PRIOR``
    customers, so a small group does not offer on the strength of a handful."""
    data = cats[cats["first_day"] <= end_day][["customer_id", "category_id", "first_day"]]
    categories = np.sort(data["category_id"].unique())
    n = len(categories)
    share = np.zeros((n, n))
    popularity = np.zeros(n)
    if n == 0:
        return OfferModel(categories, share, popularity)
    code = np.searchsorted(categories, data["category_id"].to_numpy())
    popularity = np.bincount(code, minlength=n).astype("float64")
    data = data.assign(code=code)
    sample = _sample_customers(data["customer_id"].to_numpy(), PAIR_SAMPLE, seed)
    part = data[data["customer_id"].isin(sample)]
    counts, base = _follow_on(part, n, end_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(base[:, None] > 0, counts / base[:, None], 0.0)
    np.fill_diagonal(share, 0.0)
    model = OfferModel(categories, share, popularity)
    if groups is None or part.empty:
        return model
    group_of = _group_values(groups, part["customer_id"].to_numpy())
    model.groups = np.unique(group_of[group_of != NO_GROUP])
    model.group_share = np.zeros((len(model.groups), n, n))
    for index, group in enumerate(model.groups):
        group_counts, group_base = _follow_on(part[group_of == group], n, end_day)
        shrunk = (group_counts + GROUP_PRIOR * share) / (group_base[:, None] + GROUP_PRIOR)
        np.fill_diagonal(shrunk, 0.0)
        model.group_share[index] = shrunk
    return model


def _group_values(groups: pd.Series | None, customer_ids: np.ndarray) -> np.ndarray:
    """The group of each customer; NO_GROUP where ``groups`` says nothing."""
    if groups is None:
        return np.full(len(customer_ids), NO_GROUP, dtype="int64")
    values = groups.reindex(customer_ids).to_numpy("float64")
    return np.where(np.isnan(values), NO_GROUP, values).astype("int64")


def _customer_matrix(
    cats: pd.DataFrame, model: OfferModel, customers: np.ndarray, *, end_day: int
) -> tuple[np.ndarray, np.ndarray]:
    """(bought, recent) boolean matrices [customer, category] as of ``end_day``."""
    return _Bought.of(cats, model, end_day=end_day).matrices(customers)


@dataclass
class _Bought:
    """What each customer bought by ``end_day``, sorted by customer so a chunk of
    customers is a slice (no scan of every row per chunk)."""

    customer: np.ndarray
    column: np.ndarray
    recent: np.ndarray
    n_categories: int

    @classmethod
    def of(cls, cats: pd.DataFrame, model: OfferModel, *, end_day: int) -> _Bought:
        data = cats[(cats["first_day"] <= end_day) & cats["category_id"].isin(model.categories)]
        customer = data["customer_id"].to_numpy()
        order = np.argsort(customer, kind="stable")
        return cls(
            customer=customer[order],
            column=np.searchsorted(model.categories, data["category_id"].to_numpy()[order]),
            recent=(data["last_day"].to_numpy() > end_day - RECENT_DAYS)[order],
            n_categories=len(model.categories),
        )

    def matrices(self, customers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bought = np.zeros((len(customers), self.n_categories), dtype=bool)
        recent = np.zeros_like(bought)
        if len(customers) == 0:
            return bought, recent
        lo = np.searchsorted(self.customer, customers[0], side="left")
        hi = np.searchsorted(self.customer, customers[-1], side="right")
        ids = self.customer[lo:hi]
        rows = np.searchsorted(customers, ids)
        inside = (rows < len(customers)) & (customers[np.minimum(rows, len(customers) - 1)] == ids)
        rows, cols = rows[inside], self.column[lo:hi][inside]
        bought[rows, cols] = True
        recent[rows, cols] = self.recent[lo:hi][inside]
        return bought, recent


def recommend(
    cats: pd.DataFrame,
    model: OfferModel,
    customers: np.ndarray,
    *,
    end_day: int,
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Top offers for ``customers`` (sorted ids) as rows ``customer_id, rank,
    category_id, score, because_category_id, group`` (the group whose shares scored
    it, NO_GROUP for the overall ones); customers with no possible offer get none.
    ``groups`` as for :func:`fit`."""
    out: list[pd.DataFrame] = []
    n = len(model.categories)
    if n == 0 or len(customers) == 0:
        return _empty_offers()
    history = _Bought.of(cats, model, end_day=end_day)
    stacked = model.stacked_shares()
    for start in range(0, len(customers), SCORE_CHUNK):
        chunk = customers[start : start + SCORE_CHUNK]
        position = model.group_positions(_group_values(groups, chunk))
        group_used = np.append(model.groups, NO_GROUP)[position]
        bought, recent = history.matrices(chunk)
        score = np.zeros((len(chunk), n))
        because = np.full((len(chunk), n), -1, dtype="int64")
        for x in range(n):
            has = bought[:, x]
            if not has.any():
                continue
            candidate = np.where(has[:, None], stacked[position, x, :], 0.0)
            better = candidate > score
            score = np.where(better, candidate, score)
            because = np.where(better, x, because)
        score[bought | recent] = 0.0
        top = np.argsort(-score, axis=1, kind="stable")[:, :TOP_N]
        top_score = np.take_along_axis(score, top, axis=1)
        top_because = np.take_along_axis(because, top, axis=1)
        rows, ranks = np.nonzero(top_score > 0)
        out.append(
            pd.DataFrame(
                {
                    "customer_id": chunk[rows],
                    "rank": ranks + 1,
                    "category_id": model.categories[top[rows, ranks]],
                    "score": top_score[rows, ranks],
                    "because_category_id": model.categories[top_because[rows, ranks]],
                    "group": group_used[rows],
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else _empty_offers()


def _empty_offers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="int64"),
            "rank": pd.Series(dtype="int64"),
            "category_id": pd.Series(dtype="int64"),
            "score": pd.Series(dtype="float64"),
            "because_category_id": pd.Series(dtype="int64"),
            "group": pd.Series(dtype="int64"),
        }
    )


def evaluate(
    cats: pd.DataFrame, *, as_of_day: int, seed: int = 0, groups: pd.Series | None = None
) -> dict[str, Any]:
    """Hit-rate@3 of the model and of the popularity baseline on the last
    ``HOLDOUT_DAYS`` days (see the module docstring)."""
    cut = as_of_day - HOLDOUT_DAYS
    # Offers are cross-sells, so the holdout asks: of the customers who had bought
    # before the cut and then bought a category new to them after it, how many
    # got one of those categories among their three offers?
    before = cats[cats["first_day"] <= cut].copy()
    # The last purchase by the cut is unknown when there was another after it;
    # every category bought by the cut is excluded anyway, so the first day will do.
    before["last_day"] = np.where(
        before["last_day"] <= cut, before["last_day"], before["first_day"]
    )
    after = cats[cats["first_day"] > cut]
    targets = np.intersect1d(before["customer_id"].unique(), after["customer_id"].unique())
    targets = _sample_customers(targets, EVAL_SAMPLE, seed)
    result: dict[str, Any] = {
        "holdout_days": HOLDOUT_DAYS,
        "window_days": WINDOW_DAYS,
        "recent_days": RECENT_DAYS,
        "customers": len(targets),
    }
    if len(targets) == 0:
        result.update({"hit_rate_at_3": None, "baseline_hit_rate_at_3": None})
        return result
    model = fit(before, end_day=cut, seed=seed, groups=groups)
    offers = recommend(before, model, targets, end_day=cut, groups=groups)
    bought_after = after[after["customer_id"].isin(targets)][["customer_id", "category_id"]]
    hits = offers.merge(bought_after, on=["customer_id", "category_id"])
    result["hit_rate_at_3"] = round(hits["customer_id"].nunique() / len(targets), 4)
    # With few categories, three offers cover most of what is left to buy: the
    # first offer alone tells the models apart better.
    result["hit_rate_at_1"] = round(
        hits.loc[hits["rank"] == 1, "customer_id"].nunique() / len(targets), 4
    )

    # Baseline: most popular categories by the cut, minus what the customer has.
    order = model.categories[np.argsort(-model.popularity, kind="stable")]
    bought, recent = _customer_matrix(before, model, targets, end_day=cut)
    taken = bought | recent
    position = {int(c): i for i, c in enumerate(model.categories)}
    chosen = np.full((len(targets), TOP_N), -1, dtype="int64")
    filled = np.zeros(len(targets), dtype="int64")
    for category in order:
        free = ~taken[:, position[int(category)]] & (filled < TOP_N)
        chosen[np.flatnonzero(free), filled[free]] = category
        filled += free
    base_rows = pd.DataFrame(
        {
            "customer_id": np.repeat(targets, TOP_N),
            "category_id": chosen.ravel(),
            "rank": np.tile(np.arange(1, TOP_N + 1), len(targets)),
        }
    )
    base_rows = base_rows[base_rows["category_id"] >= 0]
    base_hits = base_rows.merge(bought_after, on=["customer_id", "category_id"])
    result["baseline_hit_rate_at_3"] = round(base_hits["customer_id"].nunique() / len(targets), 4)
    result["baseline_hit_rate_at_1"] = round(
        base_hits.loc[base_hits["rank"] == 1, "customer_id"].nunique() / len(targets), 4
    )
    return result
