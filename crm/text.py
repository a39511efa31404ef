"""Turkish-aware text handling shared by every app.

Python's str.lower() maps "I" to "i" and "İ" to "i̇" (i + combining dot), which is
wrong for Turkish: I→ı and İ→i. Matching keys fold further to ASCII so that
"Şükrü", "SUKRU" and "şükrü" compare equal.
"""

from __future__ import annotations

import functools
import unicodedata

from localflavor.tr.tr_provinces import PROVINCE_CHOICES

_TR_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_TR_UPPER = str.maketrans({"i": "İ", "ı": "I"})
_ASCII_FOLD = str.maketrans(
    {"ş": "s", "ç": "c", "ğ": "g", "ı": "i", "ö": "o", "ü": "u", "â": "a", "î": "i", "û": "u"}
)


def turkish_lower(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_TR_LOWER).lower()


def turkish_upper(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_TR_UPPER).upper()


# Names repeat a lot (Ayşe, Mehmet, Yılmaz…): imports and dedup key the same ones over.
@functools.lru_cache(maxsize=65_536)
def matching_key(text: str) -> str:
    """Lower-case, ASCII-folded, whitespace-collapsed key for comparing names."""
    folded = turkish_lower(text).translate(_ASCII_FOLD)
    # Drop any remaining combining marks (e.g. from decomposed input).
    folded = "".join(
        ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch)
    )
    # Compatibility forms (𝓘, ᵀ) decompose to capitals: fold those too, so the key is
    # idempotent.
    return " ".join(turkish_lower(folded).translate(_ASCII_FOLD).split())


_PROVINCE_BY_KEY = {matching_key(name): code for code, name in PROVINCE_CHOICES}
_PROVINCE_CODES = {code for code, _name in PROVINCE_CHOICES}
_PROVINCE_ALIASES = {"afyon": "03", "icel": "33", "k.maras": "46", "maras": "46", "antep": "27"}


def province_code(value: str) -> str | None:
    """'İstanbul', 'ISTANBUL', '34' or '6' → the two-digit plate code, else None."""
    value = value.strip()
    if value.isdigit():
        code = value.zfill(2)
        return code if code in _PROVINCE_CODES else None
    key = matching_key(value)
    return _PROVINCE_BY_KEY.get(key) or _PROVINCE_ALIASES.get(key)
