"""Roles and what each may do: the one permission matrix of the product.

The server enforces it on every tenant URL (crm.middleware.TenantMiddleware reads
the permission a view declares); the UI reads the same matrix to hide what a role
cannot use. Later apps add their permissions here, not in their views.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Company admin")
    MARKETING = "marketing", _("Marketing")
    BRANCH_STAFF = "branch_staff", _("Branch staff")
    CALL_CENTRE = "call_centre", _("Call centre")


class Perm(StrEnum):
    VIEW_HOME = "view_home"
    VIEW_CUSTOMERS = "view_customers"
    EDIT_CUSTOMERS = "edit_customers"
    MERGE_CUSTOMERS = "merge_customers"
    IMPORT_CUSTOMERS = "import_customers"
    EXPORT_DATA = "export_data"
    RECORD_CONSENT = "record_consent"
    MANAGE_PRIVACY = "manage_privacy"
    VIEW_SEGMENTS = "view_segments"
    MANAGE_SEGMENTS = "manage_segments"
    MANAGE_CAMPAIGNS = "manage_campaigns"
    APPROVE_CAMPAIGNS = "approve_campaigns"
    VIEW_DASHBOARDS = "view_dashboards"
    VIEW_JOBS = "view_jobs"
    MANAGE_BRANCHES = "manage_branches"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_ACCESS_LOG = "view_access_log"


_FRONT_LINE = {
    Perm.VIEW_HOME,
    Perm.VIEW_CUSTOMERS,
    Perm.EDIT_CUSTOMERS,
    Perm.RECORD_CONSENT,
    Perm.VIEW_JOBS,
}

PERMISSION_MATRIX: dict[Role, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.ADMIN: frozenset(Perm),
    Role.MARKETING: frozenset(
        {
            Perm.VIEW_HOME,
            Perm.VIEW_CUSTOMERS,
            Perm.EXPORT_DATA,
            Perm.VIEW_SEGMENTS,
            Perm.MANAGE_SEGMENTS,
            Perm.MANAGE_CAMPAIGNS,
            Perm.APPROVE_CAMPAIGNS,
            Perm.VIEW_DASHBOARDS,
            Perm.VIEW_JOBS,
        }
    ),
    Role.BRANCH_STAFF: frozenset(_FRONT_LINE),
    Role.CALL_CENTRE: frozenset(_FRONT_LINE),
}

# Roles that can change who works in the tenant or read personal-data logs must
# protect their accounts with a second factor.
ROLES_REQUIRING_TWO_FACTOR = frozenset({Role.OWNER, Role.ADMIN})


def role_has_permission(role: str, permission: Perm) -> bool:
    try:
        return permission in PERMISSION_MATRIX[Role(role)]
    except ValueError:
        return False


def permissions_of(role: str) -> frozenset[Perm]:
    try:
        return PERMISSION_MATRIX[Role(role)]
    except ValueError:
        return frozenset()


def roles_with(permission: Perm) -> list[Role]:
    return [role for role, perms in PERMISSION_MATRIX.items() if permission in perms]


def assignable_roles(actor_role: str) -> list[Role]:
    """Admins may not create owners; owners may assign every role."""
    if actor_role == Role.OWNER:
        return list(Role)
    if actor_role == Role.ADMIN:
        return [role for role in Role if role != Role.OWNER]
    return []


class ApiScope(StrEnum):
    """What an API key may do. Keys have no role: API views declare ``required_scope``."""

    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    PURCHASES_WRITE = "purchases:write"
    INTERACTIONS_READ = "interactions:read"
    INTERACTIONS_WRITE = "interactions:write"
    COMPLAINTS_WRITE = "complaints:write"
    CONSENTS_READ = "consents:read"
    CONSENTS_WRITE = "consents:write"


API_SCOPE_LABELS: dict[ApiScope, str | Promise] = {
    ApiScope.CUSTOMERS_READ: _("Read customers"),
    ApiScope.CUSTOMERS_WRITE: _("Create and link customers"),
    ApiScope.PURCHASES_WRITE: _("Send purchases"),
    ApiScope.INTERACTIONS_READ: _("Read interactions"),
    ApiScope.INTERACTIONS_WRITE: _("Log interactions"),
    ApiScope.COMPLAINTS_WRITE: _("Open complaints"),
    ApiScope.CONSENTS_READ: _("Ask whether a person may be messaged"),
    ApiScope.CONSENTS_WRITE: _("Record consents"),
}
