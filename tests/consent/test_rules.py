"""Every İYS validation rule, through consent_record as the counter and the API use it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation

from consent import services
from consent.models import (
    ConsentEvent,
    ConsentState,
    ConsentStatus,
    ConsentType,
    RecipientType,
    SyncStatus,
)
from consent.rules import TURKEY
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld

# A Wednesday noon in Turkey: three business days back is Friday the 27th.
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=TURKEY)
PHONE = "0532 111 22 33"
E164 = "+905321112233"


def record(world: TenantWorld, **overrides: object) -> ConsentEvent:
    values: dict[str, object] = {
        "tenant": world.tenant,
        "actor": world.owner,
        "recipient": PHONE,
        "consent_type": ConsentType.MESAJ,
        "status": ConsentStatus.ONAY,
        "source": "HS_FIZIKSEL_ORTAM",
        "consent_date": NOW - dt.timedelta(hours=1),
        "now": NOW,
    }
    values.update(overrides)
    with tenant_context(world.tenant), translation.override("en"):
        return services.consent_record(**values)  # type: ignore[arg-type]


def refused(world: TenantWorld, code: str, **overrides: object) -> str:
    with pytest.raises(ValidationError) as caught:
        record(world, **overrides)
    assert caught.value.code == code, caught.value
    return " ".join(caught.value.messages)


def test_first_onay_is_stored_normalised_pending_and_becomes_the_state(
    world_a: TenantWorld,
) -> None:
    event = record(world_a)
    assert (event.recipient, event.sync_status) == (E164, SyncStatus.PENDING)
    with tenant_context(world_a.tenant):
        state = ConsentState.objects.get(recipient=E164, type=ConsentType.MESAJ)
    assert (state.status, state.event_id) == (ConsentStatus.ONAY, event.pk)


def test_first_record_cannot_be_ret(world_a: TenantWorld) -> None:
    assert "first record" in refused(world_a, "first_record_ret", status=ConsentStatus.RET)


def test_no_repeated_status(world_a: TenantWorld) -> None:
    record(world_a)
    refused(world_a, "same_status", consent_date=NOW - dt.timedelta(minutes=30))
    record(world_a, status=ConsentStatus.RET, consent_date=NOW - dt.timedelta(minutes=20))
    refused(
        world_a,
        "same_status",
        status=ConsentStatus.RET,
        consent_date=NOW - dt.timedelta(minutes=10),
    )


def test_date_must_be_later_than_the_stored_one(world_a: TenantWorld) -> None:
    record(world_a)
    message = refused(
        world_a,
        "date_not_later",
        status=ConsentStatus.RET,
        consent_date=NOW - dt.timedelta(hours=2),
    )
    assert "later than" in message


def test_date_not_in_the_future(world_a: TenantWorld) -> None:
    refused(world_a, "date_future", consent_date=NOW + dt.timedelta(hours=1))
    record(world_a, consent_date=NOW + dt.timedelta(minutes=1))  # a clock slightly ahead


def test_date_not_before_iys_start(world_a: TenantWorld) -> None:
    refused(world_a, "date_before_iys", consent_date=dt.datetime(2015, 4, 30, tzinfo=TURKEY))


def test_at_most_three_business_days_back(world_a: TenantWorld) -> None:
    # Wed 2 Dec: Tue 1 Dec, Mon 30 Nov and Fri 27 Nov are the three business days back.
    refused(world_a, "date_too_old", consent_date=dt.datetime(2026, 11, 26, 23, tzinfo=TURKEY))
    record(world_a, consent_date=dt.datetime(2026, 11, 27, 0, 1, tzinfo=TURKEY))


@override_settings(CONSENT_PUBLIC_HOLIDAYS=["2026-11-30"])
def test_public_holidays_are_not_business_days(world_a: TenantWorld) -> None:
    record(world_a, consent_date=dt.datetime(2026, 11, 26, 9, tzinfo=TURKEY))


def test_two_operations_per_recipient_per_day(world_a: TenantWorld) -> None:
    record(world_a, consent_date=NOW - dt.timedelta(hours=3))
    record(world_a, status=ConsentStatus.RET, consent_date=NOW - dt.timedelta(hours=2))
    assert "at most 2" in refused(world_a, "daily_limit", consent_date=NOW - dt.timedelta(hours=1))
    # Another channel is another key.
    record(world_a, consent_type=ConsentType.ARAMA)
    # The next day the limit starts again.
    record(world_a, consent_date=NOW + dt.timedelta(days=1), now=NOW + dt.timedelta(days=1))


def test_hs_2015_needs_the_fixed_date_and_onay(world_a: TenantWorld) -> None:
    start = dt.datetime(2015, 5, 1, tzinfo=TURKEY)
    refused(world_a, "hs_2015_date", source="HS_2015", consent_date=start + dt.timedelta(days=1))
    event = record(world_a, source="HS_2015", consent_date=start)  # older than 3 days: fine
    assert event.consent_date == start
    refused(
        world_a,
        "hs_2015_not_onay",
        source="HS_2015",
        consent_date=start,
        status=ConsentStatus.RET,
    )


def test_hs_karar_only_ret_and_never_first(world_a: TenantWorld) -> None:
    refused(world_a, "hs_karar_not_ret", source="HS_KARAR")
    refused(world_a, "first_record_ret", source="HS_KARAR", status=ConsentStatus.RET)
    record(world_a)
    record(
        world_a,
        source="HS_KARAR",
        status=ConsentStatus.RET,
        consent_date=NOW - dt.timedelta(minutes=5),
    )


def test_tacir_first_record_may_omit_date_and_source_updates_may_not(
    world_a: TenantWorld,
) -> None:
    tacir = {"recipient_type": RecipientType.TACIR}
    refused(world_a, "source_required", source="")
    refused(world_a, "date_required", consent_date=None)
    event = record(world_a, source="", consent_date=None, **tacir)
    assert event.consent_date is None
    refused(world_a, "source_required", status=ConsentStatus.RET, source="", **tacir)
    refused(world_a, "date_required", status=ConsentStatus.RET, consent_date=None, **tacir)
    record(world_a, status=ConsentStatus.RET, **tacir)


def test_recipient_must_fit_the_channel(world_a: TenantWorld) -> None:
    assert "phone" in refused(world_a, "invalid_recipient", recipient="ayse@example.com")
    refused(world_a, "invalid_recipient", consent_type=ConsentType.EPOSTA, recipient="0532 1")
    refused(
        world_a,
        "invalid_recipient",
        consent_type=ConsentType.EPOSTA,
        recipient="ayşe@example.com",
    )
    event = record(world_a, consent_type=ConsentType.EPOSTA, recipient=" Ayse@Example.COM ")
    assert event.recipient == "ayse@example.com"


def test_unknown_source_is_refused_but_open_sources_come_from_iys(world_a: TenantWorld) -> None:
    refused(world_a, "invalid_source", source="FACEBOOK")
    with tenant_context(world_a.tenant):
        pulled = services.consent_apply_from_iys(
            tenant=world_a.tenant,
            recipient=E164,
            consent_type=ConsentType.MESAJ,
            recipient_type=RecipientType.BIREYSEL,
            status=ConsentStatus.RET,
            source="IYS_KISAMESAJ",
            consent_date=NOW,
            transaction_id="tx-9",
        )
        again = services.consent_apply_from_iys(
            tenant=world_a.tenant,
            recipient=E164,
            consent_type=ConsentType.MESAJ,
            recipient_type=RecipientType.BIREYSEL,
            status=ConsentStatus.RET,
            source="IYS_KISAMESAJ",
            consent_date=NOW,
            transaction_id="tx-9",
        )
        state = ConsentState.objects.get(recipient=E164)
    assert pulled is not None and pulled.sync_status == SyncStatus.NOT_REQUIRED
    assert again is None  # the same İYS transaction is stored once
    assert state.status == ConsentStatus.RET  # a first RET from İYS applies (İYS checked it)


def test_rejected_onay_falls_back_and_rejected_ret_still_counts(world_a: TenantWorld) -> None:
    first = record(world_a, consent_date=NOW - dt.timedelta(hours=3))
    ret = record(world_a, status=ConsentStatus.RET, consent_date=NOW - dt.timedelta(hours=2))
    later = NOW + dt.timedelta(days=1)
    onay = record(world_a, consent_date=later, now=later)
    with tenant_context(world_a.tenant):
        services.consent_sync_update(
            tenant=world_a.tenant, event=onay, sync_status=SyncStatus.REJECTED, iys_error_code="H1"
        )
        state = ConsentState.objects.get(recipient=E164)
        assert (state.status, state.event_id) == (ConsentStatus.RET, ret.pk)
        services.consent_sync_update(
            tenant=world_a.tenant, event=ret, sync_status=SyncStatus.REJECTED
        )
        state = ConsentState.objects.get(recipient=E164)
        assert (state.status, state.event_id) == (ConsentStatus.RET, ret.pk)
        services.consent_sync_update(
            tenant=world_a.tenant, event=first, sync_status=SyncStatus.ACCEPTED
        )
        assert ConsentEvent.objects.get(pk=first.pk).synced_at is not None
