"""Push, pull and reconciliation against the fake İYS, including crashes mid-batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from consent import services as ledger
from consent.iys import services, sync
from consent.iys.client import TURKEY, IysClient, IysRateLimited, IysUnavailable
from consent.iys.crypto import encrypt_secret
from consent.iys.models import IysAccount, IysBrand, IysPushBatch
from consent.iys.tasks import _retry_countdown, iys_push_task
from consent.models import ConsentEvent, ConsentState, SyncStatus
from crm.models import Tenant
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld
from tests.consent.fake_iys import BRAND_CODE, IYS_CODE, PASSWORD, USERNAME, FakeIys

FAST = {
    "IYS_RESULT_POLL_INTERVAL": 0.01,
    "IYS_RESULT_WAIT": 5.0,
    "IYS_BACKOFF_BASE": 0.01,
    "IYS_RETRY_ATTEMPTS": 2,
    "IYS_RATE_LIMITS": {},
    "IYS_TIMEOUT": 0.5,
}


@pytest.fixture
def iys(fake_iys: FakeIys, world_a: TenantWorld) -> Iterator[FakeIys]:
    """World A with İYS credentials for the fake, and fast polling."""
    sync._limiters.clear()
    with override_settings(IYS_BASE_URL=fake_iys.url, **FAST), tenant_context(world_a.tenant):
        account = IysAccount.objects.create(
            tenant=world_a.tenant,
            iys_code=IYS_CODE,
            username=USERNAME,
            password_encrypted=encrypt_secret(PASSWORD),
        )
        IysBrand.objects.create(
            tenant=world_a.tenant, account=account, brand_code=BRAND_CODE, is_default=True
        )
        yield fake_iys


def brand_of(tenant: Tenant) -> IysBrand:
    return IysBrand.objects.get(tenant=tenant, brand_code=BRAND_CODE)


def client_for(tenant: Tenant) -> IysClient:
    brand = brand_of(tenant)
    return sync.iys_client(account=brand.account, brand=brand)


def record(
    tenant: Tenant, recipient: str, status: str = "ONAY", minutes_ago: int = 10
) -> ConsentEvent:
    return ledger.consent_record(
        tenant=tenant,
        actor=None,
        recipient=recipient,
        consent_type="MESAJ",
        status=status,
        source="HS_FIZIKSEL_ORTAM",
        consent_date=datetime.now(TURKEY) - timedelta(minutes=minutes_ago),
    )


def push(tenant: Tenant) -> sync.PushResult:
    with client_for(tenant) as client:
        return sync.iys_push(tenant=tenant, brand=brand_of(tenant), client=client)


PHONES = [f"+90532100000{i}" for i in range(3)]


def test_push_sends_pending_consents_and_stores_transaction_ids(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    events = [record(tenant, phone) for phone in PHONES]
    result = push(tenant)
    assert (result.sent, result.accepted, result.rejected, result.batches) == (3, 3, 0, 1)
    for event in events:
        event.refresh_from_db()
        held = iys.current(BRAND_CODE, event.recipient, "MESAJ")
        assert held is not None
        assert event.sync_status == SyncStatus.ACCEPTED
        assert event.iys_transaction_id == held.transaction_id
        assert event.iys_request_id and event.sync_attempts == 1 and event.synced_at
    assert IysPushBatch.objects.get().state == IysPushBatch.State.COMPLETED
    # Nothing left: a second run sends nothing.
    assert push(tenant).sent == 0
    assert iys.count("add_async") == 1


def test_two_changes_of_one_recipient_go_in_order_in_separate_batches(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0], "ONAY", minutes_ago=30)
    record(tenant, PHONES[0], "RET", minutes_ago=20)
    result = push(tenant)
    assert (result.batches, result.accepted) == (2, 2)
    assert [r.status for r in iys.history(BRAND_CODE, PHONES[0], "MESAJ")] == ["ONAY", "RET"]


def test_rejection_keeps_iys_code_and_message_and_state_falls_back(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    event = record(tenant, PHONES[0])
    # İYS already holds a later record from the citizen: our ONAY is older than it.
    iys.citizen_change(BRAND_CODE, PHONES[0], "MESAJ", "ONAY", source="IYS_WEB")
    iys.citizen_change(
        BRAND_CODE, PHONES[0], "MESAJ", "RET", when=datetime.now(TURKEY) + timedelta(seconds=1)
    )
    result = push(tenant)
    event.refresh_from_db()
    assert result.rejected == 1
    assert event.sync_status == SyncStatus.REJECTED
    assert event.iys_error_code == "DATE_NOT_LATER"
    assert "sonra" in event.iys_error_message  # İYS's own words
    # A rejected ONAY no longer counts as consent.
    assert not ConsentState.objects.filter(
        tenant=tenant, recipient=PHONES[0], status="ONAY"
    ).exists()


def _crash_by_dropped_answer(iys: FakeIys, monkeypatch: pytest.MonkeyPatch) -> None:
    iys.inject("add_async", drop_after_processing=True)


def _crash_by_slow_answer(iys: FakeIys, monkeypatch: pytest.MonkeyPatch) -> None:
    iys.inject("add_async", delay=1.0)  # client gives up at 0.5 s; İYS stores it anyway


def _crash_before_storing_request_id(iys: FakeIys, monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("worker killed")  # the process dies after İYS answered

    monkeypatch.setattr(sync, "_store_submission", killed)


@pytest.mark.parametrize(
    "crash",
    [_crash_by_dropped_answer, _crash_by_slow_answer, _crash_before_storing_request_id],
    ids=["dropped-answer", "timeout", "killed-before-storing"],
)
def test_crash_between_sending_and_storing_never_creates_a_second_iys_record(
    iys: FakeIys, world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch, crash: object
) -> None:
    tenant = world_a.tenant
    events = [record(tenant, phone) for phone in PHONES]
    crash(iys, monkeypatch)  # type: ignore[operator]
    with pytest.raises((IysUnavailable, SystemExit)):
        push(tenant)
    monkeypatch.undo()
    batch = IysPushBatch.objects.get()
    assert batch.state == IysPushBatch.State.PREPARED and batch.request_id == ""
    assert {e.sync_status for e in ConsentEvent.objects.filter(tenant=tenant)} == {
        SyncStatus.SENDING
    }
    import time

    time.sleep(0.6)  # let a slow answer finish at İYS
    assert all(iys.current(BRAND_CODE, p, "MESAJ") for p in PHONES)  # İYS has them
    result = push(tenant)
    assert result.recovered == 3 and result.sent == 0
    assert iys.count("add_async") == 1  # nothing was sent again
    for phone in PHONES:
        assert len(iys.history(BRAND_CODE, phone, "MESAJ")) == 1
    assert {e.sync_status for e in ConsentEvent.objects.filter(tenant=tenant)} == {
        SyncStatus.ACCEPTED
    }
    batch.refresh_from_db()
    assert batch.state == IysPushBatch.State.RECOVERED
    # The nightly change file then links the transaction ids the lost answer carried.
    with client_for(tenant) as client:
        checked = sync.iys_reconcile_day(
            tenant=tenant, brand=brand_of(tenant), client=client, day=datetime.now(TURKEY).date()
        )
    assert checked.linked == 3 and checked.applied == 0
    for event in events:
        event.refresh_from_db()
        held = iys.current(BRAND_CODE, event.recipient, "MESAJ")
        assert held is not None and event.iys_transaction_id == held.transaction_id


def test_crash_that_never_reached_iys_resends_once(iys: FakeIys, world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0])
    iys.inject("add_async", status=503)  # refused before processing, but a write: unknown
    with pytest.raises(IysUnavailable):
        push(tenant)
    result = push(tenant)
    assert (result.recovered, result.sent, result.accepted) == (0, 1, 1)
    assert len(iys.history(BRAND_CODE, PHONES[0], "MESAJ")) == 1


def test_batch_with_stored_request_id_is_polled_not_resent(
    iys: FakeIys, world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0])

    def die(*args: object, **kwargs: object) -> None:
        raise SystemExit("worker killed while polling")

    monkeypatch.setattr(sync, "_apply_results", die)
    with pytest.raises(SystemExit):
        push(tenant)
    monkeypatch.undo()
    batch = IysPushBatch.objects.get()
    assert batch.state == IysPushBatch.State.SUBMITTED and batch.request_id
    result = push(tenant)
    assert result.accepted == 1 and result.sent == 0
    assert iys.count("add_async") == 1
    assert ConsentEvent.objects.get(tenant=tenant).iys_request_id == batch.request_id


def test_rate_limited_batch_is_not_sent_and_goes_out_next_time(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0])
    iys.config.rate_limits = {"add_async": (0, 60.0)}
    with pytest.raises(IysRateLimited) as raised:
        push(tenant)
    assert raised.value.retry_after > 0
    assert IysPushBatch.objects.get().state == IysPushBatch.State.NOT_SENT
    assert ConsentEvent.objects.get(tenant=tenant).sync_status == SyncStatus.PENDING
    iys.config.rate_limits = {}
    assert push(tenant).accepted == 1


def test_push_task_retries_after_5xx_and_ends_with_one_record(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0])
    iys.inject("add_async", status=502)
    outcome = iys_push_task.apply(args=(tenant.pk,))  # eager: the retry runs at once
    assert outcome.successful(), outcome.traceback
    event = ConsentEvent.objects.get(tenant=tenant)
    assert event.sync_status == SyncStatus.ACCEPTED
    assert len(iys.history(BRAND_CODE, PHONES[0], "MESAJ")) == 1
    assert [s for k, _, s in iys.calls if k == "add_async"] == [502, 200]


def test_retry_countdown_uses_retry_after_or_backs_off() -> None:
    class Request:
        retries = 3

    class FakeTask:
        request = Request()

    limited = IysRateLimited("slow down", retry_after=42.0)
    assert _retry_countdown(FakeTask(), limited) == 42  # type: ignore[arg-type]
    assert _retry_countdown(FakeTask(), IysUnavailable("down")) == 240  # type: ignore[arg-type]
    Request.retries = 20
    assert _retry_countdown(FakeTask(), IysUnavailable("down")) == 1800  # type: ignore[arg-type]


def test_token_expiring_during_a_run_is_refreshed(iys: FakeIys, world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    iys.config.access_ttl = 0.3
    record(tenant, PHONES[0], minutes_ago=30)
    record(tenant, PHONES[0], "RET", minutes_ago=20)
    import time

    with client_for(tenant) as client:
        sync.iys_push(tenant=tenant, brand=brand_of(tenant), client=client, max_batches=1)
        time.sleep(0.4)
        sync.iys_push(tenant=tenant, brand=brand_of(tenant), client=client)
    assert "refresh_token" in iys.grants
    assert [r.status for r in iys.history(BRAND_CODE, PHONES[0], "MESAJ")] == ["ONAY", "RET"]


def test_pull_applies_citizens_ret_at_once_and_keeps_the_cursor(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0])
    push(tenant)
    assert ledger.may_send(tenant=tenant, channel_type="MESAJ", recipient=PHONES[0]).allowed
    iys.citizen_change(BRAND_CODE, PHONES[0], "MESAJ", "RET", source="IYS_KISAMESAJ")
    with client_for(tenant) as client:
        pulled = sync.iys_pull(tenant=tenant, brand=brand_of(tenant), client=client)
        assert (pulled.changes, pulled.applied) == (1, 1)
        decision = ledger.may_send(tenant=tenant, channel_type="MESAJ", recipient=PHONES[0])
        assert not decision.allowed and decision.reason == "ret"
        pulled_event = ConsentEvent.objects.get(tenant=tenant, status="RET")
        assert pulled_event.source == "IYS_KISAMESAJ"
        assert pulled_event.sync_status == SyncStatus.NOT_REQUIRED
        brand = brand_of(tenant)
        assert brand.pull_cursor and brand.last_pull_at
        # Pulling again applies nothing; a new change is picked up from the cursor on.
        assert sync.iys_pull(tenant=tenant, brand=brand, client=client).changes == 0
        iys.citizen_change(BRAND_CODE, PHONES[1], "MESAJ", "ONAY", source="IYS_WEB")
        again = sync.iys_pull(tenant=tenant, brand=brand_of(tenant), client=client)
    assert (again.changes, again.applied) == (1, 1)
    assert ledger.may_send(tenant=tenant, channel_type="MESAJ", recipient=PHONES[1]).allowed
    # 1st pull: a page and an empty page; 2nd: empty; 3rd: a page and an empty page.
    assert iys.count("changes") == 5


def test_reconciliation_applies_what_the_pull_missed_and_resends_what_iys_lost(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    today = datetime.now(TURKEY).date()
    yesterday_noon = datetime(today.year, today.month, today.day, 12, tzinfo=TURKEY) - timedelta(
        days=1
    )
    # 1. A citizen's RET yesterday that the pull never saw (cursor already past it).
    iys.citizen_change(
        BRAND_CODE, PHONES[0], "MESAJ", "ONAY", source="IYS_WEB", when=yesterday_noon
    )
    iys.citizen_change(
        BRAND_CODE, PHONES[0], "MESAJ", "RET", when=yesterday_noon + timedelta(hours=1)
    )
    brand = brand_of(tenant)
    with client_for(tenant) as client:
        brand.pull_cursor = client.consent_changes(source="IYS").after
        brand.save(update_fields=["pull_cursor"])
    # 2. An event we believe İYS accepted yesterday, which İYS does not hold.
    lost = record(tenant, PHONES[1], minutes_ago=5)
    ConsentEvent.objects.filter(pk=lost.pk).update(
        sync_status=SyncStatus.ACCEPTED,
        iys_transaction_id="f" * 64,
        synced_at=yesterday_noon,
    )
    with client_for(tenant) as client:
        result = sync.iys_reconcile(
            tenant=tenant, brand=brand_of(tenant), client=client, today=today
        )
    assert result.days[-1] == today - timedelta(days=1)
    assert (result.rows, result.applied, result.resent) == (2, 2, 1)
    assert not ledger.may_send(tenant=tenant, channel_type="MESAJ", recipient=PHONES[0]).allowed
    lost.refresh_from_db()
    assert lost.sync_status == SyncStatus.PENDING and lost.iys_transaction_id == ""
    assert brand_of(tenant).reconciled_through == today - timedelta(days=1)
    # The next push registers the lost consent; reconciling again finds nothing new.
    assert push(tenant).accepted == 1
    assert iys.current(BRAND_CODE, PHONES[1], "MESAJ") is not None
    with client_for(tenant) as client:
        again = sync.iys_reconcile(
            tenant=tenant, brand=brand_of(tenant), client=client, today=today
        )
    assert again.days == []


def test_run_records_refused_credentials_on_the_account(iys: FakeIys, world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    IysAccount.objects.filter(tenant=tenant).update(password_encrypted=encrypt_secret("yanlis"))
    with pytest.raises(Exception, match="credentials"):
        services.iys_run(tenant=tenant, operations=["pull"])
    account = IysAccount.objects.get(tenant=tenant)
    assert account.last_error and account.last_error_at


def test_only_tenants_with_active_iys_are_synchronised(
    iys: FakeIys, world_a: TenantWorld, world_b: TenantWorld
) -> None:
    assert services.tenants_with_iys() == [world_a.tenant.pk]
    with tenant_context(world_a.tenant):
        IysAccount.objects.filter(tenant=world_a.tenant).update(is_active=False)
    assert services.tenants_with_iys() == []


def test_tokens_are_shared_between_runs_so_iys_sees_one_login(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    for _ in range(3):
        services.iys_run(tenant=tenant, operations=["pull"])
    assert iys.grants == ["password"]
    # New credentials start from a fresh login.
    services.iys_credentials_save(
        tenant=tenant,
        actor=world_a.owner,
        iys_code=IYS_CODE,
        username=USERNAME,
        password=PASSWORD,
        brand_codes=[BRAND_CODE],
    )
    services.iys_run(tenant=tenant, operations=["pull"])
    assert iys.grants == ["password", "password"]


def test_one_run_per_tenant_at_a_time(iys: FakeIys, world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    record(tenant, PHONES[0])
    with services._tenant_run_lock(tenant):
        with pytest.raises(services.IysSyncBusy):
            services.iys_run(tenant=tenant, operations=["push"])
        assert iys_push_task.apply(args=(tenant.pk,)).get() == {"skipped": "busy"}
    assert iys.count("add_async") == 0
    assert services.iys_run(tenant=tenant, operations=["push"])["accepted"] == 1


def test_iys_sync_command_prints_totals(iys: FakeIys, world_a: TenantWorld) -> None:
    import io
    import json

    from django.core.management import CommandError, call_command

    tenant = world_a.tenant
    record(tenant, PHONES[0])
    iys.citizen_change(BRAND_CODE, PHONES[2], "MESAJ", "ONAY", source="IYS_WEB")
    out = io.StringIO()
    call_command("iys_sync", "--tenant", tenant.slug, "--json", stdout=out)
    totals = json.loads(out.getvalue())
    assert (totals["sent"], totals["accepted"], totals["pulled"]) == (1, 1, 1)
    with pytest.raises(CommandError, match="unknown operation"):
        call_command("iys_sync", "--tenant", tenant.slug, "delete")
    IysAccount.objects.filter(tenant=tenant).update(
        password_encrypted=encrypt_secret("yanlis"), password_set_at=timezone.now()
    )
    with pytest.raises(CommandError, match="İYS"):
        call_command("iys_sync", "--tenant", tenant.slug, "pull")


def test_reconciliation_skips_files_iys_no_longer_offers(
    iys: FakeIys, world_a: TenantWorld
) -> None:
    tenant = world_a.tenant
    iys.config.file_days = 3
    today = datetime.now(TURKEY).date()
    with client_for(tenant) as client:
        result = sync.iys_reconcile(
            tenant=tenant, brand=brand_of(tenant), client=client, today=today
        )
    assert result.unavailable == [today - timedelta(days=d) for d in (7, 6, 5, 4)]
    assert result.days == [today - timedelta(days=d) for d in (3, 2, 1)]
    assert brand_of(tenant).reconciled_through == today - timedelta(days=1)
