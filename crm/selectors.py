"""Reads of the tenancy core."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.db.models import QuerySet

from crm.models import (
    ApiKey,
    Branch,
    Invitation,
    Job,
    Membership,
    PersonalDataAccess,
    Tenant,
    User,
)
from crm.precompiled import precompiled
from crm.tenancy import dangerously_all_tenants


def memberships_for_user(*, user: User) -> list[Membership]:
    """The active memberships of ``user`` across tenants (for login and tenant switch).

    Crosses tenants by nature: it runs before any tenant is chosen, and only ever
    returns the user's own rows.
    """
    with dangerously_all_tenants():
        return _active_memberships(user_id=user.pk)


@precompiled  # on every request to a tenant's pages
def _active_memberships(user_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user_id=user_id, is_active=True, tenant__is_active=True)
        .select_related("tenant", "branch")
        .order_by("tenant__name", "pk")
    )


def branch_list(*, tenant: Tenant, include_inactive: bool = True) -> QuerySet[Branch]:
    branches = Branch.objects.filter(tenant=tenant)
    if not include_inactive:
        branches = branches.filter(is_active=True)
    return branches.order_by("code")


def active_branches(*, tenant: Tenant) -> list[Branch]:
    """The open branches, for a form's choices (on every customer page)."""
    return _active_branches(tenant_id=tenant.pk)


@precompiled
def _active_branches(tenant_id: int) -> QuerySet[Branch]:
    return Branch.objects.filter(tenant_id=tenant_id, is_active=True).order_by("code")


def branch_get(*, tenant: Tenant, branch_id: int) -> Branch:
    return Branch.objects.get(tenant=tenant, pk=branch_id)


def member_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(tenant=tenant)
        .select_related("user", "branch")
        .order_by("-is_active", "user__email")
    )


def member_get(*, tenant: Tenant, membership_id: int) -> Membership:
    return Membership.objects.select_related("user", "branch").get(tenant=tenant, pk=membership_id)


def invitation_list_pending(*, tenant: Tenant) -> list[Invitation]:
    invitations = Invitation.objects.filter(
        tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("branch", "invited_by")
    return [invitation for invitation in invitations if invitation.is_pending]


def invitation_get(*, tenant: Tenant, invitation_id: int) -> Invitation:
    return Invitation.objects.get(tenant=tenant, pk=invitation_id)


def job_list(*, tenant: Tenant, limit: int = 50) -> QuerySet[Job]:
    return (
        Job.objects.filter(tenant=tenant)
        .defer("input_data", "output_data")
        .select_related("created_by")
        .order_by("-created_at")[:limit]
    )


def job_get(*, tenant: Tenant, job_id: int) -> Job:
    return Job.objects.defer("input_data", "output_data").get(tenant=tenant, pk=job_id)


def job_get_with_output(*, tenant: Tenant, job_id: int) -> Job:
    return Job.objects.defer("input_data").get(tenant=tenant, pk=job_id)


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")


def api_key_get(*, tenant: Tenant, apikey_id: int) -> ApiKey:
    return ApiKey.objects.get(tenant=tenant, pk=apikey_id)


def api_key_resolve(*, raw_key: str) -> ApiKey | None:
    """The key that ``raw_key`` (``tk_<prefix>_<secret>``) is, revoked or not; else None.

    Crosses tenants by nature: the key is what names the tenant. Found by its clear
    prefix, then the secret's hash is compared in constant time.
    """
    parts = raw_key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_MARK or len(parts[1]) != API_KEY_PREFIX_LENGTH:
        return None
    prefix, secret = parts[1], parts[2]
    presented = api_key_hash(secret)
    with dangerously_all_tenants():
        candidates = list(
            ApiKey.objects.filter(prefix=prefix, tenant__is_active=True).select_related("tenant")
        )
    for key in candidates:
        if hmac.compare_digest(key.secret_hash, presented):
            return key
    return None


API_KEY_MARK = "tk"
API_KEY_PREFIX_LENGTH = 8


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def branches_by_code(*, tenant: Tenant, codes: set[str]) -> dict[str, Branch]:
    return {b.code: b for b in Branch.objects.filter(tenant=tenant, code__in=codes)}


def access_log(
    *,
    tenant: Tenant,
    user_id: int | None = None,
    subject_ids: list[int] | None = None,
    action: str = "",
    since: Any = None,
    until: Any = None,
) -> QuerySet[PersonalDataAccess]:
    """The personal-data access log, newest first, narrowed by the given filters
    (``until`` is inclusive: the whole day)."""
    entries = PersonalDataAccess.objects.filter(tenant=tenant).select_related("user")
    if user_id:
        entries = entries.filter(user_id=user_id)
    if subject_ids is not None:
        entries = entries.filter(subject_type="customer", subject_id__in=subject_ids)
    if action:
        entries = entries.filter(action=action)
    if since:
        entries = entries.filter(at__date__gte=since)
    if until:
        entries = entries.filter(at__date__lte=until)
    return entries.order_by("-at", "-id")
