"""Measure the batch duplicate finder on a labelled file.

``python manage.py dedup_eval FILE.csv --map SRC=FIELD,… --truth COLUMN [--json]``

The file is imported into a fresh scratch tenant through the normal import path, but
with identity resolution at entry switched off (every row becomes its own customer),
then :func:`customers.dedup.find_duplicates` runs without merging and its clusters
are compared with the truth column: pairwise precision, recall and F1 (all pairs of
customers within one truth group vs all pairs within one predicted cluster). Rows the
import rejects are left out of both sides (they are reported). The scratch tenant is
deleted afterwards, also when something fails.

``--generate-turkish N FILE.csv`` writes a labelled Turkish sample instead (see
:func:`turkish_sample`), to be evaluated with :data:`TURKISH_MAPPING`.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from pathlib import Path
from typing import Any

import pandas as pd
import phonenumbers
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from crm import tables
from crm.models import Tenant
from crm.tenancy import tenant_context
from customers import activity_imports, dedup, imports

TURKISH_MAPPING = (
    "ad=first_name,soyad=last_name,telefon=phone,eposta=email,tckn=tckn,"
    "dogum_tarihi=birth_date,il=province,ilce=district,adres=address"
)
TURKISH_TRUTH = "kisi_id"


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_quality(truth: pd.Series, clusters: list[list[int]]) -> dict[str, float | int]:
    """Pairwise precision/recall/F1 of ``clusters`` against ``truth`` (customer id →
    entity label). Customers in no cluster are singletons."""
    predicted = pd.Series(range(len(truth)), index=truth.index, dtype="int64")
    offset = len(truth)
    for number, members in enumerate(clusters):
        predicted.loc[members] = offset + number
    frame = pd.DataFrame({"truth": truth.to_numpy(), "predicted": predicted.to_numpy()})
    true_pairs = _pairs(frame.groupby("truth").size())
    predicted_pairs = _pairs(frame.groupby("predicted").size())
    both = _pairs(frame.groupby(["truth", "predicted"]).size())
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
    }


class Command(BaseCommand):
    help = (
        "Import a labelled file into a scratch tenant (no merging at entry), run the batch "
        "duplicate finder and print pairwise precision, recall and F1 against --truth."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--map", dest="mapping", default="", help="SRC=FIELD pairs")
        parser.add_argument("--truth", default="", help="Column holding the entity label.")
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--threshold", type=float, default=None)
        parser.add_argument("--m-method", choices=["prior", "em"], default="prior")
        parser.add_argument(
            "--generate-turkish",
            type=int,
            default=0,
            metavar="N",
            help="Write a labelled Turkish sample of N people to FILE and stop.",
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        if options["generate_turkish"]:
            sample = turkish_sample(options["generate_turkish"], seed=options["seed"])
            sample.to_csv(path, index=False, sep=";")
            self.stdout.write(
                f"Wrote {len(sample)} rows ({sample[TURKISH_TRUTH].nunique()} people) to {path}; "
                f"evaluate with --map '{TURKISH_MAPPING}' --truth {TURKISH_TRUTH}"
            )
            return
        if not options["mapping"] or not options["truth"]:
            raise CommandError("--map and --truth are required")
        if not path.exists():
            raise CommandError(f"No file {file}")
        try:
            table = tables.read_table(path.read_bytes(), path.name)
            mapping = activity_imports.parse_mapping(
                activity_imports.IMPORT_KINDS["customers"], options["mapping"]
            )
        except imports.ImportFileError as error:
            raise CommandError(str(error)) from error
        if options["truth"] not in table.headers:
            raise CommandError(f"The file has no column {options['truth']!r}")
        truth_index = table.headers.index(options["truth"])
        # customers_import skips blank lines and reports one id (or None) per other row.
        labels = [
            cells[truth_index].strip() if truth_index < len(cells) else ""
            for _line, cells in table.rows
            if any(cell.strip() for cell in cells)
        ]

        scratch = Tenant.objects.create(
            slug=f"dedup-eval-{secrets.token_hex(5)}", name="dedup_eval scratch"
        )
        try:
            with tenant_context(scratch):
                imported = time.monotonic()
                try:
                    result = imports.customers_import(
                        tenant=scratch,
                        actor=None,
                        table=table,
                        mapping=mapping,
                        resolve_identity=False,
                    )
                except imports.ImportFileError as error:
                    raise CommandError(str(error)) from error
                import_seconds = time.monotonic() - imported
                found = dedup.find_duplicates(
                    tenant=scratch,
                    threshold=options["threshold"],
                    m_method=options["m_method"],
                    keep_score=options["threshold"],
                )
        finally:
            _delete_tenant(scratch)

        ids = [(cid, label) for cid, label in zip(result.customer_ids, labels, strict=True)]
        kept = [(cid, label) for cid, label in ids if cid is not None]
        truth = pd.Series([label for _, label in kept], index=[cid for cid, _ in kept])
        quality = pairwise_quality(truth, found.clusters)
        report = {**quality, "seconds": round(found.seconds, 3)}
        if options["as_json"]:
            self.stdout.write(json.dumps(report))
            return
        for key in ("precision", "recall", "f1"):
            self.stdout.write(f"{key:<16}{report[key]:.4f}")
        self.stdout.write(f"{'predicted_pairs':<16}{report['predicted_pairs']}")
        self.stdout.write(f"{'true_pairs':<16}{report['true_pairs']}")
        self.stdout.write(
            f"{'seconds':<16}{report['seconds']} (dedup; import took {import_seconds:.1f} s)"
        )
        self.stdout.write(
            f"rows {result.rows}, imported {len(kept)}, rejected {result.rejected}, "
            f"warnings {len(result.problems) - result.rejected}; "
            f"candidate pairs {found.counts['candidate_pairs']}, "
            f"clusters {found.counts['clusters']}"
        )


def _delete_tenant(scratch: Tenant) -> None:
    """Delete the scratch tenant with everything it owns (inside its own context, so
    row-level security lets the cascade see the rows)."""
    with tenant_context(scratch), transaction.atomic():
        scratch.delete()


# ------------------------------------------------------------- Turkish sample data

_DISTRICTS = {
    "İstanbul": ["Kadıköy", "Üsküdar", "Beşiktaş", "Bakırköy", "Fatih", "Şişli", "Ümraniye"],
    "Ankara": ["Çankaya", "Keçiören", "Yenimahalle", "Mamak", "Etimesgut"],
    "İzmir": ["Karşıyaka", "Bornova", "Konak", "Buca"],
    "Bursa": ["Nilüfer", "Osmangazi", "Yıldırım"],
    "Antalya": ["Muratpaşa", "Konyaaltı", "Kepez"],
    "Konya": ["Selçuklu", "Meram", "Karatay"],
}
_STREETS = ["Atatürk", "Cumhuriyet", "İnönü", "Gazi", "Çiçek", "Lale", "Yıldız", "Zafer"]
_ASCII = str.maketrans("şŞçÇğĞıİöÖüÜ", "sScCgGiIoOuU")


def _tckn(rng: random.Random) -> str:
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    digits.append((sum(digits[0:9:2]) * 7 - sum(digits[1:8:2])) % 10)
    digits.append(sum(digits) % 10)
    return "".join(map(str, digits))


def _mobile(rng: random.Random) -> str:
    while True:
        number = f"05{rng.choice(['30', '32', '33', '35', '42', '43', '44', '52', '53', '55'])}"
        number += f"{rng.randint(0, 9_999_999):07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "TR")):
            return number


def _phone_variant(number: str, rng: random.Random) -> str:
    d = number[1:]  # 5xxxxxxxxx
    return rng.choice(
        [
            f"+90 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
            d,
            f"0{d[:3]} {d[3:6]} {d[6:8]} {d[8:]}",
            f"90{d}",
            f"0 {d[:3]} {d[3:]}",
        ]
    )


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randint(1, len(word) - 2)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _email(first: str, last: str, rng: random.Random) -> str:
    local = f"{first.split()[0]}.{last}".translate(_ASCII).lower()
    return f"{local}{rng.randint(1, 999)}@{rng.choice(['gmail.com', 'hotmail.com', 'yandex.com'])}"


def turkish_sample(people: int, *, seed: int = 7) -> pd.DataFrame:
    """Labelled Turkish customers: ``people`` originals, about 10% duplicated with
    typing variants (ASCII-folded or upper-case names, swapped/dropped letters, a
    double first name written short, the phone written another way, missing e-mail,
    phone or birth date, a birth date in another format, abbreviated address), plus
    non-duplicates that look alike: family members sharing phone, address and surname
    (about 5%), and namesakes in the same district with other phones and birth dates
    (about 3%). Column ``kisi_id`` is the truth."""
    from faker import Faker

    fake = Faker("tr_TR")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    rows: list[dict[str, str]] = []

    def person(entity: int, **fixed: str) -> dict[str, str]:
        province = fixed.get("il") or rng.choice(list(_DISTRICTS))
        first = fixed.get("ad") or (
            f"{fake.first_name()} {fake.first_name()}" if rng.random() < 0.15 else fake.first_name()
        )
        last = fixed.get("soyad") or fake.last_name()
        born = fake.date_of_birth(minimum_age=18, maximum_age=85)
        return {
            "kisi_id": str(entity),
            "ad": first,
            "soyad": last,
            "telefon": fixed.get("telefon") or _mobile(rng),
            "eposta": fixed.get("eposta", _email(first, last, rng) if rng.random() < 0.7 else ""),
            "tckn": _tckn(rng) if rng.random() < 0.3 else "",
            "dogum_tarihi": born.isoformat() if rng.random() < 0.85 else "",
            "il": province,
            "ilce": fixed.get("ilce") or rng.choice(_DISTRICTS[province]),
            "adres": fixed.get("adres")
            or f"{fake.last_name()} Mahallesi {rng.choice(_STREETS)} {rng.randint(1, 300)}. Sokak "
            f"No: {rng.randint(1, 120)} Daire {rng.randint(1, 20)}",
        }

    originals = [person(i) for i in range(people)]
    rows.extend(originals)
    entity = people
    for base in rng.sample(originals, k=max(1, people // 20)):  # family members
        rows.append(
            person(
                entity,
                soyad=base["soyad"],
                telefon=base["telefon"],
                adres=base["adres"],
                il=base["il"],
                ilce=base["ilce"],
                eposta=base["eposta"] if rng.random() < 0.2 else "",
            )
        )
        entity += 1
    for base in rng.sample(originals, k=max(1, people * 3 // 100)):  # namesakes
        rows.append(
            person(entity, ad=base["ad"], soyad=base["soyad"], il=base["il"], ilce=base["ilce"])
        )
        entity += 1

    for base in rng.sample(originals, k=max(1, people // 10)):
        dup = dict(base)
        dup["tckn"] = ""  # re-entered at the counter without the ID card
        changes = rng.sample(
            ["ascii", "upper", "typo_first", "typo_last", "short", "phone", "no_email",
             "no_phone", "no_birth", "birth_format", "address"],
            k=rng.randint(1, 3),
        )  # fmt: skip
        if "no_phone" in changes and "no_email" in changes:
            changes.remove("no_email")
        for change in changes:
            if change == "ascii":
                dup["ad"], dup["soyad"] = (
                    dup["ad"].translate(_ASCII),
                    dup["soyad"].translate(_ASCII),
                )
            elif change == "upper":
                dup["ad"], dup["soyad"] = dup["ad"].upper(), dup["soyad"].upper()
            elif change == "typo_first":
                dup["ad"] = _typo(dup["ad"], rng)
            elif change == "typo_last":
                dup["soyad"] = _typo(dup["soyad"], rng)
            elif change == "short" and " " in dup["ad"]:
                dup["ad"] = dup["ad"].split()[0]
            elif change == "phone":
                dup["telefon"] = _phone_variant(dup["telefon"], rng)
            elif change == "no_email":
                dup["eposta"] = ""
            elif change == "no_phone":
                dup["telefon"] = ""
            elif change == "no_birth":
                dup["dogum_tarihi"] = ""
            elif change == "birth_format" and dup["dogum_tarihi"]:
                y, m, d = dup["dogum_tarihi"].split("-")
                dup["dogum_tarihi"] = f"{d}.{m}.{y}"
            elif change == "address":
                dup["adres"] = (
                    dup["adres"].replace("Mahallesi", "Mah.").replace("Sokak", "Sk.")
                    .replace("Daire", "D.")
                )  # fmt: skip
        rows.append(dup)
    rng.shuffle(rows)
    return pd.DataFrame(rows)
