"""Saved segments: writes (create, edit, materialise) and reads (counts, movement).

Materialisation is one INSERT … SELECT of the compiled rule into
``SegmentMembership``; customers are never loaded into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import Perm, Role, role_has_permission
from customers.models import Customer
from segmentation import rules
from segmentation.models import CustomerScore, RfmSegment, SegmentationRun, ValueTier
from segmentation.segment_models import (
    MaterialiseSchedule,
    SavedSegment,
    SegmentMembership,
    SegmentSnapshot,
)


class SegmentError(ValueError):
    """Bad input for a segment; the message is for people."""


# --- selectors ----------------------------------------------------------------------


def owner_choices(*, tenant: Tenant) -> QuerySet[User]:
    """Members who may own a segment: those who approve campaigns."""
    roles = [r for r in Role.values if role_has_permission(r, Perm.APPROVE_CAMPAIGNS)]
    return User.objects.filter(
        memberships__tenant=tenant,
        memberships__is_active=True,
        memberships__role__in=roles,
    ).order_by("full_name", "email")


def segment_list(*, tenant: Tenant, archived: bool = False) -> QuerySet[SavedSegment]:
    return SavedSegment.objects.filter(tenant=tenant, is_archived=archived).select_related("owner")


def segment_get(*, tenant: Tenant, segment_id: int) -> SavedSegment:
    """Raises SavedSegment.DoesNotExist for another tenant's segment."""
    return SavedSegment.objects.select_related("owner", "created_by").get(
        tenant=tenant, pk=segment_id
    )


def snapshots(*, tenant: Tenant, segment: SavedSegment) -> QuerySet[SegmentSnapshot]:
    return SegmentSnapshot.objects.filter(tenant=tenant, segment=segment).order_by(
        "-taken_at", "-id"
    )


def live_count(*, tenant: Tenant, rule: Any) -> dict[str, int]:
    """How many customers the rule selects now, split by type (one query)."""
    qs = rules.compile_rule(tenant=tenant, rule=rule)
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgres:
            # The plan of a count over a million customers costs far above
            # jit_above_cost, and compiling it took 1.1-1.5 s on the reference tenant
            # while executing it took 1-2 s: JIT doubles the wait and never pays back
            # in a query run once. Local to the transaction, and put back after the
            # count because a surrounding request transaction would otherwise keep it.
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
                jit = cursor.fetchone()[0]
        counts = qs.aggregate(
            total=Count("pk"),
            persons=Count("pk", filter=Q(kind=Customer.Kind.PERSON)),
            companies=Count("pk", filter=Q(kind=Customer.Kind.COMPANY)),
        )
        # On an error the rollback of this (sub)transaction undoes the setting.
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('jit', %s, true)", [jit])
    return {key: int(value or 0) for key, value in counts.items()}


def snapshot_members(*, tenant: Tenant, snapshot: SegmentSnapshot) -> QuerySet[Customer]:
    ids = SegmentMembership.objects.filter(tenant=tenant, snapshot=snapshot).values("customer_id")
    return Customer.objects.filter(tenant=tenant, pk__in=ids)


@dataclass
class Movement:
    entered: QuerySet[Customer]
    left: QuerySet[Customer]


def movement(*, tenant: Tenant, before: SegmentSnapshot, after: SegmentSnapshot) -> Movement:
    """Who entered and who left the segment between two snapshots."""
    before_ids = SegmentMembership.objects.filter(tenant=tenant, snapshot=before).values(
        "customer_id"
    )
    after_ids = SegmentMembership.objects.filter(tenant=tenant, snapshot=after).values(
        "customer_id"
    )
    return Movement(
        entered=Customer.objects.filter(tenant=tenant, pk__in=after_ids).exclude(pk__in=before_ids),
        left=Customer.objects.filter(tenant=tenant, pk__in=before_ids).exclude(pk__in=after_ids),
    )


def rfm_transitions(
    *,
    tenant: Tenant,
    from_run: SegmentationRun,
    to_run: SegmentationRun,
    snapshot: SegmentSnapshot | None = None,
) -> dict[tuple[str, str], int]:
    """{(segment in from_run, segment in to_run): customers}, optionally within a snapshot."""
    sql = """
        SELECT a.rfm_segment, b.rfm_segment, COUNT(*)
        FROM segmentation_customerscore a
        JOIN segmentation_customerscore b
          ON b.customer_id = a.customer_id AND b.run_id = %s AND b.tenant_id = %s
        WHERE a.run_id = %s AND a.tenant_id = %s
    """
    params: list[Any] = [to_run.pk, tenant.pk, from_run.pk, tenant.pk]
    if snapshot is not None:
        sql += """ AND a.customer_id IN (
            SELECT customer_id FROM segmentation_segmentmembership
            WHERE snapshot_id = %s AND tenant_id = %s)"""
        params += [snapshot.pk, tenant.pk]
    sql += " GROUP BY 1, 2"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(a, b): int(n) for a, b, n in cursor.fetchall()}


def rfm_transition_customers(
    *,
    tenant: Tenant,
    from_run: SegmentationRun,
    to_run: SegmentationRun,
    from_segment: str,
    to_segment: str,
) -> QuerySet[Customer]:
    """The customers who moved from one RFM segment to another between two runs."""
    before = CustomerScore.objects.filter(
        tenant=tenant, run=from_run, rfm_segment=from_segment
    ).values("customer_id")
    after = CustomerScore.objects.filter(tenant=tenant, run=to_run, rfm_segment=to_segment).values(
        "customer_id"
    )
    return Customer.objects.filter(tenant=tenant, pk__in=before).filter(pk__in=after)


def composition(*, tenant: Tenant, snapshot: SegmentSnapshot) -> dict[str, list[dict[str, Any]]]:
    """The snapshot's members by home branch, and by RFM segment and value tier of its run."""
    members = SegmentMembership.objects.filter(tenant=tenant, snapshot=snapshot)
    by_branch = list(
        members.values("customer__home_branch__name")
        .annotate(customers=Count("pk"))
        .order_by("-customers")[:20]
    )
    result: dict[str, list[dict[str, Any]]] = {
        "branch": [
            {
                "label": row["customer__home_branch__name"] or _("No home branch"),
                "n": row["customers"],
            }
            for row in by_branch
        ],
        "rfm": [],
        "tier": [],
    }
    if snapshot.run_id is not None:
        scores = CustomerScore.objects.filter(
            tenant=tenant,
            run_id=snapshot.run_id,
            customer_id__in=members.values("customer_id"),
        )
        rfm_labels = dict(RfmSegment.choices)
        tier_labels = dict(ValueTier.choices)
        result["rfm"] = [
            {"label": str(rfm_labels.get(r["rfm_segment"], r["rfm_segment"])), "n": r["n"]}
            for r in scores.values("rfm_segment").annotate(n=Count("pk")).order_by("-n")
        ]
        result["tier"] = [
            {"label": str(tier_labels.get(r["value_tier"], r["value_tier"])), "n": r["n"]}
            for r in scores.values("value_tier").annotate(n=Count("pk")).order_by("-n")
        ]
    return result


# --- services -----------------------------------------------------------------------


def _check_owner(tenant: Tenant, owner: User | None) -> User:
    if owner is None:
        raise SegmentError(_("Choose an owner: the person who approves campaigns to it."))
    if not owner_choices(tenant=tenant).filter(pk=owner.pk).exists():
        raise SegmentError(_("The owner must be a member who may approve campaigns."))
    return owner


def _check(tenant: Tenant, name: str, rule: Any, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise SegmentError(_("Give the segment a name."))
    taken = SavedSegment.objects.filter(tenant=tenant, name=name)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise SegmentError(_("There is already a segment with this name."))
    try:
        rules.validate_rule(tenant=tenant, rule=rule)
    except rules.RuleError as bad:
        raise SegmentError(str(bad)) from bad
    if isinstance(rule, dict) and not rule.get("conditions"):
        raise SegmentError(_("Add at least one condition."))
    return name


def segment_create(
    *,
    tenant: Tenant,
    actor: User | None,
    name: str,
    rule: dict[str, Any],
    owner: User | None,
    description: str = "",
    schedule: str = MaterialiseSchedule.NONE,
) -> SavedSegment:
    name = _check(tenant, name, rule)
    owner = _check_owner(tenant, owner)
    if schedule not in MaterialiseSchedule.values:
        raise SegmentError(_("Unknown schedule."))
    return SavedSegment.objects.create(
        tenant=tenant,
        name=name,
        description=description,
        rule=rule,
        owner=owner,
        created_by=actor,
        schedule=schedule,
    )


def segment_update(
    *,
    tenant: Tenant,
    segment: SavedSegment,
    name: str,
    rule: dict[str, Any],
    owner: User | None,
    description: str = "",
    schedule: str = MaterialiseSchedule.NONE,
) -> SavedSegment:
    if segment.tenant_id != tenant.pk:
        raise SegmentError(_("No such segment."))
    segment.name = _check(tenant, name, rule, exclude_id=segment.pk)
    segment.owner = _check_owner(tenant, owner)
    if schedule not in MaterialiseSchedule.values:
        raise SegmentError(_("Unknown schedule."))
    segment.rule = rule
    segment.description = description
    segment.schedule = schedule
    segment.save()
    return segment


def segment_archive(*, tenant: Tenant, segment: SavedSegment, archived: bool = True) -> None:
    SavedSegment.objects.filter(tenant=tenant, pk=segment.pk).update(is_archived=archived)


def segment_materialise(
    *, tenant: Tenant, segment: SavedSegment, run: SegmentationRun | None = None
) -> SegmentSnapshot:
    """Write a snapshot of who is in the segment now (one INSERT … SELECT)."""
    if connection.vendor != "postgresql":
        return _materialise_portable(tenant=tenant, segment=segment, run=run)
    if run is None:
        from segmentation.selectors import current_run

        run = current_run(tenant=tenant)
    members = rules.compile_rule(tenant=tenant, rule=segment.rule, run=run)
    now = timezone.now()
    with transaction.atomic():
        snapshot = SegmentSnapshot.objects.create(
            tenant=tenant, segment=segment, taken_at=now, run=run
        )
        select_sql, params = members.order_by().values("pk").query.sql_with_params()
        # One statement: insert the members and sum their value in the run from the
        # inserted rows (joined by the score's (customer, run) index).
        insert = (
            "WITH ins AS (INSERT INTO segmentation_segmentmembership "  # noqa: S608
            "(tenant_id, snapshot_id, customer_id) "
            f"SELECT %s, %s, m.* FROM ({select_sql}) m RETURNING customer_id) "
            "SELECT COUNT(*), COALESCE(SUM(s.clv), 0) FROM ins "
            "LEFT JOIN segmentation_customerscore s ON s.customer_id = ins.customer_id "
            "AND s.run_id = %s AND s.tenant_id = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                insert, (tenant.pk, snapshot.pk, *params, run.pk if run else None, tenant.pk)
            )
            row = cursor.fetchone()
        size, total = int(row[0]), Decimal(row[1])
        snapshot.size = size
        snapshot.total_clv = total
        snapshot.save(update_fields=["size", "total_clv"])
        SavedSegment.objects.filter(tenant=tenant, pk=segment.pk).update(
            last_materialised_at=now, last_size=size, last_value=total
        )
    segment.last_materialised_at, segment.last_size, segment.last_value = now, size, total
    return snapshot


def _materialise_portable(
    *, tenant: Tenant, segment: SavedSegment, run: SegmentationRun | None = None
) -> SegmentSnapshot:
    """:func:`segment_materialise` for databases without ``INSERT … RETURNING`` in a
    WITH clause (SQLite): the same INSERT … SELECT, then the count and value summed
    over the snapshot's rows in a second statement."""
    if run is None:
        from segmentation.selectors import current_run

        run = current_run(tenant=tenant)
    members = rules.compile_rule(tenant=tenant, rule=segment.rule, run=run)
    now = timezone.now()
    with transaction.atomic():
        snapshot = SegmentSnapshot.objects.create(
            tenant=tenant, segment=segment, taken_at=now, run=run
        )
        select_sql, params = members.order_by().values("pk").query.sql_with_params()
        insert = (
            "INSERT INTO segmentation_segmentmembership "  # noqa: S608
            "(tenant_id, snapshot_id, customer_id) "
            f"SELECT %s, %s, m.* FROM ({select_sql}) m"
        )
        with connection.cursor() as cursor:
            cursor.execute(insert, (tenant.pk, snapshot.pk, *params))
        size = SegmentMembership.objects.filter(tenant=tenant, snapshot=snapshot).count()
        total = Decimal(0)
        if run is not None:
            value = CustomerScore.objects.filter(
                tenant=tenant,
                run=run,
                customer_id__in=SegmentMembership.objects.filter(
                    tenant=tenant, snapshot=snapshot
                ).values("customer_id"),
            ).aggregate(total=Sum("clv"))["total"]
            # SQLite sums decimals as floats: back to kuruş, as PostgreSQL's numeric sum.
            total = Decimal(value or 0).quantize(Decimal("0.01"))
        snapshot.size = size
        snapshot.total_clv = total
        snapshot.save(update_fields=["size", "total_clv"])
        SavedSegment.objects.filter(tenant=tenant, pk=segment.pk).update(
            last_materialised_at=now, last_size=size, last_value=total
        )
    segment.last_materialised_at, segment.last_size, segment.last_value = now, size, total
    return snapshot


def materialise_after_run(*, tenant: Tenant, run: SegmentationRun) -> list[SegmentSnapshot]:
    """After a segmentation run: a snapshot of every live segment against that run.

    A segment whose rule no longer compiles (e.g. a deleted branch) is skipped, so one
    broken segment does not hold up the others.
    """
    done = []
    for segment in SavedSegment.objects.filter(tenant=tenant, is_archived=False).order_by("pk"):
        try:
            done.append(segment_materialise(tenant=tenant, segment=segment, run=run))
        except rules.RuleError:
            continue
    return done


def due_segments(*, tenant: Tenant, now: Any = None) -> QuerySet[SavedSegment]:
    """Scheduled segments whose last snapshot is older than their period."""
    now = now or timezone.now()
    # A little slack so a beat that fires a few minutes early still counts.
    daily = now - timedelta(hours=23)
    weekly = now - timedelta(days=7) + timedelta(hours=1)
    return SavedSegment.objects.filter(tenant=tenant, is_archived=False).filter(
        Q(schedule=MaterialiseSchedule.DAILY)
        & (Q(last_materialised_at__isnull=True) | Q(last_materialised_at__lte=daily))
        | Q(schedule=MaterialiseSchedule.WEEKLY)
        & (Q(last_materialised_at__isnull=True) | Q(last_materialised_at__lte=weekly))
    )


def materialise_due(*, tenant: Tenant) -> int:
    count = 0
    for segment in due_segments(tenant=tenant):
        try:
            segment_materialise(tenant=tenant, segment=segment)
        except rules.RuleError:
            continue
        count += 1
    return count
