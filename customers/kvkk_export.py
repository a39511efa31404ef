"""The customers app's personal data, for the KVKK export (consent.kvkk.export)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _

from consent.kvkk.export import declare_not_personal, register_section, values
from crm.models import Tenant
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    CustomerNameWord,
    DuplicatePair,
    Email,
    ImportMapping,
    Interaction,
    InteractionParticipant,
    MergeLog,
    Phone,
    Purchase,
    PurchaseLine,
    RiskFlag,
)


@register_section("customer", _("Customer record"), covers=[Customer, CustomerNameWord])
def _customer(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        Customer.objects.filter(tenant=tenant, pk__in=ids),
        "customer_number",
        "kind",
        "first_name",
        "last_name",
        "tckn",
        "birth_date",
        "gender",
        "trade_name",
        "tax_id",
        "tax_office",
        "sector",
        "preferred_channel",
        "preferred_language",
        "home_branch__name",
        "source",
        "created_at",
        "merged_into__customer_number",
        "anonymised_at",
    )


@register_section(
    "contact_points", _("Phones, e-mails and addresses"), covers=[Phone, Email, Address]
)
def _contact_points(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    for row in values(
        Phone.objects.filter(tenant=tenant, customer_id__in=ids),
        "e164", "is_mobile", "is_primary", "is_verified", "source", "created_at",
    ):  # fmt: skip
        yield {"kind": "phone", **row}
    for row in values(
        Email.objects.filter(tenant=tenant, customer_id__in=ids),
        "address", "is_primary", "is_verified", "source", "created_at",
    ):  # fmt: skip
        yield {"kind": "email", **row}
    for row in values(
        Address.objects.filter(tenant=tenant, customer_id__in=ids),
        "line", "district", "province", "postal_code", "is_primary", "source", "created_at",
    ):  # fmt: skip
        yield {"kind": "address", **row}


@register_section("company_contacts", _("Company contact people"), covers=[ContactPerson])
def _contacts(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        ContactPerson.objects.filter(tenant=tenant, company_id__in=ids),
        "first_name", "last_name", "role", "title", "is_active", "created_at",
    )  # fmt: skip


@register_section("purchases", _("Purchases and returns"), covers=[Purchase, PurchaseLine])
def _purchases(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in values(
        PurchaseLine.objects.filter(tenant=tenant, purchase__customer_id__in=ids),
        "purchase_id", "product__name", "quantity", "unit_price", "discount_amount", "line_total",
    ):  # fmt: skip
        lines.setdefault(line.pop("purchase_id"), []).append(line)
    for row in values(
        Purchase.objects.filter(tenant=tenant, customer_id__in=ids).order_by("purchased_at"),
        "id", "purchased_at", "branch__name", "touchpoint", "total_amount", "discount_amount",
        "is_return", "external_ref",
    ):  # fmt: skip
        yield {**row, "lines": lines.get(row["id"], [])}


@register_section(
    "interactions", _("Contact history"), covers=[Interaction, InteractionParticipant]
)
def _interactions(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        Interaction.objects.filter(tenant=tenant, customer_id__in=ids).order_by("occurred_at"),
        "occurred_at", "touchpoint", "subject", "notes", "outcome", "branch__name",
        "follow_up_on", "next_step",
    )  # fmt: skip


@register_section("complaints", _("Complaints"), covers=[Complaint])
def _complaints(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        Complaint.objects.filter(tenant=tenant, customer_id__in=ids),
        "subject", "description", "status", "opened_at", "due_on", "resolved_at", "resolution",
    )  # fmt: skip


@register_section("risk_flags", _("Risk flags"), covers=[RiskFlag])
def _risk_flags(tenant: Tenant, ids: list[int]) -> Iterable[dict[str, Any]]:
    return values(
        RiskFlag.objects.filter(tenant=tenant, customer_id__in=ids), "kind", "note", "set_at"
    )


declare_not_personal(
    MergeLog,
    "an internal undo record; its snapshot repeats data exported above and is deleted on erasure",
)
declare_not_personal(
    DuplicatePair,
    "a score between two records of ours; nothing beyond the records themselves",
)
declare_not_personal(ImportMapping, "column names of uploaded files, not about any person")
