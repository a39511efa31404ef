"""İYS set-up and runs: credentials (write-only), brands, "sync now", the per-tenant run."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.iys import sync
from consent.iys.client import IysAuthError, IysError
from consent.iys.crypto import CredentialsUnreadable, encrypt_secret
from consent.iys.models import IysAccount, IysBrand
from crm import jobs
from crm.models import Job, Tenant, User
from crm.tenancy import dangerously_all_tenants, tenant_context

JOB_KIND = "consent.iys_sync"
OPERATIONS = ("push", "pull", "reconcile")


def _brand_codes(raw: Sequence[str]) -> list[str]:
    codes = []
    for code in raw:
        code = code.strip()
        if not code:
            continue
        if not code.isdigit() or len(code) > 20:
            raise ValidationError(
                _("İYS brand codes are numbers (for example 654321): %(code)s is not one."),
                code="brand_code",
                params={"code": code},
            )
        if code not in codes:
            codes.append(code)
    if not codes:
        raise ValidationError(_("Enter at least one İYS brand code."), code="brand_code")
    return codes


@transaction.atomic
def iys_credentials_save(
    *,
    tenant: Tenant,
    actor: User,
    iys_code: str,
    username: str,
    password: str,
    brand_codes: Sequence[str],
    is_active: bool = True,
) -> IysAccount:
    """Store the tenant's İYS API user. An empty password keeps the stored one.

    The first brand code is the default brand (consents recorded without a brand).
    Brands no longer listed are kept with their history but stop being synchronised
    only if they have no cursor yet; renaming codes is a support matter.
    """
    iys_code = iys_code.strip()
    if not iys_code.isdigit():
        raise ValidationError(_("The İYS code is a number (for example 123456)."), code="iys_code")
    codes = _brand_codes(brand_codes)
    account = IysAccount.objects.filter(tenant=tenant).first()
    if account is None and not password:
        raise ValidationError(_("Enter the İYS API password."), code="password")
    if account is None:
        account = IysAccount(tenant=tenant)
    account.iys_code = iys_code
    account.username = username.strip()
    account.is_active = is_active
    if password:
        account.password_encrypted = encrypt_secret(password)
        account.password_set_at = timezone.now()
        account.password_set_by = actor
        account.last_error = ""
        account.last_error_at = None
    account.save()
    existing = {b.brand_code: b for b in IysBrand.objects.filter(tenant=tenant)}
    for position, code in enumerate(codes):
        brand = existing.get(code) or IysBrand(tenant=tenant, account=account, brand_code=code)
        brand.account = account
        brand.is_default = position == 0
        brand.save()
    IysBrand.objects.filter(tenant=tenant, pull_cursor="").exclude(brand_code__in=codes).delete()
    IysBrand.objects.filter(tenant=tenant).exclude(brand_code__in=codes).update(is_default=False)
    return account


def tenants_with_iys() -> list[int]:
    """Tenants whose İYS sync is switched on (a cross-tenant read for the beat jobs)."""
    with dangerously_all_tenants():
        return list(
            IysAccount.objects.filter(is_active=True, tenant__is_active=True)
            .values_list("tenant_id", flat=True)
            .order_by("tenant_id")
        )


ProgressFn = Callable[[int, int, str], None]


class IysSyncBusy(Exception):
    """Another run for the tenant holds the lock (a run may take minutes: İYS allows
    two asynchronous adds a minute)."""


@contextlib.contextmanager
def _tenant_run_lock(tenant: Tenant) -> Iterator[None]:
    # Two runs at once could send one recipient's ONAY and RET in parallel batches,
    # and İYS must receive them in order.
    key = f"iys:run:{tenant.pk}"
    token = secrets.token_hex(8)
    if not cache.add(key, token, timeout=settings.IYS_RUN_LOCK_SECONDS):
        raise IysSyncBusy(str(tenant.pk))
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def iys_run(
    *,
    tenant: Tenant,
    operations: Sequence[str],
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Run push / pull / reconcile for every brand of the tenant; totals as a dict.

    Transient İYS errors propagate (the caller retries); refused credentials are
    recorded on the account for the sync page and propagate too. Raises IysSyncBusy
    while another run for the tenant is going on.
    """
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        raise ValueError(f"unknown İYS operations {unknown}")
    totals: dict[str, Any] = {
        **asdict(sync.PushResult()),
        "pulled": 0,
        "applied": 0,
        "reconciled_rows": 0,
        "drift_fixed": 0,
        "resent": 0,
    }
    with tenant_context(tenant), _tenant_run_lock(tenant):
        account = sync.active_account(tenant=tenant)
        if account is None:
            return {**totals, "skipped": "no account"}
        brands = list(IysBrand.objects.filter(tenant=tenant, account=account))
        steps = max(1, len(brands) * len(operations))
        step = 0
        try:
            for brand in brands:
                with sync.iys_client(account=account, brand=brand) as client:
                    for operation in operations:
                        if progress:
                            progress(step, steps, _describe(operation, brand))
                        if operation == "push":
                            pushed = sync.iys_push(tenant=tenant, brand=brand, client=client)
                            for name, value in asdict(pushed).items():
                                totals[name] += value
                        elif operation == "pull":
                            pulled = sync.iys_pull(tenant=tenant, brand=brand, client=client)
                            totals["pulled"] += pulled.changes
                            totals["applied"] += pulled.applied
                        else:
                            checked = sync.iys_reconcile(tenant=tenant, brand=brand, client=client)
                            totals["reconciled_rows"] += checked.rows
                            totals["drift_fixed"] += checked.applied
                            totals["resent"] += checked.resent
                        step += 1
        except (IysAuthError, CredentialsUnreadable) as error:
            sync.record_account_error(account, error)
            raise
        except IysError as error:
            sync.record_account_error(account, error)
            raise
        if account.last_error:
            sync.record_account_error(account, None)
    return totals


def _describe(operation: str, brand: IysBrand) -> str:
    labels = {
        "push": _("Sending consents of brand %(brand)s to İYS"),
        "pull": _("Fetching changes of brand %(brand)s from İYS"),
        "reconcile": _("Comparing brand %(brand)s with İYS's change file"),
    }
    return labels[operation] % {"brand": brand}


def iys_push_soon(*, tenant: Tenant) -> bool:
    """Ask for a push right after the current transaction commits (an opt-out, say),
    instead of waiting for the 5-minute beat. Debounced per tenant; a no-op without
    active İYS credentials. Returns whether a push was requested.
    """
    from consent.iys.tasks import iys_push_task

    if not IysAccount.objects.filter(tenant=tenant, is_active=True).exists():
        return False
    if not cache.add(f"iys:push-soon:{tenant.pk}", 1, timeout=10):
        return False  # one was requested moments ago; it will take this event too
    tenant_id = tenant.pk
    transaction.on_commit(lambda: iys_push_task.delay(tenant_id))
    return True


def iys_sync_now(*, tenant: Tenant, actor: User, language: str) -> Job:
    """Start a push-and-pull job people can watch; reuses one that is still running."""
    from consent.iys.tasks import iys_sync_job_task

    running = (
        Job.objects.filter(
            tenant=tenant, kind=JOB_KIND, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        )
        .order_by("-pk")
        .first()
    )
    if running is not None:
        return running
    job = jobs.job_create(tenant=tenant, kind=JOB_KIND, title=_("İYS synchronisation"), actor=actor)
    jobs.job_enqueue(job, iys_sync_job_task, language=language)
    return job
