"""customers.normalize: examples for every function, and properties with hypothesis.

No database: these are pure functions (Django settings only for gettext).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crm.text import matching_key, turkish_lower, turkish_upper
from customers.normalize import (
    NormalizedPhone,
    email_key,
    name_blocking_keys,
    name_key,
    normalize_birth_date,
    normalize_district,
    normalize_email,
    normalize_person_name,
    normalize_phone,
    normalize_postal_code,
    normalize_province,
    normalize_tax_id,
    normalize_tckn,
    normalize_vkn,
    parse_date,
    phone_key,
    province_from_address_line,
    split_full_name,
)

# No example database (keeps .hypothesis/ out of the work tree); no deadline, since the
# first phonenumbers call loads metadata.
hypothesis_settings = settings(deadline=None, database=None)

TURKISH_LETTERS = "abcçdefgğhıijklmnoöprsştuüvyzABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ"
LETTERS = TURKISH_LETTERS + "qwxQWXâîûÂÎÛ"


def raises_code(code: str, func: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ValidationError) as info:
        func(*args, **kwargs)
    assert info.value.code == code, info.value


# ------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AYŞE GÜL yılmaz", "Ayşe Gül Yılmaz"),
        ("İSMAİL ışık", "İsmail Işık"),
        ("  ayşe   gül\tKAYA  ", "Ayşe Gül Kaya"),
        ("ŞÜKRÜ ÖZTÜRK", "Şükrü Öztürk"),
        ("ÇAĞLA IŞIL", "Çağla Işıl"),
        ("KÂMİL", "Kâmil"),
        # Python's lower() artefact (i + combining dot) is repaired.
        ("İzmir".lower(), "İzmir"),
        ("DİYARBAKIR", "Diyarbakır"),
        ("ISPARTA", "Isparta"),
        # hyphens and apostrophes
        ("AYŞE-GÜL YILMAZ", "Ayşe-Gül Yılmaz"),
        ("ayşe - gül", "Ayşe-Gül"),
        ("Ayşe–Gül", "Ayşe-Gül"),
        ("o'brien", "O'Brien"),
        ("D’ANGELO", "D'Angelo"),
        ("MES'UT", "Mes'ut"),
        # camel case kept; particles kept, lower-case in the middle only
        ("Ronald McDonald", "Ronald McDonald"),
        ("Leonardo DA Vinci", "Leonardo da Vinci"),
        ("johannes VAN DER berg", "Johannes van der Berg"),
        ("Van Morrison", "Van Morrison"),
        ("Ayşe Al", "Ayşe Al"),
        # initials
        ("m. ali", "M. Ali"),
        ("A.B. KAYA", "A.B. Kaya"),
        # invisible characters from copy-paste are dropped
        ("Ay\u200bşe\u00a0Yılmaz", "Ayşe Yılmaz"),
    ],
)
def test_normalize_person_name(raw: str, expected: str) -> None:
    assert normalize_person_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["Ayşe2", "Ayşe_Yılmaz", "-Ayşe", "Ayşe-", "Ayşe--Gül", "O''Brien", "@#!", "' -"]
)
def test_normalize_person_name_refuses_garbage(raw: str) -> None:
    raises_code("invalid_name", normalize_person_name, raw)


@pytest.mark.parametrize("raw", ["", "   ", "\u200b"])
def test_normalize_person_name_refuses_blank(raw: str) -> None:
    raises_code("empty", normalize_person_name, raw)


def test_normalize_person_name_refuses_very_long_names() -> None:
    raises_code("max_length", normalize_person_name, "Ayşe " * 50)


def test_all_caps_is_read_as_turkish() -> None:
    # Documented limitation: all-caps foreign names get Turkish dotless ı.
    assert normalize_person_name("BRIAN") == "Brıan"
    assert normalize_person_name("Brian") == "Brian"


def test_turkish_casing_traps_from_compliance() -> None:
    assert "İzmir".lower() != "izmir"  # the trap itself
    assert turkish_lower("İzmir") == "izmir"
    assert turkish_lower("DİYARBAKIR") == "diyarbakır"
    assert turkish_lower("ISPARTA") == "ısparta"
    assert turkish_lower(normalize_district("ISPARTA")) == "ısparta"
    assert name_key("İzmir") == name_key("IZMIR") == "izmir"
    assert name_key("DİYARBAKIR") == name_key("Diyarbakır") == "diyarbakir"
    assert name_key("ISPARTA") == "isparta"
    assert name_key("Şükrü ÖZTÜRK") == "sukru ozturk"


def test_name_key_is_matching_key() -> None:
    for text in ["Ayşe Gül  Yılmaz", "İSMAİL IŞIK", " Çağrı "]:
        assert name_key(text) == matching_key(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AYŞE GÜL YILMAZ", ("Ayşe Gül", "Yılmaz")),
        ("Mehmet Ali Can Demir", ("Mehmet Ali Can", "Demir")),
        ("ismail ışık", ("İsmail", "Işık")),
        ("Ayşe Yılmaz-Kaya", ("Ayşe", "Yılmaz-Kaya")),
        ("Ludwig van Beethoven", ("Ludwig", "van Beethoven")),
        ("Johannes van der Berg", ("Johannes", "van der Berg")),
        ("Cem", ("Cem", "")),
    ],
)
def test_split_full_name(raw: str, expected: tuple[str, str]) -> None:
    assert split_full_name(raw) == expected


def test_split_full_name_refuses_garbage() -> None:
    raises_code("empty", split_full_name, " ")
    raises_code("invalid_name", split_full_name, "Ayşe 123")


name_words = st.text(alphabet=LETTERS, min_size=1, max_size=12)
name_word_or_hyphenated = st.one_of(
    name_words,
    st.builds(lambda a, b: f"{a}-{b}", name_words, name_words),
    st.builds(lambda a, b: f"{a}'{b}", name_words, name_words),
)
names = st.lists(name_word_or_hyphenated, min_size=1, max_size=4).map(" ".join)


@hypothesis_settings
@given(names)
@example("VAN DER")
@example("o'brien")
def test_person_name_is_idempotent_and_keeps_the_key(name: str) -> None:
    normalized = normalize_person_name(name)
    assert normalize_person_name(normalized) == normalized
    assert name_key(normalized) == name_key(name)
    assert normalize_person_name(turkish_upper(name)) == normalize_person_name(
        turkish_upper(normalized)
    )


@hypothesis_settings
@given(st.text(alphabet=LETTERS + " \t\n", max_size=40))
def test_name_key_is_idempotent_and_case_insensitive(text: str) -> None:
    key = name_key(text)
    assert name_key(key) == key
    assert name_key(turkish_upper(text)) == key
    assert name_key(turkish_lower(text)) == key
    assert key.isascii()
    assert key == " ".join(key.split())


@hypothesis_settings
@given(st.text(max_size=60))
def test_person_name_never_fails_with_anything_but_validation_error(text: str) -> None:
    try:
        normalized = normalize_person_name(text)
    except ValidationError:
        return
    assert normalized == normalized.strip()
    assert normalize_person_name(normalized) == normalized


# ----------------------------------------------------------------------- phones

MOBILE = NormalizedPhone(
    e164="+905321234567",
    national="0532 123 45 67",
    international="+90 532 123 45 67",
    is_mobile=True,
    region="TR",
    number_type="MOBILE",
)


@pytest.mark.parametrize(
    "raw",
    [
        "0532 123 45 67",
        "5321234567",
        "905321234567",
        "00905321234567",
        "+90 (532) 123-45-67",
        "+905321234567",
        "0532-123-45-67",
        "0532.123.45.67",
        " 0 532 123 45 67 ",
        5321234567,
    ],
)
def test_normalize_phone_turkish_mobile_formats(raw: str | int) -> None:
    assert normalize_phone(raw) == MOBILE
    assert normalize_phone(raw).display == "0532 123 45 67"


def test_normalize_phone_landline_and_special_numbers_are_not_mobile() -> None:
    landline = normalize_phone("0212 123 45 67")
    assert landline.e164 == "+902121234567"
    assert landline.national == "(0212) 123 45 67"
    assert landline.is_mobile is False
    assert landline.number_type == "FIXED_LINE"
    assert normalize_phone("0850 123 45 67").is_mobile is False
    assert normalize_phone("444 1 234").is_mobile is False


def test_normalize_phone_foreign_numbers() -> None:
    german = normalize_phone("+49 30 123456")
    assert (german.e164, german.region, german.is_mobile) == ("+4930123456", "DE", False)
    assert german.display == "+49 30 123456"
    french_mobile = normalize_phone("0033 6 12 34 56 78")
    assert (french_mobile.e164, french_mobile.is_mobile) == ("+33612345678", True)
    # US numbers are FIXED_LINE_OR_MOBILE: cannot be proven mobile, so not mobile.
    us = normalize_phone("+1 201 555 0123")
    assert us.number_type == "FIXED_LINE_OR_MOBILE"
    assert us.is_mobile is False


def test_normalize_phone_other_default_region() -> None:
    assert normalize_phone("030 123456", region="DE").e164 == "+4930123456"
    with pytest.raises(ValueError, match="unknown phone region"):
        normalize_phone("0532 123 45 67", region="XX")


@pytest.mark.parametrize(
    "raw",
    [
        "532123456",  # too short
        "53212345678",  # too long
        "0561 123 45 67",  # not allocated
        "0532 ABC 45 67",  # vanity letters are not guessed
        "0532 123 45 67 dahili 12",
        "0532 123 45 67 (cep)",
        "+",
        "12",
        "+90 532 123 45 67 #12",
    ],
)
def test_normalize_phone_refuses_invalid(raw: str) -> None:
    raises_code("invalid_phone", normalize_phone, raw)


def test_normalize_phone_refuses_blank() -> None:
    raises_code("empty", normalize_phone, "  ")


# Türk Telekom 50x, Turkcell 53x, Vodafone 54x, 55x.
GSM_PREFIXES = [
    "501", "505", "506", "507", "530", "531", "532", "533", "534", "535", "536", "537",
    "538", "539", "541", "542", "543", "544", "545", "546", "547", "548", "549", "551",
    "552", "553", "554", "555", "559",
]  # fmt: skip

turkish_mobiles = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(GSM_PREFIXES),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
).filter(lambda n: phonenumbers.is_valid_number(phonenumbers.parse("+90" + n)))


@hypothesis_settings
@given(turkish_mobiles)
def test_every_way_of_writing_a_turkish_mobile_gives_the_same_e164(national: str) -> None:
    p, a, b, c = national[:3], national[3:6], national[6:8], national[8:]
    written = [
        f"0{p} {a} {b} {c}",
        national,
        f"90{national}",
        f"0090{national}",
        f"+90 ({p}) {a}-{b}-{c}",
    ]
    results = {normalize_phone(w) for w in written}
    assert len(results) == 1
    (phone,) = results
    assert phone.e164 == f"+90{national}"
    assert phone.is_mobile
    assert phone.national == f"0{p} {a} {b} {c}"
    assert phone_key(phone.e164) == phone.e164
    assert normalize_phone(phone.e164) == phone


@hypothesis_settings
@given(st.text(max_size=30))
def test_normalize_phone_never_fails_with_anything_but_validation_error(text: str) -> None:
    try:
        phone = normalize_phone(text)
    except ValidationError:
        return
    assert normalize_phone(phone.e164) == phone


def test_phone_key() -> None:
    assert phone_key("+905321234567") == "+905321234567"
    assert phone_key("0532 123 45 67") == "+905321234567"
    raises_code("invalid_phone", phone_key, "hello")


# ----------------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ayse.Yilmaz@Example.COM ", "ayse.yilmaz@example.com"),
        ("AYSE@GMAIL.COM", "ayse@gmail.com"),  # ASCII lower: no dotless ı
        ("INFO@ISTANBUL.COM.TR", "info@istanbul.com.tr"),
        ("mailto:Ali@Firma.com.tr", "ali@firma.com.tr"),
        ("ayse@örnek.com.tr", "ayse@xn--rnek-4qa.com.tr"),
        ("ayse@ÖRNEK.COM.TR", "ayse@xn--rnek-4qa.com.tr"),
        ("ali@ŞİRKET.com", "ali@" + "şirket".encode("idna").decode() + ".com"),
        ("a.b+tag@sub.example.org", "a.b+tag@sub.example.org"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected
    assert normalize_email(expected) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "ayse",
        "ayse@",
        "@example.com",
        "ayse@example",
        "ayse@localhost",
        "ayse@[192.168.1.1]",
        "ayse yilmaz@example.com",
        "ayse..yilmaz@example.com",
        "ayse@example..com",
        "Ayşe <ayse@example.com>",
        "a" * 250 + "@example.com",
    ],
)
def test_normalize_email_refuses_invalid(raw: str) -> None:
    raises_code("invalid_email", normalize_email, raw)


@pytest.mark.parametrize("raw", ["ayşe@example.com", "İSMAİL@example.com", "çağrı@x.com"])
def test_normalize_email_refuses_turkish_letters_in_local_part(raw: str) -> None:
    raises_code("email_non_ascii", normalize_email, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A.Yilmaz+shop@GoogleMail.com", "ayilmaz@gmail.com"),
        ("a.yilmaz@gmail.com", "ayilmaz@gmail.com"),
        ("ayilmaz+x+y@gmail.com", "ayilmaz@gmail.com"),
        ("a.yilmaz+shop@example.com", "a.yilmaz+shop@example.com"),
        ("A.Yilmaz@Example.com", "a.yilmaz@example.com"),
    ],
)
def test_email_key(raw: str, expected: str) -> None:
    assert email_key(raw) == expected


@hypothesis_settings
@given(st.emails())
def test_email_normalisation_is_idempotent(address: str) -> None:
    try:
        normalized = normalize_email(address)
    except ValidationError:
        return
    assert normalized == normalized.lower()
    assert normalized.isascii()
    assert normalize_email(normalized) == normalized
    key = email_key(normalized)
    assert email_key(key) == key
    assert email_key(normalized.upper()) == key


@hypothesis_settings
@given(st.text(max_size=40))
def test_normalize_email_never_fails_with_anything_but_validation_error(text: str) -> None:
    try:
        normalized = normalize_email(text)
    except ValidationError:
        return
    assert normalize_email(normalized) == normalized


# -------------------------------------------------------------- identity numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("17291716060", "17291716060"),
        ("10000000146", "10000000146"),
        (" 172 917 160 60 ", "17291716060"),
        (17291716060, "17291716060"),
    ],
)
def test_normalize_tckn(raw: str | int, expected: str) -> None:
    assert normalize_tckn(raw) == expected


@pytest.mark.parametrize(
    "raw", ["17291716061", "1729171606", "172917160600", "07291716060", "1729171606a", "-1"]
)
def test_normalize_tckn_refuses_invalid(raw: str) -> None:
    raises_code("invalid_tckn", normalize_tckn, raw)


def test_tckn_errors_do_not_repeat_the_number() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_tckn("17291716061")
    assert all("1729171606" not in message for message in info.value.messages)


def tckn_check_digits(first_nine: str) -> str:
    """COMPLIANCE §4, written out independently of stdnum."""
    d = [int(ch) for ch in first_nine]
    d10 = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    d11 = (sum(d) + d10) % 10
    return f"{d10}{d11}"


tckn_prefixes = st.builds(
    lambda first, rest: str(first) + rest,
    st.integers(min_value=1, max_value=9),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)


@hypothesis_settings
@given(tckn_prefixes)
@example("172917160")
@example("100000001")
def test_tckn_with_right_check_digits_is_accepted_and_any_other_last_digit_refused(
    prefix: str,
) -> None:
    tckn = prefix + tckn_check_digits(prefix)
    assert normalize_tckn(tckn) == tckn
    assert normalize_tckn(int(tckn)) == tckn
    for digit in "0123456789":
        if digit != tckn[-1]:
            raises_code("invalid_tckn", normalize_tckn, tckn[:-1] + digit)


@hypothesis_settings
@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_tckn_accepted_exactly_when_the_formula_holds(candidate: str) -> None:
    right = candidate[0] != "0" and candidate[9:] == tckn_check_digits(candidate[:9])
    try:
        normalize_tckn(candidate)
    except ValidationError:
        assert not right
    else:
        assert right


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("4540536920", "4540536920"), (" 454 053 6920 ", "4540536920"), (4540536920, "4540536920")],
)
def test_normalize_vkn(raw: str | int, expected: str) -> None:
    assert normalize_vkn(raw) == expected


@pytest.mark.parametrize("raw", ["4540536921", "454053692", "45405369200", "45405369a0"])
def test_normalize_vkn_refuses_invalid(raw: str) -> None:
    raises_code("invalid_vkn", normalize_vkn, raw)


def test_normalize_vkn_pads_numbers_from_spreadsheets() -> None:
    # A VKN may start with 0; a spreadsheet cell holding it as a number loses the zero.
    assert normalize_vkn("0123456789") == "0123456789"
    assert normalize_vkn(123456789) == "0123456789"
    assert normalize_tax_id(123456789) == "0123456789"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4540536920", "4540536920"),
        ("17291716060", "17291716060"),
        ("454 053 69 20", "4540536920"),
        (17291716060, "17291716060"),
    ],
)
def test_normalize_tax_id(raw: str | int, expected: str) -> None:
    assert normalize_tax_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("4540536921", "invalid_vkn"),
        ("17291716061", "invalid_tckn"),
        ("123", "invalid_tax_id"),
        ("123456789012", "invalid_tax_id"),
        ("", "empty"),
        (True, "invalid_tax_id"),
        (12.5, "invalid_tax_id"),
    ],
)
def test_normalize_tax_id_refuses_invalid(raw: Any, code: str) -> None:
    raises_code(code, normalize_tax_id, raw)


# ------------------------------------------------------------------------ dates

MARCH_15 = datetime.date(2023, 3, 15)


@pytest.mark.parametrize(
    "raw",
    [
        "2023-03-15",
        "2023-3-15",
        "15.03.2023",
        "15.3.2023",
        "15/03/2023",
        "20230315",
        "45000",
        "45000.25",
        45000,
        45000.75,
        Decimal("45000"),
        20230315,
        "2023-03-15 00:00:00",
        "2023-03-15T10:30",
        "15.03.2023 00:00",
        MARCH_15,
        datetime.datetime(2023, 3, 15, 23, 59),
        " 15.03.2023 ",
    ],
)
def test_parse_date_formats(raw: Any) -> None:
    assert parse_date(raw) == MARCH_15


def test_parse_date_excel_serials_around_the_1900_leap_bug() -> None:
    assert parse_date(1) == datetime.date(1900, 1, 1)
    assert parse_date(59) == datetime.date(1900, 2, 28)
    assert parse_date(61) == datetime.date(1900, 3, 1)
    assert parse_date(7306) == datetime.date(1920, 1, 1)
    raises_code("invalid_date", parse_date, 60)  # Excel's 1900-02-29 never existed


@pytest.mark.parametrize(
    "raw",
    [
        "31.02.2023",
        "2023-02-29",
        "29/02/2023",
        "20231301",
        "2023-13-01",
        "03/15/2023",  # US order is not supported
        "15.03.23",  # two-digit year
        "15-03-2023",
        "2023-03-15 25:00",
        "2023",
        "1234",
        "123456",
        "yesterday",
        "15 Mart 2023",
        0,
        -5,
        3_000_000,
        float("inf"),
        True,
        [2023, 3, 15],
    ],
)
def test_parse_date_refuses_invalid(raw: Any) -> None:
    raises_code("invalid_date", parse_date, raw)


@pytest.mark.parametrize("raw", ["", "  ", None, float("nan")])
def test_parse_date_refuses_blank(raw: Any) -> None:
    raises_code("empty", parse_date, raw)


def excel_serial(day: datetime.date) -> int:
    return (day - datetime.date(1899, 12, 30)).days


@hypothesis_settings
@given(st.dates(min_value=datetime.date(1000, 1, 1)))
def test_parse_date_round_trips_every_format(day: datetime.date) -> None:
    y, m, d = f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
    written: list[Any] = [
        f"{y}-{m}-{d}",
        f"{day.day}.{day.month}.{y}",
        f"{d}.{m}.{y}",
        f"{d}/{m}/{y}",
        f"{y}{m}{d}",
        f"{y}-{m}-{d} 00:00:00",
        day,
        datetime.datetime.combine(day, datetime.time(13, 45)),
    ]
    if day >= datetime.date(1900, 3, 1):
        serial = excel_serial(day)
        written += [serial, float(serial) + 0.5]
        if 10_000 <= serial <= 99_999:
            written.append(str(serial))
    for raw in written:
        assert parse_date(raw) == day, raw


@hypothesis_settings
@given(st.text(max_size=25))
def test_parse_date_never_fails_with_anything_but_validation_error(text: str) -> None:
    try:
        day = parse_date(text)
    except ValidationError:
        return
    assert parse_date(day.isoformat()) == day


TODAY = datetime.date(2024, 6, 1)


def test_normalize_birth_date() -> None:
    assert normalize_birth_date("15.03.1985", today=TODAY) == datetime.date(1985, 3, 15)
    assert normalize_birth_date(TODAY, today=TODAY) == TODAY  # a newborn
    raises_code("birth_date_in_future", normalize_birth_date, "2024-06-02", today=TODAY)
    raises_code("invalid_date", normalize_birth_date, "31.02.1985", today=TODAY)


@pytest.mark.parametrize(
    ("born", "accepted"),
    [
        ("1904-06-01", True),  # 120 today
        ("1903-06-02", True),  # 120, turns 121 tomorrow
        ("1903-06-01", False),  # 121 today
        ("1850-01-01", False),
    ],
)
def test_normalize_birth_date_age_limit(born: str, accepted: bool) -> None:
    if accepted:
        assert normalize_birth_date(born, today=TODAY) == datetime.date.fromisoformat(born)
    else:
        raises_code("birth_date_too_old", normalize_birth_date, born, today=TODAY)


def test_normalize_birth_date_defaults_to_today() -> None:
    raises_code(
        "birth_date_in_future",
        normalize_birth_date,
        datetime.date.today() + datetime.timedelta(days=2),
    )


# -------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("İzmir", "35"),
        ("İZMİR", "35"),
        ("izmir", "35"),
        ("DİYARBAKIR", "21"),
        ("Diyarbakir", "21"),
        ("ISPARTA", "32"),
        ("ısparta", "32"),
        ("İstanbul", "34"),
        ("ISTANBUL", "34"),
        ("6", "06"),
        ("06", "06"),
        (6, "06"),
        ("81", "81"),
        ("Afyon", "03"),
        ("İçel", "33"),
    ],
)
def test_normalize_province(raw: str | int, expected: str) -> None:
    assert normalize_province(raw) == expected


@pytest.mark.parametrize("raw", ["Atlantis", "0", "82", "00", "İstanbul Avrupa"])
def test_normalize_province_refuses_unknown(raw: str) -> None:
    raises_code("invalid_province", normalize_province, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("KADIKÖY", "Kadıköy"),
        ("çankaya", "Çankaya"),
        ("ŞİŞLİ", "Şişli"),
        ("  ısparta  merkez ", "Isparta Merkez"),
        ("19 MAYIS", "19 Mayıs"),
        ("EYÜPSULTAN", "Eyüpsultan"),
    ],
)
def test_normalize_district(raw: str, expected: str) -> None:
    assert normalize_district(raw) == expected


def test_normalize_district_refuses_garbage() -> None:
    raises_code("invalid_district", normalize_district, "Kadıköy/İstanbul")
    raises_code("empty", normalize_district, "")
    raises_code("max_length", normalize_district, "a" * 81)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("06100", "06100"), (" 34 000 ", "34000"), (6100, "06100"), (81000, "81000")],
)
def test_normalize_postal_code(raw: str | int, expected: str) -> None:
    assert normalize_postal_code(raw) == expected


@pytest.mark.parametrize(
    "raw", ["6100", "061000", "00100", "82000", "99999", "ABCDE", "06-100", 820000]
)
def test_normalize_postal_code_refuses_invalid(raw: str | int) -> None:
    raises_code("invalid_postal_code", normalize_postal_code, raw)


# ---------------------------------------------------------------- blocking keys


def test_name_blocking_keys() -> None:
    assert name_blocking_keys("Ayşe Gül", "Yılmaz") == {
        "ln:yilmaz:a",
        "ln:yilmaz:g",
        "fn:ayse:y",
        "fn:gul:y",
        "sk:as:ylmz",
        "sk:gl:ylmz",
    }
    assert name_blocking_keys("", "") == set()
    assert name_blocking_keys("", "Yılmaz") == {"ln:yilmaz:"}
    # A full name in the first-name field: the last word is the surname.
    assert name_blocking_keys("Ayşe Yılmaz", "") == name_blocking_keys("Ayşe", "Yılmaz")
    assert "ln:obrien:s" in name_blocking_keys("Sean", "O'Brien")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("AYŞE", "YILMAZ"), ("ayse", "yilmaz")),  # case and Turkish letters
        (("Ayşe", "Yılmaz"), ("Aişe", "Yılmaz")),  # first-name typo: same surname + initial
        (("Mehmet", "Öztürk"), ("Mehmet", "Ozturkk")),  # surname typo: same first name
        (("Hüseyin", "Yılmaz"), ("Hüsein", "Yilmaaz")),  # vowel slips in both
        (("Ayşe Gül", "Kaya"), ("Gül", "Kaya")),  # goes by the second first name
        (("Ayşe", "Yılmaz-Kaya"), ("Ayşe", "Yılmaz Kaya")),
    ],
)
def test_similar_names_share_a_blocking_key(one: tuple[str, str], other: tuple[str, str]) -> None:
    assert name_blocking_keys(*one) & name_blocking_keys(*other)


def test_different_names_share_no_blocking_key() -> None:
    assert not name_blocking_keys("Ayşe", "Yılmaz") & name_blocking_keys("Mehmet", "Kaya")


@hypothesis_settings
@given(names, names)
def test_blocking_keys_ignore_case_and_display_normalisation(first: str, last: str) -> None:
    keys = name_blocking_keys(first, last)
    assert keys == name_blocking_keys(turkish_upper(first), turkish_lower(last))
    assert keys == name_blocking_keys(normalize_person_name(first), normalize_person_name(last))
    assert all(key.isascii() and " " not in key for key in keys)


# ------------------------------------------------------- messages and robustness


def test_error_messages_are_translatable_english_msgids() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_phone("0561 123 45 67")
    message = info.value.message
    assert isinstance(message, Promise)  # gettext_lazy
    with translation.override("en"):
        assert str(message) == (
            "This is not a valid phone number: check the digits and the country code."
        )


NORMALIZERS: list[Callable[[Any], object]] = [
    normalize_person_name,
    split_full_name,
    normalize_phone,
    normalize_email,
    email_key,
    normalize_tckn,
    normalize_vkn,
    normalize_tax_id,
    parse_date,
    normalize_birth_date,
    normalize_province,
    normalize_district,
    normalize_postal_code,
]


@pytest.mark.parametrize("func", NORMALIZERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("raw", [None, "", " \t ", "\u200b"])
def test_every_normalizer_refuses_blank_with_code_empty(
    func: Callable[[Any], object], raw: Any
) -> None:
    raises_code("empty", func, raw)


@pytest.mark.parametrize("func", NORMALIZERS, ids=lambda f: f.__name__)
def test_every_normalizer_is_idempotent_on_a_good_value(func: Callable[[Any], object]) -> None:
    good = {
        "normalize_person_name": "AYŞE GÜL yılmaz",
        "split_full_name": "AYŞE GÜL yılmaz",
        "normalize_phone": "0532 123 45 67",
        "normalize_email": " Ayse@Example.COM",
        "email_key": "A.yse+x@gmail.com",
        "normalize_tckn": " 17291716060",
        "normalize_vkn": "454 053 6920",
        "normalize_tax_id": "4540536920",
        "parse_date": "15.03.2023",
        "normalize_birth_date": "15.03.1985",
        "normalize_province": "İZMİR",
        "normalize_district": "KADIKÖY",
        "normalize_postal_code": " 06100",
    }[func.__name__]
    once = func(good)
    if isinstance(once, NormalizedPhone):
        assert func(once.e164) == once
    elif isinstance(once, tuple):
        assert func(" ".join(once)) == once
    else:
        assert func(once) == once


@hypothesis_settings
@given(st.one_of(st.text(max_size=20), st.integers(), st.floats()))
@pytest.mark.parametrize("func", NORMALIZERS, ids=lambda f: f.__name__)
def test_normalizers_raise_only_validation_errors(func: Callable[[Any], object], raw: Any) -> None:
    try:
        func(raw)
    except ValidationError as error:
        assert error.code


_SEPARATORS = st.sampled_from(["", " ", "-", ".", "/", "  "])


@hypothesis_settings
@given(
    national=st.from_regex(r"5[0-9]{9}", fullmatch=True),
    prefix=st.sampled_from(["", "0", "90", "+90", "0090", "+90 (0)", "(0", "0 "]),
    separator=_SEPARATORS,
)
@example(national="5321234567", prefix="+90", separator=" ")
@example(national="5611234567", prefix="0", separator="")  # 561x: only some are valid
@example(national="5001234567", prefix="0", separator="")
def test_fast_turkish_mobile_path_agrees_with_phonenumbers(
    national: str, prefix: str, separator: str
) -> None:
    from customers import normalize

    written = prefix + separator.join([national[:3], national[3:6], national[6:8], national[8:]])
    if prefix == "(0":
        written = f"(0{national[:3]}) {national[3:]}"
    fast = normalize._turkish_mobile(written)
    try:
        number = phonenumbers.parse(written, "TR")
        valid = phonenumbers.is_valid_number(number)
    except phonenumbers.NumberParseException:
        valid = False
    if fast is None:
        return  # the full path decides, as before
    assert valid
    number_type = phonenumbers.number_type(number)
    assert fast == normalize.NormalizedPhone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        international=phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
        is_mobile=True,
        region=phonenumbers.region_code_for_number(number),
        number_type=normalize._PHONE_TYPE_NAMES[number_type],
    )


def test_fast_path_takes_the_usual_spellings() -> None:
    from customers import normalize

    for written in ("0532 123 45 67", "5321234567", "905321234567", "00905321234567",
                    "+90 (532) 123-45-67", "0532.123.45.67"):  # fmt: skip
        found = normalize._turkish_mobile(written)
        assert found is not None and found.e164 == "+905321234567", written


def test_the_empty_value_messages_made_once_are_still_in_the_users_language() -> None:
    # The messages are module constants (made once, for speed); they must stay lazy,
    # translated when shown, not frozen in the language active when the module loaded.
    for raw, check in (("  ", normalize_phone), ("", normalize_email), (" ", normalize_province)):
        with pytest.raises(ValidationError) as error:
            check(raw)
        assert isinstance(error.value.error_list[0].message, Promise)
        assert error.value.code == "empty"


@pytest.mark.parametrize(
    ("line", "province", "district"),
    [
        ("Caferağa Mh. Moda Cad. No:1 Kadıköy/İSTANBUL", "34", "Kadıköy"),
        ("Kızılay Mah. Atatürk Blv. 5, Çankaya, Ankara", "06", "Çankaya"),
        ("Cumhuriyet Mah. 3. Sok. Afyon Karahisar", "03", ""),
        ("Zafer Mah. merkez - bolu.", "14", "Merkez"),
        ("Alsancak Kıbrıs Şehitleri Cad. IZMIR", "35", ""),
        ("Kıbrıs Şehitleri İzmir", "35", ""),
        # A province's name inside the line, a door number or postal code at its end,
        # or no letters at all: nothing is told.
        ("Ordu Cad. No 7", "", ""),
        ("Bağlar Mah. 12 Sok. 34710", "", ""),
        ("Trabzon Sok. 5/2", "", ""),
        ("", "", ""),
        (" / , ", "", ""),
    ],
)
def test_the_province_is_read_from_the_end_of_an_address_line(
    line: str, province: str, district: str
) -> None:
    found = province_from_address_line(line)
    assert (found.province, found.district) == (province, district)


@given(st.text(max_size=80))
def test_reading_a_province_from_any_line_never_fails(line: str) -> None:
    found = province_from_address_line(line)
    assert found.province == "" or normalize_province(found.province) == found.province


_EMAIL_CHARS = "abcz09._+-@!#%'"


@settings(max_examples=400)
@given(st.text(alphabet=_EMAIL_CHARS, min_size=3, max_size=40))
@example("ayse.yilmaz+kampanya@ornek.com.tr")
@example("a..b@ornek.com")
@example(".a@ornek.com")
@example("a@-ornek.com")
@example("a@ornek.c0m")
def test_plain_email_fast_path_accepts_only_what_the_validator_accepts(address: str) -> None:
    from customers import normalize

    if not normalize._PLAIN_EMAIL.fullmatch(address):
        return  # the validator decides, as before
    normalize._email_validator(address)  # raises if the fast path let a bad one through


@given(
    local=st.from_regex(r"[a-z0-9_+-]{1,12}(\.[a-z0-9_+-]{1,8}){0,2}", fullmatch=True),
    host=st.from_regex(r"([a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\.){1,3}[a-z]{2,6}", fullmatch=True),
)
def test_plain_emails_take_the_fast_path_and_stay_valid(local: str, host: str) -> None:
    from customers import normalize

    address = f"{local}@{host}"
    assert normalize._PLAIN_EMAIL.fullmatch(address)
    normalize._email_validator(address)
    assert normalize.normalize_email(address.upper()) == address
