from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from crm import selectors
from crm.navigation import navigation_for
from crm.permissions import permissions_of


def tenancy(request: HttpRequest) -> dict[str, Any]:
    """Current tenant, the user's other tenants and the role's navigation, for the layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    context: dict[str, Any] = {
        "user_memberships": getattr(request, "user_memberships", None)
        or selectors.memberships_for_user(user=user),
    }
    if membership is not None:
        permissions = permissions_of(membership.role)
        context.update(
            tenant=membership.tenant,
            membership=membership,
            perms_tekil={p.value for p in permissions},
            navigation=navigation_for(
                tenant=membership.tenant, permissions=permissions, path=request.path
            ),
        )
    return context
