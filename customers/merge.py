"""Merging duplicate customers, and undoing a merge.

``customer_merge`` folds the dropped record into the kept one: field-level
survivorship decides each field, every related row is re-pointed to the kept
record, and the dropped record stays (with ``merged_into`` set) so that search
hides it and ``customer_unmerge`` can bring it back. The ``MergeLog`` written for
each merge holds what undo needs: both records' fields before the merge, the ids
of every re-pointed row per table and the contact points' flags before they were
reconciled.

The reads at the end feed the merge screen (side-by-side comparison, match
evidence, row counts) and the merge log page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consent import services as consent_services
from consent.kvkk.models import PrivacyDecision
from consent.models import ConsentEvent
from crm.models import Tenant, User
from crm.tenancy import ensure_same_tenant
from crm.text import matching_key
from customers.matching import Match, score
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    DuplicatePair,
    Email,
    Interaction,
    MergeLog,
    Phone,
    Purchase,
    PurchaseLine,
    RiskFlag,
)
from customers.selectors import incoming_from_customer

KEEP, DROP = "keep", "drop"
SIDES = (KEEP, DROP)
SNAPSHOT_VERSION = 1

PERSON_FIELDS = ("first_name", "last_name", "tckn", "birth_date", "gender")
COMPANY_FIELDS = ("trade_name", "tax_id", "tax_office", "sector", "size")
COMMON_FIELDS = ("preferred_channel", "preferred_language", "home_branch", "source")

# Every table whose rows follow the customer when it is merged: key in the
# snapshot -> (model, foreign key to Customer). PersonalDataAccess is not here on
# purpose: it is a log of who saw whose data and refers to the record by id.
REPOINTED: dict[str, tuple[type[models.Model], str]] = {
    "phone": (Phone, "customer"),
    "email": (Email, "customer"),
    "address": (Address, "customer"),
    "contactperson": (ContactPerson, "company"),
    "purchase": (Purchase, "customer"),
    "interaction": (Interaction, "customer"),
    "complaint": (Complaint, "customer"),
    "riskflag": (RiskFlag, "customer"),
    # What the person was told and agreed to follows them; the latest decision per
    # purpose stays their current will.
    "privacydecision": (PrivacyDecision, "customer"),
    # Records merged into the dropped one earlier now point at the kept one.
    "customer": (Customer, "merged_into"),
}
# Foreign keys to Customer that a merge leaves alone (tests check every other one
# is in REPOINTED, so a new table cannot be forgotten).
# The review queue's pairs are settled (status), not moved: see _settle_review_pairs.
NOT_REPOINTED = {
    (MergeLog, "kept"),
    (MergeLog, "dropped"),
    (DuplicatePair, "left"),
    (DuplicatePair, "right"),
    # The consent ledger is append-only and keyed by recipient: consents follow the
    # contact points that move above (see consent.services.consent_on_customer_merge).
    (ConsentEvent, "customer"),
    # The line's copy of its receipt's customer moves with the receipt.
    (PurchaseLine, "customer"),
}

CONTACT_POINT_MODELS: tuple[type[Phone] | type[Email] | type[Address], ...] = (
    Phone,
    Email,
    Address,
)


def merge_fields(kind: str) -> tuple[str, ...]:
    """The fields a user chooses between when merging two records of ``kind``."""
    own = COMPANY_FIELDS if kind == Customer.Kind.COMPANY else PERSON_FIELDS
    return own + COMMON_FIELDS


def _field(name: str) -> models.Field[Any, Any]:
    field = Customer._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _attname(name: str) -> str:
    return str(_field(name).attname)


def _filled(value: Any) -> bool:
    return value not in (None, "")


def merge_defaults(*, keep: Customer, drop: Customer) -> dict[str, str]:
    """Survivorship per field when the user does not choose: "keep" or "drop".

    A filled value beats an empty one; between two different filled values the
    more recently updated record wins (the kept one on a tie).
    """
    keep_is_newer = (keep.updated_at, keep.created_at) >= (drop.updated_at, drop.created_at)
    defaults = {}
    for name in merge_fields(keep.kind):
        mine, theirs = getattr(keep, _attname(name)), getattr(drop, _attname(name))
        if mine == theirs or not _filled(theirs):
            defaults[name] = KEEP
        elif not _filled(mine):
            defaults[name] = DROP
        else:
            defaults[name] = KEEP if keep_is_newer else DROP
    return defaults


def _resolve_choices(keep: Customer, drop: Customer, choices: dict[str, str]) -> dict[str, str]:
    allowed = merge_fields(keep.kind)
    unknown = sorted(set(choices) - set(allowed))
    if unknown:
        raise ValidationError(
            _("These fields cannot be chosen in a merge: %(fields)s.")
            % {"fields": ", ".join(unknown)}
        )
    if any(side not in SIDES for side in choices.values()):
        raise ValidationError(_("Choose either record for each field."))
    return merge_defaults(keep=keep, drop=drop) | choices


# --- Snapshots ------------------------------------------------------------------------

_SNAPSHOT_FIELDS = [f for f in Customer._meta.concrete_fields if f.name not in ("id", "tenant")]


def _to_json(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _customer_state(customer: Customer) -> dict[str, Any]:
    return {f.attname: _to_json(getattr(customer, f.attname)) for f in _SNAPSHOT_FIELDS}


def _state_values(state: dict[str, Any]) -> dict[str, Any]:
    """Model values from a snapshot, for a queryset update (which keeps updated_at as is)."""
    values = {}
    for f in _SNAPSHOT_FIELDS:
        if f.attname in state:
            raw = state[f.attname]
            values[f.attname] = None if raw is None else f.to_python(raw)
    return values


def _point_key(point: Phone | Email | Address) -> tuple[str, ...]:
    """Identical normalised values: the same phone, e-mail or address."""
    if isinstance(point, Phone):
        return (point.e164,)
    if isinstance(point, Email):
        return (point.address,)
    return (
        matching_key(point.line),
        point.province,
        matching_key(point.district),
        point.postal_code,
    )


def _customer_level(model: type[models.Model], **filters: Any) -> QuerySet[Any]:
    """A customer's own contact points (not those of its contact people)."""
    queryset = model._default_manager.filter(**filters)
    if model is not Address:
        queryset = queryset.filter(contact_person__isnull=True)
    return queryset


# --- Merge ----------------------------------------------------------------------------


def _check_mergeable(keep: Customer, drop: Customer) -> None:
    if keep.pk == drop.pk:
        raise ValidationError(_("A record cannot be merged into itself. Choose another record."))
    for customer in (keep, drop):
        if customer.merged_into_id is not None:
            raise ValidationError(
                _(
                    "%(name)s (#%(number)s) was already merged into another record. "
                    "Open that record instead, or undo the earlier merge first."
                )
                % {"name": customer.display_name, "number": customer.customer_number}
            )
    if keep.kind != drop.kind:
        raise ValidationError(
            _("A person cannot be merged with a company. Add the person as a contact instead.")
        )


def _lock(tenant: Tenant, *customers: Customer) -> list[Customer]:
    """Fresh copies of the customers, row-locked until the transaction ends."""
    by_id = {
        c.pk: c
        # Always in id order, so that two merges of the same pair cannot deadlock.
        for c in Customer.objects.select_for_update()
        .filter(tenant=tenant, pk__in=[c.pk for c in customers])
        .order_by("pk")
    }
    try:
        return [by_id[c.pk] for c in customers]
    except KeyError as missing:
        raise ValidationError(_("This record no longer exists.")) from missing


def _move_contact_points(
    tenant: Tenant,
    model: type[Phone] | type[Email] | type[Address],
    keep: Customer,
    drop: Customer,
) -> list[int]:
    """Re-point the dropped record's points; ids of those moved.

    A customer-level point whose value the kept record already has is not moved
    (it would be a duplicate, and phones and e-mails are unique per owner): it
    stays with the dropped record, and the kept twin inherits its verified and
    primary flags.
    """
    twins = {
        _point_key(point): point for point in _customer_level(model, tenant=tenant, customer=keep)
    }
    moved = []
    for point in model._default_manager.filter(tenant=tenant, customer=drop).order_by("pk"):
        is_customer_level = isinstance(point, Address) or point.contact_person_id is None
        twin = twins.get(_point_key(point)) if is_customer_level else None
        if twin is None:
            moved.append(point.pk)
            continue
        if (point.is_verified and not twin.is_verified) or (
            point.is_primary and not twin.is_primary
        ):
            twin.is_verified = twin.is_verified or point.is_verified
            twin.is_primary = twin.is_primary or point.is_primary
            twin.save(update_fields=["is_verified", "is_primary"])
    model._default_manager.filter(tenant=tenant, pk__in=moved).update(customer=keep)
    return moved


def _lines_follow_purchases(tenant: Tenant, purchase_ids: list[int], owner: Customer) -> None:
    """The lines of the moved receipts carry their new customer too (PurchaseLine.customer)."""
    PurchaseLine.objects.filter(tenant=tenant, purchase_id__in=purchase_ids).update(customer=owner)


def _reconcile_primaries(
    tenant: Tenant, model: type[models.Model], keep: Customer, kept_ids: set[int]
) -> None:
    """Exactly one primary per kind: verified first, then the kept record's, then oldest."""
    points = list(_customer_level(model, tenant=tenant, customer=keep))
    if not points:
        return
    primaries = [p for p in points if p.is_primary] or points
    winner = min(
        primaries, key=lambda p: (not p.is_verified, p.pk not in kept_ids, p.created_at, p.pk)
    )
    _customer_level(model, tenant=tenant, customer=keep).exclude(pk=winner.pk).filter(
        is_primary=True
    ).update(is_primary=False)
    if not winner.is_primary:
        model._default_manager.filter(pk=winner.pk).update(is_primary=True)


def _point_flags(tenant: Tenant, *customers: Customer) -> dict[str, dict[str, list[bool]]]:
    flags: dict[str, dict[str, list[bool]]] = {}
    for model in CONTACT_POINT_MODELS:
        rows = _customer_level(model, tenant=tenant, customer__in=customers).values_list(
            "pk", "is_primary", "is_verified"
        )
        flags[str(model._meta.model_name)] = {
            str(pk): [is_primary, is_verified] for pk, is_primary, is_verified in rows
        }
    return flags


@transaction.atomic
def customer_merge(
    *, tenant: Tenant, actor: User | None, keep: Customer, drop: Customer, choices: dict[str, str]
) -> MergeLog:
    """Merge ``drop`` into ``keep``; returns the log that can undo it.

    ``choices`` maps a field of merge_fields() to "keep" or "drop" and overrides
    merge_defaults() for that field. Every related row moves to ``keep`` except
    duplicate contact points (see _move_contact_points); each contact kind ends
    with exactly one primary. ``drop`` is left unchanged apart from
    ``merged_into``. Raises PermissionDenied for another tenant's records and
    ValidationError (with a message for the user) for a merge that cannot be done.
    """
    ensure_same_tenant(tenant, keep, drop)
    _check_mergeable(keep, drop)
    keep, drop = _lock(tenant, keep, drop)
    _check_mergeable(keep, drop)
    resolved = _resolve_choices(keep, drop, choices)
    snapshot: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "kept": _customer_state(keep),
        "dropped": _customer_state(drop),
        "flags": _point_flags(tenant, keep, drop),
    }
    kept_point_ids = {
        str(model._meta.model_name): set(
            _customer_level(model, tenant=tenant, customer=keep).values_list("pk", flat=True)
        )
        for model in CONTACT_POINT_MODELS
    }
    # The dropped record leaves the active set first: the T.C. number's uniqueness
    # only covers active records, and the kept one may take the dropped one's number.
    Customer.objects.filter(tenant=tenant, pk=drop.pk).update(merged_into=keep)
    drop.merged_into = keep
    moved: dict[str, list[int]] = {}
    for point_model in CONTACT_POINT_MODELS:
        moved[str(point_model._meta.model_name)] = _move_contact_points(
            tenant, point_model, keep, drop
        )
    for table, (model, fk) in REPOINTED.items():
        if table in moved:
            continue
        ids = list(
            model._default_manager.filter(tenant=tenant, **{fk: drop}).values_list("pk", flat=True)
        )
        model._default_manager.filter(tenant=tenant, pk__in=ids).update(**{fk: keep})
        moved[table] = ids
    _lines_follow_purchases(tenant, moved["purchase"], keep)
    snapshot["moved"] = moved
    # Consents follow the contact points; an opt-out on either side now covers both.
    snapshot["consent"] = consent_services.consent_on_customer_merge(
        tenant=tenant, keep=keep, drop=drop
    )
    for name, side in resolved.items():
        if side == DROP:
            setattr(keep, _attname(name), getattr(drop, _attname(name)))
    keep.created_at = min(keep.created_at, drop.created_at)
    keep.name_key = matching_key(keep.display_name)
    keep.save()
    for model in CONTACT_POINT_MODELS:
        _reconcile_primaries(tenant, model, keep, kept_point_ids[str(model._meta.model_name)])
    _settle_review_pairs(tenant, actor, keep, drop, DuplicatePair.Status.MERGED)
    return MergeLog.objects.create(
        tenant=tenant,
        kept=keep,
        dropped=drop,
        merged_by=actor,
        field_choices=resolved,
        user_choices=dict(choices),
        snapshot=snapshot,
    )


def _settle_review_pairs(
    tenant: Tenant, actor: User | None, keep: Customer, drop: Customer, status: str
) -> None:
    """The review queue's pair for these two records follows the merge (and its undo)."""
    left, right = sorted((keep.pk, drop.pk))
    DuplicatePair.objects.filter(tenant=tenant, left_id=left, right_id=right).update(
        status=status,
        decided_by=actor,
        decided_at=timezone.now() if status == DuplicatePair.Status.MERGED else None,
    )


# --- Undo -----------------------------------------------------------------------------


def _later_merge(tenant: Tenant, log: MergeLog) -> MergeLog | None:
    involved = [log.kept_id, log.dropped_id]
    later: MergeLog | None = (
        MergeLog.objects.filter(tenant=tenant, pk__gt=log.pk, undone_at__isnull=True)
        .filter(Q(kept_id__in=involved) | Q(dropped_id__in=involved))
        .select_related("kept", "dropped")
        .order_by("-pk")
        .first()
    )
    return later


def _refuse_taken_tckn(
    tenant: Tenant, keep: Customer, drop: Customer, values: Iterable[Any]
) -> None:
    for tckn in {v for v in values if v}:
        taken = (
            Customer.objects.filter(tenant=tenant, tckn=tckn, merged_into__isnull=True)
            .exclude(pk__in=[keep.pk, drop.pk])
            .first()
        )
        if taken is not None:
            raise ValidationError(
                _(
                    "The T.C. identity number %(tckn)s now belongs to %(name)s (#%(number)s). "
                    "Correct that record first, then undo this merge."
                )
                % {"tckn": tckn, "name": taken.display_name, "number": taken.customer_number}
            )


@transaction.atomic
def customer_unmerge(
    *, tenant: Tenant, actor: User | None, merge_log: MergeLog
) -> tuple[Customer, Customer]:
    """Undo a merge: both records and every re-pointed row are as they were before it.

    Returns (kept, dropped). Changes made to the kept record's fields since the merge
    are replaced by its fields from before the merge; rows added to it since then
    stay with it. Refuses (ValidationError) a merge already undone, and one whose
    records took part in a later merge that is still in place: undo that one first.
    """
    ensure_same_tenant(tenant, merge_log)
    try:
        log = MergeLog.objects.select_for_update().get(tenant=tenant, pk=merge_log.pk)
    except MergeLog.DoesNotExist as missing:
        raise ValidationError(_("This merge no longer exists.")) from missing
    if log.undone_at is not None:
        raise ValidationError(
            _("This merge was already undone on %(date)s.")
            % {
                "date": formats.date_format(
                    timezone.localtime(log.undone_at), "SHORT_DATETIME_FORMAT"
                )
            }
        )
    later = _later_merge(tenant, log)
    if later is not None:
        raise ValidationError(
            _(
                "These records were merged again afterwards (%(dropped)s into %(kept)s, "
                "%(date)s). Undo that later merge first."
            )
            % {
                "dropped": later.dropped.display_name,
                "kept": later.kept.display_name,
                "date": formats.date_format(
                    timezone.localtime(later.merged_at), "SHORT_DATETIME_FORMAT"
                ),
            }
        )
    keep, drop = _lock(tenant, log.kept, log.dropped)
    if drop.merged_into_id != keep.pk:
        raise ValidationError(
            _("The merged record was changed since; this merge cannot be undone.")
        )
    snapshot = log.snapshot or {}
    kept_values = _state_values(snapshot.get("kept") or {})
    dropped_values = _state_values(snapshot.get("dropped") or {})
    dropped_values["merged_into_id"] = None
    _refuse_taken_tckn(
        tenant,
        keep,
        drop,
        [kept_values.get("tckn", keep.tckn), dropped_values.get("tckn", drop.tckn)],
    )
    # The kept record first: it gives back a T.C. number it may have taken over.
    if kept_values:
        Customer.objects.filter(tenant=tenant, pk=keep.pk).update(**kept_values)
    for table, ids in (snapshot.get("moved") or {}).items():
        model, fk = REPOINTED[table]
        model._default_manager.filter(tenant=tenant, pk__in=ids).update(**{fk: drop})
    _lines_follow_purchases(tenant, (snapshot.get("moved") or {}).get("purchase") or [], drop)
    for table, flags in (snapshot.get("flags") or {}).items():
        model = REPOINTED[table][0]
        for is_primary, is_verified in ((True, True), (True, False), (False, True), (False, False)):
            ids = [int(pk) for pk, value in flags.items() if value == [is_primary, is_verified]]
            if ids:
                model._default_manager.filter(tenant=tenant, pk__in=ids).update(
                    is_primary=is_primary, is_verified=is_verified
                )
    Customer.objects.filter(tenant=tenant, pk=drop.pk).update(**dropped_values)
    log.undone_at, log.undone_by = timezone.now(), actor
    # The contact points are back with their records, and so are their consents.
    snapshot["consent_after_undo"] = consent_services.consent_on_customer_unmerge(
        tenant=tenant, keep=keep, drop=drop, summary=snapshot.get("consent") or {}
    )
    log.snapshot = snapshot
    log.save(update_fields=["undone_at", "undone_by", "snapshot"])
    keep.refresh_from_db()
    drop.refresh_from_db()
    _settle_review_pairs(tenant, actor, keep, drop, DuplicatePair.Status.PENDING)
    return keep, drop


# --- Reads for the merge screens ------------------------------------------------------

RELATED_COUNTS: tuple[tuple[str, str | Promise], ...] = (
    ("phone", gettext_lazy("Phones")),
    ("email", gettext_lazy("E-mails")),
    ("address", gettext_lazy("Addresses")),
    ("contactperson", gettext_lazy("Contact people")),
    ("purchase", gettext_lazy("Purchases")),
    ("interaction", gettext_lazy("Contacts")),
    ("complaint", gettext_lazy("Complaints")),
    ("riskflag", gettext_lazy("Risk flags")),
)


@dataclass
class FieldRow:
    name: str
    label: str
    keep_value: str
    drop_value: str
    default: str

    @property
    def differs(self) -> bool:
        return self.keep_value != self.drop_value


@dataclass
class CountRow:
    table: str
    label: str | Promise
    keep: int
    drop: int


@dataclass
class MergePreview:
    keep: Customer
    drop: Customer
    fields: list[FieldRow]
    match: Match
    counts: list[CountRow]
    # Why these two cannot be merged (already merged, same record, ...), or "".
    problem: str


def _display(customer: Customer, name: str) -> str:
    field = Customer._meta.get_field(name)
    value = getattr(customer, name)
    if value in (None, ""):
        return ""
    if getattr(field, "choices", None):
        return str(getattr(customer, f"get_{name}_display")())
    if isinstance(value, date):
        return str(formats.date_format(value, "SHORT_DATE_FORMAT"))
    return str(value)


def _related_counts(tenant: Tenant, keep: Customer, drop: Customer) -> list[CountRow]:
    rows = []
    for table, label in RELATED_COUNTS:
        model, fk = REPOINTED[table]
        counts = dict(
            model._default_manager.filter(tenant=tenant, **{f"{fk}__in": [keep, drop]})
            .order_by()
            .values(fk)
            .annotate(n=Count("pk"))
            .values_list(fk, "n")
        )
        rows.append(CountRow(table, label, counts.get(keep.pk, 0), counts.get(drop.pk, 0)))
    return rows


def merge_preview(*, tenant: Tenant, keep: Customer, drop: Customer) -> MergePreview:
    """Both records side by side with the default choice per field, the match
    evidence for the pair and how many related rows each record has."""
    ensure_same_tenant(tenant, keep, drop)
    customers = {
        c.pk: c
        for c in Customer.objects.filter(tenant=tenant, pk__in=[keep.pk, drop.pk])
        .select_related("home_branch")
        .prefetch_related("phones", "emails")
    }
    keep, drop = customers[keep.pk], customers[drop.pk]
    defaults = merge_defaults(keep=keep, drop=drop)
    fields = [
        FieldRow(
            name=name,
            label=str(_field(name).verbose_name),
            keep_value=_display(keep, name),
            drop_value=_display(drop, name),
            default=defaults[name],
        )
        for name in merge_fields(keep.kind)
    ]

    def incoming(customer: Customer) -> Any:
        return incoming_from_customer(
            customer,
            {p.e164 for p in customer.phones.all()},
            {e.match_key for e in customer.emails.all()},
        )

    return MergePreview(
        keep=keep,
        drop=drop,
        fields=fields,
        match=score(incoming(keep), incoming(drop), drop.pk),
        counts=_related_counts(tenant, keep, drop),
        problem=_merge_problem(keep, drop),
    )


def _merge_problem(keep: Customer, drop: Customer) -> str:
    try:
        _check_mergeable(keep, drop)
    except ValidationError as error:
        return " ".join(error.messages)
    return ""


def merge_log_list(*, tenant: Tenant) -> QuerySet[MergeLog]:
    """The tenant's merges, newest first."""
    return MergeLog.objects.filter(tenant=tenant).select_related(
        "kept", "dropped", "merged_by", "undone_by"
    )


def merge_log_get(*, tenant: Tenant, mergelog_id: int) -> MergeLog:
    """One merge of the tenant; raises MergeLog.DoesNotExist."""
    return (
        MergeLog.objects.filter(tenant=tenant).select_related("kept", "dropped").get(pk=mergelog_id)
    )
