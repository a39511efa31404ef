"""Generated customers in bulk: the reference (benchmark) tenant and the demo.

A generated population looks like an SME's real one, so that search, duplicate
detection and segmentation have something meaningful to chew on:

* people (85%) and companies with contact people; double first names; Turkish names
  with realistic frequencies (many Mehmets, few Tuğruls); families sharing a phone,
  address and surname; about 10% duplicate records with the typing variants real data
  has (ASCII-folded or upper-case names, swapped or dropped letters, no TCKN);
* phones in E.164, e-mails, addresses in the home branch's district;
* purchases over two years with seasonality (November sales, December, summer), shop
  hours and weekends, branches that differ in size, category mix and basket, customers
  with a favourite category and categories bought together;
* interactions by touchpoint (companies get meetings, fairs and service visits), and
  complaints with their workflow states.

Values are stored exactly as the normal path (customers.services / normalize) would
store them: names through ``normalize_person_name``, ``name_key`` through
``crm.text.matching_key``, e-mail keys as ``normalize.email_key`` computes them.

Everything is generated with numpy from one seed and written with crm.bulk (COPY on
PostgreSQL). The demo (customers/demo.py) calls :func:`populate` with its 12
branches; ``make_reference_tenant`` calls it through :func:`build_reference`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from faker.providers.person.tr_TR import Provider as TurkishNames

from crm import bulk
from crm.models import Branch, Tenant, User
from crm.reference import ReferenceOptions, ReferenceReport, register_reference_builder
from crm.text import matching_key
from customers import normalize, services
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    CustomerNumberCounter,
    Email,
    Interaction,
    Phone,
    Product,
    ProductCategory,
    Purchase,
    PurchaseLine,
)

# ----------------------------------------------------------------------- vocabulary

COMMON_FIRST_FEMALE = [
    "Fatma",
    "Ayşe",
    "Emine",
    "Hatice",
    "Zeynep",
    "Elif",
    "Meryem",
    "Şerife",
    "Zehra",
    "Sultan",
    "Hanife",
    "Merve",
    "Havva",
    "Zeliha",
    "Esra",
    "Fadime",
    "Özlem",
    "Hacer",
    "Melek",
    "Yasemin",
    "Hülya",
    "Derya",
    "Büşra",
    "Gül",
    "Ebru",
    "Sevgi",
    "Leyla",
    "Dilek",
    "Kübra",
    "Tuğba",
    "Gamze",
    "Songül",
    "Aysel",
    "Nurcan",
    "Sibel",
    "Filiz",
    "Sevda",
    "Rabia",
    "Esma",
    "Cansu",
]
COMMON_FIRST_MALE = [
    "Mehmet",
    "Mustafa",
    "Ahmet",
    "Ali",
    "Hüseyin",
    "Hasan",
    "İbrahim",
    "İsmail",
    "Osman",
    "Yusuf",
    "Murat",
    "Ömer",
    "Ramazan",
    "Halil",
    "Süleyman",
    "Abdullah",
    "Mahmut",
    "Recep",
    "Salih",
    "Fatih",
    "Kadir",
    "Emre",
    "Hakan",
    "Burak",
    "Emir",
    "Yunus",
    "Serkan",
    "Kemal",
    "Orhan",
    "Cem",
    "Mert",
    "Can",
    "Erkan",
    "Volkan",
    "Tuğrul",
    "Selim",
    "Onur",
    "Barış",
    "Gökhan",
    "Uğur",
]
COMMON_LAST = [
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Yıldız",
    "Yıldırım",
    "Öztürk",
    "Aydın",
    "Özdemir",
    "Arslan",
    "Doğan",
    "Kılıç",
    "Aslan",
    "Çetin",
    "Kara",
    "Koç",
    "Kurt",
    "Özkan",
    "Şimşek",
    "Polat",
    "Özcan",
    "Korkmaz",
    "Çakır",
    "Erdoğan",
    "Yavuz",
    "Can",
    "Acar",
    "Şen",
    "Aktaş",
    "Güler",
    "Yalçın",
    "Güneş",
    "Bozkurt",
    "Bulut",
    "Keskin",
    "Ünal",
    "Turan",
    "Gül",
    "Özer",
    "Işık",
    "Kaplan",
    "Avcı",
    "Sarı",
    "Tekin",
    "Taş",
    "Köse",
    "Yüksel",
    "Ateş",
    "Aksoy",
    "Yiğit",
    "Çiftçi",
    "Demirci",
    "Uçar",
    "Karaca",
    "Başaran",
    "Türkmen",
    "Tunç",
    "Tuna",
    "Uysal",
    "Akın",
    "Güven",
    "Sönmez",
    "Duman",
    "Erdem",
    "Kalkan",
    "Bayram",
    "Karakaya",
    "Akgül",
    "Özgür",
    "Coşkun",
    "Aydoğan",
    "Kahraman",
    "Ekinci",
    "Bilgin",
    "Oral",
    "Akbulut",
    "Sevim",
    "Gündoğdu",
    "Toprak",
    "Metin",
    "Durmaz",
    "Karataş",
    "Altun",
    "Eren",
    "Akdeniz",
    "Ercan",
    "Demirtaş",
    "Çınar",
    "Gök",
    "Savaş",
    "Kocabaş",
    "Ayhan",
    "Sezer",
    "Tosun",
    "Orhan",
    "Altıntaş",
    "Ceylan",
    "Erol",
    "Yazıcı",
    "Günay",
    "Dinç",
    "Soylu",
    "Karakuş",
    "Akyüz",
    "Alkan",
    "Yücel",
    "Uzun",
    "Gümüş",
    "Akar",
    "Temiz",
    "Aydemir",
    "Çolak",
    "Kaçar",
    "Özbek",
    "Dursun",
    "Bayrak",
    "Kuş",
    "Kartal",
    "Bal",
    "Sağlam",
    "Özen",
    "Karagöz",
    "Atalay",
    "Yaşar",
    "Erkan",
    "Akkaya",
    "Sarıkaya",
    "Çakmak",
    "Baysal",
    "Ergün",
    "Önal",
    "Topal",
    "Sezgin",
    "Özyurt",
    "Cengiz",
    "Kandemir",
    "Eroğlu",
    "Aras",
    "Karabulut",
    "Taşkın",
    "Köksal",
    "Pehlivan",
    "Karakoç",
    "Kılınç",
    "Ekici",
    "Bilgiç",
    "Altay",
    "Kocaoğlu",
    "Hacıoğlu",
    "Karaoğlu",
    "Ertürk",
    "Akçay",
    "Tekinalp",
    "Gündüz",
    "Sarıoğlu",
    "Ilgaz",
    "Eker",
    "Bektaş",
    "Demirel",
]
SECTORS = [
    "Tekstil",
    "Gıda",
    "İnşaat",
    "Otomotiv",
    "Turizm",
    "Lojistik",
    "Mobilya",
    "Elektrik",
    "Kimya",
    "Ambalaj",
    "Medikal",
    "Yazılım",
    "Tarım",
    "Mermer",
    "Plastik",
]
COMPANY_SUFFIXES = ["Ltd. Şti.", "A.Ş.", "Tic. Ltd. Şti.", "San. ve Tic. A.Ş.", "Ticaret"]
STREETS = [
    "Atatürk",
    "Cumhuriyet",
    "İstiklal",
    "Gazi",
    "Bağdat",
    "Menderes",
    "Lale",
    "Çınar",
    "Okul",
    "Zafer",
    "İnönü",
    "Fevzi",
    "Çakmak",
    "Karanfil",
    "Gül",
    "Papatya",
    "Yıldız",
    "Barış",
    "Pınar",
    "Çamlık",
    "Orhan",
    "Kıbrıs",
    "Adnan",
]
NEIGHBOURHOODS = [
    "Merkez",
    "Yeni",
    "Fatih",
    "Cumhuriyet",
    "Bahçelievler",
    "Yenişehir",
    "Hürriyet",
    "Esentepe",
    "Kültür",
    "Güzelyalı",
    "Çamlıca",
    "Sahil",
    "Bağlar",
    "Gazi",
    "Osmangazi",
    "Mimar",
    "Sinan",
    "Zafer",
    "Atakent",
]
EMAIL_DOMAINS = ["gmail.com"] * 5 + ["hotmail.com"] * 3 + ["yahoo.com", "outlook.com"]
EMAIL_DOMAINS += ["yandex.com", "icloud.com"]
# Eight categories with five products each; prices are fixed per product.
CATALOGUE = {
    "Kadın Giyim": ["Elbise", "Bluz", "Etek", "Trençkot", "Kazak"],
    "Erkek Giyim": ["Gömlek", "Pantolon", "Ceket", "Mont", "Tişört"],
    "Ayakkabı": ["Spor ayakkabı", "Bot", "Sandalet", "Loafer", "Terlik"],
    "Çanta ve Aksesuar": ["Sırt çantası", "Cüzdan", "Kemer", "Şal", "Şapka"],
    "Çocuk": ["Çocuk montu", "Okul çantası", "Pijama takımı", "Eşofman", "Bebek body"],
    "Ev Tekstili": ["Nevresim takımı", "Havlu seti", "Perde", "Battaniye", "Yastık"],
    "Kozmetik": ["Parfüm", "Nemlendirici", "Ruj", "Şampuan", "Güneş kremi"],
    "Spor": ["Yoga matı", "Koşu taytı", "Matara", "Spor çanta", "Eşofman altı"],
}
CATEGORY_NAMES = list(CATALOGUE)
# Bought together: a second line is often from the partner category.
CATEGORY_PARTNER = [2, 0, 3, 2, 5, 4, 0, 2]
# Month (Jan..Dec) × category multipliers: winter clothes, summer sandals and sun
# cream, back to school in September, gifts (perfume) in December and May.
CATEGORY_SEASON = np.ones((12, len(CATALOGUE)))
CATEGORY_SEASON[[0, 1, 10, 11], 0:2] *= 1.4  # winter coats and knitwear
CATEGORY_SEASON[[5, 6, 7], 2] *= 1.5  # sandals
CATEGORY_SEASON[[8], 4] *= 2.5  # school
CATEGORY_SEASON[[11, 4], 6] *= 1.8  # gifts
CATEGORY_SEASON[[5, 6, 7], 6] *= 1.4  # sun cream
CATEGORY_SEASON[[2, 3, 4], 7] *= 1.6  # spring sport
# Month weights of receipts: January sales, summer, November sales, December.
MONTH_WEIGHT = np.array([1.1, 0.8, 0.9, 0.95, 1.0, 1.1, 1.15, 1.05, 1.0, 0.95, 1.45, 1.5])
WEEKDAY_WEIGHT = np.array([0.85, 0.85, 0.9, 0.95, 1.15, 1.5, 1.2])  # Mon..Sun
SHOP_HOURS = np.arange(10, 22)
SHOP_HOUR_WEIGHT = np.array([3, 5, 7, 8, 6, 5, 6, 8, 9, 8, 5, 3], dtype=float)
OFFICE_HOURS = np.arange(9, 19)
COMPLAINT_SUBJECTS = [
    "Ürün kusurlu çıktı",
    "İade gecikti",
    "Kasada yanlış fiyat",
    "Kargo hasarlı geldi",
    "Personel ilgisizdi",
    "Beden değişimi yapılmadı",
    "Fatura hatalı kesildi",
    "Teslimat gecikti",
]
INTERACTION_SUBJECTS = {
    "call_in": ["Ürün bilgisi istedi", "Stok sordu", "Sipariş durumu", "Taksit seçenekleri"],
    "call_out": ["Kampanya hatırlatması", "Memnuniyet araması", "Tahsilat hatırlatması"],
    "branch_visit": ["Ürün denedi", "Mağazada danışma", "Değişim talebi"],
    "front_desk": ["Adres güncelleme", "Fatura talebi", "Kart başvurusu"],
    "ecommerce": ["Sepet hatırlatması", "Sipariş iptali", "Kargo takibi"],
    "email": ["Kampanya hakkında bilgi", "Teklif talebi", "Belge gönderimi"],
    "meeting": ["Yıllık anlaşma görüşmesi", "Yeni sezon sunumu", "Fiyat revizyonu"],
    "trade_fair": ["Fuar standında görüşme", "Numune talebi"],
    "service_visit": ["Montaj kontrolü", "Arıza ziyareti", "Bakım ziyareti"],
}
PERSON_TOUCHPOINTS = (
    ["call_in", "branch_visit", "email", "front_desk", "ecommerce", "call_out"],
    [0.3, 0.25, 0.12, 0.1, 0.13, 0.1],
)
COMPANY_TOUCHPOINTS = (
    ["meeting", "call_out", "trade_fair", "service_visit", "email", "call_in"],
    [0.3, 0.2, 0.08, 0.15, 0.15, 0.12],
)
OUTCOMES = ["informed", "sold", "follow_up", "no_answer", "resolved", "other", ""]
OUTCOME_WEIGHT = [0.3, 0.15, 0.12, 0.08, 0.15, 0.05, 0.15]
MOBILE_PREFIXES = [501, 505, 506, 507, 530, 531, 532, 533, 534, 535, 536, 537, 538, 539, 540]
MOBILE_PREFIXES += [541, 542, 543, 544, 545, 546, 547, 548, 549, 551, 552, 553, 554, 555, 559]
# Area codes of the provinces the branches are in (landlines), default Istanbul.
AREA_CODES = {"34": [212, 216], "06": [312], "35": [232], "16": [224], "07": [242]}
AREA_CODES |= {"01": [322], "42": [332], "61": [462], "41": [262], "27": [342]}
AREA_CODES |= {"55": [362], "38": [352], "21": [412], "33": [324], "26": [222]}
_FOLD = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")
ISTANBUL_OFFSET = timedelta(hours=3)  # Turkey keeps UTC+3 all year (since 2016)


# --------------------------------------------------------------------------- inputs


@dataclass
class Shape:
    """How much to generate. ``customers`` counts original records; ``duplicates``
    more records are typing variants of some of them."""

    customers: int
    duplicates: int
    purchases: int
    interactions: int
    complaints: int
    company_share: float = 0.15
    seed: int = 1


@dataclass
class Place:
    """What the generated rows point at: branches (with a size weight), staff, products."""

    tenant: Tenant
    branch_ids: np.ndarray
    branch_provinces: list[str]
    branch_districts: list[str]
    staff_ids: np.ndarray
    product_ids: np.ndarray  # 8 categories × 5, in CATALOGUE order
    product_prices: np.ndarray
    now: datetime
    days: int = 730


@dataclass
class Loaded:
    """Rows and seconds per table, in load order."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, rows: int, seconds: float) -> None:
        self.rows[name] = self.rows.get(name, 0) + rows
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)


def catalogue_ensure(tenant: Tenant) -> tuple[np.ndarray, np.ndarray]:
    """The 40 products of CATALOGUE (created once per tenant): ids and prices."""
    rng = np.random.default_rng(7)
    ids, prices = [], []
    for category_name, names in CATALOGUE.items():
        category, _ = ProductCategory.objects.get_or_create(tenant=tenant, name=category_name)
        for position, name in enumerate(names):
            sku = f"{matching_key(category_name)[:3].upper()}-{position + 1:03d}"
            price = Decimal(int(rng.integers(10, 250)) * 10 - 1) - Decimal("0.01")
            product, _ = Product.objects.get_or_create(
                tenant=tenant,
                sku=sku,
                defaults={"name": name, "category": category, "list_price": price},
            )
            ids.append(product.pk)
            prices.append(float(product.list_price))
    return np.array(ids, dtype="int64"), np.array(prices)


def place_for(tenant: Tenant, *, now: datetime | None = None) -> Place:
    branches = list(Branch.objects.filter(tenant=tenant).order_by("code"))
    if not branches:
        raise ValueError("the tenant has no branches")
    staff = list(
        User.objects.filter(memberships__tenant=tenant).order_by("pk").values_list("pk", flat=True)
    )
    product_ids, prices = catalogue_ensure(tenant)
    return Place(
        tenant=tenant,
        branch_ids=np.array([b.pk for b in branches], dtype="int64"),
        branch_provinces=[b.province for b in branches],
        branch_districts=[b.district or b.name for b in branches],
        staff_ids=np.array(staff, dtype="int64"),
        product_ids=product_ids,
        product_prices=prices,
        now=(now or timezone.now()).replace(microsecond=0),
    )


# ------------------------------------------------------------------------- helpers


def _zipf_weights(count: int, exponent: float = 1.0) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _name_pool(common: list[str], extra: Any, common_share: float) -> tuple[list[str], Any]:
    """Names with a heavy head (the common names) and a long tail (Faker's list)."""
    seen = set(common)
    tail = [n for n in dict.fromkeys(extra) if n not in seen and " " not in n]
    names = list(common) + tail
    weights = np.concatenate(
        [_zipf_weights(len(common), 0.9) * common_share, np.full(len(tail), 1 / len(tail))]
    )
    weights[len(common) :] *= 1 - common_share
    return names, weights / weights.sum()


def _keys(values: list[str]) -> list[str]:
    cache: dict[str, str] = {}
    out = []
    for value in values:
        key = cache.get(value)
        if key is None:
            key = cache[value] = matching_key(value)
        out.append(key)
    return out


def _tckns(rng: np.random.Generator, count: int) -> np.ndarray:
    """Valid T.C. identity numbers (checksums per the NVİ rules), as strings."""
    digits = rng.integers(0, 10, size=(count, 11))
    digits[:, 0] = rng.integers(1, 10, size=count)
    odd = digits[:, 0:9:2].sum(axis=1)
    even = digits[:, 1:8:2].sum(axis=1)
    digits[:, 9] = (odd * 7 - even) % 10
    digits[:, 10] = digits[:, :10].sum(axis=1) % 10
    return np.array(["".join(map(str, row)) for row in digits.tolist()], dtype=object)


def _vkns(rng: np.random.Generator, count: int) -> list[str]:
    from stdnum.tr import vkn

    bases = rng.integers(100_000_000, 999_999_999, size=count)
    return [f"{base}{vkn.calc_check_digit(str(base))}" for base in bases.tolist()]


def typo(rng: np.random.Generator, text: str) -> str:
    """One realistic slip: ASCII folding, capitals, a swapped pair or a dropped letter."""
    choice = rng.random()
    if choice < 0.35:
        return text.translate(_FOLD)
    if choice < 0.55:
        return text.upper()
    if len(text) > 3 and choice < 0.8:
        i = int(rng.integers(1, len(text) - 2)) if len(text) > 3 else 1
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if len(text) > 3:
        i = int(rng.integers(1, len(text) - 1))
        return text[:i] + text[i + 1 :]
    return text


def _person_name(text: str) -> str:
    """The display form the normal path stores (normalize_person_name), or the text."""
    try:
        return normalize.normalize_person_name(text)
    except ValidationError:  # a generated variant the normaliser refuses stays as typed
        return text


def email_keys(addresses: pd.Series) -> pd.Series:
    """normalize.email_key for generated (already normalised, ASCII) addresses."""
    local = addresses.str.rsplit("@", n=1).str[0]
    domain = addresses.str.rsplit("@", n=1).str[1]
    gmail = domain.isin(["gmail.com", "googlemail.com"])
    canonical = local.str.split("+", n=1).str[0].str.replace(".", "", regex=False)
    return addresses.where(~gmail, canonical + "@gmail.com")


def _day_sampler(place: Place, weekday_weight: np.ndarray) -> np.ndarray:
    """Cumulative probability over the days of the window (seasonal × weekday)."""
    start = (place.now - timedelta(days=place.days)).date()
    days = pd.date_range(start, periods=place.days, freq="D")
    weights = MONTH_WEIGHT[days.month.to_numpy() - 1] * weekday_weight[days.weekday.to_numpy()]
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _days_after(
    rng: np.random.Generator,
    cdf: np.ndarray,
    first_day: np.ndarray,
    last_day: np.ndarray | None = None,
) -> np.ndarray:
    """A day index per row, from the seasonal distribution, not before ``first_day``
    (and not after ``last_day`` when given)."""
    low = np.where(first_day > 0, cdf[np.clip(first_day - 1, 0, None)], 0.0)
    high = 1.0 if last_day is None else cdf[np.clip(last_day, 0, len(cdf) - 1)]
    u = low + rng.random(len(first_day)) * (high - low)
    return np.minimum(np.searchsorted(cdf, u), len(cdf) - 1)


def _timestamps(place: Place, day: np.ndarray, hour: np.ndarray, minute: np.ndarray) -> Any:
    """Local (Istanbul) day/hour/minute → UTC timestamps (pandas, tz-aware)."""
    start = datetime.combine((place.now - timedelta(days=place.days)).date(), datetime.min.time())
    base = np.datetime64(start - ISTANBUL_OFFSET, "s")
    seconds = day.astype("int64") * 86400 + hour.astype("int64") * 3600 + minute * 60
    stamps = base + seconds.astype("timedelta64[s]")
    limit = np.datetime64(place.now.replace(tzinfo=None), "s")
    stamps = np.minimum(stamps, limit)
    return pd.to_datetime(stamps).tz_localize("UTC")


# ------------------------------------------------------------------------ customers


@dataclass
class People:
    """The generated customers, as frames ready to load, plus what later steps need."""

    customers: pd.DataFrame
    phones: pd.DataFrame
    emails: pd.DataFrame
    addresses: pd.DataFrame
    contacts: pd.DataFrame
    # Per customer row (same order as ``customers``): for purchases and interactions.
    home_index: np.ndarray  # index into Place.branch_ids
    activity: np.ndarray
    first_day: np.ndarray  # first day (of the window) the customer may appear
    last_day: np.ndarray  # last day the customer buys (the window's end unless they left)
    is_company: np.ndarray


def generate_people(
    rng: np.random.Generator, shape: Shape, place: Place, first_number: int
) -> People:
    tenant_id = place.tenant.pk
    n_orig = shape.customers
    n_branches = len(place.branch_ids)
    branch_size = rng.lognormal(0.0, 0.6, size=n_branches)
    branch_p = branch_size / branch_size.sum()

    is_company = rng.random(n_orig) < shape.company_share
    female = rng.random(n_orig) < 0.52
    female_names, female_p = _name_pool(COMMON_FIRST_FEMALE, TurkishNames.first_names_female, 0.55)
    male_names, male_p = _name_pool(COMMON_FIRST_MALE, TurkishNames.first_names_male, 0.6)
    last_names, last_p = _name_pool(COMMON_LAST, TurkishNames.last_names, 0.8)
    f_first = rng.choice(len(female_names), size=(n_orig, 2), p=female_p)
    m_first = rng.choice(len(male_names), size=(n_orig, 2), p=male_p)
    double = rng.random(n_orig) < 0.15
    last_idx = rng.choice(len(last_names), size=n_orig, p=last_p)
    home = rng.choice(n_branches, size=n_orig, p=branch_p)

    first: list[str] = []
    last: list[str] = []
    trade: list[str] = []
    sectors = rng.integers(0, len(SECTORS), size=n_orig)
    suffixes = rng.integers(0, len(COMPANY_SUFFIXES), size=n_orig)
    for i in range(n_orig):
        if is_company[i]:
            first.append("")
            last.append("")
            surname = last_names[last_idx[i]]
            style = i % 3
            stem = (
                surname
                if style == 0
                else f"{surname}oğlu"
                if style == 1
                else f"{place.branch_districts[home[i]]}"
            )
            trade.append(f"{stem} {SECTORS[sectors[i]]} {COMPANY_SUFFIXES[suffixes[i]]}")
            continue
        pool = female_names if female[i] else male_names
        pick = f_first[i] if female[i] else m_first[i]
        given = pool[pick[0]]
        if double[i] and pick[1] != pick[0]:
            given = f"{given} {pool[pick[1]]}"
        first.append(given)
        last.append(last_names[last_idx[i]])
        trade.append("")

    # Families: a spouse or child with the same surname, phone and address.
    family_of = np.full(n_orig, -1)
    persons = np.flatnonzero(~is_company)
    if len(persons) > 20:
        members = rng.choice(persons, size=len(persons) // 25, replace=False)
        heads = rng.choice(persons, size=len(members))
        ok = members != heads
        family_of[members[ok]] = heads[ok]
        for member, head in zip(members[ok].tolist(), heads[ok].tolist(), strict=True):
            last[member] = last[head]
            home[member] = home[head]

    birth = np.where(
        ~is_company & (rng.random(n_orig) < 0.7),
        rng.integers(-25 * 365, 36 * 365, size=n_orig),  # days from 1970-01-01
        np.iinfo("int64").min,
    )
    tckn = np.full(n_orig, "", dtype=object)
    with_tckn = ~is_company & (rng.random(n_orig) < 0.2)
    tckn[with_tckn] = _tckns(rng, int(with_tckn.sum()))
    tckn[pd.Series(tckn).duplicated().to_numpy() & (tckn != "")] = ""
    tax_id = np.full(n_orig, "", dtype=object)
    tax_id[is_company] = _vkns(rng, int(is_company.sum()))

    # Original or duplicate: duplicates copy an original with typing variants.
    n_dup = shape.duplicates
    source = np.concatenate([np.arange(n_orig), rng.choice(n_orig, size=n_dup)])
    is_dup = np.concatenate([np.zeros(n_orig, bool), np.ones(n_dup, bool)])
    total = n_orig + n_dup
    first_all = [first[s] for s in source.tolist()]
    last_all = [last[s] for s in source.tolist()]
    trade_all = [trade[s] for s in source.tolist()]
    for row in range(n_orig, total):
        if trade_all[row]:
            trade_all[row] = typo(rng, trade_all[row]) if rng.random() < 0.8 else trade_all[row]
            continue
        first_all[row] = _person_name(typo(rng, first_all[row]))
        if rng.random() < 0.5:
            last_all[row] = _person_name(typo(rng, last_all[row]))
        if " " in first_all[row] and rng.random() < 0.3:
            first_all[row] = first_all[row].split()[0]  # a double first name written short
    company_all = is_company[source]
    name_keys = [
        matching_key(t) if c else f"{fk} {lk}".strip()
        for t, c, fk, lk in zip(
            trade_all, company_all, _keys(first_all), _keys(last_all), strict=True
        )
    ]
    # Shuffle so duplicates and originals interleave in ids and customer numbers.
    order = rng.permutation(total)
    ids = bulk.reserve_ids(Customer, total)
    id_of_row = np.empty(total, dtype="int64")
    id_of_row[order] = ids

    home_all = home[source].copy()
    moved = is_dup & (rng.random(total) < 0.5)
    home_all[moved] = rng.choice(n_branches, size=int(moved.sum()), p=branch_p)
    window_start = place.now - timedelta(days=place.days)
    # Two thirds were customers before the window; the rest joined during it.
    joined_day = np.where(
        rng.random(total) < 0.66,
        -rng.integers(1, 3650, size=total),
        rng.integers(0, place.days, size=total),
    )
    joined_day[is_dup] = np.maximum(joined_day[source[is_dup]], 0) + rng.integers(
        0, 200, size=n_dup
    )
    joined_day = np.minimum(joined_day, place.days - 1)
    created = pd.to_datetime(
        np.datetime64(window_start.replace(tzinfo=None), "s")
        + (joined_day * 86400 + rng.integers(8 * 3600, 20 * 3600, size=total)).astype(
            "timedelta64[s]"
        )
    ).tz_localize("UTC")
    birth_all = birth[source]
    birth_dates = pd.to_datetime(
        np.where(
            birth_all == np.iinfo("int64").min,
            np.datetime64("NaT"),
            birth_all.astype("datetime64[D]"),
        )
    )
    birth_dates = pd.Series(birth_dates).dt.date.where(
        pd.Series(birth_all) != np.iinfo("int64").min, None
    )
    channel = rng.choice(["", "", "sms", "email", "call"], size=total)
    source_tp = rng.choice(
        ["branch_visit", "ecommerce", "call_in", "dealer", "front_desk"],
        size=total,
        p=[0.45, 0.25, 0.12, 0.08, 0.1],
    )
    customers = pd.DataFrame(
        {
            "id": id_of_row,
            "tenant_id": tenant_id,
            "kind": np.where(company_all, "company", "person"),
            "customer_number": "",
            "first_name": first_all,
            "last_name": last_all,
            "tckn": np.where(is_dup, "", tckn[source]),
            "birth_date": birth_dates.to_numpy(),
            "gender": np.where(company_all, "", np.where(female[source], "f", "m")),
            "trade_name": trade_all,
            "tax_id": tax_id[source],
            "tax_office": np.where(company_all, [place.branch_districts[h] for h in home_all], ""),
            "sector": np.where(company_all, [SECTORS[s] for s in sectors[source]], ""),
            "size": np.where(
                company_all,
                rng.choice(
                    ["micro", "small", "medium", "large"], size=total, p=[0.5, 0.3, 0.15, 0.05]
                ),
                "",
            ),
            "preferred_channel": channel,
            "preferred_language": np.where(rng.random(total) < 0.02, "en", "tr"),
            "home_branch_id": place.branch_ids[home_all],
            "source": source_tp,
            "name_key": name_keys,
            "merged_into_id": pd.array([pd.NA] * total, dtype="Int64"),
            "created_at": created,
            "updated_at": created,
        }
    )
    # The customer number follows the row's position in id order (numbers rise with ids).
    customers["customer_number"] = [
        str(services.CUSTOMER_NUMBER_OFFSET + first_number + k)
        for k in (id_of_row - ids[0]).tolist()
    ]

    # ---- phones: one mobile for most people, a landline for companies and some people
    orig_mobile = (
        "+90"
        + rng.choice(MOBILE_PREFIXES, size=n_orig).astype(str)
        + pd.Series(rng.integers(0, 10_000_000, size=n_orig)).astype(str).str.zfill(7).to_numpy()
    ).astype(object)
    has_mobile = rng.random(n_orig) < np.where(is_company, 0.6, 0.92)
    for member in np.flatnonzero(family_of >= 0).tolist():
        if rng.random() < 0.7:  # the family's shared (home or parent's) number
            orig_mobile[member] = orig_mobile[family_of[member]]
            has_mobile[member] = has_mobile[family_of[member]]
    dup_phone_kept = rng.random(total) < 0.85
    phone_customer = []
    phone_e164 = []
    phone_mobile = []
    for row in range(total):
        s = source[row]
        if has_mobile[s] and (not is_dup[row] or dup_phone_kept[row]):
            phone_customer.append(row)
            phone_e164.append(orig_mobile[s])
            phone_mobile.append(True)
    landline_rows = np.flatnonzero(rng.random(total) < np.where(company_all, 0.9, 0.12))
    for row in landline_rows.tolist():
        codes = AREA_CODES.get(place.branch_provinces[home_all[row]], [212])
        phone_customer.append(row)
        phone_e164.append(f"+90{codes[row % len(codes)]}{int(rng.integers(2_000_000, 9_999_999))}")
        phone_mobile.append(False)
    phones = pd.DataFrame(
        {
            "customer_row": phone_customer,
            "e164": phone_e164,
            "is_mobile": phone_mobile,
        }
    ).drop_duplicates(["customer_row", "e164"])
    phones["is_primary"] = ~phones.duplicated("customer_row")

    # ---- e-mails
    first_keys = _keys(first_all)
    last_keys = _keys(last_all)
    trade_keys = name_keys
    has_email = rng.random(n_orig) < np.where(is_company, 0.7, 0.6)
    domains = rng.choice(EMAIL_DOMAINS, size=n_orig)
    numbers = rng.integers(1, 999, size=n_orig)
    email_rows, email_addresses = [], []
    orig_email: dict[int, str] = {}
    for row in range(total):
        s = int(source[row])
        if not has_email[s]:
            continue
        address = orig_email.get(s)
        if address is None:
            if company_all[row]:
                stem = "".join(trade_keys[s].split()[:1]) or "firma"
                address = f"info.{stem}{numbers[s]}@{domains[s]}"
            else:
                given = (first_keys[s].split() or ["musteri"])[0]
                address = f"{given}.{last_keys[s].replace(' ', '')}{numbers[s]}@{domains[s]}"
            orig_email[s] = address
        if is_dup[row] and rng.random() < 0.5:
            continue  # the second channel did not ask for the e-mail
        email_rows.append(row)
        email_addresses.append(address)
    emails = pd.DataFrame({"customer_row": email_rows, "address": email_addresses})
    emails["match_key"] = email_keys(emails["address"])
    emails["is_primary"] = True

    # ---- addresses in the home branch's district (most customers)
    has_address = rng.random(total) < 0.75
    address_rows = np.flatnonzero(has_address)
    addr_seed = np.where(is_dup, source, np.arange(total))  # a duplicate keeps the address
    for member in np.flatnonzero(family_of >= 0).tolist():
        addr_seed[member] = family_of[member]
    lines = []
    for row in address_rows.tolist():
        k = int(addr_seed[row])
        lines.append(
            f"{NEIGHBOURHOODS[k % len(NEIGHBOURHOODS)]} Mah. {STREETS[(k // 7) % len(STREETS)]} "
            f"{'Cad.' if k % 3 else 'Sok.'} No: {k % 97 + 1} D: {k % 13 + 1}"
        )
    addresses = pd.DataFrame(
        {
            "customer_row": address_rows,
            "line": lines,
            "province": [place.branch_provinces[home_all[r]] for r in address_rows.tolist()],
            "district": [place.branch_districts[home_all[r]] for r in address_rows.tolist()],
            "postal_code": [
                f"{place.branch_provinces[home_all[r]]}{int(addr_seed[r]) % 900 + 100}"
                for r in address_rows.tolist()
            ],
            "is_primary": True,
        }
    )

    # ---- contact people of companies (1-3, in distinct roles), half with a mobile
    company_rows = np.flatnonzero(company_all)
    per_company = rng.integers(1, 4, size=len(company_rows))
    roles = ["purchasing", "payments", "finance", "quality", "production", "dealer_sales"]
    cp_rows, cp_first, cp_last, cp_role = [], [], [], []
    for row, count in zip(company_rows.tolist(), per_company.tolist(), strict=True):
        for position, role in enumerate(rng.choice(roles, size=count, replace=False).tolist()):
            cp_rows.append(row)
            pool = female_names if (row + position) % 2 else male_names
            cp_first.append(pool[int(rng.integers(0, 40))])
            cp_last.append(last_names[int(rng.integers(0, len(COMMON_LAST)))])
            cp_role.append(role)
    contacts = pd.DataFrame(
        {"customer_row": cp_rows, "first_name": cp_first, "last_name": cp_last, "role": cp_role}
    )

    activity = rng.lognormal(0.0, 1.0, size=total)
    activity[is_dup] *= 0.3  # the duplicate record catches only some visits
    activity[company_all] *= 1.8
    first_day = np.maximum(joined_day, 0)
    # Customers drop out: about two in five stop buying on a day of their own within
    # the window (what BG/NBD models as "no longer alive"); without dropout every
    # customer looks alive forever and lifetime value cannot be fitted.
    leaves = rng.random(total) < 0.4
    stay = (rng.random(total) * (place.days - first_day)).astype(np.int64)
    last_day = np.where(leaves, first_day + stay, place.days - 1)
    activity *= (last_day + 1 - first_day) / place.days + 0.05

    def stamp(frame: pd.DataFrame) -> pd.DataFrame:
        frame["customer_id"] = id_of_row[frame["customer_row"].to_numpy()]
        frame["tenant_id"] = tenant_id
        frame["source"] = customers["source"].to_numpy()[frame["customer_row"].to_numpy()]
        frame["is_verified"] = False
        frame["created_at"] = created[frame["customer_row"].to_numpy()]
        return frame

    for frame in (phones, emails, addresses):
        stamp(frame)
    contacts["company_id"] = id_of_row[contacts["customer_row"].to_numpy()]
    contacts["tenant_id"] = tenant_id
    contacts["title"] = ""
    contacts["is_active"] = True
    contacts["created_at"] = created[contacts["customer_row"].to_numpy()]
    return People(
        customers=customers,
        phones=phones,
        emails=emails,
        addresses=addresses,
        contacts=contacts,
        home_index=home_all,
        activity=activity,
        first_day=first_day,
        last_day=last_day,
        is_company=company_all,
    )


# ------------------------------------------------------------------------ purchases


def generate_purchases(
    rng: np.random.Generator, people: People, place: Place, count: int, chunk: int = 1_000_000
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Receipts with lines, ``chunk`` receipts at a time (purchases, lines frames).

    The one place that decides what a purchase looks like (the demo and the
    reference tenant share it): who buys (active customers more often, companies in
    bigger baskets), when (seasonal days, shop hours, weekends), where (the home
    branch four times in five, else a branch by size; e-commerce has none), what
    (each branch has its category mix, each customer a favourite category, a
    second line often from the partner category, categories have seasons) and how
    much (quantities, sales-month discounts)."""
    n_branches = len(place.branch_ids)
    n_categories = len(CATALOGUE)
    cat_rng = np.random.default_rng(int(rng.integers(2**32)))
    branch_mix = (
        cat_rng.dirichlet(np.full(n_categories, 1.5), size=n_branches) * 0.6 + 0.4 / n_categories
    )
    branch_basket = cat_rng.uniform(0.5, 1.3, size=n_branches)
    branch_size = cat_rng.lognormal(0.0, 0.6, size=n_branches)
    branch_p = branch_size / branch_size.sum()
    # Each customer's favourite category, drawn from the home branch's mix.
    home_cdf = np.cumsum(branch_mix, axis=1)[people.home_index]
    favourite = (rng.random(len(people.home_index))[:, None] > home_cdf).sum(axis=1)
    favourite = np.minimum(favourite, n_categories - 1)
    weights = people.activity / people.activity.sum()
    cdf = _day_sampler(place, WEEKDAY_WEIGHT)
    window_start = (place.now - timedelta(days=place.days)).date()
    months_of_day = pd.date_range(window_start, periods=place.days, freq="D").month.to_numpy() - 1
    # (branch, month) → cumulative category probabilities
    mix = branch_mix[:, None, :] * CATEGORY_SEASON[None, :, :]
    mix_cdf = np.cumsum(mix / mix.sum(axis=2, keepdims=True), axis=2)
    product_p = np.array([0.35, 0.25, 0.18, 0.12, 0.10])
    purchase_ids = bulk.reserve_ids(Purchase, count)
    done = 0
    while done < count:
        n = min(chunk, count - done)
        ids = purchase_ids[done : done + n]
        who = rng.choice(len(weights), size=n, p=weights)
        day = _days_after(rng, cdf, people.first_day[who], people.last_day[who])
        hour = rng.choice(SHOP_HOURS, size=n, p=SHOP_HOUR_WEIGHT / SHOP_HOUR_WEIGHT.sum())
        at = _timestamps(place, day, hour, rng.integers(0, 60, size=n))
        ecommerce = rng.random(n) < 0.12
        branch_idx = np.where(
            rng.random(n) < 0.8, people.home_index[who], rng.choice(n_branches, size=n, p=branch_p)
        )
        month = months_of_day[day]
        sales = np.isin(month, [0, 6, 10])  # January, July, November sales
        rate = np.where(
            rng.random(n) < np.where(sales, 0.6, 0.25),
            rng.choice([0.05, 0.1, 0.2, 0.3, 0.5], size=n, p=[0.25, 0.3, 0.25, 0.15, 0.05]),
            0.0,
        )
        basket = branch_basket[branch_idx] * np.where(people.is_company[who], 2.0, 1.0)
        line_count = np.minimum(1 + rng.poisson(basket), 8)
        total_lines = int(line_count.sum())
        owner = np.repeat(np.arange(n), line_count)
        position = np.arange(total_lines) - np.repeat(
            np.cumsum(line_count) - line_count, line_count
        )
        # Category per line: favourite, else the branch's seasonal mix; later lines often
        # from the partner of the first line's category.
        u = rng.random(total_lines)
        seasonal = (u[:, None] > mix_cdf[branch_idx[owner], month[owner]]).sum(axis=1)
        category = np.where(rng.random(total_lines) < 0.45, favourite[who[owner]], seasonal)
        category = np.minimum(category, n_categories - 1)
        first_line_cat = category[np.repeat(np.cumsum(line_count) - line_count, line_count)]
        partner = np.array(CATEGORY_PARTNER)[first_line_cat]
        category = np.where((position > 0) & (rng.random(total_lines) < 0.35), partner, category)
        product = category * 5 + rng.choice(5, size=total_lines, p=product_p)
        quantity = rng.choice([1, 1, 1, 1, 2, 2, 3], size=total_lines)
        price = place.product_prices[product]
        gross = price * quantity
        cut = np.round(gross * rate[owner], 2)
        line_total = np.round(gross - cut, 2)
        totals = np.bincount(owner, weights=line_total, minlength=n)
        discounts = np.bincount(owner, weights=cut, minlength=n)
        staff = (
            pd.array(rng.choice(place.staff_ids, size=n), dtype="Int64")
            if len(place.staff_ids)
            else pd.array([pd.NA] * n, dtype="Int64")
        )
        branch_col = pd.array(place.branch_ids[branch_idx], dtype="Int64")
        branch_col[ecommerce] = pd.NA
        purchases = pd.DataFrame(
            {
                "id": ids,
                "tenant_id": place.tenant.pk,
                "customer_id": people.customers["id"].to_numpy()[who],
                "branch_id": branch_col,
                "touchpoint": np.where(ecommerce, "ecommerce", "branch_visit"),
                "staff_id": staff,
                "purchased_at": at,
                "total_amount": np.round(totals, 2),
                "discount_amount": np.round(discounts, 2),
                "is_return": False,
                "returned_purchase_id": pd.array([pd.NA] * n, dtype="Int64"),
                "external_ref": "",
            }
        )
        lines = pd.DataFrame(
            {
                "tenant_id": place.tenant.pk,
                "purchase_id": ids[owner],
                "product_id": place.product_ids[product],
                "quantity": quantity.astype(float),
                "unit_price": price,
                "discount_amount": cut,
                "line_total": line_total,
                "customer_id": purchases["customer_id"].to_numpy()[owner],
                "purchased_at": at[owner],
                "is_return": False,
            }
        )
        yield purchases, lines
        done += n


# ---------------------------------------------------------------------- interactions


def generate_interactions(
    rng: np.random.Generator, people: People, place: Place, count: int
) -> pd.DataFrame:
    weights = people.activity / people.activity.sum()
    who = rng.choice(len(weights), size=count, p=weights)
    cdf = _day_sampler(place, np.array([1.2, 1.2, 1.1, 1.1, 1.0, 0.6, 0.3]))
    day = _days_after(rng, cdf, people.first_day[who])
    company = people.is_company[who]
    person_tp = rng.choice(PERSON_TOUCHPOINTS[0], size=count, p=PERSON_TOUCHPOINTS[1])
    company_tp = rng.choice(COMPANY_TOUCHPOINTS[0], size=count, p=COMPANY_TOUCHPOINTS[1])
    touchpoint = np.where(company, company_tp, person_tp)
    pick = rng.integers(0, 1000, size=count)
    subject = [
        INTERACTION_SUBJECTS[tp][k % len(INTERACTION_SUBJECTS[tp])]
        for tp, k in zip(touchpoint.tolist(), pick.tolist(), strict=True)
    ]
    hour = rng.choice(OFFICE_HOURS, size=count)
    meeting = np.isin(touchpoint, ["meeting", "trade_fair"])
    follow = rng.random(count) < 0.1
    occurred = _timestamps(place, day, hour, rng.integers(0, 60, size=count))
    follow_up = pd.Series(occurred.tz_convert(None).normalize() + pd.Timedelta(days=7)).dt.date
    staff = (
        pd.array(rng.choice(place.staff_ids, size=count), dtype="Int64")
        if len(place.staff_ids)
        else pd.array([pd.NA] * count, dtype="Int64")
    )
    return pd.DataFrame(
        {
            "id": bulk.reserve_ids(Interaction, count),
            "tenant_id": place.tenant.pk,
            "customer_id": people.customers["id"].to_numpy()[who],
            "touchpoint": touchpoint,
            "subject": subject,
            "notes": np.where(rng.random(count) < 0.2, "Müşteri bilgilendirildi.", ""),
            "outcome": rng.choice(OUTCOMES, size=count, p=OUTCOME_WEIGHT),
            "staff_id": staff,
            "branch_id": place.branch_ids[people.home_index[who]],
            "occurred_at": occurred,
            "follow_up_on": follow_up.where(follow, None).to_numpy(),
            "next_step": np.where(meeting, "Teklif gönderilecek", ""),
        }
    )


def generate_complaints(
    rng: np.random.Generator, people: People, place: Place, count: int
) -> pd.DataFrame:
    weights = people.activity / people.activity.sum()
    who = rng.choice(len(weights), size=count, p=weights)
    day = np.maximum(place.days - 1 - rng.integers(0, 400, size=count), people.first_day[who])
    opened = _timestamps(
        place, day, rng.choice(OFFICE_HOURS, size=count), rng.integers(0, 60, size=count)
    )
    status = rng.choice(
        ["open", "in_progress", "resolved", "closed"], size=count, p=[0.12, 0.1, 0.3, 0.48]
    )
    # Old complaints are rarely still open.
    old = day < place.days - 60
    status = np.where(
        old & np.isin(status, ["open", "in_progress"]) & (rng.random(count) < 0.8), "closed", status
    )
    done = np.isin(status, ["resolved", "closed"])
    resolved = opened + pd.to_timedelta(rng.integers(1, 10, size=count), unit="D")
    resolved_col = pd.Series(resolved).where(done, pd.NaT)
    staff = (
        pd.array(rng.choice(place.staff_ids, size=count), dtype="Int64")
        if len(place.staff_ids)
        else pd.array([pd.NA] * count, dtype="Int64")
    )
    return pd.DataFrame(
        {
            "tenant_id": place.tenant.pk,
            "customer_id": people.customers["id"].to_numpy()[who],
            "subject": rng.choice(COMPLAINT_SUBJECTS, size=count),
            "description": "",
            "status": status,
            "owner_id": staff,
            "branch_id": place.branch_ids[people.home_index[who]],
            "opened_at": opened,
            "due_on": pd.Series(
                opened.tz_convert(None).normalize() + pd.Timedelta(days=3)
            ).dt.date.to_numpy(),
            "resolved_at": resolved_col.to_numpy(),
            "resolution": np.where(done, "Müşteriyle görüşüldü, çözüldü.", ""),
        }
    )


# ---------------------------------------------------------------------------- load


def populate(
    *,
    tenant: Tenant,
    shape: Shape,
    place: Place | None = None,
    progress: Callable[[str], None] | None = None,
) -> Loaded:
    """Generate and load a population into ``tenant`` (call inside its tenant scope and
    a transaction). Customer numbers continue the tenant's counter, which is moved past
    them, so customers created later through the normal path keep counting."""
    rng = np.random.default_rng(shape.seed)
    place = place or place_for(tenant)
    loaded = Loaded()

    def timed(name: str, work: Callable[[], int]) -> None:
        started = time.perf_counter()
        rows = work()
        loaded.add(name, rows, time.perf_counter() - started)
        if progress:
            progress(f"{name}: {rows} rows in {time.perf_counter() - started:.1f} s")

    counter, _created = CustomerNumberCounter.objects.select_for_update().get_or_create(
        tenant=tenant
    )
    started = time.perf_counter()
    people = generate_people(rng, shape, place, first_number=counter.next_value)
    loaded.add("generate customers", 0, time.perf_counter() - started)
    counter.next_value += len(people.customers)
    counter.save(update_fields=["next_value"])

    contact_ids = bulk.reserve_ids(ContactPerson, len(people.contacts))
    people.contacts.insert(0, "id", contact_ids)
    timed("customers", lambda: bulk.load_frame(Customer, people.customers))
    timed(
        "contact people",
        lambda: bulk.load_frame(ContactPerson, people.contacts.drop(columns="customer_row")),
    )
    # Half the contact people have a mobile of their own.
    with_phone = people.contacts[rng.random(len(people.contacts)) < 0.5]
    contact_phones = pd.DataFrame(
        {
            "customer_id": with_phone["company_id"].to_numpy(),
            "contact_person_id": with_phone["id"].to_numpy(),
            "e164": "+90"
            + rng.choice(MOBILE_PREFIXES, size=len(with_phone)).astype(str).astype(object)
            + pd.Series(rng.integers(0, 10_000_000, size=len(with_phone)))
            .astype(str)
            .str.zfill(7)
            .to_numpy(),
            "is_mobile": True,
            "is_primary": True,
            "tenant_id": tenant.pk,
            "source": "",
            "is_verified": False,
            "created_at": with_phone["created_at"].to_numpy(),
        }
    )
    phones = people.phones.drop(columns="customer_row")
    phones["contact_person_id"] = pd.array([pd.NA] * len(phones), dtype="Int64")
    timed(
        "phones",
        lambda: bulk.load_frame(Phone, pd.concat([phones, contact_phones], ignore_index=True)),
    )
    emails = people.emails.drop(columns="customer_row")
    emails["contact_person_id"] = pd.array([pd.NA] * len(emails), dtype="Int64")
    timed("emails", lambda: bulk.load_frame(Email, emails))
    timed(
        "addresses", lambda: bulk.load_frame(Address, people.addresses.drop(columns="customer_row"))
    )
    started = time.perf_counter()
    for purchases, lines in generate_purchases(rng, people, place, shape.purchases):
        timed("purchases", lambda p=purchases: bulk.load_frame(Purchase, p))  # type: ignore[misc]
        timed("purchase lines", lambda li=lines: bulk.load_frame(PurchaseLine, li))  # type: ignore[misc]
    timed(
        "interactions",
        lambda: bulk.load_frame(
            Interaction, generate_interactions(rng, people, place, shape.interactions)
        ),
    )
    timed(
        "complaints",
        lambda: bulk.load_frame(
            Complaint, generate_complaints(rng, people, place, shape.complaints)
        ),
    )
    return loaded


@register_reference_builder("customers", order=10)
def build_reference(tenant: Tenant, options: ReferenceOptions, report: ReferenceReport) -> None:
    """N customer records (10% of them duplicates), M purchases, K interactions."""
    duplicates = options.customers // 10
    shape = Shape(
        customers=options.customers - duplicates,
        duplicates=duplicates,
        purchases=options.purchases,
        interactions=options.interactions,
        complaints=max(1, options.customers * 3 // 100) if options.customers else 0,
        seed=options.rng.randrange(2**32),
    )
    with transaction.atomic():
        loaded = populate(tenant=tenant, shape=shape)
    for name, rows in loaded.rows.items():
        if rows:
            report.figures[f"{name} rows"] = rows
        report.figures[f"{name} seconds"] = loaded.seconds[name]
