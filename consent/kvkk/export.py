"""Everything held about one person, gathered from every app (KVKK Art. 11 access).

Each app declares its personal data in ``<app>/kvkk_export.py``: a section per kind
of record (``register_section``) naming the models it covers, and the models that
relate to a customer but hold nothing personal (``declare_not_personal``, with the
reason). ``tests/consent/test_kvkk.py`` fails for any model related to a customer
that is in neither list, so a new personal-data model cannot be forgotten here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.module_loading import autodiscover_modules

from crm.models import Tenant
from customers.models import Customer
from customers.selectors import customer_ids_with_merged

SectionRows = Callable[[Tenant, list[int]], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Section:
    key: str
    title: Any
    models: tuple[type[models.Model], ...]
    rows: SectionRows


_SECTIONS: dict[str, Section] = {}
_NOT_PERSONAL: dict[type[models.Model], str] = {}


def register_section(
    key: str, title: Any, *, covers: Iterable[type[models.Model]]
) -> Callable[[SectionRows], SectionRows]:
    """Register ``rows(tenant, customer_ids)`` as the export section ``key``."""

    def register(rows: SectionRows) -> SectionRows:
        _SECTIONS[key] = Section(key, title, tuple(covers), rows)
        return rows

    return register


def declare_not_personal(model: type[models.Model], reason: str) -> None:
    _NOT_PERSONAL[model] = reason


def sections() -> list[Section]:
    autodiscover_modules("kvkk_export")
    return list(_SECTIONS.values())


def covered_models() -> set[type[models.Model]]:
    return {model for section in sections() for model in section.models}


def not_personal_models() -> dict[type[models.Model], str]:
    sections()
    return dict(_NOT_PERSONAL)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def customer_export(*, tenant: Tenant, customer: Customer) -> dict[str, Any]:
    """Every section for the customer and the records merged into it, as plain data."""
    ids = customer_ids_with_merged(tenant=tenant, customer_ids=[customer.pk])
    out: dict[str, Any] = {
        "tenant": tenant.name,
        "customer_number": customer.customer_number,
        "generated_at": datetime.now().astimezone().isoformat(),
        "sections": [],
    }
    for section in sections():
        rows = [_plain(dict(row)) for row in section.rows(tenant, ids)]
        out["sections"].append({"key": section.key, "title": str(section.title), "rows": rows})
    return out


def values(queryset: models.QuerySet[Any], *fields: str) -> list[dict[str, Any]]:
    """Rows of a queryset as dicts (the shape every section returns)."""
    return list(queryset.values(*fields))
