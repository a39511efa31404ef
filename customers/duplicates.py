"""The duplicate review queue: filled by the batch finder, emptied by people.

A run stores the pairs it scored above the review threshold; decisions already
taken (merged, not a duplicate) are kept, so a pair someone rejected is never asked
about again. High-confidence clusters can be merged in one go by an admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from crm.models import Job, Tenant, User
from crm.tenancy import ensure_same_tenant
from customers.merge import customer_merge
from customers.models import Customer, DuplicatePair, Email, Phone

# Scores are log2 likelihood ratios (customers.dedup; its match threshold is 12 bits).
# The queue shows pairs from REVIEW_SCORE up; "merge all confident" takes CONFIDENT_SCORE.
REVIEW_SCORE = 8.0
CONFIDENT_SCORE = 20.0


@dataclass(frozen=True)
class FoundPair:
    left: int
    right: int
    score: float
    evidence: list[str]


@transaction.atomic
def duplicate_pairs_store(
    *, tenant: Tenant, job: Job | None, pairs: Iterable[FoundPair]
) -> dict[str, int]:
    """Put a run's pairs in the queue; returns how many are new, updated and dropped."""
    existing = {(p.left_id, p.right_id): p for p in DuplicatePair.objects.filter(tenant=tenant)}
    seen, new, updated = set(), [], 0
    for pair in pairs:
        left, right = sorted((pair.left, pair.right))
        seen.add((left, right))
        known = existing.get((left, right))
        if known is None:
            new.append(
                DuplicatePair(
                    tenant=tenant,
                    left_id=left,
                    right_id=right,
                    score=pair.score,
                    evidence=pair.evidence,
                    found_by=job,
                )
            )
        elif known.status == DuplicatePair.Status.PENDING or (
            known.status == DuplicatePair.Status.SKIPPED
        ):
            known.score, known.evidence, known.found_by = pair.score, pair.evidence, job
            known.status = DuplicatePair.Status.PENDING
            known.save(update_fields=["score", "evidence", "found_by", "status"])
            updated += 1
    DuplicatePair.objects.bulk_create(new, batch_size=1000)
    stale = [
        p.pk
        for key, p in existing.items()
        if key not in seen and p.status == DuplicatePair.Status.PENDING
    ]
    DuplicatePair.objects.filter(tenant=tenant, pk__in=stale).delete()
    return {"new": len(new), "updated": updated, "dropped": len(stale)}


def duplicate_queue(*, tenant: Tenant) -> QuerySet[DuplicatePair]:
    customers = Customer.objects.filter(tenant=tenant).select_related("home_branch")
    return (
        DuplicatePair.objects.filter(
            tenant=tenant,
            status=DuplicatePair.Status.PENDING,
            left__merged_into__isnull=True,
            right__merged_into__isnull=True,
        )
        .prefetch_related(
            Prefetch("left", queryset=customers),
            Prefetch("right", queryset=customers),
            Prefetch("left__phones", queryset=Phone.objects.filter(tenant=tenant)),
            Prefetch("right__phones", queryset=Phone.objects.filter(tenant=tenant)),
            Prefetch("left__emails", queryset=Email.objects.filter(tenant=tenant)),
            Prefetch("right__emails", queryset=Email.objects.filter(tenant=tenant)),
        )
        .order_by("-score")
    )


@transaction.atomic
def duplicate_pair_decide(
    *, tenant: Tenant, actor: User, pair: DuplicatePair, status: str
) -> DuplicatePair:
    ensure_same_tenant(tenant, pair)
    if status not in (DuplicatePair.Status.NOT_DUPLICATE, DuplicatePair.Status.SKIPPED):
        raise ValidationError("merge through the merge screen")
    pair.status, pair.decided_by, pair.decided_at = status, actor, timezone.now()
    pair.save(update_fields=["status", "decided_by", "decided_at"])
    return pair


def confident_clusters(
    *, tenant: Tenant, min_score: float = CONFIDENT_SCORE
) -> list[list[Customer]]:
    """Groups of records joined by confident pending pairs, oldest record first."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    pairs = duplicate_queue(tenant=tenant).filter(score__gte=min_score)
    for pair in pairs.values_list("left_id", "right_id"):
        parent[find(pair[0])] = find(pair[1])
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(find(node), []).append(node)
    customers = Customer.objects.in_bulk([n for nodes in groups.values() for n in nodes])
    clusters = []
    for nodes in groups.values():
        members = sorted(
            (customers[n] for n in nodes if n in customers), key=lambda c: (c.created_at, c.pk)
        )
        if len(members) > 1:
            clusters.append(members)
    return clusters


def duplicates_merge_confident(
    *, tenant: Tenant, actor: User, min_score: float = CONFIDENT_SCORE
) -> int:
    """Merge every confident cluster into its oldest record; returns records merged away.

    Each merge is its own transaction with its own merge log, so each can be undone.
    """
    merged = 0
    for cluster in confident_clusters(tenant=tenant, min_score=min_score):
        keep = cluster[0]
        for drop in cluster[1:]:
            keep.refresh_from_db()
            drop.refresh_from_db()
            if drop.merged_into_id is not None or keep.merged_into_id is not None:
                continue
            try:
                customer_merge(tenant=tenant, actor=actor, keep=keep, drop=drop, choices={})
            except ValidationError:
                continue  # e.g. a person and a company: left for a person to decide
            merged += 1
    return merged
