"""The ledger is append-only: only the İYS sync state of a row may change."""

from __future__ import annotations

from typing import cast

import pytest
from django.db import DatabaseError, transaction

from consent.models import ConsentEvent, ConsentStatus, LedgerIsAppendOnly, SyncStatus
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld
from tests.factories import ConsentEventFactory


def test_sync_fields_may_change_nothing_else(world_a: TenantWorld) -> None:
    event = cast(ConsentEvent, ConsentEventFactory(tenant=world_a.tenant))
    with tenant_context(world_a.tenant):
        event.sync_status = SyncStatus.ACCEPTED
        event.iys_transaction_id = "tx-1"
        event.save(update_fields=["sync_status", "iys_transaction_id"])
        event.status = ConsentStatus.RET
        with pytest.raises(LedgerIsAppendOnly):
            event.save()
        with pytest.raises(LedgerIsAppendOnly):
            event.save(update_fields=["status"])
        with pytest.raises(LedgerIsAppendOnly):
            event.delete()
        stored = ConsentEvent.objects.get(pk=event.pk)
    assert (stored.status, stored.sync_status) == (ConsentStatus.ONAY, SyncStatus.ACCEPTED)


@pytest.mark.postgres
def test_database_refuses_changing_a_ledger_row_with_sql(world_a: TenantWorld) -> None:
    event = cast(ConsentEvent, ConsentEventFactory(tenant=world_a.tenant))
    with tenant_context(world_a.tenant):
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEvent.objects.filter(pk=event.pk).update(status=ConsentStatus.RET)
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEvent.objects.filter(pk=event.pk).update(recipient="+905000000000")
        assert ConsentEvent.objects.filter(pk=event.pk).update(sync_attempts=3) == 1
        assert ConsentEvent.objects.get(pk=event.pk).status == ConsentStatus.ONAY
