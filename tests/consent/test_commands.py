"""consent_check, the demo seeder and the reference builder."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from consent.models import ConsentEvent, ConsentState, ConsentStatus, SyncStatus
from consent.reference import load_reference_consents
from crm.demo import seed_demo
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld
from tests.consent.test_flows import _customer, _onay


def test_consent_check_prints_one_line_per_recipient(world_a: TenantWorld) -> None:
    _customer(world_a)
    _onay(world_a)
    out = StringIO()
    call_command(
        "consent_check",
        "--tenant",
        "alfa",
        "--type",
        "MESAJ",
        "0532 111 22 33",
        "+905550000000",
        "nonsense",
        stdout=out,
    )
    assert out.getvalue().splitlines() == [
        "0532 111 22 33 allowed onay: consent given (ONAY)",
        "+905550000000 denied no_consent: no consent recorded",
        "nonsense denied invalid_recipient: not a valid recipient for this channel",
    ]


@pytest.mark.django_db
def test_demo_consents_are_a_realistic_mix_and_repeatable() -> None:
    report = seed_demo(customers=150, seed=3)
    with tenant_context(report.tenant):
        first = sorted(ConsentEvent.objects.values_list("recipient", "type", "status"))
        statuses = dict(
            ConsentState.objects.values_list("status").annotate(n=Count("pk")).order_by()
        )
        sync = set(ConsentEvent.objects.values_list("sync_status", flat=True))
        sources = set(ConsentEvent.objects.values_list("source", flat=True))
        states_match_latest = all(
            state.event.status == state.status for state in ConsentState.objects.all()
        )
    assert statuses[ConsentStatus.ONAY] > statuses[ConsentStatus.RET] > 0
    assert {SyncStatus.PENDING, SyncStatus.ACCEPTED} <= sync
    assert len(sources) >= 4 and states_match_latest
    seed_demo(customers=150, seed=3)
    with tenant_context(report.tenant):
        assert sorted(ConsentEvent.objects.values_list("recipient", "type", "status")) == first


@pytest.mark.postgres
def test_reference_builder_loads_a_mix_with_a_state_per_key(world_a: TenantWorld) -> None:
    for n in range(40):
        _customer(world_a, phone=f"+90532{n:07d}")
    with tenant_context(world_a.tenant):
        figures = load_reference_consents(world_a.tenant, seed=1)
        statuses = set(ConsentState.objects.values_list("status", flat=True))
        keys = ConsentState.objects.count()
        distinct = ConsentEvent.objects.values("recipient", "type").distinct().count()
    assert figures["consent_states"] == keys == distinct > 0
    assert statuses == {ConsentStatus.ONAY, ConsentStatus.RET}
