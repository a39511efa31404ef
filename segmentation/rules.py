"""Segment rules: a JSON tree compiled to one SQL queryset over the tenant's customers.

A rule is a group::

    {"match": "all" | "any", "negate": false, "conditions": [<condition or group>, ...]}

and a condition is ``{"field": <name>, "negate": false, ...parameters}``; see
:data:`CONDITIONS` for the fields and their parameters. :func:`compile_rule`
validates the tree (raising :class:`RuleError` with a message for people) and returns
a ``Customer`` queryset; nothing is loaded into Python. Conditions on scores (RFM,
value tier, cluster, CLV, p_alive, features) read the tenant's *current* run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Branch, Tenant
from customers.models import (
    Address,
    Complaint,
    Customer,
    Interaction,
    Product,
    ProductCategory,
    PurchaseLine,
    RiskFlag,
    Touchpoint,
)
from segmentation.models import CustomerScore, RfmSegment, SegmentationRun, ValueTier

MAX_DEPTH = 4
MAX_CONDITIONS = 40
CONSENT_CHANNELS = ("MESAJ", "ARAMA", "EPOSTA")
# Score columns the "feature" condition may range over.
FEATURES: dict[str, Promise] = {
    "recency_days": gettext_lazy("Days since last purchase"),
    "frequency": gettext_lazy("Purchases"),
    "monetary": gettext_lazy("Total spent"),
    "average_basket": gettext_lazy("Average basket"),
    "discount_share": gettext_lazy("Discount share"),
    "return_rate": gettext_lazy("Return rate"),
    "tenure_days": gettext_lazy("Days since first purchase"),
    "complaint_count": gettext_lazy("Complaints"),
    "days_since_contact": gettext_lazy("Days since last contact"),
    "weekend_share": gettext_lazy("Weekend share"),
    "evening_share": gettext_lazy("Evening share"),
    "expected_purchases_90": gettext_lazy("Expected purchases (90 days)"),
}


@dataclass(frozen=True)
class ConditionSpec:
    label: Promise
    # What the editor asks for: "choices" (a list), "range" (min/max), "period", "none".
    input: str


CONDITIONS: dict[str, ConditionSpec] = {
    "province": ConditionSpec(gettext_lazy("Province (il)"), "choices"),
    "district": ConditionSpec(gettext_lazy("District (ilçe)"), "choices"),
    "home_branch": ConditionSpec(gettext_lazy("Home branch"), "choices"),
    "age": ConditionSpec(gettext_lazy("Age"), "range"),
    "kind": ConditionSpec(gettext_lazy("Customer type"), "choices"),
    "rfm_segment": ConditionSpec(gettext_lazy("RFM segment"), "choices"),
    "value_tier": ConditionSpec(gettext_lazy("Value tier"), "choices"),
    "cluster": ConditionSpec(gettext_lazy("Behaviour cluster"), "choices"),
    "clv": ConditionSpec(gettext_lazy("Lifetime value"), "range"),
    "p_alive": ConditionSpec(gettext_lazy("Probability still active"), "range"),
    "feature": ConditionSpec(gettext_lazy("Purchase behaviour"), "range"),
    "purchased_category": ConditionSpec(gettext_lazy("Bought from category"), "period"),
    "interaction": ConditionSpec(gettext_lazy("Had a contact"), "period"),
    "open_complaint": ConditionSpec(gettext_lazy("Has an open complaint"), "none"),
    "risk_flag": ConditionSpec(gettext_lazy("Has a risk flag"), "choices"),
    "consent": ConditionSpec(gettext_lazy("May be messaged"), "choices"),
    "segment": ConditionSpec(gettext_lazy("Member of saved segment"), "choices"),
}


class RuleError(ValueError):
    """A rule that cannot be compiled; the message is for the person editing it."""


def empty_rule() -> dict[str, Any]:
    return {"match": "all", "negate": False, "conditions": []}


@dataclass
class _Context:
    tenant: Tenant
    run: SegmentationRun | None
    today: date
    count: int = 0


def _values(cond: dict[str, Any], name: str = "values") -> list[Any]:
    values = cond.get(name)
    if isinstance(values, str | int):
        values = [values]
    if not isinstance(values, list) or not values:
        raise RuleError(
            _("Condition “%(field)s” needs at least one value.") % {"field": _label(cond)}
        )
    return values


def _label(cond: dict[str, Any]) -> str:
    spec = CONDITIONS.get(str(cond.get("field")))
    return str(spec.label) if spec else str(cond.get("field"))


def _number(cond: dict[str, Any], key: str) -> Decimal | None:
    raw = cond.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError) as bad:
        raise RuleError(
            _("Condition “%(field)s”: “%(value)s” is not a number.")
            % {"field": _label(cond), "value": raw}
        ) from bad
    if not value.is_finite():
        raise RuleError(_("Condition “%(field)s”: give a finite number.") % {"field": _label(cond)})
    return value


def _range(cond: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    low, high = _number(cond, "min"), _number(cond, "max")
    if low is None and high is None:
        raise RuleError(
            _("Condition “%(field)s” needs a minimum or a maximum.") % {"field": _label(cond)}
        )
    if low is not None and high is not None and low > high:
        raise RuleError(
            _("Condition “%(field)s”: the minimum is above the maximum.") % {"field": _label(cond)}
        )
    return low, high


def _days(cond: dict[str, Any]) -> int | None:
    raw = cond.get("days")
    if raw is None or raw == "":
        return None
    try:
        days = int(raw)
    except (TypeError, ValueError) as bad:
        raise RuleError(
            _("Condition “%(field)s”: the period must be a whole number of days.")
            % {"field": _label(cond)}
        ) from bad
    if days < 1 or days > 3650:
        raise RuleError(
            _("Condition “%(field)s”: the period must be between 1 and 3650 days.")
            % {"field": _label(cond)}
        )
    return days


def _check_choices(cond: dict[str, Any], values: list[Any], allowed: set[str]) -> list[str]:
    out = [str(v) for v in values]
    unknown = [v for v in out if v not in allowed]
    if unknown:
        raise RuleError(
            _("Condition “%(field)s”: unknown value(s) %(values)s.")
            % {"field": _label(cond), "values": ", ".join(unknown)}
        )
    return out


def _ids(cond: dict[str, Any], values: list[Any]) -> list[int]:
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError) as bad:
        raise RuleError(
            _("Condition “%(field)s”: choose from the list.") % {"field": _label(cond)}
        ) from bad


def _score_q(ctx: _Context, cond: dict[str, Any], **lookups: Any) -> Q:
    if ctx.run is None:
        raise RuleError(
            _("Condition “%(field)s” needs a finished segmentation run; start one first.")
            % {"field": _label(cond)}
        )
    scores = CustomerScore.objects.filter(
        tenant=ctx.tenant, run=ctx.run, customer=OuterRef("pk"), **lookups
    )
    return Q(Exists(scores))


def _range_lookups(field: str, low: Any, high: Any) -> dict[str, Any]:
    lookups: dict[str, Any] = {}
    if low is not None:
        lookups[f"{field}__gte"] = low
    if high is not None:
        lookups[f"{field}__lte"] = high
    return lookups


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _since(ctx: _Context, days: int | None) -> Any:
    if days is None:
        return None
    return timezone.now() - timedelta(days=days)


def _condition(ctx: _Context, cond: dict[str, Any]) -> Q:
    field = cond.get("field")
    tenant = ctx.tenant
    if field == "province":
        values = [str(v).zfill(2) for v in _values(cond)]
        return Q(
            Exists(
                Address.objects.filter(
                    tenant=tenant, customer=OuterRef("pk"), is_primary=True, province__in=values
                )
            )
        )
    if field == "district":
        values = [str(v).strip() for v in _values(cond)]
        district = Q()
        for value in values:
            district |= Q(district__iexact=value)
        return Q(
            Exists(
                Address.objects.filter(
                    district, tenant=tenant, customer=OuterRef("pk"), is_primary=True
                )
            )
        )
    if field == "home_branch":
        ids = _ids(cond, _values(cond))
        known = set(Branch.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", flat=True))
        if len(known) != len(set(ids)):
            raise RuleError(_("Condition “Home branch”: unknown branch."))
        return Q(home_branch_id__in=ids)
    if field == "age":
        low, high = _range(cond)
        q = Q(birth_date__isnull=False)
        if low is not None:
            q &= Q(birth_date__lte=_years_ago(ctx.today, int(low)))
        if high is not None:
            q &= Q(birth_date__gt=_years_ago(ctx.today, int(high) + 1))
        return q
    if field == "kind":
        return Q(kind__in=_check_choices(cond, _values(cond), set(Customer.Kind.values)))
    if field == "rfm_segment":
        values = _check_choices(cond, _values(cond), set(RfmSegment.values))
        return _score_q(ctx, cond, rfm_segment__in=values)
    if field == "value_tier":
        values = _check_choices(cond, _values(cond), set(ValueTier.values))
        return _score_q(ctx, cond, value_tier__in=values)
    if field == "cluster":
        labels = [str(v) for v in _values(cond)]
        return _score_q(ctx, cond, cluster__label__in=labels)
    if field == "clv":
        low, high = _range(cond)
        return _score_q(ctx, cond, **_range_lookups("clv", low, high))
    if field == "p_alive":
        low, high = _range(cond)
        return _score_q(
            ctx,
            cond,
            **_range_lookups(
                "p_alive",
                float(low) if low is not None else None,
                float(high) if high is not None else None,
            ),
        )
    if field == "feature":
        name = cond.get("name")
        if name not in FEATURES:
            raise RuleError(_("Condition “Purchase behaviour”: choose a measure."))
        low, high = _range(cond)
        return _score_q(ctx, cond, **_range_lookups(str(name), low, high))
    if field == "purchased_category":
        category_id = _ids(cond, [cond.get("category")])[0]
        if not ProductCategory.objects.filter(tenant=tenant, pk=category_id).exists():
            raise RuleError(_("Condition “Bought from category”: unknown category."))
        # The category's products as a list of ids (a few dozen): with the category
        # join inside the EXISTS the planner guessed a handful of lines where a
        # million match, and probed purchases line by line (11 s at 10M purchases).
        products = list(
            Product.objects.filter(tenant=tenant)
            .filter(Q(category_id=category_id) | Q(category__parent_id=category_id))
            .values_list("pk", flat=True)
        )
        # The line's own copies of the receipt's customer, time and return flag: one
        # range of the covering index purchaseline_sold_cover per product (customers
        # migration 0009), no join with the purchases.
        lines = PurchaseLine.objects.filter(
            tenant=tenant,
            product_id__in=products or [0],
            customer=OuterRef("pk"),
            is_return=False,
        )
        since = _since(ctx, _days(cond))
        if since is not None:
            lines = lines.filter(purchased_at__gte=since)
        return Q(Exists(lines))
    if field == "interaction":
        touchpoints = cond.get("touchpoints") or []
        if isinstance(touchpoints, str):
            touchpoints = [touchpoints]
        touchpoints = _check_choices(cond, list(touchpoints), set(Touchpoint.values))
        contacts = Interaction.objects.filter(tenant=tenant, customer=OuterRef("pk"))
        if touchpoints:
            contacts = contacts.filter(touchpoint__in=touchpoints)
        since = _since(ctx, _days(cond))
        if since is not None:
            contacts = contacts.filter(occurred_at__gte=since)
        return Q(Exists(contacts))
    if field == "open_complaint":
        return Q(
            Exists(
                Complaint.objects.filter(
                    tenant=tenant,
                    customer=OuterRef("pk"),
                    status__in=[Complaint.Status.OPEN, Complaint.Status.IN_PROGRESS],
                )
            )
        )
    if field == "risk_flag":
        kinds = cond.get("values") or []
        if isinstance(kinds, str):
            kinds = [kinds]
        kinds = _check_choices(cond, list(kinds), set(RiskFlag.Kind.values))
        flags = RiskFlag.objects.filter(
            tenant=tenant, customer=OuterRef("pk"), cleared_at__isnull=True
        )
        if kinds:
            flags = flags.filter(kind__in=kinds)
        return Q(Exists(flags))
    if field == "consent":
        from consent import services as consent_services

        channels = _check_choices(cond, _values(cond), set(CONSENT_CHANNELS))
        q = Q()
        for channel in channels:
            q &= Q(
                pk__in=consent_services.customers_allowed(
                    tenant=tenant, channel_type=channel
                ).values("pk")
            )
        return q
    if field == "segment":
        from segmentation.segment_models import SavedSegment, SegmentMembership, SegmentSnapshot

        segment_id = _ids(cond, [cond.get("segment")])[0]
        if not SavedSegment.objects.filter(tenant=tenant, pk=segment_id).exists():
            raise RuleError(_("Condition “Member of saved segment”: unknown segment."))
        latest = (
            SegmentSnapshot.objects.filter(tenant=tenant, segment_id=segment_id)
            .order_by("-taken_at", "-id")
            .values("pk")[:1]
        )
        if not latest.exists():
            raise RuleError(
                _(
                    "Condition “Member of saved segment”: "
                    "that segment has not been materialised yet."
                )
            )
        return Q(
            Exists(
                SegmentMembership.objects.filter(
                    tenant=tenant, snapshot_id=latest[0]["pk"], customer=OuterRef("pk")
                )
            )
        )
    raise RuleError(_("Unknown condition “%(field)s”.") % {"field": field})


def _group(ctx: _Context, node: Any, depth: int) -> Q:
    if not isinstance(node, dict):
        raise RuleError(_("A rule must be a group of conditions."))
    if depth > MAX_DEPTH:
        raise RuleError(_("Groups may be nested at most %(n)d deep.") % {"n": MAX_DEPTH})
    if "field" in node:
        ctx.count += 1
        if ctx.count > MAX_CONDITIONS:
            raise RuleError(_("A rule may have at most %(n)d conditions.") % {"n": MAX_CONDITIONS})
        q = _condition(ctx, node)
    else:
        match = node.get("match", "all")
        if match not in ("all", "any"):
            raise RuleError(_("A group matches “all” or “any” of its conditions."))
        children = node.get("conditions", [])
        if not isinstance(children, list):
            raise RuleError(_("A group's conditions must be a list."))
        # An empty group sets no condition: everyone. Said explicitly, because an empty
        # Q() vanishes when combined ("X or (empty)" would become just X).
        q = Q() if children else Q(pk__isnull=False)
        for child in children:
            part = _group(ctx, child, depth + 1)
            q = (q & part) if match == "all" else (q | part)
    if node.get("negate"):
        # ~Q() would match nothing; "not (everything)" is no one.
        return ~q if q else Q(pk__in=[])
    return q


def compile_rule(
    *, tenant: Tenant, rule: Any, run: SegmentationRun | None = None, today: date | None = None
) -> QuerySet[Customer]:
    """The customers ``rule`` selects (active records only), as one lazy queryset.

    ``run`` defaults to the tenant's current run. Raises :class:`RuleError`.
    """
    if run is None:
        from segmentation.selectors import current_run

        run = current_run(tenant=tenant)
    ctx = _Context(tenant=tenant, run=run, today=today or timezone.localdate())
    q = _group(ctx, rule, 0)
    return Customer.objects.filter(q, tenant=tenant, merged_into__isnull=True)


def validate_rule(*, tenant: Tenant, rule: Any) -> None:
    """Raise :class:`RuleError` if ``rule`` would not compile now."""
    compile_rule(tenant=tenant, rule=rule)
