"""The menu, by role: each entry names the permission it needs.

Later apps append their entries here so that one place decides what each role sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.models import Tenant
from crm.permissions import Perm


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str | Promise
    url_name: str
    permission: Perm
    icon: str


NAVIGATION: list[NavEntry] = [
    NavEntry("home", _("Overview"), "dashboards:home", Perm.VIEW_HOME, "speedometer2"),
    NavEntry("customers", _("Customers"), "customers:list", Perm.VIEW_CUSTOMERS, "people-fill"),
    NavEntry(
        "segmentation_runs",
        _("Segmentation runs"),
        "segmentation_runs:list",
        Perm.VIEW_SEGMENTS,
        "diagram-3",
    ),
    NavEntry("segments", _("Segments"), "segments:list", Perm.VIEW_SEGMENTS, "funnel"),
    NavEntry("branches", _("Branches"), "crm:branches", Perm.MANAGE_BRANCHES, "shop"),
    NavEntry("jobs", _("Background jobs"), "crm:jobs", Perm.VIEW_JOBS, "hourglass-split"),
    NavEntry("members", _("Members"), "crm:members", Perm.MANAGE_MEMBERS, "people"),
    NavEntry("settings", _("Company settings"), "crm:settings", Perm.MANAGE_SETTINGS, "gear"),
    NavEntry("api_keys", _("API keys"), "crm:api_keys", Perm.MANAGE_SETTINGS, "key"),
    NavEntry(
        "consent_settings",
        _("Consent settings"),
        "consent:settings",
        Perm.MANAGE_SETTINGS,
        "shield-check",
    ),
    NavEntry("iys_sync", _("İYS sync"), "iys:sync", Perm.MANAGE_PRIVACY, "arrow-repeat"),
    NavEntry(
        "kvkk_requests", _("KVKK requests"), "kvkk:requests", Perm.MANAGE_PRIVACY, "person-lock"
    ),
    NavEntry(
        "privacy_texts",
        _("Notices & explicit consent"),
        "kvkk:texts",
        Perm.MANAGE_PRIVACY,
        "file-earmark-text",
    ),
    NavEntry("retention", _("Retention"), "kvkk:retention", Perm.MANAGE_PRIVACY, "trash3"),
    NavEntry("access_log", _("Access log"), "crm:access_log", Perm.VIEW_ACCESS_LOG, "eye"),
]


@dataclass(frozen=True)
class NavLink:
    key: str
    label: str | Promise
    url: str
    icon: str
    active: bool


def navigation_for(*, tenant: Tenant, permissions: frozenset[Perm], path: str) -> list[NavLink]:
    links = []
    for entry in NAVIGATION:
        if entry.permission not in permissions:
            continue
        url = reverse(entry.url_name, kwargs={"tenant_slug": tenant.slug})
        active = path == url if entry.key == "home" else path.startswith(url)
        links.append(NavLink(entry.key, entry.label, url, entry.icon, active))
    return links
