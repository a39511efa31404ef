"""Reads of the tenancy core."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import Branch, Invitation, Job, Membership, Tenant, User
from crm.tenancy import dangerously_all_tenants


def memberships_for_user(*, user: User) -> list[Membership]:
    """The active memberships of ``user`` across tenants (for login and tenant switch).

    Crosses tenants by nature: it runs before any tenant is chosen, and only ever
    returns the user's own rows.
    """
    with dangerously_all_tenants():
        return list(
            Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
            .select_related("tenant", "branch")
            .order_by("tenant__name")
        )


def membership_for(*, user: User, tenant_slug: str) -> Membership | None:
    with dangerously_all_tenants():
        return (
            Membership.objects.filter(
                user=user, is_active=True, tenant__slug=tenant_slug, tenant__is_active=True
            )
            .select_related("tenant", "branch")
            .first()
        )


def branch_list(*, tenant: Tenant, include_inactive: bool = True) -> QuerySet[Branch]:
    branches = Branch.objects.filter(tenant=tenant)
    if not include_inactive:
        branches = branches.filter(is_active=True)
    return branches.order_by("code")


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
