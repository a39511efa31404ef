"""İYS synchronisation services: push pending consents, pull citizens' changes,
reconcile with the daily change file.

What callers can rely on:

- ``iys_push`` never creates a second İYS record for one ledger event. A batch is
  committed as ``prepared`` before it is sent; if the worker dies (or the answer is
  lost) before the request id is stored, the next run asks İYS for each consent's
  current state and marks the event accepted when İYS already holds it, instead of
  sending it again. A batch whose request id was stored is polled, never resent.
- Transient failures (429, 5xx, timeouts) propagate as ``IysRateLimited`` /
  ``IysUnavailable`` after the batch's state is stored; the Celery tasks
  (consent/iys/tasks.py) retry them with exponential backoff.
- ``iys_pull`` applies every change İYS reports (a citizen's RET among them) through
  the ledger's İYS-apply service in the transaction that advances the brand's
  cursor, so a change is applied once even when a pull is interrupted.
- ``iys_reconcile`` compares a day's change file with the ledger: records the ledger
  lacks are applied, accepted events İYS does not hold go back to pending.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from consent.iys.client import (
    TURKEY,
    IysClient,
    IysConsent,
    IysCredentials,
    IysError,
    IysNotFound,
    IysRateLimited,
    IysRecord,
    IysToken,
    IysUnavailable,
    IysValidationError,
    RateLimiter,
    RetryPolicy,
)
from consent.iys.crypto import CredentialsUnreadable, decrypt_secret, encrypt_secret
from consent.iys.models import IysAccount, IysBrand, IysPushBatch, IysPushItem
from consent.models import ConsentEvent, ConsentState, SyncStatus
from crm.models import Tenant

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# One limiter per İYS account in this process: İYS counts calls per account.
_limiters: dict[str, RateLimiter] = {}


def _limiter_for(iys_code: str) -> RateLimiter:
    if iys_code not in _limiters:
        _limiters[iys_code] = RateLimiter(settings.IYS_RATE_LIMITS)
    return _limiters[iys_code]


class CachedTokens:
    """Keeps an account's İYS tokens in the cache (encrypted), shared by all workers.

    İYS allows only a few logins per hour; without this every task would log in.
    New credentials (password_set_at changes) start from a fresh key.
    """

    def __init__(self, account: IysAccount) -> None:
        identity = f"{account.iys_code}\n{account.username}\n{account.password_set_at.isoformat()}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        self.key = f"iys:token:{account.tenant_id}:{digest}"

    def load(self) -> IysToken | None:
        raw = cache.get(self.key)
        if not raw:
            return None
        try:
            return IysToken(**json.loads(decrypt_secret(raw)))
        except (CredentialsUnreadable, ValueError, TypeError):
            return None

    def save(self, token: IysToken) -> None:
        lifetime = int(max(token.access_until, token.refresh_until) - time.time())
        if lifetime > 0:
            cache.set(self.key, encrypt_secret(json.dumps(asdict(token))), timeout=lifetime)


def iys_client(*, account: IysAccount, brand: IysBrand) -> IysClient:
    """A client for one brand, with the tenant's decrypted credentials."""
    return IysClient(
        base_url=settings.IYS_BASE_URL,
        credentials=IysCredentials(
            iys_code=account.iys_code,
            brand_code=brand.brand_code,
            username=account.username,
            password=decrypt_secret(account.password_encrypted),
        ),
        timeout=settings.IYS_TIMEOUT,
        retry=RetryPolicy(
            attempts=settings.IYS_RETRY_ATTEMPTS, backoff_base=settings.IYS_BACKOFF_BASE
        ),
        limiter=_limiter_for(account.iys_code),
        token_store=CachedTokens(account),
    )


def _event_consent(event: ConsentEvent) -> IysConsent:
    return IysConsent(
        recipient=event.recipient,
        type=event.type,
        status=event.status,
        recipient_type=event.recipient_type,
        source=event.source,
        consent_date=event.consent_date,
    )


def _same_second(left: datetime | None, right: datetime | None) -> bool:
    if left is None or right is None:
        return left is None and right is None
    return left.astimezone(TURKEY).replace(microsecond=0) == right.astimezone(TURKEY).replace(
        microsecond=0
    )


def iys_holds(event: ConsentEvent, record: IysRecord | None) -> bool:
    """True when İYS's current record is this event (same status and consent date)."""
    if record is None or record.status != event.status:
        return False
    # A TACIR first record may carry no date at either end.
    return event.consent_date is None or _same_second(record.consent_date, event.consent_date)


# --- push ------------------------------------------------------------------------


@dataclass
class PushResult:
    batches: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    recovered: int = 0
    waiting: int = 0

    def add(self, other: PushResult) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _events_for_brand(brand: IysBrand) -> QuerySet[ConsentEvent]:
    codes = [brand.brand_code, ""] if brand.is_default else [brand.brand_code]
    return ConsentEvent.objects.filter(tenant_id=brand.tenant_id, brand_code__in=codes)


ACCEPT_FIELDS = [
    "sync_status",
    "iys_transaction_id",
    "iys_error_code",
    "iys_error_message",
    "synced_at",
]


def _accept_all(accepted: list[tuple[ConsentEvent, str]]) -> None:
    """Mark events accepted (with İYS's transaction id when known) in one UPDATE.

    Acceptance changes no derived state, so this writes the sync fields directly
    (the ledger's trigger allows exactly those) instead of the ledger's per-row
    service, which locks each row: a 10,000-consent batch stays one statement.
    """
    if not accepted:
        return
    now = timezone.now()
    for event, transaction_id in accepted:
        event.sync_status = SyncStatus.ACCEPTED
        event.iys_transaction_id = transaction_id or event.iys_transaction_id
        event.iys_error_code = ""
        event.iys_error_message = ""
        event.synced_at = now
    ConsentEvent.objects.bulk_update([e for e, _ in accepted], ACCEPT_FIELDS, batch_size=1000)


def _reject(event: ConsentEvent, *, code: str, message: str) -> None:
    """Through the ledger's service: a rejected ONAY stops counting as consent."""
    from consent import services as ledger

    updated = ledger.consent_sync_update(
        tenant=event.tenant,
        event=event,
        sync_status=SyncStatus.REJECTED,
        iys_error_code=code,
        iys_error_message=message,
    )
    for name in ConsentEvent.SYNC_FIELDS:
        setattr(event, name, getattr(updated, name))


def _back_to_pending(events: Iterable[ConsentEvent], *, error: str = "", **extra: Any) -> None:
    fields = {
        "sync_status": SyncStatus.PENDING,
        "iys_request_id": "",
        "iys_error_message": error[:500],
        **extra,
    }
    events = list(events)
    ConsentEvent.objects.filter(pk__in=[e.pk for e in events]).update(**fields)
    for event in events:
        for name, value in fields.items():
            setattr(event, name, value)


def _recover_prepared(batch: IysPushBatch, client: IysClient, result: PushResult) -> None:
    """The batch may or may not have reached İYS: ask İYS about each consent."""
    held: list[tuple[ConsentEvent, str]] = []
    not_held: list[ConsentEvent] = []
    for item in batch.items.select_related("event"):
        event = item.event
        if event.sync_status != SyncStatus.SENDING:
            continue
        record = client.consent_status(
            recipient=event.recipient, type=event.type, recipient_type=event.recipient_type
        )
        if iys_holds(event, record):
            held.append((event, ""))
        else:
            not_held.append(event)
    with transaction.atomic():
        _accept_all(held)
        _back_to_pending(not_held)
        batch.state = IysPushBatch.State.RECOVERED
        batch.completed_at = timezone.now()
        batch.save(update_fields=["state", "completed_at"])
    result.recovered += len(held)
    result.accepted += len(held)


def _apply_results(batch: IysPushBatch, client: IysClient, result: PushResult) -> None:
    lines = client.wait_for_async_results(
        batch.request_id,
        max_wait=settings.IYS_RESULT_WAIT,
        poll_interval=settings.IYS_RESULT_POLL_INTERVAL,
    )
    items = {item.index: item for item in batch.items.select_related("event")}
    unfinished = 0
    accepted: list[tuple[ConsentEvent, str]] = []
    rejected: list[tuple[ConsentEvent, str, str]] = []
    for line in lines:
        item = items.get(line.index)
        if item is None or item.event.sync_status != SyncStatus.SENDING:
            continue
        event = item.event
        if not line.finished:
            unfinished += 1
        elif line.status == "success":
            accepted.append((event, line.transaction_id))
        else:
            code, message = (line.error.code, line.error.message) if line.error else ("", "")
            if code in settings.IYS_ALREADY_RECORDED_CODES and iys_holds(
                event,
                client.consent_status(
                    recipient=event.recipient, type=event.type, recipient_type=event.recipient_type
                ),
            ):
                # An earlier attempt of ours already reached İYS: that record is this event.
                accepted.append((event, ""))
            else:
                rejected.append((event, code, message))
    with transaction.atomic():
        _accept_all(accepted)
        for event, code, message in rejected:
            _reject(event, code=code, message=message)
        if not unfinished:
            batch.state = IysPushBatch.State.COMPLETED
            batch.completed_at = timezone.now()
            batch.save(update_fields=["state", "completed_at"])
    result.accepted += len(accepted)
    result.rejected += len(rejected)
    result.waiting += unfinished


def _next_batch(brand: IysBrand, size: int) -> list[ConsentEvent]:
    """Pending events, oldest first, at most one per (recipient, type, recipientType).

    İYS checks each consent against the one before it, so two changes of one
    recipient go in separate batches, in order.
    """
    events = _events_for_brand(brand)
    busy = set(
        events.filter(sync_status=SyncStatus.SENDING).values_list(
            "recipient", "type", "recipient_type"
        )
    )
    chosen: list[ConsentEvent] = []
    seen = set(busy)
    pending = events.filter(sync_status=SyncStatus.PENDING).order_by("created_at", "pk")
    for event in pending.iterator(chunk_size=2000):
        key = (event.recipient, event.type, event.recipient_type)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(event)
        if len(chosen) >= size:
            break
    return chosen


@transaction.atomic
def _prepare_batch(
    brand: IysBrand, chosen: list[ConsentEvent]
) -> tuple[IysPushBatch | None, list[ConsentEvent]]:
    # Lock the rows and re-check them: a second worker never takes the same events.
    events = list(
        ConsentEvent.objects.select_for_update(skip_locked=True)
        .filter(pk__in=[e.pk for e in chosen], sync_status=SyncStatus.PENDING)
        .order_by("created_at", "pk")
    )
    if not events:
        return None, []
    batch = IysPushBatch.objects.create(tenant_id=brand.tenant_id, brand=brand, size=len(events))
    IysPushItem.objects.bulk_create(
        IysPushItem(tenant_id=brand.tenant_id, batch=batch, event=event, index=index)
        for index, event in enumerate(events)
    )
    ConsentEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        sync_status=SyncStatus.SENDING,
        sync_attempts=F("sync_attempts") + 1,
        iys_request_id="",
        iys_error_code="",
        iys_error_message="",
    )
    return batch, events


@transaction.atomic
def _store_submission(batch: IysPushBatch, request_id: str, events: list[ConsentEvent]) -> None:
    batch.request_id = request_id
    batch.state = IysPushBatch.State.SUBMITTED
    batch.submitted_at = timezone.now()
    batch.save(update_fields=["request_id", "state", "submitted_at"])
    ConsentEvent.objects.filter(pk__in=[e.pk for e in events]).update(iys_request_id=request_id)


def iys_push(
    *,
    tenant: Tenant,
    brand: IysBrand,
    client: IysClient,
    batch_size: int | None = None,
    max_batches: int = 50,
    progress: Progress | None = None,
) -> PushResult:
    """Send the brand's pending consents to İYS and store İYS's verdict on each."""
    if brand.tenant_id != tenant.pk:
        raise ValueError("brand of another tenant")
    size = batch_size or settings.IYS_BATCH_SIZE
    result = PushResult()
    open_batches = IysPushBatch.objects.filter(
        tenant=tenant,
        brand=brand,
        state__in=[IysPushBatch.State.PREPARED, IysPushBatch.State.SUBMITTED],
    ).order_by("created_at", "pk")
    for batch in open_batches:
        if batch.state == IysPushBatch.State.PREPARED:
            _recover_prepared(batch, client, result)
        else:
            _apply_results(batch, client, result)
    for _ in range(max_batches):
        batch, events = _prepare_batch(brand, _next_batch(brand, size))
        if batch is None:
            break
        result.batches += 1
        if progress:
            progress(f"{brand.brand_code}: {result.sent + len(events)}")
        try:
            submission = client.add_consents_async([_event_consent(e) for e in events])
        except IysUnavailable as error:
            if error.outcome_unknown:
                # Leave the batch prepared: the next run asks İYS before resending.
                batch.error = str(error)[:500]
                batch.save(update_fields=["error"])
            else:
                _not_sent(batch, events, error)
            raise
        except IysValidationError as error:
            # The request as a whole was refused (its shape, not one consent).
            _not_sent(batch, events, error)
            with transaction.atomic():
                for event in events:
                    _reject(event, code=error.code, message=error.detail)
            result.rejected += len(events)
            continue
        except IysError as error:  # rate limit or credentials: nothing was processed
            _not_sent(batch, events, error)
            raise
        _store_submission(batch, submission.request_id, events)
        result.sent += len(events)
        _apply_results(batch, client, result)
    brand.last_push_at = timezone.now()
    brand.save(update_fields=["last_push_at"])
    return result


@transaction.atomic
def _not_sent(batch: IysPushBatch, events: list[ConsentEvent], error: IysError) -> None:
    batch.state = IysPushBatch.State.NOT_SENT
    batch.error = str(error)[:500]
    batch.completed_at = timezone.now()
    batch.save(update_fields=["state", "error", "completed_at"])
    _back_to_pending(events, error=error.detail[:500])


# --- pull ------------------------------------------------------------------------


@dataclass
class PullResult:
    changes: int = 0
    applied: int = 0
    pages: int = 0


def _apply_from_iys(*, tenant: Tenant, brand: IysBrand, record: IysRecord) -> bool:
    """Apply one İYS record to the ledger (once per İYS transaction id)."""
    from consent import services as ledger

    # Our own accepted events carry İYS's transaction id too: never apply those twice.
    if (
        record.transaction_id
        and ConsentEvent.objects.filter(
            tenant=tenant, iys_transaction_id=record.transaction_id
        ).exists()
    ):
        return False
    event = ledger.consent_apply_from_iys(
        tenant=tenant,
        recipient=record.recipient,
        consent_type=record.type,
        recipient_type=record.recipient_type,
        status=record.status,
        source=record.source,
        consent_date=record.consent_date,
        transaction_id=record.transaction_id,
        brand_code=brand.brand_code,
    )
    return event is not None


def iys_pull(
    *, tenant: Tenant, brand: IysBrand, client: IysClient, progress: Progress | None = None
) -> PullResult:
    """Apply every change İYS reports since the brand's cursor (citizens' RETs first of all)."""
    if brand.tenant_id != tenant.pk:
        raise ValueError("brand of another tenant")
    result = PullResult()
    for page in client.iter_consent_changes(source="IYS", after=brand.pull_cursor):
        with transaction.atomic():
            for record in page.records:
                result.changes += 1
                if _apply_from_iys(tenant=tenant, brand=brand, record=record):
                    result.applied += 1
            brand.pull_cursor = page.after
            brand.save(update_fields=["pull_cursor"])
        result.pages += 1
        if progress:
            progress(f"{brand.brand_code}: {result.changes}")
    brand.last_pull_at = timezone.now()
    brand.save(update_fields=["last_pull_at"])
    return result


# --- reconcile -------------------------------------------------------------------


@dataclass
class ReconcileResult:
    days: list[date] = field(default_factory=list)
    rows: int = 0
    applied: int = 0  # İYS records the ledger lacked, now applied
    resent: int = 0  # events we thought accepted but İYS does not hold: pending again
    linked: int = 0  # accepted events that lacked İYS's transaction id
    unavailable: list[date] = field(default_factory=list)  # files İYS no longer offers


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=TURKEY)
    return start, start + timedelta(days=1)


def iys_reconcile_day(
    *, tenant: Tenant, brand: IysBrand, client: IysClient, day: date
) -> ReconcileResult:
    """Compare İYS's change file for ``day`` with the ledger and fix the differences."""
    result = ReconcileResult(days=[day])
    rows = client.change_file(day)
    result.rows = len(rows)
    events = _events_for_brand(brand)
    file_ids = {row.transaction_id for row in rows if row.transaction_id}
    known = set(
        events.filter(iys_transaction_id__in=file_ids).values_list("iys_transaction_id", flat=True)
    )
    states = {
        (s.recipient, s.recipient_type, s.type): s  # the order of IysRecord.key
        for s in ConsentState.objects.filter(
            tenant=tenant, recipient__in={row.recipient for row in rows}
        )
    }
    for row in sorted(rows, key=lambda r: r.creation_date or datetime.min.replace(tzinfo=TURKEY)):
        if row.transaction_id in known:
            continue
        state = states.get(row.key)
        with transaction.atomic():
            if (
                state is not None
                and state.status == row.status
                and _same_second(state.consent_date, row.consent_date)
            ):
                # Ours, accepted without a transaction id (a recovered batch): link it.
                event = events.filter(
                    pk=state.event_id, sync_status=SyncStatus.ACCEPTED, iys_transaction_id=""
                ).first()
                if event is not None:
                    _accept_all([(event, row.transaction_id)])
                    result.linked += 1
                continue
            newer = (
                state is None
                or state.consent_date is None
                or row.consent_date is None
                or row.consent_date > state.consent_date
            )
            if newer and _apply_from_iys(tenant=tenant, brand=brand, record=row):
                result.applied += 1
                states = {
                    **states,
                    row.key: ConsentState.objects.get(
                        tenant=tenant,
                        recipient=row.recipient,
                        type=row.type,
                        recipient_type=row.recipient_type,
                    ),
                }
    # Events we believe İYS accepted that day but that its file does not list.
    start, end = _day_bounds(day)
    missing = (
        events.filter(sync_status=SyncStatus.ACCEPTED, synced_at__gte=start, synced_at__lt=end)
        .exclude(iys_transaction_id="")
        .exclude(iys_transaction_id__in=file_ids)
    )
    for event in missing:
        record = client.consent_status(
            recipient=event.recipient, type=event.type, recipient_type=event.recipient_type
        )
        if not iys_holds(event, record):
            _back_to_pending(
                [event],
                error="İYS does not hold this record (nightly reconciliation)",
                iys_transaction_id="",
            )
            result.resent += 1
    return result


def iys_reconcile(
    *, tenant: Tenant, brand: IysBrand, client: IysClient, today: date | None = None
) -> ReconcileResult:
    """Reconcile every day since the last reconciled one, up to yesterday (İYS keeps 7)."""
    today = today or timezone.now().astimezone(TURKEY).date()
    first = today - timedelta(days=7)
    if brand.reconciled_through is not None:
        first = max(first, brand.reconciled_through + timedelta(days=1))
    total = ReconcileResult()
    day = first
    while day < today:
        try:
            one = iys_reconcile_day(tenant=tenant, brand=brand, client=client, day=day)
        except IysNotFound:
            # Outside İYS's window (its edge is not documented exactly): nothing to
            # compare any more, and it must not block the days after it.
            logger.info("İYS change file for %s of brand %s is not available", day, brand)
            total.unavailable.append(day)
            one = ReconcileResult()
        total.days += one.days
        total.rows += one.rows
        total.applied += one.applied
        total.resent += one.resent
        total.linked += one.linked
        brand.reconciled_through = day
        brand.save(update_fields=["reconciled_through"])
        day += timedelta(days=1)
    brand.last_reconciled_at = timezone.now()
    brand.save(update_fields=["last_reconciled_at"])
    return total


# --- one tenant, every brand ---------------------------------------------------------


def active_account(*, tenant: Tenant) -> IysAccount | None:
    return IysAccount.objects.filter(tenant=tenant, is_active=True).first()


def record_account_error(account: IysAccount, error: Exception | None) -> None:
    account.last_error = str(error)[:500] if error else ""
    account.last_error_at = timezone.now() if error else None
    account.save(update_fields=["last_error", "last_error_at"])


__all__ = [
    "IysRateLimited",
    "IysUnavailable",
    "PullResult",
    "PushResult",
    "ReconcileResult",
    "active_account",
    "iys_client",
    "iys_pull",
    "iys_push",
    "iys_reconcile",
    "iys_reconcile_day",
]
