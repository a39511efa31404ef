"""Who may get each channel, kept in a table so that segments count it in milliseconds.

``customers_allowed`` used to decide every recipient of the tenant on every call:
seven seconds at a million customers, more inside a segment count. Here the answer
is kept per tenant and channel in ConsentReach (customers with at least one allowed
recipient) and brought up to date before every read:

* PostgreSQL triggers (consent/migration_ops.py) write ConsentReachDirty rows for
  the customers whose inputs changed: a consent state of one of their recipients,
  their phones or e-mails (also the remaining holders of a number that left), their
  kind, their merge;
* :func:`reach_refresh` takes those rows, adds the customers sharing a recipient
  with them (a refusal or a company holder changes the co-holders' answer), decides
  them again with the decision SQL of consent.services — the one place the rules
  live — and replaces their rows. Serialised per tenant by an advisory lock.

A channel never built, built under another TACIR policy, or after a bulk change
(a marked "whole tenant" row, or more than FULL_REBUILD_CUSTOMERS customers) is
built from scratch. A nightly job rebuilds every tenant as a safety net.

PostgreSQL only: SQLite (``make run``) has no such triggers and decides directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from consent.models import (
    PHONE_TYPES,
    ConsentReach,
    ConsentReachBuild,
    ConsentReachDirty,
    ConsentType,
)
from crm.models import Tenant
from customers.models import Customer

# Past this many marked customers, one pass over the whole tenant is cheaper than
# deciding them one neighbourhood at a time. A judgement from two figures at 1M
# customers: 10,000 changed consents refreshed in about 4 s, a full channel build
# takes 5-11 s.
FULL_REBUILD_CUSTOMERS = 50_000


@dataclass
class ReachRefresh:
    """What a refresh did (for benchmarks and the nightly job's result)."""

    dirty: int = 0
    recomputed: dict[str, int] = field(default_factory=dict)
    built: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def reach_customers(*, tenant: Tenant, channel_type: str) -> QuerySet[Customer]:
    """Active customers that may get ``channel_type`` now (the reach, refreshed first)."""
    reach_refresh(tenant=tenant, channel_type=channel_type)
    reached = ConsentReach.objects.filter(tenant=tenant, channel=channel_type).values("customer_id")
    return Customer.objects.filter(tenant=tenant, merged_into__isnull=True, pk__in=reached)


def _policy(tenant: Tenant) -> str:
    from consent.services import consent_settings_get

    return consent_settings_get(tenant=tenant).tacir_policy


def _lock(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"consent.reach:{tenant.pk}"]
        )


def reach_refresh(*, tenant: Tenant, channel_type: str | None = None) -> ReachRefresh:
    """Bring the tenant's reach up to date; build ``channel_type`` if it was never built.

    Afterwards every built channel holds exactly the customers ``may_send_bulk``
    allows, as of this transaction. Cheap when nothing changed (three indexed
    look-ups, no lock).
    """
    if channel_type is not None and channel_type not in ConsentType.values:
        raise ValueError(f"unknown channel type {channel_type!r}")
    policy = _policy(tenant)
    if not _needs_work(tenant, channel_type, policy):
        return ReachRefresh()
    started = time.perf_counter()
    result = ReachRefresh()
    with transaction.atomic():
        _lock(tenant)
        builds = dict(
            ConsentReachBuild.objects.filter(tenant=tenant).values_list("channel", "tacir_policy")
        )
        everything, dirty = _take_dirty(tenant)
        result.dirty = len(dirty)
        if everything or len(dirty) > FULL_REBUILD_CUSTOMERS:
            stale = set(builds)
        else:
            stale = {channel for channel, built_under in builds.items() if built_under != policy}
        # A stale channel is built again when it is next read; its marks are gone now.
        ConsentReachBuild.objects.filter(tenant=tenant, channel__in=stale).delete()
        current = [channel for channel in builds if channel not in stale]
        if dirty and current:
            result.recomputed = _recompute(tenant, current, dirty)
        if channel_type is not None and channel_type not in current:
            result.built[channel_type] = _build(tenant, channel_type, policy)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def reach_rebuild(*, tenant: Tenant) -> ReachRefresh:
    """Build every channel's reach from scratch (the nightly safety net)."""
    started = time.perf_counter()
    result = ReachRefresh()
    with transaction.atomic():
        _lock(tenant)
        policy = _policy(tenant)
        _everything, dirty = _take_dirty(tenant)
        result.dirty = len(dirty)
        for channel in ConsentType.values:
            result.built[channel] = _build(tenant, channel, policy)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _needs_work(tenant: Tenant, channel_type: str | None, policy: str) -> bool:
    if ConsentReachDirty.objects.filter(tenant=tenant).exists():
        return True
    if channel_type is None:
        return ConsentReachBuild.objects.filter(tenant=tenant).exclude(tacir_policy=policy).exists()
    built_under = (
        ConsentReachBuild.objects.filter(tenant=tenant, channel=channel_type)
        .values_list("tacir_policy", flat=True)
        .first()
    )
    return built_under != policy


def _take_dirty(tenant: Tenant) -> tuple[bool, set[int]]:
    """Remove the tenant's marks and return them: (whole tenant?, customer ids).

    Taken before anything is decided and under the lock: a change committed after
    this statement keeps its mark for the next refresh, and one committed before it
    is visible to the decisions that follow (read committed), so none is lost.
    """
    with connection.cursor() as cursor:
        # Raw SQL: the ORM has no DELETE … RETURNING.
        cursor.execute(
            "DELETE FROM consent_consentreachdirty WHERE tenant_id = %s RETURNING customer_id",
            [tenant.pk],
        )
        rows = cursor.fetchall()
    ids = {row[0] for row in rows}
    everything = None in ids
    ids.discard(None)
    return everything, ids


def _decided_sql(
    tenant: Tenant, channel: str, customers: Iterable[int] | None
) -> tuple[str, list[Any]]:
    """INSERT of the allowed customers among ``customers`` (None: all) into the reach."""
    from consent.services import ALLOWED_REASONS, may_send_bulk_sql

    sql, params = may_send_bulk_sql(tenant=tenant, channel_type=channel, customers=customers)
    reasons = sorted(ALLOWED_REASONS)
    # Only our own SQL and bound parameters go in: no user text is spliced.
    placeholders = ", ".join(["%s"] * len(reasons))
    insert = (
        "INSERT INTO consent_consentreach (tenant_id, channel, customer_id) "  # noqa: S608
        f"SELECT DISTINCT %s, %s, d.customer_id FROM ({sql}) d "
        f"WHERE d.reason IN ({placeholders})"
    )
    return insert, [tenant.pk, channel, *params, *reasons]


def _neighbours(tenant: Tenant, channel: str, ids: list[int]) -> set[int]:
    """Customers holding a recipient that one of ``ids`` holds (merged or not)."""
    table, value = (
        ("customers_phone", "e164") if channel in PHONE_TYPES else ("customers_email", "address")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT h.customer_id FROM {table} t "  # noqa: S608 (fixed names)
            f"JOIN {table} h ON h.tenant_id = t.tenant_id AND h.{value} = t.{value} "
            "WHERE t.tenant_id = %s AND t.customer_id = ANY(%s)",
            [tenant.pk, ids],
        )
        return {row[0] for row in cursor.fetchall()}


def _recompute(tenant: Tenant, channels: list[str], dirty: set[int]) -> dict[str, int]:
    ids = sorted(dirty)
    expanded: dict[bool, list[int]] = {}
    counts: dict[str, int] = {}
    for channel in channels:
        phone = channel in PHONE_TYPES
        if phone not in expanded:
            expanded[phone] = sorted(dirty | _neighbours(tenant, channel, ids))
        customers = expanded[phone]
        insert, params = _decided_sql(tenant, channel, customers)
        with connection.cursor() as cursor:
            # One array parameter: an IN list of 100k ids would pass the driver's limit.
            cursor.execute(
                "DELETE FROM consent_consentreach"
                " WHERE tenant_id = %s AND channel = %s AND customer_id = ANY(%s)",
                [tenant.pk, channel, customers],
            )
            cursor.execute(insert, params)
        counts[channel] = len(customers)
    return counts


def _build(tenant: Tenant, channel: str, policy: str) -> int:
    started = time.perf_counter()
    insert, params = _decided_sql(tenant, channel, None)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM consent_consentreach WHERE tenant_id = %s AND channel = %s",
            [tenant.pk, channel],
        )
        cursor.execute(insert, params)
        allowed = cursor.rowcount
        # The planner must know the new rows before a segment count joins them.
        cursor.execute("ANALYZE consent_consentreach")
    ConsentReachBuild.objects.update_or_create(
        tenant=tenant,
        channel=channel,
        defaults={
            "tacir_policy": policy,
            "built_at": timezone.now(),
            "customers": allowed,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return allowed
