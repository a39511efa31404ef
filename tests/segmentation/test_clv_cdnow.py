"""The CLV models against the published CDNOW estimates, and manage.py clv_eval.

Data: CDNOW_sample.txt from the ``lifetimes`` wheel (tests/testdata.py fetches it
into var/testdata; ``make test`` does so before pytest). 2357 customers who first
bought in Q1 1997; calibration to 1997-09-30, observation to 1998-06-30, weeks.

Published: Fader, Hardie & Lee (2005a) BG/NBD r = 0.2426, α = 4.4136, a = 0.7929,
b = 2.4259, LL = −9582.43; Fader, Hardie & Lee (2005b) Gamma-Gamma p = 6.25,
q = 3.74, γ = 15.44 on the 946 repeat buyers' mean repeat spend.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from segmentation.clv import bgnbd_fit, gamma_gamma_fit, summary_with_holdout
from tests.testdata import DataSetUnavailable, cdnow_sample

CDNOW_COLUMNS = ["customer", "sample_id", "date", "cds", "amount"]


@pytest.fixture(scope="module")
def cdnow_path() -> Path:
    try:
        return cdnow_sample()
    except DataSetUnavailable as reason:
        pytest.skip(f"CDNOW sample unavailable (needs PyPI once): {reason}")


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_path: Path) -> pd.DataFrame:
    tx = pd.read_csv(cdnow_path, sep=r"\s+", header=None, names=CDNOW_COLUMNS, dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return summary_with_holdout(
        tx,
        customer_col="customer",
        date_col="date",
        amount_col="amount",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )


def test_cdnow_summary_shape(cdnow_summary: pd.DataFrame) -> None:
    assert len(cdnow_summary) == 2357
    assert int((cdnow_summary["frequency"] > 0).sum()) == 946
    # Customers who bought first on 1 January have T = 272 days = 38.86 weeks.
    assert cdnow_summary["T"].max() == pytest.approx(272 / 7)
    assert cdnow_summary["duration_holdout"].iloc[0] == pytest.approx(39.0)


def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow_summary: pd.DataFrame) -> None:
    fit = bgnbd_fit(cdnow_summary)
    assert fit.converged
    assert f"{fit.r:.3g}" == "0.243"
    assert f"{fit.alpha:.3g}" == "4.41"
    assert f"{fit.a:.3g}" == "0.793"
    assert f"{fit.b:.3g}" == "2.43"
    assert fit.r == pytest.approx(0.2426, abs=5e-5)
    assert fit.alpha == pytest.approx(4.4136, abs=5e-4)
    assert fit.a == pytest.approx(0.7929, abs=5e-5)
    assert fit.b == pytest.approx(2.4259, abs=5e-4)
    assert fit.ll == pytest.approx(-9582.43, abs=0.005)


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(
    cdnow_summary: pd.DataFrame,
) -> None:
    gg = gamma_gamma_fit(cdnow_summary)
    assert gg.n_customers == 946
    assert gg.p == pytest.approx(6.25, abs=0.005)
    assert gg.q == pytest.approx(3.74, abs=0.005)
    assert gg.v == pytest.approx(15.44, abs=0.005)


def _clv_eval(*args: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("clv_eval", *args, stdout=out)
    return out.getvalue()


CDNOW_ARGS = [
    "--sep",
    "whitespace",
    "--no-header",
    "--columns",
    ",".join(CDNOW_COLUMNS),
    "--customer-col",
    "customer",
    "--date-col",
    "date",
    "--date-format",
    "%Y%m%d",
    "--amount-col",
    "amount",
    "--calibration-end",
    "1997-09-30",
]


def test_clv_eval_on_cdnow_json(cdnow_path: Path) -> None:
    report = json.loads(_clv_eval(str(cdnow_path), *CDNOW_ARGS, "--json"))
    assert set(report) == {"bgnbd", "gamma_gamma", "holdout", "seconds"}
    assert set(report["bgnbd"]) == {"r", "alpha", "a", "b", "ll"}
    assert set(report["gamma_gamma"]) == {"p", "q", "v"}
    assert set(report["holdout"]) == {"predicted", "actual", "mae"}
    assert report["bgnbd"]["r"] == pytest.approx(0.2426, abs=5e-5)
    assert report["bgnbd"]["ll"] == pytest.approx(-9582.43, abs=0.005)
    assert report["gamma_gamma"]["q"] == pytest.approx(3.74, abs=0.005)
    # Holdout (1997-10-01 .. 1998-06-30, the file's last date): repeat purchase days.
    holdout = report["holdout"]
    assert holdout["actual"] == 1882
    assert holdout["predicted"] == pytest.approx(1653.4, abs=0.5)
    assert holdout["mae"] == pytest.approx(0.7855, abs=5e-4)
    assert report["seconds"] > 0


def test_clv_eval_reads_an_ordinary_csv(cdnow_path: Path, tmp_path: Path) -> None:
    tx = pd.read_csv(cdnow_path, sep=r"\s+", header=None, names=CDNOW_COLUMNS, dtype=str)
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    csv_path = tmp_path / "cdnow.csv"
    tx.to_csv(csv_path, index=False)
    text = _clv_eval(
        str(csv_path),
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
        "--calibration-end",
        "1997-09-30",
        "--observation-end",
        "1998-06-30",
    )
    assert "r = 0.2426  alpha = 4.4136  a = 0.7929  b = 2.4259  LL = -9582.43" in text
    assert "p = 6.2496  q = 3.7442  v = 15.4435" in text
    assert "actual 1882" in text


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tx.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


BASIC = ["--customer-col", "c", "--date-col", "d", "--amount-col", "a"]


def test_clv_eval_names_a_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "c,date,a\n1,2024-01-01,5\n")
    with pytest.raises(CommandError, match=r"no column 'd'\. Its columns are: c, date, a"):
        _clv_eval(path, *BASIC, "--calibration-end", "2024-06-30")


def test_clv_eval_points_at_a_bad_date(tmp_path: Path) -> None:
    path = _write(tmp_path, "c,d,a\n1,2024-01-01,5\n1,31/02/2024,6\n2,2024-01-02,1\n")
    with pytest.raises(CommandError, match=r"Line 3: '31/02/2024' is not a valid date"):
        _clv_eval(path, *BASIC, "--calibration-end", "2024-06-30")


def test_clv_eval_points_at_a_bad_amount(tmp_path: Path) -> None:
    path = _write(tmp_path, "c,d,a\n1,2024-01-01,5\n1,2024-02-01,five\n")
    with pytest.raises(CommandError, match=r"Line 3: 'five' is not a valid amount"):
        _clv_eval(path, *BASIC, "--calibration-end", "2024-06-30")


def test_clv_eval_refuses_a_bad_calibration_end(tmp_path: Path) -> None:
    path = _write(tmp_path, "c,d,a\n1,2024-01-01,5\n")
    with pytest.raises(CommandError, match="--calibration-end must be a date written YYYY-MM-DD"):
        _clv_eval(path, *BASIC, "--calibration-end", "30.06.2024")
    with pytest.raises(CommandError, match="nothing to compare with"):
        _clv_eval(path, *BASIC, "--calibration-end", "2024-06-30")


def test_clv_eval_says_when_there_is_too_little_data(tmp_path: Path) -> None:
    rows = ["c,d,a"] + [f"{n},2024-01-0{1 + n % 5},10" for n in range(40)] + ["1,2024-08-01,10"]
    path = _write(tmp_path, "\n".join(rows) + "\n")
    with pytest.raises(CommandError, match="Only 40 customers have purchases"):
        _clv_eval(path, *BASIC, "--calibration-end", "2024-06-30")


def test_clv_eval_missing_file() -> None:
    with pytest.raises(CommandError, match="There is no file"):
        _clv_eval("/nonexistent/tx.csv", *BASIC, "--calibration-end", "2024-06-30")
