"""The batch duplicate finder (customers.dedup) and dedup_eval on small labelled sets."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.management import call_command

from crm.models import Tenant
from crm.tenancy import tenant_context
from customers import dedup, normalize
from customers.management.commands.dedup_eval import (
    TURKISH_MAPPING,
    TURKISH_TRUTH,
    pairwise_quality,
    turkish_sample,
)
from customers.models import Customer
from tests.conftest import TenantWorld
from tests.factories import AddressFactory, CustomerFactory, EmailFactory, PhoneFactory


def _person(
    world: TenantWorld,
    first: str,
    last: str,
    *,
    born: date | None = None,
    phone: str = "",
    email: str = "",
    address: str = "",
    district: str = "Kadıköy",
    tckn: str = "",
) -> Customer:
    tenant = world.tenant
    customer: Customer = CustomerFactory.create(
        tenant=tenant, first_name=first, last_name=last, birth_date=born, tckn=tckn
    )
    if phone:
        PhoneFactory.create(
            tenant=tenant, customer=customer, e164=normalize.normalize_phone(phone).e164
        )
    if email:
        EmailFactory.create(
            tenant=tenant,
            customer=customer,
            address=normalize.normalize_email(email),
            match_key=normalize.email_key(email),
        )
    if address:
        AddressFactory.create(
            tenant=tenant, customer=customer, line=address, province="34", district=district
        )
    return customer


def _run(world: TenantWorld) -> dedup.DedupResult:
    with tenant_context(world.tenant):
        return dedup.find_duplicates(tenant=world.tenant)


def _score(result: dedup.DedupResult, a: Customer, b: Customer) -> float | None:
    left, right = sorted((a.pk, b.pk))
    row = result.pairs[(result.pairs["left"] == left) & (result.pairs["right"] == right)]
    return None if row.empty else float(row["score"].iloc[0])


def _evidence(result: dedup.DedupResult, a: Customer, b: Customer) -> list[str]:
    left, right = sorted((a.pk, b.pk))
    row = result.pairs[(result.pairs["left"] == left) & (result.pairs["right"] == right)]
    return list(row["evidence"].iloc[0])


def _together(result: dedup.DedupResult, a: Customer, b: Customer) -> bool:
    return any(a.pk in group and b.pk in group for group in result.clusters)


# ------------------------------------------------------------------------- traps


@pytest.mark.django_db
def test_family_sharing_phone_and_address_is_not_a_duplicate(world_a: TenantWorld) -> None:
    home = "Moda Mahallesi Bahariye Caddesi No: 12 Daire 3"
    mother = _person(
        world_a, "Ayşe", "Yılmaz", born=date(1965, 3, 1), phone="0532 111 22 33", address=home
    )
    daughter = _person(
        world_a, "Elif", "Yılmaz", born=date(1994, 7, 9), phone="0532 111 22 33", address=home
    )
    # Father and son: one name, one phone, one home, different birth dates.
    father = _person(
        world_a, "Mehmet", "Kaya", born=date(1950, 1, 5), phone="0533 444 55 66", address=home
    )
    son = _person(
        world_a, "Mehmet", "Kaya", born=date(1980, 9, 9), phone="0533 444 55 66", address=home
    )
    result = _run(world_a)

    mother_daughter = _score(result, mother, daughter)
    assert mother_daughter is not None, "blocking should still compare them (shared phone)"
    assert mother_daughter < dedup.DEFAULT_THRESHOLD
    assert "same phone" in _evidence(result, mother, daughter)
    assert "different first name" in _evidence(result, mother, daughter)
    father_son = _score(result, father, son)
    assert father_son is not None and father_son < dedup.DEFAULT_THRESHOLD
    assert "different birth date" in _evidence(result, father, son)
    assert result.clusters == []


@pytest.mark.django_db
def test_namesakes_in_one_city_are_not_duplicates(world_a: TenantWorld) -> None:
    one = _person(
        world_a,
        "Mehmet",
        "Yılmaz",
        born=date(1970, 5, 5),
        phone="0532 100 00 01",
        address="Cumhuriyet Mah. 5. Sokak No: 1",
    )
    two = _person(
        world_a,
        "Mehmet",
        "Yılmaz",
        born=date(1988, 11, 20),
        phone="0544 200 00 02",
        address="Atatürk Cad. No: 77",
    )
    # Same full name and district, nothing else known: not enough either.
    three = _person(world_a, "Ahmet", "Demir", address="Lale Sokak 3", district="Üsküdar")
    four = _person(world_a, "Ahmet", "Demir", address="Gazi Bulvarı 90", district="Üsküdar")
    result = _run(world_a)

    assert (_score(result, one, two) or 0) < dedup.DEFAULT_THRESHOLD
    assert (_score(result, three, four) or 0) < dedup.DEFAULT_THRESHOLD
    assert "nothing beyond name and place" in _evidence(result, three, four)
    assert result.clusters == []


@pytest.mark.django_db
def test_true_duplicates_with_typing_variants_are_found(world_a: TenantWorld) -> None:
    pairs = [
        (
            _person(world_a, "Şükrü", "Öztürk", born=date(1971, 2, 3), phone="0532 123 45 67"),
            _person(world_a, "SUKRU", "OZTURK", phone="+90 (532) 123-45-67"),
        ),
        (
            _person(world_a, "Ayşe Gül", "Yılmaz", email="ayse.gul@example.com"),
            _person(world_a, "Ayse", "Yilmaz", email="AYSE.GUL@example.com"),
        ),
        (
            _person(world_a, "Hüseyin", "Çelik", born=date(1983, 12, 1), address="Lale Sk. 4"),
            _person(world_a, "Hüsyein", "Celik", born=date(1983, 1, 12)),  # day/month
        ),
        (
            _person(world_a, "İsmail", "Işık", born=date(1990, 4, 6), phone="0505 999 88 77"),
            _person(world_a, "IŞIK", "İSMAİL", born=date(1990, 4, 6)),  # swapped boxes
        ),
    ]
    bystander = _person(world_a, "Zeynep", "Arslan", born=date(1990, 4, 6))
    result = _run(world_a)

    for a, b in pairs:
        assert _together(result, a, b), (a, b, _score(result, a, b))
    assert not any(bystander.pk in group for group in result.clusters)
    assert len(result.clusters) == len(pairs)
    assert "similar first name" in _evidence(result, *pairs[2])
    assert "similar birth date" in _evidence(result, *pairs[2])
    assert result.counts["records"] == 9
    assert result.parameters["threshold"] == dedup.DEFAULT_THRESHOLD


def test_same_identity_number_outweighs_a_changed_surname() -> None:
    # Stored TCKNs are unique per tenant, but a merge or an old import may leave two.
    customers = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "kind": "person",
            "first_name": ["Fatma", "Fatma", "Fatma"],
            "last_name": ["Şahin", "Koç", "Şahin"],
            "trade_name": "",
            "tckn": ["10000000146", "10000000146", "10000000078"],
            "tax_id": "",
            "birth_date": [date(1980, 1, 1), date(1980, 1, 1), date(1980, 1, 1)],
        }
    )
    empty = pd.DataFrame(columns=["id", "value"])
    addresses = pd.DataFrame(columns=["id", "is_primary", "pk", "province", "district", "line"])
    records = dedup.build_records(
        customers,
        empty.rename(columns={"value": "phone"}),
        empty.rename(columns={"value": "email"}),
        addresses,
    )
    scored = dedup.score_pairs(records, dedup.candidate_pairs(records))
    assert dedup.cluster(scored) == [[1, 2]]
    evidence = dict(
        zip(zip(scored["left"], scored["right"], strict=True), scored["evidence"], strict=True)
    )
    assert "same T.C. identity number" in evidence[(1, 2)]
    assert "different T.C. identity number" in evidence[(1, 3)]


# ---------------------------------------------------------------------- blocking


def _records_from_sample(sample: pd.DataFrame) -> pd.DataFrame:
    """The records table for a generated sample, without the database."""

    def quietly(func: Any, value: str) -> Any:
        try:
            return func(value) if value else None
        except Exception:
            return None

    sample = sample.fillna("").reset_index(drop=True)
    ids = pd.Series(range(1, len(sample) + 1))
    customers = pd.DataFrame(
        {
            "id": ids,
            "kind": "person",
            "first_name": sample["ad"],
            "last_name": sample["soyad"],
            "trade_name": "",
            "tckn": sample["tckn"],
            "tax_id": "",
            "birth_date": [quietly(normalize.parse_date, v) for v in sample["dogum_tarihi"]],
        }
    )
    phone = [quietly(normalize.normalize_phone, v) for v in sample["telefon"]]
    phones = pd.DataFrame(
        {"id": ids[[p is not None for p in phone]], "phone": [p.e164 for p in phone if p]}
    )
    has_email = sample["eposta"] != ""
    emails = pd.DataFrame(
        {"id": ids[has_email], "email": sample.loc[has_email, "eposta"].str.lower()}
    )
    addresses = pd.DataFrame(
        {
            "id": ids,
            "is_primary": True,
            "pk": ids,
            "province": "34",
            "district": sample["ilce"],
            "line": sample["adres"],
        }
    )
    return dedup.build_records(customers, phones, emails, addresses)


def test_blocking_is_far_from_all_pairs() -> None:
    sample = turkish_sample(1500, seed=3)
    records = _records_from_sample(sample)
    n = len(records)
    pairs = dedup.candidate_pairs(records)
    assert (pairs["left"] < pairs["right"]).all()
    assert not pairs.duplicated().any()
    assert len(pairs) < n * (n - 1) / 2 / 50  # ≪ all pairs
    assert len(pairs) < 20 * n  # near-linear

    # Every true duplicate pair is a candidate.
    truth = sample.reset_index(drop=True)[TURKISH_TRUTH]
    by_id = pd.Series(truth.to_numpy(), index=records["id"])
    candidate_set = set(zip(pairs["left"], pairs["right"], strict=True))
    true_pairs = {
        (a, b)
        for group in by_id.groupby(by_id).groups.values()
        for a in group
        for b in group
        if a < b
    }
    assert true_pairs and len(true_pairs - candidate_set) <= len(true_pairs) // 50


def test_huge_blocks_are_split_or_skipped() -> None:
    n = 120  # a call centre's switchboard on 120 different people
    customers = pd.DataFrame(
        {
            "id": range(1, n + 1),
            "kind": "person",
            "first_name": [f"Kişi{chr(65 + i % 26)}{i}" for i in range(n)],
            "last_name": [f"Soyad{i}" for i in range(n)],
            "trade_name": "",
            "tckn": "",
            "tax_id": "",
            "birth_date": None,
        }
    )
    phones = pd.DataFrame({"id": range(1, n + 1), "phone": "+902124440000"})
    empty = pd.DataFrame(columns=["id", "email"])
    addresses = pd.DataFrame(columns=["id", "is_primary", "pk", "province", "district", "line"])
    records = dedup.build_records(customers, phones, empty, addresses)
    assert len(dedup.candidate_pairs(records)) < 5  # not the 7,140 of the shared phone
    assert len(dedup.candidate_pairs(records, max_block=200)) == n * (n - 1) // 2


def test_turkish_sample_scores_well_without_database() -> None:
    sample = turkish_sample(800, seed=11).reset_index(drop=True)
    records = _records_from_sample(sample)
    scored = dedup.score_pairs(records, dedup.candidate_pairs(records))
    clusters = dedup.cluster(scored, dedup.DEFAULT_THRESHOLD)
    truth = pd.Series(sample[TURKISH_TRUTH].to_numpy(), index=records["id"])
    quality = pairwise_quality(truth, clusters)
    assert quality["f1"] >= 0.95, quality


# ----------------------------------------------------------------------- clusters


def test_cluster_breaks_weak_chains() -> None:
    scored = pd.DataFrame(
        {
            "left": [1, 1, 2, 3, 4],
            "right": [2, 3, 3, 4, 5],
            "score": [40.0, 40.0, 40.0, 13.0, 40.0],
            "evidence": [[]] * 5,
        }
    )
    assert dedup.cluster(scored, 12.0) == [[1, 2, 3], [4, 5]]
    assert dedup.cluster(scored, 50.0) == []


def test_pairwise_quality() -> None:
    truth = pd.Series(["a", "a", "a", "b", "c"], index=[1, 2, 3, 4, 5])
    quality = pairwise_quality(truth, [[1, 2], [4, 5]])
    assert quality["true_pairs"] == 3
    assert quality["predicted_pairs"] == 2
    assert quality["precision"] == 0.5
    assert quality["recall"] == round(1 / 3, 4)


# ---------------------------------------------------------------------- dedup_eval


@pytest.mark.django_db
def test_dedup_eval_command(tmp_path: Path, world_a: TenantWorld) -> None:
    path = tmp_path / "musteriler.csv"
    turkish_sample(120, seed=5).to_csv(path, index=False, sep=";")
    tenants_before = set(Tenant.objects.values_list("pk", flat=True))
    out = io.StringIO()
    call_command(
        "dedup_eval", str(path), "--map", TURKISH_MAPPING, "--truth", TURKISH_TRUTH, "--json",
        stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert set(report) == {"precision", "recall", "f1", "predicted_pairs", "true_pairs", "seconds"}
    assert report["true_pairs"] >= 10
    assert report["f1"] >= 0.9, report
    assert set(Tenant.objects.values_list("pk", flat=True)) == tenants_before
    assert not Tenant.objects.filter(slug__startswith="dedup-eval-").exists()
    with tenant_context(world_a.tenant):
        assert not Customer.objects.filter(tenant=world_a.tenant).exists()


@pytest.mark.django_db
def test_dedup_eval_human_output_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "kucuk.csv"
    path.write_text(
        "kisi;ad;soyad;tel\n1;Ayşe;Yılmaz;05321112233\n1;AYSE;YILMAZ;+90 532 111 22 33\n"
        "2;Ali;Veli;05334445566\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command(
        "dedup_eval", str(path), "--map", "ad=first_name,soyad=last_name,tel=phone",
        "--truth", "kisi", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "f1              1.0000" in text
    assert "true_pairs      1" in text
    assert not Tenant.objects.filter(slug__startswith="dedup-eval-").exists()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("dedup_eval", str(path), "--map", "ad=first_name", "--truth", "yok")
    assert not Tenant.objects.filter(slug__startswith="dedup-eval-").exists()


def _people(
    first: list[str], last: list[str], born: list[date | None], lines: list[str] | None = None
) -> pd.DataFrame:
    """Records of people by name and birth date; ``lines``: each one's address line
    (no province)."""
    n = len(first)
    customers = pd.DataFrame(
        {
            "id": range(1, n + 1),
            "kind": "person",
            "first_name": first,
            "last_name": last,
            "trade_name": "",
            "tckn": "",
            "tax_id": "",
            "birth_date": born,
        }
    )
    empty = pd.DataFrame(columns=["id", "value"])
    addresses = pd.DataFrame(columns=["id", "is_primary", "pk", "province", "district", "line"])
    if lines is not None:
        addresses = pd.DataFrame(
            {
                "id": range(1, n + 1),
                "is_primary": True,
                "pk": range(11, n + 11),
                "province": "",
                "district": "",
                "line": lines,
            }
        )
    return dedup.build_records(
        customers,
        empty.rename(columns={"value": "phone"}),
        empty.rename(columns={"value": "email"}),
        addresses,
    )


def test_a_shared_birth_date_alone_blocks_only_small_groups() -> None:
    # 30 unrelated people born on one day: at a million customers every birth date has
    # dozens; the bare date key must not pair them all (435 pairs).
    n = 30
    records = _people(
        [f"{chr(65 + i % 26)}ad{i}" for i in range(n)],
        [f"{chr(65 + (i * 7) % 26)}soyad{i}" for i in range(n)],
        [date(1980, 5, 17)] * n,
    )
    assert len(dedup.candidate_pairs(records)) < 60
    # A few (a small tenant) are still compared on the date alone: both names mistyped.
    few = _people(["Mehmet", "Memhet"], ["Yılmaz", "Ylmaz"], [date(1980, 5, 17)] * 2)
    assert len(dedup.candidate_pairs(few)) == 1


def test_typo_in_first_name_with_same_surname_and_birth_date_is_not_vetoed() -> None:
    records = _people(
        ["Katherine", "Kathrein", "Zeynep"],
        ["Öztürk", "Öztürk", "Öztürk"],
        [date(1985, 3, 2)] * 3,
    )
    pairs = pd.DataFrame({"left": [1, 1], "right": [2, 3]})
    scored = dedup.score_pairs(records, pairs).set_index("right")["score"]
    assert scored[3] <= dedup.VETO_MAX_SCORE  # twins: a different first name still vetoes
    assert scored[2] > scored[3]


def test_only_reviewable_pairs_are_kept_when_asked() -> None:
    records = _people(["Ali", "Ali", "Veli"], ["Kaya", "Kaya", "Kaya"], [date(1990, 1, 1)] * 3)
    pairs = pd.DataFrame({"left": [1, 1], "right": [2, 3]})
    full = dedup.score_pairs(records, pairs)
    assert "same birth date" in full["evidence"].iloc[0]
    top = float(full["score"].max())
    kept = dedup.score_pairs(records, pairs, keep_score=top)
    assert len(kept) == 1 and float(kept["score"].iloc[0]) == top
    assert list(kept["evidence"].iloc[0]) == list(
        full.loc[full["score"] == top, "evidence"].iloc[0]
    )


def test_an_address_without_a_province_blocks_only_when_it_is_specific() -> None:
    # Two spellings of one person's name, too far apart to block on names, living at a
    # line with a door number: the line alone (no province known) brings them together.
    # "Atatürk Cad." is in every town: without a province it pairs no one.
    records = _people(
        ["Zehra", "Zehra", "Kemal", "Orhan"],
        ["Tanrıverdi", "Dağlı", "Ay", "Öz"],
        [None] * 4,
        ["Moda Cad. No 12 D 3", "MODA CAD NO:12 D:3", "Atatürk Cad.", "ATATÜRK CAD"],
    )
    pairs = {tuple(sorted(p)) for p in dedup.candidate_pairs(records)[["left", "right"]].to_numpy()}
    assert (1, 2) in pairs
    assert (3, 4) not in pairs
