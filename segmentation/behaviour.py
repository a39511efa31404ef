"""Behaviour clusters: who shops when, where, how and on what terms.

* Features (``CLUSTER_FEATURES``) are standardised (z-scores over the clustered
  customers); money and counts are log-scaled first so a few big spenders do not
  make their own clusters.
* k is chosen in ``K_RANGE`` by the **highest mean silhouette** (Euclidean, on a
  deterministic sample of ``SILHOUETTE_SAMPLE`` customers) of a MiniBatchKMeans
  fit on a sample of ``FIT_SAMPLE``; every customer is then assigned to the
  nearest centroid.
* Labels stay stable across runs: the new centroids are matched to the previous
  run's (both expressed in this run's scaled space) by the Hungarian assignment on
  Euclidean distance; a match closer than ``MATCH_DISTANCE`` keeps the old label,
  anything else gets a new one.
* Each cluster is described by the features whose centroid is furthest from the
  overall mean (``|z| >= DISTINGUISHING_Z``, at most three) plus a branch or
  category when most of its customers share one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

CLUSTER_FEATURES: tuple[str, ...] = (
    "frequency",
    "average_basket",
    "recency_days",
    "return_rate",
    "discount_share",
    "weekend_share",
    "morning_share",
    "evening_share",
    "online_share",
)
LOG_FEATURES = frozenset({"frequency", "average_basket", "recency_days"})
K_RANGE = range(3, 9)
FIT_SAMPLE = 30_000
SILHOUETTE_SAMPLE = 5_000
MATCH_DISTANCE = 1.0
DISTINGUISHING_Z = 0.5
MOSTLY_SHARE = 0.5
MIN_CUSTOMERS = 20


@dataclass
class ClusterResult:
    assignments: pd.Series  # customer_id -> label ("" when not clustered)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    columns = []
    for name in CLUSTER_FEATURES:
        values = frame[name].astype("float64").fillna(0.0).to_numpy()
        if name in LOG_FEATURES:
            values = np.log1p(np.maximum(values, 0.0))
        columns.append(values)
    return np.column_stack(columns)


def _phrase(feature: str, high: bool) -> str:
    phrases = {
        "frequency": (_("frequent buyers"), _("occasional buyers")),
        "average_basket": (_("large baskets"), _("small baskets")),
        "recency_days": (_("not seen for a while"), _("recently active")),
        "return_rate": (_("return often"), _("rarely return")),
        "discount_share": (_("heavy discount use"), _("rarely use discounts")),
        "weekend_share": (_("weekend shoppers"), _("weekday shoppers")),
        "morning_share": (_("morning shoppers"), _("rarely shop in the morning")),
        "evening_share": (_("evening shoppers"), _("rarely shop in the evening")),
        "online_share": (_("mostly online"), _("mostly in store")),
    }
    pair = phrases.get(feature)
    if pair is None:
        return feature
    return pair[0] if high else pair[1]


def describe(
    distinguishing: list[dict[str, Any]],
    *,
    branch_names: dict[int, str] | None = None,
    category_names: dict[int, str] | None = None,
) -> tuple[str, str]:
    """(name, description) in the active language from a cluster's distinguishing
    features: ``[{"feature", "z"}, ..., {"branch_id", "share"}, {"category_id", "share"}]``."""
    phrases: list[str] = []
    for item in distinguishing:
        if "feature" in item:
            phrases.append(_phrase(item["feature"], float(item["z"]) > 0))
        elif "branch_id" in item:
            name = (branch_names or {}).get(int(item["branch_id"]), f"#{item['branch_id']}")
            phrases.append(_("mostly branch %(branch)s") % {"branch": name})
        elif "category_id" in item:
            name = (category_names or {}).get(int(item["category_id"]), f"#{item['category_id']}")
            phrases.append(_("mostly %(category)s") % {"category": name})
    if not phrases:
        return _("Average customers"), _("No feature stands out from the customer base.")

    def sentence(text: str) -> str:
        # Only the first letter: str.capitalize() would lower-case branch names.
        return text[:1].upper() + text[1:]

    return sentence(", ".join(phrases[:2])), sentence(", ".join(phrases)) + "."


def _choose_k(x: np.ndarray, seed: int) -> tuple[int, float, dict[str, float], MiniBatchKMeans]:
    rng = np.random.default_rng(seed)
    fit_rows = x if len(x) <= FIT_SAMPLE else x[rng.choice(len(x), FIT_SAMPLE, replace=False)]
    sil_rows = (
        np.arange(len(fit_rows))
        if len(fit_rows) <= SILHOUETTE_SAMPLE
        else rng.choice(len(fit_rows), SILHOUETTE_SAMPLE, replace=False)
    )
    # One thread: on batches of 4,096 rows OpenMP's hand-offs cost more than the work
    # (measured: choosing k on 30k rows 6.0 s with two threads, 1.6 s with one, same
    # result), and worse when the database is busy on the other core.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _best_k(fit_rows, sil_rows, seed)


def _best_k(
    fit_rows: np.ndarray, sil_rows: np.ndarray, seed: int
) -> tuple[int, float, dict[str, float], MiniBatchKMeans]:
    best: tuple[int, float, MiniBatchKMeans] | None = None
    scores: dict[str, float] = {}
    for k in K_RANGE:
        if k >= len(fit_rows):
            break
        model = MiniBatchKMeans(
            n_clusters=k, random_state=seed, n_init=2, batch_size=4096, max_iter=50
        ).fit(fit_rows)
        labels = model.labels_[sil_rows]
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(fit_rows[sil_rows], labels))
        scores[str(k)] = round(score, 4)
        if best is None or score > best[1] + 1e-9:
            best = (k, score, model)
    if best is None:
        raise ValueError("no clustering")
    return best[0], best[1], scores, best[2]


def _match_labels(
    centroids: np.ndarray, previous: list[dict[str, Any]], mean: np.ndarray, std: np.ndarray
) -> list[str]:
    """Labels for ``centroids`` (scaled), reusing the previous run's where close."""
    labels: list[str | None] = [None] * len(centroids)
    used = {str(p["label"]) for p in previous}
    if previous:
        old = np.array(
            [[float(p["centroid"].get(f, 0.0)) for f in CLUSTER_FEATURES] for p in previous]
        )
        old_scaled = (old - mean) / std
        cost = np.linalg.norm(centroids[:, None, :] - old_scaled[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        for row, col in zip(rows, cols, strict=True):
            if cost[row, col] <= MATCH_DISTANCE:
                labels[row] = str(previous[col]["label"])
    number = 1
    for i, label in enumerate(labels):
        if label is None:
            while f"B{number}" in used:
                number += 1
            labels[i] = f"B{number}"
            used.add(f"B{number}")
    return [str(label) for label in labels]


def behaviour_clusters(
    frame: pd.DataFrame,
    *,
    previous: list[dict[str, Any]] | None = None,
    seed: int = 0,
) -> ClusterResult:
    """Cluster the customers of ``frame`` (index customer_id; the scalar features of
    :mod:`segmentation.features`, already without customers who must not be
    profiled). Customers without purchases are not clustered.

    ``previous``: the previous run's clusters as ``{"label", "centroid"}`` with the
    centroid in raw feature units, for stable labels.
    """
    buyers = frame[frame["frequency"] > 0]
    assignments = pd.Series("", index=frame.index, dtype=object)
    if len(buyers) < MIN_CUSTOMERS:
        return ClusterResult(
            assignments, [], {"state": "not_enough_data", "customers": len(buyers)}
        )
    raw = _matrix(buyers)
    mean = raw.mean(axis=0)
    std = raw.std(axis=0)
    std[std == 0] = 1.0
    x = (raw - mean) / std
    k, silhouette, scores, model = _choose_k(x, seed)
    centroids = model.cluster_centers_
    labels = model.predict(x)
    names = _match_labels(centroids, previous or [], mean, std)
    assignments.loc[buyers.index] = np.array(names, dtype=object)[labels]

    clusters: list[dict[str, Any]] = []
    for index, label in enumerate(names):
        members = buyers[labels == index]
        z = centroids[index]
        order = np.argsort(-np.abs(z))
        distinguishing: list[dict[str, Any]] = [
            {"feature": CLUSTER_FEATURES[j], "z": round(float(z[j]), 2)}
            for j in order[:3]
            if abs(z[j]) >= DISTINGUISHING_Z
        ]
        for key, column in (("branch_id", "top_branch_id"), ("category_id", "top_category_id")):
            if column in members and len(members):
                counts = members[column].dropna().astype("int64").value_counts()
                if len(counts) and counts.iloc[0] / len(members) >= MOSTLY_SHARE:
                    distinguishing.append(
                        {
                            key: int(counts.index[0]),
                            "share": round(counts.iloc[0] / len(members), 2),
                        }
                    )
        # Centroid in raw units (undo scaling and the log) for the next run's matching.
        raw_centroid = z * std + mean
        centroid = {}
        for j, feature in enumerate(CLUSTER_FEATURES):
            value = float(raw_centroid[j])
            centroid[feature] = round(value, 6)
        clusters.append(
            {
                "label": label,
                "size": len(members),
                "centroid": centroid,
                "distinguishing": distinguishing,
            }
        )
    parameters = {
        "state": "fitted",
        "k": int(k),
        "silhouette": round(silhouette, 4),
        "silhouette_by_k": scores,
        "criterion": "max mean silhouette on a sample",
        "customers": len(buyers),
        "features": list(CLUSTER_FEATURES),
    }
    return ClusterResult(assignments, clusters, parameters)
