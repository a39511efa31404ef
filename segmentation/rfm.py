"""RFM scoring: recency, frequency and monetary quintile scores and named segments.

Pure and vectorised (pandas/numpy, no Django models), so the segmentation run can
call it on a million customers at once and tests can call it on five.

Scores are 1..5 with 5 = best (most recent, most frequent, highest spend). A
customer's score is ``1 + floor(5 * share of customers with a strictly worse
value)``: equal values always get equal scores, whatever their order in the
input, so a run is reproducible. With heavy ties (most customers buy once) the
lower scores simply stay empty instead of splitting identical customers at random.

Customers without purchases get score 0 in every column and the segment
``no_purchases``; they take no part in the quintiles of buyers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = [
    "RFM_INPUT_COLUMNS",
    "RULES",
    "RfmRule",
    "RfmSegment",
    "fm_score",
    "quintile_scores",
    "rfm_scores",
    "rule_table",
]

RFM_INPUT_COLUMNS = ("customer_id", "recency_days", "frequency", "monetary")


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential loyalists")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")
    # Not an RFM cell: customers on file who never bought anything.
    NO_PURCHASES = "no_purchases", _("No purchases")


@dataclass(frozen=True)
class RfmRule:
    """One row of the rule table: R score in [r_min, r_max] and FM score in [fm_min, fm_max]."""

    segment: RfmSegment
    r_min: int
    r_max: int
    fm_min: int
    fm_max: int
    description: Promise

    @property
    def label(self) -> str:
        return str(self.segment.label)

    def matches(self, r: int, fm: int) -> bool:
        return self.r_min <= r <= self.r_max and self.fm_min <= fm <= self.fm_max

    def condition_text(self) -> str:
        """'R 3–4, FM 4–5' — the rule as the UI shows it next to the description."""

        def span(lo: int, hi: int) -> str:
            return str(lo) if lo == hi else f"{lo}–{hi}"

        return f"R {span(self.r_min, self.r_max)}, FM {span(self.fm_min, self.fm_max)}"


# The rule table shown to users. FM is the rounded mean of the F and M scores
# (see fm_score): frequency and spend move together for most customers, and a
# two-dimensional R × FM grid is one users can read. Rules are checked in order
# and the first match wins; together they cover all 25 cells exactly once
# (tests/segmentation/test_rfm.py checks both).
RULES: tuple[RfmRule, ...] = (
    RfmRule(
        RfmSegment.CHAMPIONS,
        5,
        5,
        4,
        5,
        _("Bought very recently, buy often and spend the most."),
    ),
    RfmRule(
        RfmSegment.LOYAL,
        3,
        4,
        4,
        5,
        _("Buy often and spend a lot; their last purchase was fairly recent."),
    ),
    RfmRule(
        RfmSegment.CANT_LOSE,
        1,
        2,
        5,
        5,
        _("Used to buy most often and spend the most, but have not come back for a long time."),
    ),
    RfmRule(
        RfmSegment.AT_RISK,
        1,
        2,
        3,
        4,
        _("Bought often and spent well in the past, but not for a long time."),
    ),
    RfmRule(
        RfmSegment.POTENTIAL_LOYALISTS,
        4,
        5,
        2,
        3,
        _("Recent customers with average frequency and spend who could become loyal."),
    ),
    RfmRule(
        RfmSegment.NEED_ATTENTION,
        3,
        3,
        3,
        3,
        _("Average recency, frequency and spend: they may slip away without a reason to return."),
    ),
    RfmRule(
        RfmSegment.ABOUT_TO_SLEEP,
        3,
        3,
        1,
        2,
        _("Below-average frequency and spend, and their last purchase is getting old."),
    ),
    RfmRule(
        RfmSegment.PROMISING,
        4,
        4,
        1,
        1,
        _("Bought fairly recently, but little so far."),
    ),
    RfmRule(
        RfmSegment.NEW,
        5,
        5,
        1,
        1,
        _("Bought very recently for the first time or only a little."),
    ),
    RfmRule(
        RfmSegment.HIBERNATING,
        2,
        2,
        1,
        2,
        _("Last purchase long ago, low frequency and spend."),
    ),
    RfmRule(
        RfmSegment.LOST,
        1,
        1,
        1,
        2,
        _("Lowest recency, frequency and spend: they have most likely gone."),
    ),
)


def rule_table() -> list[dict[str, str]]:
    """The rules as the UI lists them, in order, translated into the active language:
    ``segment`` (code), ``label``, ``condition`` ('R 3–4, FM 4–5'), ``description``."""
    return [
        {
            "segment": rule.segment.value,
            "label": rule.label,
            "condition": rule.condition_text(),
            "description": str(rule.description),
        }
        for rule in RULES
    ]


def _segment_lookup() -> np.ndarray:
    """6×6 array of segment codes indexed by [r, fm]; row/column 0 is 'no purchases'."""
    table = np.full((6, 6), RfmSegment.NO_PURCHASES.value, dtype=object)
    for r in range(1, 6):
        for fm in range(1, 6):
            rule = next(rule for rule in RULES if rule.matches(r, fm))
            table[r, fm] = rule.segment.value
    return table


_SEGMENT_BY_CELL = _segment_lookup()


def quintile_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..5 for the non-missing values (5 = best); missing values get 0.

    ``1 + floor(5 * share of values strictly worse)``: ties share a score, and
    the result does not depend on the order of the input.
    """
    scores = pd.Series(0, index=values.index, dtype="int8")
    present = values.notna()
    n = int(present.sum())
    if n == 0:
        return scores
    oriented = values[present].astype("float64")
    if not higher_is_better:
        oriented = -oriented
    # rank(method="min") - 1 is the number of values strictly below.
    worse = oriented.rank(method="min").to_numpy() - 1.0
    scores[present] = (1 + np.floor(5.0 * worse / n)).clip(1, 5).astype("int8")
    return scores


def fm_score(f_score: pd.Series | np.ndarray, m_score: pd.Series | np.ndarray) -> np.ndarray:
    """The combined frequency/monetary score: mean of F and M, halves rounded up."""
    f = np.asarray(f_score, dtype="int16")
    m = np.asarray(m_score, dtype="int16")
    return ((f + m + 1) // 2).astype("int8")


def rfm_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """RFM scores and segment per customer.

    ``frame`` has columns ``customer_id``, ``recency_days`` (days since the last
    purchase; NaN/None when the customer never bought), ``frequency`` (number of
    purchases, 0 for none) and ``monetary`` (total spend). A customer counts as
    a buyer when ``frequency > 0`` and ``recency_days`` is known.

    Returns a frame with the same index and columns ``customer_id``, ``r_score``,
    ``f_score``, ``m_score``, ``fm_score`` (int8, 1..5, 0 for non-buyers) and
    ``segment`` (RfmSegment values).
    """
    missing = [c for c in RFM_INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"rfm_scores: missing columns {', '.join(missing)}")

    recency = pd.to_numeric(frame["recency_days"], errors="coerce").astype("float64")
    frequency = pd.to_numeric(frame["frequency"], errors="coerce").fillna(0).astype("float64")
    monetary = pd.to_numeric(frame["monetary"], errors="coerce").fillna(0).astype("float64")
    buyer = (frequency > 0) & recency.notna()

    r = quintile_scores(recency.where(buyer), higher_is_better=False)
    f = quintile_scores(frequency.where(buyer))
    m = quintile_scores(monetary.where(buyer))
    fm = fm_score(f, m)
    fm[~buyer.to_numpy()] = 0

    segment = _SEGMENT_BY_CELL[r.to_numpy(), fm]
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "r_score": r.to_numpy(),
            "f_score": f.to_numpy(),
            "m_score": m.to_numpy(),
            "fm_score": fm,
            "segment": segment.astype(str),
        },
        index=frame.index,
    )
