"""The validation İYS applies to a consent, mirrored so errors show before any sync.

Pure functions over the previous state of the key (brand, recipient, recipientType,
type) and the new record; no database. COMPLIANCE.md §1 lists the rules; the
numbers that are not certain (business days, operations per day, holidays) come
from settings so they can change without touching code:

- ``CONSENT_IYS_BACKDATE_BUSINESS_DAYS`` (3): how far in the past a consent date may be;
- ``CONSENT_IYS_DAILY_OPERATIONS`` (2): operations per recipient per day;
- ``CONSENT_PUBLIC_HOLIDAYS`` ([]): ISO dates that are not business days.

Every refusal is a ``ValidationError`` with a code (for the API) and a message that
tells staff what to do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from consent.models import (
    PHONE_TYPES,
    ConsentSource,
    ConsentStatus,
    ConsentType,
    RecipientType,
)
from customers.normalize import normalize_email, normalize_phone

TURKEY = ZoneInfo("Europe/Istanbul")
IYS_START = dt.datetime(2015, 5, 1, 0, 0, 0, tzinfo=TURKEY)
# A clock a little ahead of ours (the tablet at the counter) is not "the future".
FUTURE_TOLERANCE = dt.timedelta(minutes=2)
LOCAL_SOURCES = frozenset(ConsentSource.values)


def backdate_business_days() -> int:
    return int(getattr(settings, "CONSENT_IYS_BACKDATE_BUSINESS_DAYS", 3))


def daily_operations() -> int:
    return int(getattr(settings, "CONSENT_IYS_DAILY_OPERATIONS", 2))


def _holidays() -> frozenset[dt.date]:
    return frozenset(
        dt.date.fromisoformat(day) for day in getattr(settings, "CONSENT_PUBLIC_HOLIDAYS", [])
    )


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays()


def business_days_between(earlier: dt.date, later: dt.date) -> int:
    """Business days after ``earlier`` up to and including ``later``."""
    return sum(
        1
        for n in range(1, (later - earlier).days + 1)
        if is_business_day(earlier + dt.timedelta(days=n))
    )


def earliest_consent_day(today: dt.date, count: int) -> dt.date:
    """The oldest day a consent may date from when registered ``today``: at most
    ``count`` business days may have passed since (a weekend does not count)."""
    day = today
    while business_days_between(day - dt.timedelta(days=1), today) <= count:
        day -= dt.timedelta(days=1)
    return day


def turkey_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(TURKEY).date()


def normalize_recipient(consent_type: str, raw: str) -> str:
    """E.164 for MESAJ/ARAMA, the normalised address for EPOSTA (İYS's own limits)."""
    if consent_type not in ConsentType.values:
        raise ValidationError(_("Choose a channel: MESAJ, ARAMA or EPOSTA."), code="invalid_type")
    if consent_type in PHONE_TYPES:
        try:
            return normalize_phone(raw).e164
        except ValidationError as error:
            raise ValidationError(
                _("%(channel)s consent needs a phone number: %(problem)s")
                % {"channel": consent_type, "problem": " ".join(error.messages)},
                code="invalid_recipient",
            ) from error
    try:
        address = normalize_email(raw)
    except ValidationError as error:
        raise ValidationError(
            _("EPOSTA consent needs an e-mail address: %(problem)s")
            % {"problem": " ".join(error.messages)},
            code="invalid_recipient",
        ) from error
    if not 6 <= len(address) <= 265:
        raise ValidationError(
            _("İYS accepts e-mail addresses of 6 to 265 characters."), code="invalid_recipient"
        )
    return address


@dataclass(frozen=True)
class PreviousState:
    """What İYS holds for the key before the new record (None: no record yet)."""

    status: str
    consent_date: dt.datetime | None


@dataclass(frozen=True)
class NewRecord:
    recipient_type: str
    status: str
    source: str
    consent_date: dt.datetime | None


def check_record(
    *,
    new: NewRecord,
    previous: PreviousState | None,
    operations_today: int,
    now: dt.datetime,
) -> None:
    """Raise ValidationError if İYS would refuse ``new`` after ``previous``."""
    if new.recipient_type not in RecipientType.values:
        raise ValidationError(
            _("Choose a recipient type: BIREYSEL or TACIR."), code="invalid_recipient_type"
        )
    if new.status not in ConsentStatus.values:
        raise ValidationError(_("Choose a status: ONAY or RET."), code="invalid_status")
    # The status rules first: "already ONAY" tells staff more than a date problem.
    if previous is None and new.status == ConsentStatus.RET:
        raise ValidationError(
            _(
                "The first record for a recipient cannot be a refusal (RET): İYS has no "
                "consent to withdraw. Nothing will be sent to them without consent anyway."
            ),
            code="first_record_ret",
        )
    if previous is not None and previous.status == new.status:
        raise ValidationError(
            _("This recipient's consent is already %(status)s: nothing to change.")
            % {"status": new.status},
            code="same_status",
        )
    _check_source_and_date_given(new, previous)
    _check_special_sources(new)
    if new.consent_date is not None:
        _check_date(new, previous, now)
    if operations_today >= daily_operations():
        raise ValidationError(
            _(
                "İYS accepts at most %(count)d changes per recipient and channel per day. "
                "Record this change tomorrow."
            )
            % {"count": daily_operations()},
            code="daily_limit",
        )


def _check_source_and_date_given(new: NewRecord, previous: PreviousState | None) -> None:
    # TACIR: date and source are optional on the first record, required afterwards.
    optional = new.recipient_type == RecipientType.TACIR and previous is None
    if not new.source and not optional:
        raise ValidationError(
            _("Choose where the consent was given (source)."), code="source_required"
        )
    if new.consent_date is None and not optional:
        raise ValidationError(
            _("Enter the date and time the consent was given."), code="date_required"
        )


def _check_special_sources(new: NewRecord) -> None:
    # HS_KARAR is never a first record either: check_record refuses a first RET already.
    if new.source == ConsentSource.HS_KARAR and new.status != ConsentStatus.RET:
        raise ValidationError(
            _("HS_KARAR (our own decision) can only record a refusal (RET)."),
            code="hs_karar_not_ret",
        )
    if new.source == ConsentSource.HS_2015:
        if new.status != ConsentStatus.ONAY:
            raise ValidationError(
                _("HS_2015 is for consents given before 1 May 2015: status must be ONAY."),
                code="hs_2015_not_onay",
            )
        if new.consent_date is None or new.consent_date != IYS_START:
            raise ValidationError(
                _("With HS_2015 the consent date must be exactly 2015-05-01 00:00:00."),
                code="hs_2015_date",
            )


def _check_date(new: NewRecord, previous: PreviousState | None, now: dt.datetime) -> None:
    assert new.consent_date is not None
    if new.consent_date > now + FUTURE_TOLERANCE:
        raise ValidationError(
            _("The consent date is in the future. Enter when the consent was given."),
            code="date_future",
        )
    if new.consent_date < IYS_START:
        raise ValidationError(
            _(
                "The consent date cannot be before 1 May 2015. For older consents choose "
                "the source HS_2015."
            ),
            code="date_before_iys",
        )
    if new.source != ConsentSource.HS_2015:
        earliest = earliest_consent_day(turkey_day(now), backdate_business_days())
        if turkey_day(new.consent_date) < earliest:
            raise ValidationError(
                _(
                    "İYS accepts consents at most %(days)d business days old (from "
                    "%(earliest)s). This one is too old to be registered."
                )
                % {"days": backdate_business_days(), "earliest": earliest.isoformat()},
                code="date_too_old",
            )
    if (
        previous is not None
        and previous.consent_date is not None
        and new.consent_date <= previous.consent_date
    ):
        raise ValidationError(
            _("The consent date must be later than the one already recorded (%(previous)s).")
            % {"previous": previous.consent_date.astimezone(TURKEY).strftime("%Y-%m-%d %H:%M:%S")},
            code="date_not_later",
        )
