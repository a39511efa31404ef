"""Property-based: the derived state is what İYS would hold, and bulk = single.

The İYS model below is written from COMPLIANCE.md independently of consent.rules:
an operation is accepted when its date is not in the future, is at most three
business days old, is later than the stored date, is not a first RET, does not
repeat the stored status and is not the third of the day. The state is the last
accepted record.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import services
from consent.models import ConsentState, ConsentStatus, ConsentType, RecipientType, TacirPolicy
from consent.rules import TURKEY
from crm.tenancy import tenant_context
from customers.models import Customer, Phone
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory, PhoneFactory

START = dt.datetime(2026, 11, 30, 9, 0, tzinfo=TURKEY)  # a Monday
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Op:
    days_later: int  # the operation happens this many days after the previous one
    status: str
    hours_back: int  # the consent date is this many hours before the operation


ops = st.lists(
    st.builds(
        Op,
        days_later=st.integers(0, 3),
        status=st.sampled_from([ConsentStatus.ONAY, ConsentStatus.RET]),
        hours_back=st.sampled_from([0, 1, 2, 5, 30, 80, 120]),
    ),
    min_size=1,
    max_size=8,
)


def _weekdays_between(earlier: dt.date, later: dt.date) -> int:
    """Business days after ``earlier`` up to and including ``later``."""
    return sum(
        1
        for n in range(1, (later - earlier).days + 1)
        if (earlier + dt.timedelta(days=n)).weekday() < 5
    )


def iys(
    sequence: list[tuple[dt.datetime, Op]],
) -> tuple[list[bool], tuple[str, dt.datetime] | None]:
    state: tuple[str, dt.datetime] | None = None
    per_day: dict[dt.date, int] = {}
    accepted = []
    for now, op in sequence:
        date = now - dt.timedelta(hours=op.hours_back)
        day = now.astimezone(TURKEY).date()
        ok = (
            _weekdays_between(date.astimezone(TURKEY).date(), day) <= 3
            and (state is None or date > state[1])
            and not (state is None and op.status == ConsentStatus.RET)
            and (state is None or state[0] != op.status)
            and per_day.get(day, 0) < 2
        )
        accepted.append(ok)
        if ok:
            state = (op.status, date)
            per_day[day] = per_day.get(day, 0) + 1
    return accepted, state


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_any_sequence_gives_the_state_iys_would(world_a: TenantWorld, sequence: list[Op]) -> None:
    recipient = f"+90532{next(_numbers):07d}"
    now = START
    timed = []
    for op in sequence:
        now += dt.timedelta(days=op.days_later, minutes=1)
        timed.append((now, op))
    expected_accepted, expected_state = iys(timed)
    accepted = []
    with tenant_context(world_a.tenant):
        for now, op in timed:
            try:
                services.consent_record(
                    tenant=world_a.tenant,
                    actor=None,
                    recipient=recipient,
                    consent_type=ConsentType.MESAJ,
                    status=op.status,
                    source="HS_WEB",
                    consent_date=now - dt.timedelta(hours=op.hours_back),
                    now=now,
                )
                accepted.append(True)
            except ValidationError:
                accepted.append(False)
        state = ConsentState.objects.filter(recipient=recipient).first()
    assert accepted == expected_accepted
    got = (state.status, state.consent_date) if state else None
    assert got == expected_state


# --- may_send single vs bulk -------------------------------------------------------------

POOL = [f"+90533{n:07d}" for n in range(6)]

customers_strategy = st.lists(
    st.tuples(
        st.booleans(),  # company?
        st.sets(st.sampled_from(POOL), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=5,
)
states_strategy = st.dictionaries(
    st.tuples(st.sampled_from(POOL), st.sampled_from(list(RecipientType))),
    st.sampled_from([ConsentStatus.ONAY, ConsentStatus.RET]),
    max_size=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=customers_strategy,
    states=states_strategy,
    policy=st.sampled_from(list(TacirPolicy)),
    channel=st.sampled_from([ConsentType.MESAJ, ConsentType.ARAMA]),
)
def test_bulk_and_single_agree(
    world_b: TenantWorld,
    people: list[tuple[bool, set[str]]],
    states: dict[tuple[str, str], str],
    policy: str,
    channel: str,
) -> None:
    tenant = world_b.tenant
    with tenant_context(tenant):
        # Each example starts from an empty tenant.
        ConsentState.objects.all().delete()
        from consent.models import ConsentEvent, ConsentSettings

        ConsentEvent.objects.all().delete()
        Phone.objects.all().delete()
        Customer.objects.all().delete()
        ConsentSettings.objects.update_or_create(tenant=tenant, defaults={"tacir_policy": policy})
    ids = []
    for is_company, phones in people:
        kind = Customer.Kind.COMPANY if is_company else Customer.Kind.PERSON
        customer = CustomerFactory.create(tenant=tenant, kind=kind)
        ids.append(customer.pk)
        for e164 in phones:
            PhoneFactory.create(tenant=tenant, customer=customer, e164=e164, is_mobile=True)
    with tenant_context(tenant):
        for (recipient, recipient_type), status in states.items():
            # Written through the services: a first RET is a local opt-out.
            if status == ConsentStatus.ONAY:
                services.consent_record(
                    tenant=tenant,
                    actor=None,
                    recipient=recipient,
                    consent_type=channel,
                    status=status,
                    source="HS_WEB",
                    consent_date=dt.datetime.now(TURKEY),
                    recipient_type=recipient_type,
                )
            else:
                services.consent_opt_out(
                    tenant=tenant,
                    recipient=recipient,
                    consent_types=[channel],
                    origin="opt_out_link",
                )
        bulk = {
            (row.customer_id, row.recipient): row.reason
            for row in services.may_send_bulk(tenant=tenant, channel_type=channel, customers=ids)
        }
        single = {
            recipient: services.may_send(tenant=tenant, channel_type=channel, recipient=recipient)
            for recipient in POOL
        }
        allowed_customers = set(
            services.customers_allowed(tenant=tenant, channel_type=channel).values_list(
                "pk", flat=True
            )
        )
        final = {
            (row.recipient, row.recipient_type): row.status for row in ConsentState.objects.all()
        }
    assert bulk, "every customer has a phone"
    for (_customer_id, recipient), reason in bulk.items():
        assert single[recipient].reason == reason, (recipient, reason, single[recipient])
    expected_customers = {
        customer_id
        for (customer_id, _recipient), reason in bulk.items()
        if reason in services.ALLOWED_REASONS
    }
    assert allowed_customers == expected_customers
    # RET always wins.
    for recipient, decision in single.items():
        if ConsentStatus.RET in {final.get((recipient, rt)) for rt in RecipientType}:
            assert not decision.allowed
