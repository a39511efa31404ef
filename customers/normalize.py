"""Normalisation of customer data on the way in — the one place forms, the API, imports
and dedup turn raw input into the values that are stored and indexed.

What every caller can rely on:

* Every ``normalize_*`` / ``parse_*`` function either returns a clean, canonical value
  or raises :class:`django.core.exceptions.ValidationError` with a translatable message
  and a stable ``code`` (listed in each docstring). Nothing is silently "fixed" into
  something else, and garbage is never returned.
* Blank input (``""``, whitespace only, ``None``, a NaN from a spreadsheet) raises with
  ``code="empty"``. Optional fields are the caller's business: ``v and normalize_x(v)``.
* Every function is idempotent: feeding its output back in returns the same value.
* Text is NFC-normalised, invisible format characters (zero-width spaces, BOM, soft
  hyphens — common in copy-pasted data) are removed and whitespace is collapsed first.
* Turkish case rules apply (``I``→``ı``, ``İ``→``i``): the helpers of :mod:`crm.text` do
  the casing and the matching key; this module does not re-implement them.
* Error messages never echo identity numbers (TCKN) back, so import error reports and
  logs do not spread them.
* The ``*_key`` / ``*_blocking_keys`` helpers produce the values identity resolution
  indexes; they change only together with a re-index of stored keys.
"""

from __future__ import annotations

import datetime
import functools
import math
import numbers
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum.exceptions import InvalidChecksum, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.tr import tckimlik

from crm.text import matching_key, province_code, turkish_lower, turkish_upper
from crm.validators import validate_vkn

__all__ = [
    "NormalizedPhone",
    "email_key",
    "name_blocking_keys",
    "name_key",
    "normalize_birth_date",
    "normalize_district",
    "normalize_email",
    "normalize_person_name",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_province",
    "normalize_tax_id",
    "normalize_tckn",
    "normalize_vkn",
    "parse_amount",
    "parse_date",
    "parse_datetime",
    "phone_key",
    "split_full_name",
]

# --------------------------------------------------------------------------- helpers

_APOSTROPHES = str.maketrans(dict.fromkeys("’‘ʼʹ`´′", "'"))
_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−", "-"))
_SPACE_AROUND_HYPHEN = re.compile(r"\s*-\s*")
# A word (or word part between separators) is letters; parts are joined by one
# hyphen, apostrophe or full stop; an initial may end with a full stop ("M.", "A.B.").
_WORD_SHAPE = re.compile(r"a+(?:[-'.]a+)*\.?")
_SEPARATORS = re.compile(r"([-'.])")


def _is_blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    return isinstance(raw, str) and not _clean(raw)


def _clean(raw: str) -> str:
    """NFC, drop format characters (category Cf), collapse whitespace, strip."""
    if raw.isascii():
        # Most values (phones, e-mails, numbers, many names): ASCII is already NFC and
        # has no format characters, so only the whitespace needs collapsing.
        return " ".join(raw.split())
    text = unicodedata.normalize("NFC", raw)
    # Python's own lower() turns "İ" into "i" + COMBINING DOT ABOVE; undo that artefact.
    text = text.replace("i\u0307", "i")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


# The messages for an empty value, made once: a lazy message per call was a tenth of
# an import's time in normalize_phone (they are still translated when shown).
_EMPTY_NAME = _("Enter a name.")
_EMPTY_PHONE = _("Enter a phone number.")
_EMPTY_EMAIL = _("Enter an e-mail address.")
_EMPTY_PROVINCE = _("Enter a province.")
_EMPTY_DISTRICT = _("Enter a district.")


def _empty(message: Any) -> ValidationError:
    return ValidationError(message, code="empty")


def _require_text(raw: object, empty_message: Any, code: str) -> str:
    if _is_blank(raw):
        raise _empty(empty_message)
    if not isinstance(raw, str):
        raise ValidationError(
            _("Expected text, got %(type)s."), params={"type": type(raw).__name__}, code=code
        )
    return _clean(raw)


def _digits_text(raw: object, *, empty_message: Any, code: str, pad_to: int = 0) -> str:
    """Text of an identifier that may arrive as a number from a spreadsheet.

    Whitespace is removed. Integers (and floats with no fraction) are written out in
    decimal and, if ``pad_to`` is set, left-padded with zeros (Excel drops them).
    The result is not yet checked to be digits.
    """
    if _is_blank(raw):
        raise _empty(empty_message)
    if isinstance(raw, bool):
        raise ValidationError(_("Expected digits, got a yes/no value."), code=code)
    if isinstance(raw, numbers.Integral | float | Decimal):
        whole = int(raw) if math.isfinite(raw) else -1
        if whole < 0 or whole != raw:
            raise ValidationError(_("Expected a whole number."), code=code)
        text = str(whole)
        return text.zfill(pad_to) if pad_to else text
    if not isinstance(raw, str):
        raise ValidationError(
            _("Expected text, got %(type)s."), params={"type": type(raw).__name__}, code=code
        )
    return "".join(_clean(raw).split())


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_camel(segment: str) -> bool:
    """'McDonald', 'DiCaprio': capital, lower, and capitals only between lower letters."""
    if len(segment) < 3 or not (segment[0].isupper() and segment[1].islower()):
        return False
    if not segment[-1].islower():
        return False
    inner_capitals = False
    for i in range(1, len(segment) - 1):
        if segment[i].isupper():
            if not (segment[i - 1].islower() and segment[i + 1].islower()):
                return False
            inner_capitals = True
    return inner_capitals


def _capitalise(segment: str) -> str:
    if _is_camel(segment):
        return segment
    first = turkish_upper(segment[0])
    if len(first) != 1:  # e.g. "ß" → "SS": leave such letters alone
        first = segment[0]
    return first + turkish_lower(segment[1:])


def _case_word(word: str) -> str:
    """Capitalise each part of a word; after an apostrophe only behind one letter."""
    parts = _SEPARATORS.split(word)
    out: list[str] = []
    for i, part in enumerate(parts):
        if not part or part in "-'.":
            out.append(part)
            continue
        after_apostrophe = i >= 2 and parts[i - 1] == "'"
        if after_apostrophe and len(parts[i - 2]) != 1:
            # "Mes'ut", "Sa'adet": a glottal stop, not a prefix like O'/D'/L'.
            out.append(turkish_lower(part))
        else:
            out.append(_capitalise(part))
    return "".join(out)


def _shape(text: str, *, allow_digits: bool) -> str | None:
    """Map letters (and digits if allowed) to 'a'; None if another character occurs."""
    shape: list[str] = []
    previous_is_letter = False
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "L" or (allow_digits and category == "Nd"):
            shape.append("a")
            previous_is_letter = True
        elif category[0] == "M" and previous_is_letter:
            shape.append("a")
        elif ch in " -'.":
            shape.append(ch)
            previous_is_letter = False
        else:
            return None
    return "".join(shape)


def _display_case(text: str, *, allow_digits: bool, lower_particles: bool) -> str | None:
    """Display-case words of a name or place; None if the text is not name-shaped."""
    text = text.translate(_APOSTROPHES).translate(_DASHES)
    text = _SPACE_AROUND_HYPHEN.sub("-", text)
    shape = _shape(text, allow_digits=allow_digits)
    if shape is None:
        return None
    words = text.split(" ")
    shapes = shape.split(" ")
    if not all(_WORD_SHAPE.fullmatch(s) for s in shapes):
        return None
    out: list[str] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        key = matching_key(word)
        if lower_particles and 0 < i < last and key in _PARTICLES:
            out.append(key)
        else:
            out.append(_case_word(word))
    return unicodedata.normalize("NFC", " ".join(out))


# ------------------------------------------------------------------------------ names

# Lower-case name particles (only when neither the first nor the last word, so that
# Turkish surnames such as "Al" or "Van" at the end keep their capital).
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "dos", "das",
     "la", "le", "ten", "ter", "bin", "ibn"}
)  # fmt: skip
NAME_MAX_LENGTH = 200


@functools.lru_cache(maxsize=65_536)
def normalize_person_name(text: str) -> str:
    """A person's name (first names, last name, or both) cased for display.

    ``"AYŞE GÜL yılmaz"`` → ``"Ayşe Gül Yılmaz"``; ``"İSMAİL ışık"`` → ``"İsmail Işık"``.

    Guarantees:
    * whitespace trimmed and collapsed; Turkish casing (``I``→``ı``, ``i``→``İ``), so
      all-caps input is read as Turkish ("BRIAN" → "Brıan": type foreign names in
      mixed case — they are then kept as typed apart from the first capital);
    * hyphenated parts are each capitalised ("AYŞE-GÜL" → "Ayşe-Gül", spaces around the
      hyphen removed); typographic apostrophes and dashes become ``'`` and ``-``;
    * after an apostrophe, a capital only behind a one-letter prefix ("O'Brien",
      "D'Angelo"), otherwise lower-case ("Mes'ut");
    * camel-case words are kept ("McDonald", "DiCaprio");
    * particles in the middle are kept and lower-cased ("Ludwig van Beethoven");
    * initials keep their full stop ("M. Ali").

    Raises ``ValidationError``: ``empty``; ``invalid_name`` (digits or symbols, stray
    separators); ``max_length`` (over 200 characters).
    """
    cleaned = _require_text(text, _EMPTY_NAME, "invalid_name")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("A name can have at most %(max)d characters."),
            params={"max": NAME_MAX_LENGTH},
            code="max_length",
        )
    cased = _display_case(cleaned, allow_digits=False, lower_particles=True)
    if cased is None:
        raise ValidationError(
            _("A name may contain only letters, spaces, hyphens, apostrophes and full stops."),
            code="invalid_name",
        )
    return cased


def name_key(text: str) -> str:
    """The matching key of a name: exactly :func:`crm.text.matching_key`.

    Turkish lower-case, ASCII-folded (ç ğ ı ö ş ü → c g i o s u), whitespace
    collapsed: "ŞÜKRÜ Öztürk" and "sukru ozturk" give the same key. Index the key,
    display the name.
    """
    return matching_key(text)


def split_full_name(text: str) -> tuple[str, str]:
    """Split a full name into ``(first names, last name)``, both display-cased.

    The last word is the surname and everything before it the first names, so double
    first names stay together: "AYŞE GÜL YILMAZ" → ("Ayşe Gül", "Yılmaz"). Lower-case
    particles before the surname belong to it: "Ludwig van Beethoven" →
    ("Ludwig", "van Beethoven"). A hyphenated surname is one word ("Yılmaz-Kaya").
    A single word is a first name with an empty surname: "Cem" → ("Cem", "").
    Raises like :func:`normalize_person_name`.
    """
    words = normalize_person_name(text).split(" ")
    if len(words) == 1:
        return words[0], ""
    start = len(words) - 1
    while start > 1 and words[start - 1] in _PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


# ----------------------------------------------------------------------------- phones

_PHONE_CHARS = re.compile(r"[\d\s+()\-./]+")


@dataclass(frozen=True, slots=True)
class NormalizedPhone:
    """A valid phone number.

    ``e164``: "+905321234567" — what is stored, indexed and sent to İYS.
    ``national``: "0532 123 45 67" / "(0212) 123 45 67" (phonenumbers' national format).
    ``international``: "+90 532 123 45 67".
    ``is_mobile``: True only for numbers known to be mobile (may receive SMS / MESAJ).
    ``region``: ISO country of the number ("TR", "DE", …) or None if not one country.
    ``number_type``: phonenumbers' type name ("MOBILE", "FIXED_LINE", "UAN", …).
    """

    e164: str
    national: str
    international: str
    is_mobile: bool
    region: str | None
    number_type: str

    @property
    def display(self) -> str:
        """National format for Turkish numbers, international for foreign ones."""
        return self.national if self.region == "TR" else self.international


def _is_mobile(number: phonenumbers.PhoneNumber, number_type: int) -> bool:
    if number_type == PhoneNumberType.MOBILE:
        return True
    if number_type == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        # Some countries (US, CA, …) cannot be told apart: only Turkish 5xx numbers are
        # certainly mobile; anything else is treated as not mobile (no SMS consent).
        national = str(number.national_number)
        return number.country_code == 90 and national.startswith("5") and len(national) == 10
    return False


# Turkish mobiles as people write them: 0532…, 532…, 90532…, +90532…, 0090532…, with
# spaces, brackets, dots, dashes or slashes anywhere. Most imported numbers are these.
_PHONE_SEPARATORS = re.compile(r"[\s()\-./]+")
_TR_MOBILE = re.compile(r"(?:\+90|0090|90|0)?(5\d{9})")


def _turkish_mobile(text: str) -> NormalizedPhone | None:
    """The result normalize_phone gives for a Turkish mobile, without phonenumbers'
    parser and formatters (a tenth of the time); None when ``text`` is not plainly
    one, and the full path decides. A property test holds both paths equal."""
    match = _TR_MOBILE.fullmatch(_PHONE_SEPARATORS.sub("", text))
    if match is None:
        return None
    national = match.group(1)
    if not _turkish_mobile_pattern().match(national):
        return None
    grouped = f"{national[:3]} {national[3:6]} {national[6:8]} {national[8:]}"
    return NormalizedPhone(
        e164=f"+90{national}",
        national=f"0{grouped}",
        international=f"+90 {grouped}",
        is_mobile=True,
        region="TR",
        number_type="MOBILE",
    )


@functools.cache
def _turkish_mobile_pattern() -> re.Pattern[str]:
    """One regex saying what phonenumbers' number_type() says for a 10-digit Turkish
    national number: MOBILE, i.e. the general pattern matches, no other type's pattern
    does (premium, toll-free, …, fixed line), and the mobile pattern does."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("TR")
    if metadata is None:
        return re.compile(r"(?!)")

    def pattern(desc: Any) -> str | None:
        if desc is None or not desc.national_number_pattern:
            return None
        if desc.possible_length and 10 not in desc.possible_length:
            return None
        return str(desc.national_number_pattern)

    general, mobile = pattern(metadata.general_desc), pattern(metadata.mobile)
    if general is None or mobile is None or metadata.same_mobile_and_fixed_line_pattern:
        return re.compile(r"(?!)")  # never: the full path decides
    others = [
        pattern(getattr(metadata, name))
        for name in ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number",
                     "pager", "uan", "voicemail", "fixed_line")
    ]  # fmt: skip
    return re.compile(
        rf"(?=(?:{general})\Z)"
        + "".join(rf"(?!(?:{other})\Z)" for other in others if other)
        + rf"(?:{mobile})\Z"
    )


def normalize_phone(raw: str | int, region: str = "TR") -> NormalizedPhone:
    """Parse and validate a phone number; numbers without ``+`` are read in ``region``.

    Accepts the ways people write Turkish numbers — ``0532 123 45 67``, ``5321234567``,
    ``905321234567``, ``00905321234567``, ``+90 (532) 123-45-67`` — and foreign numbers
    written with ``+`` (or ``00``). Only digits, spaces and ``+ ( ) - . /`` are allowed:
    letters (vanity numbers, "dahili"/extensions, notes) are refused rather than guessed.

    ``is_mobile`` is True for phonenumbers' MOBILE type; FIXED_LINE_OR_MOBILE counts only
    for a Turkish 5xx number, never for e.g. a US number whose kind cannot be known.

    Raises ``ValidationError``: ``empty``; ``invalid_phone`` (characters, unparsable, or
    not a valid number in its country's numbering plan).
    ``ValueError`` if ``region`` is not a region phonenumbers knows (a programming error).
    """
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r}")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    text = _require_text(raw, _EMPTY_PHONE, "invalid_phone")
    if not _PHONE_CHARS.fullmatch(text):
        raise ValidationError(
            _("A phone number may contain only digits, spaces and + ( ) - . /"),
            code="invalid_phone",
        )
    return _normalize_valid_phone(text, region)


# Imports and identity resolution normalise the same numbers several times over.
@functools.lru_cache(maxsize=65_536)
def _normalize_valid_phone(text: str, region: str) -> NormalizedPhone:
    if region == "TR":
        fast = _turkish_mobile(text)
        if fast is not None:
            return fast
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("This is not a phone number: check the digits and the country code."),
            code="invalid_phone",
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("This is not a valid phone number: check the digits and the country code."),
            code="invalid_phone",
        )
    number_type = phonenumbers.number_type(number)
    return NormalizedPhone(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        national=phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        international=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        is_mobile=_is_mobile(number, number_type),
        region=phonenumbers.region_code_for_number(number),
        number_type=_PHONE_TYPE_NAMES.get(number_type, "UNKNOWN"),
    )


_PHONE_TYPE_NAMES = {
    value: name
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def phone_key(e164: str) -> str:
    """Blocking/index key of a phone: its E.164 form.

    A string already in E.164 form is returned as is (cheap, for dedup over stored
    values); anything else goes through :func:`normalize_phone` (and may raise).
    """
    if isinstance(e164, str) and _E164.fullmatch(e164):
        return e164
    return normalize_phone(e164).e164


# ----------------------------------------------------------------------------- e-mail

EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit; also the model field's max_length
_email_validator = EmailValidator(
    message=_("Enter a valid e-mail address."), code="invalid_email", allowlist=[]
)
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(raw: str) -> str:
    """See :func:`_normalize_email_uncached` (cached: imports normalise each address twice)."""
    if isinstance(raw, str):
        return _normalize_email(raw)
    return _normalize_email_uncached(raw)


@functools.lru_cache(maxsize=65_536)
def _normalize_email(raw: str) -> str:
    return _normalize_email_uncached(raw)


def _normalize_email_uncached(raw: object) -> str:
    """A trimmed, lower-case, valid e-mail address with an ASCII (punycode) domain.

    * A ``mailto:`` prefix is dropped; the address is lower-cased with plain ASCII rules
      (no Turkish casing: addresses are ASCII).
    * The part before ``@`` must be ASCII (İYS refuses Turkish letters in addresses).
    * An internationalised domain is stored punycode-encoded: ``ayse@örnek.com.tr`` →
      ``ayse@xn--rnek-4qa.com.tr``. ``İ`` in a domain is read as ``i``.
    * Checked with Django's ``EmailValidator`` with no host allowlist ("localhost" and
      IP literals are refused); at most 254 characters.

    Raises ``ValidationError``: ``empty``; ``invalid_email``; ``email_non_ascii``.
    """
    text = _require_text(raw, _EMPTY_EMAIL, "invalid_email")
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or " " in text or domain.startswith("["):
        raise ValidationError(_("Enter a valid e-mail address."), code="invalid_email")
    if not local.isascii():
        raise ValidationError(
            _(
                "The part before @ may not contain Turkish or other non-Latin letters "
                "(ç, ğ, ı, İ, ö, ş, ü)."
            ),
            code="email_non_ascii",
        )
    domain = domain.replace("İ", "i").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValidationError(_("Enter a valid e-mail address."), code="invalid_email") from exc
    address = f"{local.lower()}@{domain}"
    if len(address) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            _("An e-mail address can have at most %(max)d characters."),
            params={"max": EMAIL_MAX_LENGTH},
            code="invalid_email",
        )
    if not _PLAIN_EMAIL.fullmatch(address):
        _email_validator(address)
    return address


# Most addresses are plain: letters, digits, . _ + - before the @, a dotted host name
# with a letters-only top-level domain. Every such address passes EmailValidator (its
# dot-atom user part and host-name domain patterns accept a superset), so they skip
# it: at an import's tens of thousands of addresses it was the costliest check of a
# row. The rest go through EmailValidator; a property test holds the two in step.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def email_key(email: str) -> str:
    """Blocking/index key of an e-mail: the normalised address, and for Gmail
    (gmail.com, googlemail.com) the local part without dots and ``+tag``, on gmail.com:
    ``A.Yilmaz+shop@GoogleMail.com`` → ``ayilmaz@gmail.com``. Other providers are left
    alone (their dots and plus signs may matter). Raises like :func:`normalize_email`.
    """
    address = normalize_email(email)
    local, _at, domain = address.rpartition("@")
    if domain in _GMAIL_DOMAINS:
        canonical = local.split("+", 1)[0].replace(".", "")
        return f"{canonical or local}@gmail.com"
    return address


# ------------------------------------------------------------------ identity numbers


def normalize_tckn(raw: str | int) -> str:
    """A T.C. identity number (TCKN): 11 digits, not starting with 0, check digits right
    (COMPLIANCE §4; via ``stdnum.tr.tckimlik``). Spaces are removed; an int is accepted.

    Raises ``ValidationError`` with ``code="invalid_tckn"`` (or ``empty``). The message
    does not repeat the number.
    """
    text = _digits_text(raw, empty_message=_("Enter a T.C. identity number."), code="invalid_tckn")
    try:
        return str(tckimlik.validate(text))
    except InvalidLength as exc:
        raise ValidationError(
            _("A T.C. identity number has exactly 11 digits."), code="invalid_tckn"
        ) from exc
    except InvalidChecksum as exc:
        raise ValidationError(
            _("This T.C. identity number is not valid: its check digits do not match."),
            code="invalid_tckn",
        ) from exc
    except StdnumError as exc:
        raise ValidationError(
            _("A T.C. identity number has 11 digits and does not start with 0."),
            code="invalid_tckn",
        ) from exc


def normalize_vkn(raw: str | int) -> str:
    """A tax number (VKN): 10 digits with a valid check digit (``stdnum.tr.vkn`` through
    :func:`crm.validators.validate_vkn`). Spaces are removed; an int is zero-padded to
    10 digits (spreadsheets drop leading zeros).

    Raises ``ValidationError`` with ``code="invalid_vkn"`` (or ``empty``).
    """
    text = _digits_text(raw, empty_message=_("Enter a tax number."), code="invalid_vkn", pad_to=10)
    if not _is_ascii_digits(text) or len(text) != 10:
        raise ValidationError(_("A tax number (VKN) has exactly 10 digits."), code="invalid_vkn")
    validate_vkn(text)
    return text


def normalize_tax_id(raw: str | int) -> str:
    """A company's tax id: a 10-digit VKN, or an 11-digit TCKN (sole traders use theirs).

    Dispatches on the number of digits to :func:`normalize_vkn` / :func:`normalize_tckn`
    and raises their errors (``invalid_vkn`` / ``invalid_tckn``); any other length gives
    ``invalid_tax_id``. An int of up to 10 digits is zero-padded and read as a VKN.
    """
    empty_message = _("Enter a tax number.")
    text = _digits_text(raw, empty_message=empty_message, code="invalid_tax_id")
    if not isinstance(raw, str) and len(text) <= 10:
        text = text.zfill(10)
    if len(text) == 10:
        return normalize_vkn(text)
    if len(text) == 11:
        return normalize_tckn(text)
    raise ValidationError(
        _(
            "A tax number has 10 digits (VKN), or 11 digits for a sole trader's "
            "T.C. identity number."
        ),
        code="invalid_tax_id",
    )


# ------------------------------------------------------------------------------ dates

_EXCEL_EPOCH = datetime.date(1899, 12, 30)  # serial 61 = 1900-03-01 (1900 date system)
_EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31
_TIME = r"(?:[ T](?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2})(?:\.\d{1,6})?)?)?"
_DATE_PATTERNS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _TIME, re.ASCII),
    re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})" + _TIME, re.ASCII),
    re.compile(r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})" + _TIME, re.ASCII),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", re.ASCII),
)
_EXCEL_TEXT = re.compile(r"\d{5}(?:\.\d+)?", re.ASCII)


def _invalid_date() -> ValidationError:
    return ValidationError(
        _(
            "Enter a date as YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY or YYYYMMDD "
            "(e.g. 2023-03-15 or 15.03.2023)."
        ),
        code="invalid_date",
    )


def _impossible_date() -> ValidationError:
    return ValidationError(
        _("This date does not exist (check the day and the month)."), code="invalid_date"
    )


def _from_excel_serial(serial: int) -> datetime.date:
    if serial == 60:
        # Excel's 1900-02-29, a day that never was (kept for Lotus 1-2-3 compatibility).
        raise _impossible_date()
    if not 1 <= serial <= _EXCEL_MAX_SERIAL:
        raise ValidationError(_("This number is not an Excel date."), code="invalid_date")
    days = serial if serial > 60 else serial + 1
    return _EXCEL_EPOCH + datetime.timedelta(days=days)


def _ymd(year: int, month: int, day: int) -> datetime.date:
    try:
        return datetime.date(year, month, day)
    except ValueError as exc:
        raise _impossible_date() from exc


def parse_date(raw: str | int | float | Decimal | datetime.date) -> datetime.date:
    """A calendar date from what forms, the API and spreadsheets send.

    * ``datetime.date`` as is; ``datetime.datetime`` → its ``.date()`` (in its own zone).
    * Text: ``YYYY-MM-DD``, ``DD.MM.YYYY``, ``DD/MM/YYYY`` (day first, the Turkish
      order; US ``MM/DD/YYYY`` is not supported), day and month may have one digit; the
      first three may be followed by a time (``HH:MM[:SS]``, ignored) as spreadsheet
      exports add it; ``YYYYMMDD``; and a 5-digit Excel serial ("45000" → 2023-03-15).
      Two-digit years are refused (ambiguous for birth dates).
    * Numbers: an Excel serial in the 1900 date system (45000 → 2023-03-15; a fraction,
      the time of day, is ignored; serial 60, the fictitious 1900-02-29, is refused);
      an 8-digit integer is ``YYYYMMDD`` (Excel serials never have 8 digits).

    Raises ``ValidationError``: ``empty``; ``invalid_date`` (unknown format or a date
    that does not exist, e.g. 31.02.2023).
    """
    if _is_blank(raw):
        raise _empty(_("Enter a date."))
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    if isinstance(raw, bool):
        raise _invalid_date()
    if isinstance(raw, numbers.Real | Decimal):
        if not math.isfinite(raw):
            raise _invalid_date()
        whole = math.floor(raw)
        if whole == raw and 10_000_000 <= whole <= 99_999_999:
            return _ymd(whole // 10_000, whole // 100 % 100, whole % 100)
        return _from_excel_serial(whole)
    if not isinstance(raw, str):
        raise _invalid_date()
    text = _clean(raw)
    if _EXCEL_TEXT.fullmatch(text):
        return _from_excel_serial(math.floor(Decimal(text)))
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("hh") is not None and not (
            int(groups["hh"]) < 24
            and int(groups["mm"]) < 60
            and (groups["ss"] is None or int(groups["ss"]) < 60)
        ):
            raise _invalid_date()
        return _ymd(int(groups["y"]), int(groups["m"]), int(groups["d"]))
    raise _invalid_date()


_TIME_OF_DAY = re.compile(
    r"(?P<date>.*?)[ T](?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2})(?:\.\d{1,6})?)?", re.ASCII
)
_EXCEL_DATETIME_TEXT = re.compile(r"\d{5}\.\d+", re.ASCII)


def parse_datetime(raw: str | int | float | Decimal | datetime.date) -> datetime.datetime:
    """A moment from what spreadsheets and tills export, aware in the current time zone.

    Dates are read exactly as :func:`parse_date` reads them; a time of day
    (``HH:MM[:SS]``) after the date is kept, as is the fraction of an Excel serial
    (45000.5 → 2023-03-15 12:00). Without a time the moment is the start of the day.
    Naive values are taken as local time (Türkiye), which is what a till writes.

    Raises ``ValidationError``: ``empty``; ``invalid_date`` (as parse_date, or an
    impossible time such as 25:00).
    """
    if isinstance(raw, datetime.datetime):
        moment = raw
    else:
        moment = datetime.datetime.combine(parse_date(raw), _time_of(raw))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def _time_of(raw: object) -> datetime.time:
    """The time part of a value parse_date has accepted (midnight when there is none)."""
    if isinstance(raw, numbers.Real | Decimal) and not isinstance(raw, bool):
        fraction = Decimal(str(raw)) % 1
        return _time_from_day_fraction(fraction)
    if not isinstance(raw, str):
        return datetime.time()
    text = _clean(raw)
    if _EXCEL_DATETIME_TEXT.fullmatch(text):
        return _time_from_day_fraction(Decimal(text) % 1)
    match = _TIME_OF_DAY.fullmatch(text)
    if match is None:
        return datetime.time()
    # parse_date has checked the ranges already.
    return datetime.time(int(match["hh"]), int(match["mm"]), int(match["ss"] or 0))


def _time_from_day_fraction(fraction: Decimal) -> datetime.time:
    # Rounded to the second: Excel stores 12:00:00 as 0.49999999… more often than not.
    seconds = min(int((fraction * 86400).to_integral_value()), 86399)
    return datetime.time(seconds // 3600, seconds // 60 % 60, seconds % 60)


# ---------------------------------------------------------------------------- amounts

_CURRENCY = re.compile(r"(?i)(?:₺|\btl\b|\btry\b|\s)")
_GROUPED_WITH_DOTS = re.compile(r"\d{1,3}(?:\.\d{3})+", re.ASCII)
_GROUPED_WITH_COMMAS = re.compile(r"\d{1,3}(?:,\d{3})+", re.ASCII)
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)


def _invalid_amount() -> ValidationError:
    return ValidationError(_("Enter an amount such as 1.234,56 or 1234.56."), code="invalid_amount")


def parse_amount(raw: str | int | float | Decimal, *, places: int = 2) -> Decimal:
    """A money amount or quantity from Turkish or English number formats.

    ``1.234,56``, ``1234,56``, ``1234.56``, ``1,234.56``, ``₺1.234,56``, ``1.234,56 TL``
    and ``-12,50`` are all read. When both separators appear the last one is the
    decimal point. A lone ``.`` before exactly three digits in a grouped number
    (``1.234``, ``12.500``) is a thousands separator, as a Turkish till writes it; a
    lone ``,`` is a decimal comma. The result is rounded half-up to ``places`` decimals.

    Raises ``ValidationError``: ``empty``; ``invalid_amount``.
    """
    if _is_blank(raw):
        raise _empty(_("Enter an amount."))
    if isinstance(raw, bool):
        raise _invalid_amount()
    if isinstance(raw, numbers.Real | Decimal):
        if not math.isfinite(raw):
            raise _invalid_amount()
        value = Decimal(str(raw))
    elif isinstance(raw, str):
        value = _amount_from_text(_clean(raw))
    else:
        raise _invalid_amount()
    return value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP")


def _amount_from_text(text: str) -> Decimal:
    text = _CURRENCY.sub("", text.translate(_DASHES).replace("\u00a0", ""))
    sign = ""
    if text[:1] in ("+", "-"):
        sign, text = text[0], text[1:]
    elif text.endswith("-"):  # some tills print returns as 12,50-
        sign, text = "-", text[:-1]
    if "," in text and "." in text:
        decimal_point = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal_point == "," else ","
        whole, _point, fraction = text.rpartition(decimal_point)
        grouped = _GROUPED_WITH_DOTS if grouping == "." else _GROUPED_WITH_COMMAS
        if not (grouped.fullmatch(whole) and fraction.isascii() and fraction.isdigit()):
            raise _invalid_amount()
        text = f"{whole.replace(grouping, '')}.{fraction}"
    elif "," in text:
        if _GROUPED_WITH_COMMAS.fullmatch(text) and text.count(",") > 1:
            text = text.replace(",", "")
        elif text.count(",") == 1:
            text = text.replace(",", ".")
        else:
            raise _invalid_amount()
    elif _GROUPED_WITH_DOTS.fullmatch(text):
        text = text.replace(".", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        raise _invalid_amount()
    return Decimal(sign + text)


BIRTH_DATE_MAX_AGE = 120


def normalize_birth_date(
    raw: str | int | float | Decimal | datetime.date, today: datetime.date | None = None
) -> datetime.date:
    """:func:`parse_date`, and the date must be a plausible birth date: not after
    ``today`` (default: today in the project time zone) and an age of at most 120.

    Raises ``ValidationError``: as :func:`parse_date`; ``birth_date_in_future``;
    ``birth_date_too_old``.
    """
    born = parse_date(raw)
    if today is None:
        today = timezone.localdate()
    if born > today:
        raise ValidationError(
            _("A birth date cannot be in the future."), code="birth_date_in_future"
        )
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age > BIRTH_DATE_MAX_AGE:
        raise ValidationError(
            _("A birth date more than %(max)d years ago is not plausible."),
            params={"max": BIRTH_DATE_MAX_AGE},
            code="birth_date_too_old",
        )
    return born


# -------------------------------------------------------------------------- addresses

DISTRICT_MAX_LENGTH = 80


def normalize_province(raw: str | int) -> str:
    """The two-digit plate code (``"01"``–``"81"``) of a province (il), from its name in
    any case or spelling without Turkish letters ("İSTANBUL", "istanbul", "Diyarbakir"),
    a few old names ("Afyon", "İçel", "Maraş", "Antep"), or its plate number ("6", 6,
    "06"). Uses :func:`crm.text.province_code`.

    Raises ``ValidationError``: ``empty``; ``invalid_province``.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    text = _require_text(raw, _EMPTY_PROVINCE, "invalid_province")
    code = province_code(text)
    if code is None:
        raise ValidationError(
            _("%(value)s is not a Turkish province (il): enter its name or plate code."),
            params={"value": text},
            code="invalid_province",
        )
    return code


def normalize_district(raw: str) -> str:
    """A district (ilçe) name cased for display: "KADIKÖY" → "Kadıköy", "19 MAYIS" →
    "19 Mayıs". Words may contain letters and digits, joined by hyphens/apostrophes.
    Not yet checked against a list of districts (none is shipped; add it here).

    Raises ``ValidationError``: ``empty``; ``invalid_district``; ``max_length`` (over 80).
    """
    text = _require_text(raw, _EMPTY_DISTRICT, "invalid_district")
    if len(text) > DISTRICT_MAX_LENGTH:
        raise ValidationError(
            _("A district can have at most %(max)d characters."),
            params={"max": DISTRICT_MAX_LENGTH},
            code="max_length",
        )
    cased = _display_case(text, allow_digits=True, lower_particles=False)
    if cased is None:
        raise ValidationError(
            _("A district name may contain only letters, digits, spaces and hyphens."),
            code="invalid_district",
        )
    return cased


def normalize_postal_code(raw: str | int) -> str:
    """A Turkish postal code: 5 digits whose first two are a province plate (01–81).

    Spaces are removed; an int (a spreadsheet cell) is zero-padded to 5 digits
    (6100 → "06100"). Text with 4 digits is refused, not padded.

    Raises ``ValidationError``: ``empty``; ``invalid_postal_code``.
    """
    text = _digits_text(
        raw, empty_message=_("Enter a postal code."), code="invalid_postal_code", pad_to=5
    )
    if not (_is_ascii_digits(text) and len(text) == 5):
        raise ValidationError(_("A postal code has exactly 5 digits."), code="invalid_postal_code")
    if not 1 <= int(text[:2]) <= 81:
        raise ValidationError(
            _("A postal code starts with a province plate code from 01 to 81."),
            code="invalid_postal_code",
        )
    return text


@dataclass(frozen=True)
class ProvinceInLine:
    """What the end of an address line tells: a province plate code and the district
    written just before it, each empty when the line does not say."""

    province: str = ""
    district: str = ""


# Between the district and the province: "Kadıköy/İSTANBUL", "Kadıköy - İstanbul",
# "Çankaya, Ankara", "Merkez Bolu".
_LINE_SEPARATORS = re.compile(r"[\s/,;\-–]+")
_PLACE_SEPARATORS = re.compile(r"[/,;\-–]")


def province_from_address_line(line: str) -> ProvinceInLine:
    """The province a Turkish address line ends with ("… No:5 Kadıköy/İSTANBUL" → 34,
    district "Kadıköy"), for files that have no İl column. Only the last word (or the
    last two, "Afyon Karahisar") counts, and only letters: "Ordu Cad. No 7" and a
    trailing postal code or door number say nothing. The district is the word before
    the province when a "/", "," or "-" sets them apart and it is a plain word."""
    words = [w for w in _LINE_SEPARATORS.split(line.strip(" .")) if w]
    if not words:
        return ProvinceInLine()
    for width in (2, 1):
        if len(words) < width:
            continue
        tail = words[-width:]
        if not all(w.isalpha() for w in tail):
            continue
        code = province_code(" ".join(tail)) or province_code("".join(tail))
        if code is None:
            continue
        district = ""
        # Only "District/Province" (or "," "-"): in "Şehitleri İzmir" the word before
        # is as likely part of a street name.
        parts = [p for p in (p.strip(" .") for p in _PLACE_SEPARATORS.split(line)) if p]
        before = ""
        if len(parts) >= 2 and parts[-1].split() == tail and parts[-2].split():
            before = parts[-2].split()[-1]
        if before.isalpha() and province_code(before) is None:
            try:
                district = normalize_district(before)
            except ValidationError:
                district = ""
        return ProvinceInLine(province=code, district=district)
    return ProvinceInLine()


# ------------------------------------------------------------------- name blocking keys

# "y" counts as a vowel: "Hüseyin"/"Hüsein", "Ayşe"/"Aişe" are common slips.
_VOWELS = frozenset("aeiouy")


def _compact_key(text: str) -> str:
    """Matching key with everything but letters and digits removed ("O'Brien" → "obrien")."""
    return "".join(ch for ch in matching_key(text) if ch.isalnum())


def _skeleton(key: str) -> str:
    """First letter, then the consonants but "y", repeats collapsed: "huseyin" → "hsn"."""
    if not key:
        return ""
    out = [key[0]]
    for ch in key[1:]:
        if ch in _VOWELS or ch == out[-1]:
            continue
        out.append(ch)
    return "".join(out)


def name_blocking_keys(first: str, last: str) -> set[str]:
    """Keys under which dedup indexes a person's name; records sharing any key are
    compared. Built from :func:`crm.text.matching_key` with spaces, hyphens and
    apostrophes removed from the surname ("Yılmaz-Kaya" → "yilmazkaya"). For each first
    name ``g`` (a double first name gives two) and the surname ``s``:

    * ``ln:<s>:<g[0]>`` — same surname, same initial (typos in the first name);
    * ``fn:<g>:<s[0]>`` — same first name, same surname initial (typos in the surname);
    * ``sk:<skeleton(g)>:<skeleton(s)>`` — the "skeleton" is the first letter and then
      the consonants other than "y", repeats collapsed ("Hüseyin" → "hsn", "Yılmaz" →
      "ylmz"), so vowel slips in both names still meet ("Hüsein Yilmas" does not, "Hüsein
      Yilmaaz" / "Hüseyin Yılmaz" do).

    No phonetic algorithm, deliberately. If ``last`` is blank and ``first`` has several
    words, the last word is taken as the surname. Blank names give an empty set. Names
    are not validated here (run :func:`normalize_person_name` first); nothing is raised.
    """
    first = first or ""
    last = last or ""
    givens = [_compact_key(word) for word in re.split(r"[\s\-]+", first)]
    givens = [g for g in givens if g]
    surname = _compact_key(last)
    if not surname and len(givens) > 1:
        surname = givens.pop()
    keys: set[str] = set()
    if not givens:
        if surname:
            keys.add(f"ln:{surname}:")
        return keys
    for given in givens:
        keys.add(f"ln:{surname}:{given[0]}")
        keys.add(f"fn:{given}:{surname[:1]}")
        keys.add(f"sk:{_skeleton(given)}:{_skeleton(surname)}")
    return keys
