"""The personal-data access log belongs in a person's export (who saw their data)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _

from consent.kvkk.export import register_section, values
from crm.models import PersonalDataAccess, Tenant


@register_section("access_log", _("Who opened this person's data"), covers=[PersonalDataAccess])
def _access_log(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        PersonalDataAccess.objects.filter(
            tenant=tenant, subject_type="customer", subject_id__in=ids
        ).order_by("at"),
        "at", "action", "user__email", "path",
    )  # fmt: skip
