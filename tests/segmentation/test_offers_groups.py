"""Next best offers scored with the shares of the customer's own branch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation import offers

AS_OF = 1000


# (branch, the category its A-buyers go on to, customers): overall B is a little
# ahead (60 against 40 customers).
FOLLOW_ON = ((1, 2, 60), (2, 3, 40))


def _history(*, holdout_per_branch: int = 0) -> tuple[list[tuple[int, ...]], dict[int, int]]:
    """Rows (customer, category, first day, last day) and each customer's branch: long
    ago every branch's A-buyers went on to its follow-on within 20 days; with
    ``holdout_per_branch``, that many more per branch bought A just before the cut
    (day 940 for AS_OF) and the follow-on after it."""
    rows: list[tuple[int, ...]] = []
    groups: dict[int, int] = {}
    for branch, follow, count in FOLLOW_ON:
        for first, then, customers in ((500, 520, count), (930, 960, holdout_per_branch)):
            for _ in range(customers):
                customer = len(groups)
                rows += [(customer, 1, first, first), (customer, follow, then, then)]
                groups[customer] = branch
    return rows, groups


def _frame(rows: list[tuple[int, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "category_id", "first_day", "last_day"])


def _two_branches() -> tuple[pd.DataFrame, pd.Series]:
    """The history, then two fresh A-buyers per branch with nothing after A yet, and
    one without a branch (scored with the overall shares)."""
    rows, groups = _history()
    customer = len(groups)
    for branch in (1, 2):
        for _ in range(2):
            rows.append((customer, 1, 990, 990))
            groups[customer] = branch
            customer += 1
    rows.append((customer, 1, 990, 990))
    return _frame(rows), pd.Series(groups, dtype="float64")


def test_a_branchs_own_follow_on_decides_its_customers_first_offer() -> None:
    cats, groups = _two_branches()
    model = offers.fit(cats, end_day=AS_OF, groups=groups)
    assert list(model.groups) == [1, 2]
    customers = np.array(sorted(cats["customer_id"].unique()))
    chosen = offers.recommend(cats, model, customers, end_day=AS_OF, groups=groups)
    first = chosen[chosen["rank"] == 1].set_index("customer_id")

    branch_1, branch_2, no_branch = 100, 102, 104
    assert first.loc[branch_1, "category_id"] == 2 and first.loc[branch_1, "group"] == 1
    assert first.loc[branch_2, "category_id"] == 3 and first.loc[branch_2, "group"] == 2
    # Overall, B leads; a customer of no branch gets the overall shares and no group.
    assert first.loc[no_branch, "category_id"] == 2
    assert first.loc[no_branch, "group"] == offers.NO_GROUP
    assert first.loc[no_branch, "score"] == model.share[0, 1]
    # Shrunk towards the overall share, never past the branch's own.
    own = 40 / 40
    assert model.share[0, 2] < first.loc[branch_2, "score"] < own
    assert (chosen["because_category_id"] == 1).all()


def test_without_groups_the_offers_are_the_overall_ones() -> None:
    cats, _ = _two_branches()
    customers = np.array(sorted(cats["customer_id"].unique()))
    plain = offers.recommend(cats, offers.fit(cats, end_day=AS_OF), customers, end_day=AS_OF)
    assert (plain["group"] == offers.NO_GROUP).all()
    first = plain[(plain["rank"] == 1) & (plain["customer_id"] >= 100)]  # the A-only ones
    assert len(first) == 5 and (first["category_id"] == 2).all()


def test_branch_shares_beat_popularity_on_a_holdout_where_branches_differ() -> None:
    # Before the cut each branch's customers learn their branch's follow-on; in the
    # holdout its fresh A-buyers follow it. Popularity offers B to everyone.
    rows, groups = _history(holdout_per_branch=10)
    cats = _frame(rows)
    grouped = offers.evaluate(cats, as_of_day=AS_OF, groups=pd.Series(groups, dtype="float64"))
    plain = offers.evaluate(cats, as_of_day=AS_OF)
    assert grouped["customers"] == 20
    assert grouped["hit_rate_at_1"] == 1.0
    assert plain["hit_rate_at_1"] == 0.5  # everyone is offered B first
