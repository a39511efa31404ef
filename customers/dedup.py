"""Batch duplicate finder: blocking, Fellegi–Sunter scoring and clustering over pandas.

The pipeline, each step a plain function so the Celery job, ``dedup_eval`` and tests
can run and inspect them one by one:

1. :func:`load_records` — one row per active customer, built from a handful of bulk
   ``values_list`` queries (customers, phones, e-mails, addresses); the text keys are
   computed once per *distinct* value, not per customer.
2. :func:`candidate_pairs` — blocking: only records that share a key are compared
   (identity numbers, a phone, an e-mail key, a name blocking key, surname + birth
   date, first name + birth date, birth date, trade name, province + address line). A block with
   more than ``max_block`` members (a switchboard number, "Mehmet Yılmaz") is split by
   district and by birth year; sub-blocks that are still too large are dropped. The
   number of pairs is then at most ``max_block`` per key per record: near-linear.
3. :func:`score_pairs` — every pair gets a comparison *level* per field (missing /
   exact / close / different) and the sum of Fellegi–Sunter weights
   ``log2(m/u)``. ``u`` (how often two random customers agree) is measured on random
   record pairs of the tenant, smoothed towards prior values for small tenants; for
   exact first and last names ``u`` is the frequency of that very name (a shared
   "Mehmet" says less than a shared "Tuğrul"). ``m`` (how often true duplicates agree)
   is taken from fixed priors (:data:`M_PRIOR`) by default; ``m_method="em"`` refines it
   with a two-class EM over the candidate pairs (``u`` fixed, a Dirichlet pull towards
   the priors so the EM cannot drift into the "same household" class).
4. Guards on top of the weights, because household evidence is not independent:
   * phone, e-mail, district and address are *contact* evidence that families and
     firms share all at once: the strongest counts fully, the others a quarter;
   * a **veto** — different first names, different birth dates (both known) or
     different identity numbers — caps the score at :data:`VETO_MAX_SCORE`, below any
     sensible threshold, unless the TCKN/VKN agrees: mother and daughter on one phone,
     father and son with one name;
   * **corroboration** — a pair whose only agreement is on names and district
     (namesakes in one city) is capped the same way: a match needs an identity number,
     a phone, an e-mail, a (nearly) equal birth date or address as well.
5. :func:`cluster` — connected components over pairs at or above the threshold, with
   one guard against chaining: in a component of three or more, an edge scoring more
   than :data:`CHAIN_MARGIN` bits below the component's median edge (and so hanging
   the component together by a weak link) is dropped and components recomputed once.

Scores are in bits (log2 likelihood ratio); :data:`DEFAULT_THRESHOLD` of 12 bits
means the evidence is 4096 times likelier for a duplicate than for a random pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crm.models import Tenant
from crm.text import matching_key
from customers import normalize
from customers.models import Address, Customer, Email, Phone

__all__ = [
    "DEFAULT_THRESHOLD",
    "DedupResult",
    "build_records",
    "candidate_pairs",
    "cluster",
    "compare_pairs",
    "estimate_u",
    "find_duplicates",
    "load_records",
    "score_pairs",
]

MISSING, EXACT, CLOSE, DIFFERENT = 0, 1, 2, 3
LEVEL_NAMES = ("missing", "exact", "close", "different")

FIELDS = (
    "first_name",
    "last_name",
    "company",
    "tckn",
    "tax_id",
    "birth_date",
    "phone",
    "email",
    "district",
    "address",
)
CONTACT_FIELDS = ("phone", "email", "district", "address")

# P(level | same customer) for exact, close, different (missing carries no weight).
# Fields without a "close" level have 0 there (never produced).
M_PRIOR: dict[str, tuple[float, float, float]] = {
    "first_name": (0.85, 0.12, 0.03),
    "last_name": (0.88, 0.10, 0.02),
    "company": (0.85, 0.12, 0.03),
    "tckn": (0.99, 0.0, 0.01),
    "tax_id": (0.99, 0.0, 0.01),
    "birth_date": (0.90, 0.08, 0.02),
    "phone": (0.75, 0.0, 0.25),  # people have several numbers
    "email": (0.80, 0.0, 0.20),
    "district": (0.85, 0.10, 0.05),
    "address": (0.70, 0.20, 0.10),
}
# P(level | two random customers): priors, overridden by what the tenant's data says.
U_PRIOR: dict[str, tuple[float, float, float]] = {
    "first_name": (0.01, 0.01, 0.98),
    "last_name": (0.01, 0.01, 0.98),
    "company": (0.001, 0.002, 0.997),
    "tckn": (1e-6, 0.0, 1.0 - 1e-6),
    "tax_id": (1e-6, 0.0, 1.0 - 1e-6),
    "birth_date": (5e-5, 1e-3, 0.99895),
    "phone": (1e-5, 0.0, 1.0 - 1e-5),
    "email": (1e-6, 0.0, 1.0 - 1e-6),
    "district": (0.01, 0.15, 0.84),
    "address": (1e-4, 1e-3, 0.9989),
}
U_PRIOR_STRENGTH = 1000.0  # pseudo-pairs: a tenant of 50 customers keeps the priors
U_SAMPLE_PAIRS = 20_000
EM_PRIOR_STRENGTH = 50.0

DEFAULT_THRESHOLD = 12.0
VETO_MAX_SCORE = 6.0
CHAIN_MARGIN = 10.0
MAX_BLOCK = 50
NAME_MAX_BLOCK = 12
BIRTH_MAX_BLOCK = 8
# Pairs compared per step: bounds the memory of the per-pair working columns.
COMPARE_CHUNK = 500_000
CONTACT_SECONDARY_SHARE = 0.25

NAME_CLOSE_JW = 0.92
FIRST_NAME_TYPOS = 2
COMPANY_EXACT, COMPANY_CLOSE = 95.0, 85.0
ADDRESS_EXACT, ADDRESS_CLOSE = 90.0, 75.0

EVIDENCE = {
    ("first_name", EXACT): "same first name",
    ("first_name", CLOSE): "similar first name",
    ("first_name", DIFFERENT): "different first name",
    ("last_name", EXACT): "same last name",
    ("last_name", CLOSE): "similar last name",
    ("last_name", DIFFERENT): "different last name",
    ("company", EXACT): "same trade name",
    ("company", CLOSE): "similar trade name",
    ("company", DIFFERENT): "different trade name",
    ("tckn", EXACT): "same T.C. identity number",
    ("tckn", DIFFERENT): "different T.C. identity number",
    ("tax_id", EXACT): "same tax number",
    ("tax_id", DIFFERENT): "different tax number",
    ("birth_date", EXACT): "same birth date",
    ("birth_date", CLOSE): "similar birth date",
    ("birth_date", DIFFERENT): "different birth date",
    ("phone", EXACT): "same phone",
    ("phone", DIFFERENT): "different phones",
    ("email", EXACT): "same e-mail",
    ("email", DIFFERENT): "different e-mails",
    ("district", EXACT): "same district",
    ("district", CLOSE): "same province",
    ("district", DIFFERENT): "different province",
    ("address", EXACT): "same address",
    ("address", CLOSE): "similar address",
    ("address", DIFFERENT): "different address",
}


# ------------------------------------------------------------------------- records

RECORD_COLUMNS = [
    "id",
    "kind",
    "first_key",
    "last_key",
    "company_key",
    "tckn",
    "tax_id",
    "birth_date",
    "phones",
    "email_keys",
    "province",
    "district_key",
    "address_key",
    "name_blocks",
]

_ADDRESS_WORDS = {
    r"\bmahallesi\b|\bmahalle\b|\bmah\b": "mah",
    r"\bcaddesi\b|\bcadde\b|\bcad\b|\bcd\b": "cad",
    r"\bsokagi\b|\bsokak\b|\bsok\b|\bsk\b": "sk",
    r"\bbulvari\b|\bbulvar\b|\bblv\b": "bulv",
    r"\bapartmani\b|\bapt\b": "apt",
    r"\bnumara\b|\bno\b": "no",
    r"\bdaire\b|\bd\b": "d",
}


def _map_distinct(values: pd.Series, func: Any) -> pd.Series:
    """``values.map(func)`` computed once per distinct value (names repeat a lot)."""
    values = values.fillna("").astype(str)
    distinct = pd.unique(values.to_numpy())
    table = pd.Series([func(v) for v in distinct], index=distinct, dtype=object)
    return values.map(table)


def _address_key(keys: pd.Series) -> pd.Series:
    out = keys.str.replace(r"[^a-z0-9 ]", " ", regex=True)
    for pattern, repl in _ADDRESS_WORDS.items():
        out = out.str.replace(pattern, repl, regex=True)
    return out.str.split().str.join(" ").fillna("")


def _sets_by_id(ids: pd.Series, pairs: pd.DataFrame, column: str) -> pd.Series:
    """Per id, the frozenset of ``column`` values in ``pairs`` (``id`` / ``column``)."""
    grouped = pairs.groupby("id")[column].agg(frozenset) if len(pairs) else pd.Series()
    mapped = ids.map(grouped).astype(object)
    empty = mapped.isna()
    if empty.any():
        mapped[empty] = pd.Series([frozenset()] * int(empty.sum()), index=mapped.index[empty])
    return mapped


def load_records(*, tenant: Tenant) -> pd.DataFrame:
    """One row per active customer; call inside ``tenant_context(tenant)``.

    Columns: id, kind, first_key, last_key, company_key (``matching_key``), tckn,
    tax_id, birth_date (datetime64, NaT if unknown), phones (frozenset of E.164),
    email_keys (frozenset), province (plate code), district_key and address_key of the
    primary address (else the oldest), name_blocks (frozenset of
    :func:`customers.normalize.name_blocking_keys`).
    """
    customers = pd.DataFrame(
        list(
            Customer.objects.filter(tenant=tenant, merged_into__isnull=True)
            .order_by("pk")
            .values_list(
                "id",
                "kind",
                "first_name",
                "last_name",
                "trade_name",
                "tckn",
                "tax_id",
                "birth_date",
            )
        ),
        columns=[
            "id",
            "kind",
            "first_name",
            "last_name",
            "trade_name",
            "tckn",
            "tax_id",
            "birth_date",
        ],
    )
    active: dict[str, Any] = {"tenant": tenant, "customer__merged_into__isnull": True}
    phones = pd.DataFrame(
        list(
            Phone.objects.filter(**active, contact_person__isnull=True).values_list(
                "customer_id", "e164"
            )
        ),
        columns=["id", "phone"],
    )
    emails = pd.DataFrame(
        list(
            Email.objects.filter(**active, contact_person__isnull=True).values_list(
                "customer_id", "match_key"
            )
        ),
        columns=["id", "email"],
    )
    addresses = pd.DataFrame(
        list(
            Address.objects.filter(**active).values_list(
                "customer_id", "is_primary", "pk", "province", "district", "line"
            )
        ),
        columns=["id", "is_primary", "pk", "province", "district", "line"],
    )
    return build_records(customers, phones, emails, addresses)


def build_records(
    customers: pd.DataFrame,
    phones: pd.DataFrame,
    emails: pd.DataFrame,
    addresses: pd.DataFrame,
) -> pd.DataFrame:
    """The records table from raw column frames (no database): ``customers`` with id,
    kind, first_name, last_name, trade_name, tckn, tax_id, birth_date; ``phones``
    (id, phone: E.164); ``emails`` (id, email: e-mail key); ``addresses`` (id,
    is_primary, pk, province, district, line)."""
    addresses = addresses.sort_values(["id", "is_primary", "pk"], ascending=[True, False, True])
    addresses = addresses.drop_duplicates("id").set_index("id")

    records = pd.DataFrame({"id": customers["id"].astype("int64"), "kind": customers["kind"]})
    records["first_key"] = _map_distinct(customers["first_name"], matching_key)
    records["last_key"] = _map_distinct(customers["last_name"], matching_key)
    records["company_key"] = _map_distinct(customers["trade_name"], matching_key)
    records["tckn"] = customers["tckn"].fillna("")
    records["tax_id"] = customers["tax_id"].fillna("")
    records["birth_date"] = pd.to_datetime(customers["birth_date"], errors="coerce")
    records["phones"] = _sets_by_id(records["id"], phones, "phone")
    records["email_keys"] = _sets_by_id(records["id"], emails, "email")
    records["province"] = records["id"].map(addresses["province"]).fillna("")
    records["district_key"] = _map_distinct(records["id"].map(addresses["district"]), matching_key)
    records["address_key"] = _address_key(
        _map_distinct(records["id"].map(addresses["line"]), matching_key)
    )
    full = customers["first_name"].fillna("") + "\x1f" + customers["last_name"].fillna("")
    records["name_blocks"] = _map_distinct(
        full, lambda v: frozenset(normalize.name_blocking_keys(*v.split("\x1f", 1)))
    )
    return records.reset_index(drop=True)


# ------------------------------------------------------------------------ blocking


def _explode(records: pd.DataFrame, column: str, prefix: str) -> pd.DataFrame:
    long = records[["id", column]].explode(column).dropna()
    long = long[long[column] != ""]
    return pd.DataFrame({"id": long["id"].to_numpy(), "key": prefix + long[column].astype(str)})


def _keyed(records: pd.DataFrame, mask: pd.Series, key: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"id": records.loc[mask, "id"].to_numpy(), "key": key[mask].to_numpy()})


def blocking_keys(records: pd.DataFrame) -> pd.DataFrame:
    """Long table (id, key) of every blocking key of every record."""
    born = records["birth_date"].dt.strftime("%Y%m%d").fillna("")
    parts = [
        _keyed(records, records["tckn"] != "", "t:" + records["tckn"]),
        _keyed(records, records["tax_id"] != "", "v:" + records["tax_id"]),
        _keyed(records, records["company_key"] != "", "c:" + records["company_key"]),
        _explode(records, "phones", "p:"),
        _explode(records, "email_keys", "e:"),
        _explode(records, "name_blocks", "n:"),
        _keyed(
            records,
            (records["last_key"] != "") & (born != ""),
            "lb:" + records["last_key"] + ":" + born,
        ),
        _keyed(
            records,
            (records["first_key"] != "") & (born != ""),
            "fb:" + records["first_key"] + ":" + born,
        ),
        _keyed(records, born != "", "b:" + born),
        _keyed(
            records,
            (records["address_key"] != "")
            & ((records["province"] != "") | _specific_line(records["address_key"])),
            "a:" + records["province"] + ":" + records["address_key"],
        ),
    ]
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _specific_line(address_keys: pd.Series) -> pd.Series:
    """Lines that say where on their own, for addresses without a province: a door
    number and three words or more ("moda cad 12"), not "ataturk cad" found in every
    city."""
    return address_keys.str.contains(r"\d", regex=True) & (address_keys.str.count(" ") >= 2)


def _block_cap(keys: pd.Series, max_block: int) -> pd.Series:
    """The largest block each key may form before it is split (per key family).

    Name keys and the birth-date-only key grow with the tenant: at a million
    customers "fn:mehmet:y" holds thousands and one birth date about thirty, so at
    ``max_block`` they alone gave tens of millions of namesake pairs. Their blocks are
    capped lower and split by finer evidence instead.
    """
    family = keys.str.extract(r"^([a-z]+):", expand=False)
    cap = pd.Series(max_block, index=keys.index, dtype="int64")
    cap[family == "n"] = min(max_block, NAME_MAX_BLOCK)
    cap[family == "b"] = min(max_block, BIRTH_MAX_BLOCK)
    return cap


def candidate_pairs(records: pd.DataFrame, *, max_block: int = MAX_BLOCK) -> pd.DataFrame:
    """Pairs (left < right, unique) of records sharing a blocking key.

    Blocks larger than their cap (``max_block``; lower for name and birth-date keys,
    see :func:`_block_cap`) are split by province + district and by birth year (a
    birth-date block by name initials instead); sub-blocks still larger are dropped
    (shared switchboards, very common names).
    """
    keys = blocking_keys(records)
    sizes = keys["key"].map(keys["key"].value_counts())
    caps = _block_cap(keys["key"], max_block)
    small = keys[(sizes >= 2) & (sizes <= caps)]
    over = sizes > caps
    big, big_caps = keys[over], caps[over]
    if len(big):
        info = records.set_index("id")
        place = (info["province"] + ":" + info["district_key"]).where(info["province"] != "", "")
        year = (
            info["birth_date"]
            .dt.year.astype("Int64")
            .astype(str)
            .where(info["birth_date"].notna(), "")
        )
        initials = (info["first_key"].str[:1] + info["last_key"].str[:1]).where(
            (info["first_key"] != "") & (info["last_key"] != ""), ""
        )
        is_birth = big["key"].str.startswith("b:")
        sub_parts = []
        for label, detail, applies in (
            ("|d:", place, ~is_birth),
            ("|y:", year, ~is_birth),
            ("|i:", initials, is_birth),
        ):
            value = big["id"].map(detail).fillna("")
            keep = (value != "") & applies
            sub_parts.append(
                pd.DataFrame(
                    {
                        "id": big["id"][keep],
                        "key": big["key"][keep] + label + value[keep],
                        "cap": big_caps[keep],
                    }
                )
            )
        sub = pd.concat(sub_parts, ignore_index=True)
        sub_sizes = sub["key"].map(sub["key"].value_counts())
        sub = sub[(sub_sizes >= 2) & (sub_sizes <= sub["cap"])]
        small = pd.concat([small, sub[["id", "key"]]], ignore_index=True)
    # Integer block codes: joining on them takes a fraction of the memory of strings.
    codes = pd.DataFrame({"id": small["id"].to_numpy(), "block": pd.factorize(small["key"])[0]})
    joined = codes.merge(codes, on="block", suffixes=("_l", "_r"))
    joined = joined[joined["id_l"] < joined["id_r"]]
    pairs = pd.DataFrame(
        {
            "left": joined["id_l"].to_numpy(dtype="int64"),
            "right": joined["id_r"].to_numpy(dtype="int64"),
        }
    ).drop_duplicates(ignore_index=True)
    return pairs.sort_values(["left", "right"], ignore_index=True)


# ---------------------------------------------------------------------- comparison


def _name_similar(a: str, b: str) -> bool:
    if JaroWinkler.normalized_similarity(a, b) >= NAME_CLOSE_JW:
        return True
    if min(len(a), len(b)) >= 5 and OSA.distance(a, b) <= 1:
        return True  # a slipped or swapped letter in a longer name
    # "Ayşe Gül" vs "Ayşe", "Yılmaz-Kaya" vs "Yılmaz": one name written short.
    return bool(set(a.replace("-", " ").split()) & set(b.replace("-", " ").split()))


def _swapped_with_slip(
    fa: np.ndarray, la: np.ndarray, fb: np.ndarray, lb: np.ndarray, todo: np.ndarray
) -> np.ndarray:
    """Pairs whose names match crosswise (each equal or similar) but whose first names
    do not match directly."""
    out = np.zeros(len(fa), dtype=bool)
    initial = np.frompyfunc(lambda v: v[:1], 1, 1)
    candidates = (
        todo
        & (fa != "")
        & (la != "")
        & (fb != "")
        & (lb != "")
        & (fa != fb)
        & (initial(fa) == initial(lb))
        & (initial(la) == initial(fb))
    )
    rows = np.flatnonzero(candidates)
    if rows.size:
        out[rows] = [
            (x == w or _name_similar(x, w))
            and (y == z or _name_similar(y, z))
            and not _name_similar(x, z)
            for x, y, z, w in zip(fa[rows], la[rows], fb[rows], lb[rows], strict=True)
        ]
    return out


def _compare_text(a: np.ndarray, b: np.ndarray, similar: Any) -> np.ndarray:
    """EXACT if equal, CLOSE if ``similar(a, b)``, else DIFFERENT; MISSING if one is blank."""
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a != "") & (b != "")
    equal = present & (a == b)
    level[equal] = EXACT
    todo = np.flatnonzero(present & ~equal)
    if todo.size:
        close = np.fromiter(
            (bool(similar(x, y)) for x, y in zip(a[todo], b[todo], strict=True)),
            dtype=bool,
            count=todo.size,
        )
        level[todo] = np.where(close, CLOSE, DIFFERENT)
    return level


def _compare_ratio(a: np.ndarray, b: np.ndarray, scorer: Any, exact: float, close: float):
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = np.flatnonzero((a != "") & (b != ""))
    if present.size:
        ratio = np.fromiter(
            (scorer(x, y) for x, y in zip(a[present], b[present], strict=True)),
            dtype=float,
            count=present.size,
        )
        level[present] = np.select([ratio >= exact, ratio >= close], [EXACT, CLOSE], DIFFERENT)
    return level


def _compare_identifier(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a != "") & (b != "")
    level[present] = np.where(a[present] == b[present], EXACT, DIFFERENT)
    return level


def _compare_dates(a: pd.Series, b: pd.Series) -> np.ndarray:
    """EXACT; CLOSE: two of year/month/day equal, or day and month swapped; DIFFERENT."""
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a.notna() & b.notna()).to_numpy()
    ya, ma, da = (a.dt.year.to_numpy(), a.dt.month.to_numpy(), a.dt.day.to_numpy())
    yb, mb, db = (b.dt.year.to_numpy(), b.dt.month.to_numpy(), b.dt.day.to_numpy())
    same = (ya == yb).astype(int) + (ma == mb) + (da == db)
    swapped = (ya == yb) & (ma == db) & (da == mb)
    level[present] = DIFFERENT
    level[present & ((same == 2) | swapped)] = CLOSE
    level[present & (same == 3)] = EXACT
    return level


@dataclass(frozen=True)
class _SetColumn:
    """A set-valued column (phones, e-mail keys) prepared once for every chunk."""

    long: pd.DataFrame  # id, value: one row per element
    size: pd.Series  # set size by id

    @classmethod
    def of(cls, records: pd.DataFrame, column: str) -> _SetColumn:
        long = records[["id", column]].explode(column).dropna()
        long.columns = ["id", "value"]
        return cls(long=long, size=records.set_index("id")[column].map(len))


def _compare_sets(column: _SetColumn, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """EXACT if the two sets share a value, DIFFERENT if both are non-empty, else MISSING."""
    pairs = pd.DataFrame({"left": left, "right": right, "row": np.arange(len(left))})
    shared = pairs.merge(column.long, left_on="left", right_on="id").merge(
        column.long, left_on=["right", "value"], right_on=["id", "value"]
    )
    has_left = pd.Series(left).map(column.size).to_numpy() > 0
    has_right = pd.Series(right).map(column.size).to_numpy() > 0
    level = np.where(has_left & has_right, DIFFERENT, MISSING).astype(np.int8)
    level[shared["row"].unique()] = EXACT
    return level


def compare_pairs(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Comparison levels (0 missing, 1 exact, 2 close, 3 different), one column per field.

    Pairs are compared COMPARE_CHUNK at a time: only the int8 levels are kept, so
    memory does not grow with the per-pair text columns of millions of pairs.
    """
    info = records.set_index("id")
    phones = _SetColumn.of(records, "phones")
    emails = _SetColumn.of(records, "email_keys")
    parts = [
        _compare_chunk(info, phones, emails, pairs.iloc[start : start + COMPARE_CHUNK])
        for start in range(0, len(pairs), COMPARE_CHUNK)
    ]
    if not parts:
        return pd.DataFrame({name: np.array([], dtype=np.int8) for name in FIELDS})
    return pd.concat(parts, ignore_index=True)


def _compare_chunk(
    info: pd.DataFrame, phones: _SetColumn, emails: _SetColumn, pairs: pd.DataFrame
) -> pd.DataFrame:
    left = pairs["left"].to_numpy(dtype="int64")
    right = pairs["right"].to_numpy(dtype="int64")
    lrec = info.loc[left].reset_index(drop=True)
    rrec = info.loc[right].reset_index(drop=True)

    def col(frame: pd.DataFrame, name: str) -> np.ndarray:
        return frame[name].fillna("").to_numpy(dtype=object)

    fa, la = col(lrec, "first_key"), col(lrec, "last_key")
    fb, lb = col(rrec, "first_key"), col(rrec, "last_key")
    # First and last name typed into each other's box, also with a typing slip in one
    # of them ("Sian Beelitz" / "Beelitz Siawn"): only where the first letters cross
    # over, so the slow comparison runs on few pairs.
    swapped = (fa != "") & (la != "") & (fa != la) & (fa == lb) & (la == fb)
    swapped |= _swapped_with_slip(fa, la, fb, lb, ~swapped)
    fb, lb = np.where(swapped, lb, fb), np.where(swapped, fb, lb)

    levels = {
        "first_name": _compare_text(fa, fb, _name_similar),
        "last_name": _compare_text(la, lb, _name_similar),
        "company": _compare_ratio(
            col(lrec, "company_key"),
            col(rrec, "company_key"),
            fuzz.token_sort_ratio,
            COMPANY_EXACT,
            COMPANY_CLOSE,
        ),
        "tckn": _compare_identifier(col(lrec, "tckn"), col(rrec, "tckn")),
        "tax_id": _compare_identifier(col(lrec, "tax_id"), col(rrec, "tax_id")),
        "birth_date": _compare_dates(lrec["birth_date"], rrec["birth_date"]),
        "phone": _compare_sets(phones, left, right),
        "email": _compare_sets(emails, left, right),
        "address": _compare_ratio(
            col(lrec, "address_key"),
            col(rrec, "address_key"),
            fuzz.token_set_ratio,
            ADDRESS_EXACT,
            ADDRESS_CLOSE,
        ),
    }
    pa, pb = col(lrec, "province"), col(rrec, "province")
    da, db = col(lrec, "district_key"), col(rrec, "district_key")
    district = np.full(len(left), MISSING, dtype=np.int8)
    both = (pa != "") & (pb != "")
    district[both] = DIFFERENT
    district[both & (pa == pb)] = CLOSE
    district[both & (pa == pb) & (da != "") & (da == db)] = EXACT
    levels["district"] = district
    return pd.DataFrame({name: levels[name] for name in FIELDS})


# --------------------------------------------------------------------- parameters


def _level_frequencies(levels: pd.DataFrame, weights: np.ndarray | None = None) -> dict:
    out = {}
    for name in FIELDS:
        column = levels[name].to_numpy()
        w = np.ones(len(column)) if weights is None else weights
        out[name] = np.array([w[column == lv].sum() for lv in (EXACT, CLOSE, DIFFERENT)])
    return out


def estimate_u(
    records: pd.DataFrame, *, sample: int = U_SAMPLE_PAIRS, seed: int = 0
) -> dict[str, np.ndarray]:
    """P(level | random pair) per field from random record pairs, smoothed by U_PRIOR."""
    n = len(records)
    counts = {name: np.zeros(3) for name in FIELDS}
    # No more samples than there are pairs: a small tenant must not count its own
    # duplicates many times over (the priors carry it instead).
    sample = min(sample, n * (n - 1) // 2)
    if sample > 0:
        rng = np.random.default_rng(seed)
        ids = records["id"].to_numpy()
        i = rng.integers(0, n, size=sample)
        j = rng.integers(0, n - 1, size=sample)
        j = np.where(j >= i, j + 1, j)
        pairs = pd.DataFrame({"left": ids[i], "right": ids[j]})
        counts = _level_frequencies(compare_pairs(records, pairs))
    u = {}
    for name in FIELDS:
        prior = np.array(U_PRIOR[name])
        u[name] = (counts[name] + U_PRIOR_STRENGTH * prior) / (
            counts[name].sum() + U_PRIOR_STRENGTH
        )
    return u


def estimate_m_em(
    levels: pd.DataFrame, u: dict[str, np.ndarray], *, iterations: int = 10
) -> tuple[dict[str, np.ndarray], float]:
    """Two-class EM over candidate-pair comparison vectors: m per field and the share
    of duplicates among the pairs; u is held fixed, m is pulled towards M_PRIOR."""
    m = {name: np.array(M_PRIOR[name]) for name in FIELDS}
    share = 0.1
    columns = {name: levels[name].to_numpy() for name in FIELDS}
    for _ in range(iterations):
        log_ratio = np.full(len(levels), np.log(share / (1 - share)))
        for name in FIELDS:
            lv = columns[name]
            present = lv != MISSING
            idx = lv[present] - 1
            log_ratio[present] += np.log(np.maximum(m[name][idx], 1e-9)) - np.log(u[name][idx])
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_ratio, -50, 50)))
        share = float(np.clip(posterior.mean(), 1e-4, 0.9999))
        freq = _level_frequencies(levels, posterior)
        for name in FIELDS:
            prior = np.array(M_PRIOR[name])
            m[name] = (freq[name] + EM_PRIOR_STRENGTH * prior) / (
                freq[name].sum() + EM_PRIOR_STRENGTH
            )
    return m, share


# -------------------------------------------------------------------------- scoring


def _name_u(records: pd.DataFrame, column: str, u_exact: float) -> pd.Series:
    """Term-frequency u for exact agreement on each name: its share among the records."""
    values = records[column]
    values = values[values != ""]
    counts = values.value_counts()
    return (counts + U_PRIOR_STRENGTH * u_exact) / (len(values) + U_PRIOR_STRENGTH)


def score_pairs(
    records: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    m: dict[str, np.ndarray] | None = None,
    u: dict[str, np.ndarray] | None = None,
    levels: pd.DataFrame | None = None,
    keep_score: float | None = None,
) -> pd.DataFrame:
    """Score candidate pairs: columns left, right, score (bits), evidence (list of str).

    With ``keep_score`` only pairs scoring at least that are returned (and only they
    get their evidence written out), which is what keeps a million-customer run small.
    """
    if u is None:
        u = estimate_u(records)
    if m is None:
        m = {name: np.array(M_PRIOR[name]) for name in FIELDS}
    if levels is None:
        levels = compare_pairs(records, pairs)
    n = len(pairs)
    weights: dict[str, np.ndarray] = {}
    for name in FIELDS:
        table = np.zeros(4)
        with np.errstate(divide="ignore"):
            table[1:] = np.log2(np.maximum(m[name], 1e-9) / u[name])
        weights[name] = table[levels[name].to_numpy()]
    # Term frequency for exact names: a shared rare name weighs more than "Mehmet".
    info = records.set_index("id")
    for name, column in (("first_name", "first_key"), ("last_name", "last_key")):
        exact = levels[name].to_numpy() == EXACT
        if exact.any():
            value = info[column].to_numpy()[info.index.get_indexer(pairs["left"][exact])]
            tf_u = pd.Series(value).map(_name_u(records, column, u[name][0])).to_numpy()
            weights[name][exact] = np.log2(m[name][0] / tf_u.astype(float))

    contact = np.vstack([weights[f] for f in CONTACT_FIELDS])
    positive = np.clip(contact, 0, None)
    strongest = positive.max(axis=0)
    contact_score = (
        strongest
        + CONTACT_SECONDARY_SHARE * (positive.sum(axis=0) - strongest)
        + np.clip(contact, None, 0).sum(axis=0)
    )
    total = contact_score + sum(weights[f] for f in FIELDS if f not in CONTACT_FIELDS)

    lv = {name: levels[name].to_numpy() for name in FIELDS}
    same_identity = (lv["tckn"] == EXACT) | (lv["tax_id"] == EXACT)
    # A first name two typing slips away, with the same surname and birth date, is a
    # typing variant ("Katherine"/"Kathrein"), not a sibling: no veto for it (the
    # different-first-name weight still counts against the pair). Twins with
    # different names stay vetoed.
    typo = (
        (lv["first_name"] == DIFFERENT) & (lv["birth_date"] == EXACT) & (lv["last_name"] == EXACT)
    )
    rows = np.flatnonzero(typo)
    if rows.size:
        firsts = info["first_key"].to_numpy()
        fl = firsts[info.index.get_indexer(pairs["left"].to_numpy()[rows])]
        fr = firsts[info.index.get_indexer(pairs["right"].to_numpy()[rows])]
        typo[rows] = [
            min(len(a), len(b)) >= 4 and OSA.distance(a, b) <= FIRST_NAME_TYPOS
            for a, b in zip(fl, fr, strict=True)
        ]
    veto = (
        ((lv["first_name"] == DIFFERENT) & ~typo)
        | (lv["birth_date"] == DIFFERENT)
        | (lv["tckn"] == DIFFERENT)
        | (lv["tax_id"] == DIFFERENT)
    ) & ~same_identity
    corroborated = (
        same_identity
        | (lv["phone"] == EXACT)
        | (lv["email"] == EXACT)
        | np.isin(lv["birth_date"], (EXACT, CLOSE))
        | np.isin(lv["address"], (EXACT, CLOSE))
    )
    capped = veto | ~corroborated
    total = np.where(capped, np.minimum(total, VETO_MAX_SCORE), total)

    kept = np.arange(n) if keep_score is None else np.flatnonzero(total >= keep_score)
    lv = {name: values[kept] for name, values in lv.items()}
    corroborated = corroborated[kept]
    n = kept.size
    evidence: list[list[str]] = [[] for _ in range(n)]
    for name in FIELDS:
        for level in (EXACT, CLOSE, DIFFERENT):
            text = EVIDENCE.get((name, level))
            if text is None:
                continue
            for row in np.flatnonzero(lv[name] == level):
                evidence[row].append(text)
    for row in np.flatnonzero(~corroborated):
        evidence[row].append("nothing beyond name and place")
    return pd.DataFrame(
        {
            "left": pairs["left"].to_numpy(dtype="int64")[kept],
            "right": pairs["right"].to_numpy(dtype="int64")[kept],
            "score": np.round(total[kept], 3),
            "evidence": evidence,
        }
    )


# ------------------------------------------------------------------------ clusters


def _components(nodes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    index = pd.Index(nodes)
    li, ri = index.get_indexer(left), index.get_indexer(right)
    graph = coo_matrix((np.ones(len(li)), (li, ri)), shape=(len(nodes), len(nodes)))
    _count, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def cluster(scored: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> list[list[int]]:
    """Groups of two or more customer ids that are one customer, largest first.

    Connected components over pairs scoring ``>= threshold``. Anti-chaining: in a
    component of three or more, edges more than CHAIN_MARGIN bits below the
    component's median edge score are dropped and the components recomputed (once).
    """
    edges = scored.loc[scored["score"] >= threshold, ["left", "right", "score"]]
    if edges.empty:
        return []
    nodes = np.unique(np.concatenate([edges["left"].to_numpy(), edges["right"].to_numpy()]))
    labels = _components(nodes, edges["left"].to_numpy(), edges["right"].to_numpy())
    label_of = pd.Series(labels, index=nodes)
    edges = edges.assign(component=edges["left"].map(label_of).to_numpy())
    size = pd.Series(labels).value_counts()
    median = edges.groupby("component")["score"].transform("median")
    weak = (edges["component"].map(size) >= 3) & (edges["score"] < median - CHAIN_MARGIN)
    if weak.any():
        edges = edges[~weak]
        labels = _components(nodes, edges["left"].to_numpy(), edges["right"].to_numpy())
    groups = pd.Series(nodes).groupby(labels).agg(list)
    out = [sorted(int(i) for i in g) for g in groups if len(g) >= 2]
    out.sort(key=lambda g: (-len(g), g[0]))
    return out


# --------------------------------------------------------------------------- facade


@dataclass
class DedupResult:
    pairs: pd.DataFrame  # left, right, score, evidence — every scored candidate pair
    clusters: list[list[int]]
    counts: dict[str, int]
    seconds: float
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def matches(self) -> pd.DataFrame:
        threshold = self.parameters.get("threshold", DEFAULT_THRESHOLD)
        return self.pairs[self.pairs["score"] >= threshold]


def find_duplicates(
    *,
    tenant: Tenant,
    threshold: float | None = None,
    m_method: str = "prior",
    max_block: int = MAX_BLOCK,
    keep_score: float | None = None,
) -> DedupResult:
    """Load, block, score and cluster the tenant's customers (nothing is merged).

    Call inside ``tenant_context(tenant)``. ``m_method``: "prior" (fixed M_PRIOR) or
    "em" (refined by EM over the candidate pairs). ``result.pairs`` holds every scored
    candidate pair, or with ``keep_score`` only those scoring at least that (at or
    below the threshold; the counts still cover every candidate).
    """
    if keep_score is not None and threshold is not None and keep_score > threshold:
        raise ValueError("keep_score above the threshold would drop matched pairs")
    if m_method not in ("prior", "em"):
        raise ValueError(f"unknown m_method {m_method!r}")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    started = time.monotonic()
    records = load_records(tenant=tenant)
    pairs = candidate_pairs(records, max_block=max_block)
    u = estimate_u(records)
    levels = compare_pairs(records, pairs)
    if m_method == "em" and len(pairs):
        m, share = estimate_m_em(levels, u)
    else:
        m, share = {name: np.array(M_PRIOR[name]) for name in FIELDS}, float("nan")
    scored = (
        score_pairs(records, pairs, m=m, u=u, levels=levels, keep_score=min(keep_score, threshold))
        if keep_score is not None
        else score_pairs(records, pairs, m=m, u=u, levels=levels)
    )
    candidate_count = len(pairs)
    del pairs, levels
    clusters = cluster(scored, threshold)
    seconds = time.monotonic() - started
    return DedupResult(
        pairs=scored,
        clusters=clusters,
        counts={
            "records": len(records),
            "candidate_pairs": candidate_count,
            "matched_pairs": int((scored["score"] >= threshold).sum()),
            "clusters": len(clusters),
            "customers_in_clusters": sum(len(c) for c in clusters),
        },
        seconds=seconds,
        parameters={
            "threshold": threshold,
            "m_method": m_method,
            "max_block": max_block,
            "duplicate_share": share,
            "m": {name: [round(float(x), 6) for x in m[name]] for name in FIELDS},
            "u": {name: [round(float(x), 8) for x in u[name]] for name in FIELDS},
            "levels": list(LEVEL_NAMES[1:]),
        },
    )
