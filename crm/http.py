"""What tenant views receive, and how they declare the permission they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest

from crm.models import Membership, Tenant, User
from crm.permissions import Perm

F = TypeVar("F", bound=Callable[..., Any])


class TenantRequest(HttpRequest):
    """An HttpRequest after TenantMiddleware: tenant and membership are set."""

    user: User
    tenant: Tenant
    membership: Membership
    htmx: Any  # django_htmx.middleware.HtmxDetails


def tenant_view(permission: Perm | None = None, /, **by_method: Perm) -> Callable[[F], F]:
    """Declare what a tenant page needs: ``@tenant_view(Perm.X)`` or
    ``@tenant_view(GET=Perm.X, POST=Perm.Y)``. TenantMiddleware enforces it.
    """
    if (permission is None) == (not by_method):
        raise TypeError("give one permission or a permission per method")
    declared: Perm | dict[str, Perm] = permission if permission is not None else by_method

    def decorate(view: F) -> F:
        view.required_permission = declared  # type: ignore[attr-defined]
        return view

    return decorate
