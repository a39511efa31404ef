"""segmentation.rfm on hand-made data: quintiles, ties, non-buyers, the rule table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.utils import translation

from segmentation.rfm import (
    RULES,
    RfmSegment,
    fm_score,
    quintile_scores,
    rfm_scores,
    rule_table,
)


def test_quintiles_of_ten_distinct_values() -> None:
    values = pd.Series([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    assert quintile_scores(values).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Lower is better (recency): the order flips.
    assert quintile_scores(values, higher_is_better=False).tolist() == [
        5, 5, 4, 4, 3, 3, 2, 2, 1, 1,
    ]  # fmt: skip


def test_ties_share_a_score_whatever_the_order() -> None:
    # Six one-time buyers, then 2, 3, 5, 8: the one-time buyers are all F 1.
    values = pd.Series([1, 1, 1, 1, 1, 1, 2, 3, 5, 8])
    expected = [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert quintile_scores(values).tolist() == expected
    shuffled = values.sample(frac=1, random_state=7)
    scores = quintile_scores(shuffled)
    assert scores.sort_index().tolist() == expected


def test_all_equal_values_get_the_same_score() -> None:
    assert set(quintile_scores(pd.Series([3.0] * 7)).tolist()) == {1}


def test_missing_values_score_zero_and_do_not_count() -> None:
    values = pd.Series([np.nan, 10, 20, 30, 40, 50, None])
    assert quintile_scores(values).tolist() == [0, 1, 2, 3, 4, 5, 0]


def test_fm_is_the_mean_rounded_half_up() -> None:
    assert fm_score(np.array([1, 1, 2, 5, 4]), np.array([1, 2, 2, 4, 1])).tolist() == [
        1, 2, 2, 5, 3,
    ]  # fmt: skip


def test_every_cell_is_covered_by_exactly_one_rule() -> None:
    for r in range(1, 6):
        for fm in range(1, 6):
            matching = [rule.segment for rule in RULES if rule.matches(r, fm)]
            assert len(matching) == 1, (r, fm, matching)
    named = {rule.segment for rule in RULES}
    assert named == set(RfmSegment) - {RfmSegment.NO_PURCHASES}


def test_rule_table_is_readable_in_english() -> None:
    with translation.override("en"):
        champions = RULES[0]
        assert champions.label == "Champions"
        assert champions.condition_text() == "R 5, FM 4–5"
        assert str(champions.description).startswith("Bought very recently")
        assert RfmSegment.CANT_LOSE.label == "Can't lose them"
        table = rule_table()
    assert [row["segment"] for row in table] == [rule.segment.value for rule in RULES]
    assert table[1] == {
        "segment": "loyal",
        "label": "Loyal",
        "condition": "R 3–4, FM 4–5",
        "description": "Buy often and spend a lot; their last purchase was fairly recent.",
    }


def _frame(rows: list[tuple[int, float | None, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "recency_days", "frequency", "monetary"])


def test_segments_on_hand_made_customers() -> None:
    # Ten buyers with distinct values so each quintile holds two of them.
    frame = _frame(
        [
            (1, 1, 20, 2000.0),  # most recent, most frequent, biggest spender
            (2, 2, 19, 1900.0),
            (3, 300, 21, 2100.0),  # old but was the best: can't lose them
            (4, 290, 17, 1700.0),
            (5, 0, 1, 10.0),  # very recent, bought once, little: new
            (6, 150, 8, 500.0),
            (7, 160, 7, 400.0),
            (8, 280, 2, 20.0),
            (9, 310, 3, 30.0),
            (10, 4, 4, 40.0),
            (11, None, 0, 0.0),  # never bought
        ]
    )
    result = rfm_scores(frame).set_index("customer_id")
    assert result.loc[1, ["r_score", "f_score", "m_score"]].tolist() == [5, 5, 5]
    assert result.loc[1, "segment"] == RfmSegment.CHAMPIONS
    assert result.loc[3, "r_score"] == 1
    assert result.loc[3, "segment"] == RfmSegment.CANT_LOSE
    assert result.loc[5, "segment"] == RfmSegment.NEW
    assert result.loc[9, "segment"] == RfmSegment.LOST
    assert result.loc[11, ["r_score", "f_score", "m_score", "fm_score"]].tolist() == [0, 0, 0, 0]
    assert result.loc[11, "segment"] == RfmSegment.NO_PURCHASES
    # Every code is a valid choice.
    assert set(result["segment"]) <= set(RfmSegment.values)


def test_result_keeps_the_input_index_and_order() -> None:
    frame = _frame([(7, 5, 2, 10.0), (3, 50, 1, 5.0)])
    frame.index = pd.Index([100, 200])
    result = rfm_scores(frame)
    assert result.index.tolist() == [100, 200]
    assert result["customer_id"].tolist() == [7, 3]


def test_no_buyers_at_all() -> None:
    result = rfm_scores(_frame([(1, None, 0, 0.0), (2, None, 0, 0.0)]))
    assert (result["segment"] == RfmSegment.NO_PURCHASES).all()


def test_missing_column_is_reported() -> None:
    with pytest.raises(ValueError, match="monetary"):
        rfm_scores(pd.DataFrame({"customer_id": [1], "recency_days": [1], "frequency": [1]}))
