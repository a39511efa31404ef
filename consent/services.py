"""Writes to the consent ledger. Everything that changes consent goes through here.

Each function appends ``ConsentEvent`` rows and, in the same transaction, brings
``ConsentState`` (the current state per recipient, type and recipient type) up to
date. Nothing else writes either table, except the İYS sync jobs, which change an
event's sync state through :func:`consent_sync_update`.

The state of a key is its latest event by consent date (ties: the later row),
leaving out ONAY events İYS rejected. A RET counts from the moment it is recorded,
whether or not İYS has it yet, and even if İYS refuses it: we never message
someone who told us not to.

Also here: "may this tenant send?" (:func:`may_send`, :func:`may_send_bulk`,
:func:`customers_allowed`), which campaigns call when they build an audience and
again at the moment of sending, and the opt-out entry points (link, SMS keyword).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Exists,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consent import rules
from consent.models import (
    PHONE_TYPES,
    ConsentEvent,
    ConsentOrigin,
    ConsentSettings,
    ConsentSource,
    ConsentState,
    ConsentStatus,
    ConsentType,
    RecipientType,
    SyncStatus,
    TacirPolicy,
)
from crm.models import Branch, Tenant, User
from crm.tenancy import ensure_same_tenant
from customers.models import Customer, Email, Phone

# --- Settings -------------------------------------------------------------------------


def consent_settings_get(*, tenant: Tenant) -> ConsentSettings:
    """The tenant's settings; an unsaved default row while none was saved."""
    found = ConsentSettings.objects.filter(tenant=tenant).first()
    return found if found is not None else ConsentSettings(tenant=tenant)


@transaction.atomic
def consent_settings_update(
    *, tenant: Tenant, tacir_policy: str, profiling_needs_explicit_consent: bool | None = None
) -> ConsentSettings:
    if tacir_policy not in TacirPolicy.values:
        raise ValidationError(_("Choose how business recipients are treated."))
    row, _created = ConsentSettings.objects.get_or_create(tenant=tenant)
    row.tacir_policy = tacir_policy
    if profiling_needs_explicit_consent is not None:
        row.profiling_needs_explicit_consent = profiling_needs_explicit_consent
    row.save(update_fields=["tacir_policy", "profiling_needs_explicit_consent", "updated_at"])
    return row


@transaction.atomic
def consent_webhook_secret_rotate(*, tenant: Tenant) -> str:
    """A new secret for the SMS provider's reply webhook; shown once, only its hash kept."""
    secret = secrets.token_urlsafe(32)
    row, _created = ConsentSettings.objects.get_or_create(tenant=tenant)
    row.sms_webhook_secret_hash = hashlib.sha256(secret.encode()).hexdigest()
    row.save(update_fields=["sms_webhook_secret_hash", "updated_at"])
    return secret


def consent_webhook_secret_matches(*, tenant: Tenant, secret: str) -> bool:
    stored = consent_settings_get(tenant=tenant).sms_webhook_secret_hash
    if not stored or not secret:
        return False
    given = hashlib.sha256(secret.encode()).hexdigest()
    return hmac.compare_digest(stored, given)


# --- Recording ------------------------------------------------------------------------


@dataclass
class Proof:
    """Where a consent was captured: what a paper or web form would show."""

    recorded_by: User | None = None
    branch: Branch | None = None
    touchpoint: str = ""
    document_ref: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    note: str = ""


def _lock_state(tenant: Tenant, recipient: str, consent_type: str, recipient_type: str) -> Any:
    return (
        ConsentState.objects.select_for_update()
        .filter(
            tenant=tenant, recipient=recipient, type=consent_type, recipient_type=recipient_type
        )
        .first()
    )


def _operations_today(
    tenant: Tenant, recipient: str, consent_type: str, recipient_type: str, now: dt.datetime
) -> int:
    day = rules.turkey_day(now)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=rules.TURKEY)
    return (
        ConsentEvent.objects.filter(
            tenant=tenant,
            recipient=recipient,
            type=consent_type,
            recipient_type=recipient_type,
            created_at__gte=start,
            created_at__lt=start + dt.timedelta(days=1),
        )
        .exclude(sync_status__in=[SyncStatus.REJECTED, SyncStatus.NOT_REQUIRED])
        .count()
    )


def _contact_point(
    tenant: Tenant, customer: Customer | None, consent_type: str, recipient: str
) -> dict[str, Any]:
    """The customer's phone/e-mail row for the recipient, if it has one."""
    if customer is None:
        return {}
    if consent_type in PHONE_TYPES:
        phone = Phone.objects.filter(tenant=tenant, customer=customer, e164=recipient).first()
        return {"phone": phone}
    email = Email.objects.filter(tenant=tenant, customer=customer, address=recipient).first()
    return {"email": email}


def _apply_to_state(tenant: Tenant, state: ConsentState | None, event: ConsentEvent) -> None:
    """Make ``event`` the key's state if it is the latest by consent date."""
    if state is not None and not _is_later(event, state):
        return
    values = {
        "status": event.status,
        "source": event.source,
        "consent_date": event.consent_date,
        "event": event,
        "updated_at": timezone.now(),
    }
    if state is None:
        try:
            with transaction.atomic():
                ConsentState.objects.create(
                    tenant=tenant,
                    recipient=event.recipient,
                    type=event.type,
                    recipient_type=event.recipient_type,
                    **values,
                )
        except IntegrityError as race:
            raise ValidationError(
                _("Someone else changed this consent at the same moment. Try again."),
                code="concurrent_change",
            ) from race
        return
    ConsentState.objects.filter(pk=state.pk).update(**values)


def _is_later(event: ConsentEvent, state: ConsentState) -> bool:
    if state.consent_date is None or event.consent_date is None:
        return True
    return event.consent_date >= state.consent_date


@transaction.atomic
def consent_record(
    *,
    tenant: Tenant,
    actor: User | None,
    recipient: str,
    consent_type: str,
    status: str,
    source: str,
    consent_date: dt.datetime | None,
    recipient_type: str = RecipientType.BIREYSEL,
    customer: Customer | None = None,
    proof: Proof | None = None,
    origin: str = ConsentOrigin.LOCAL,
    now: dt.datetime | None = None,
) -> ConsentEvent:
    """Record a consent change made here (counter, API, import) after İYS's checks.

    The recipient is normalised (E.164 / lower-case e-mail). Raises ValidationError
    (with a code and a message for staff) when İYS would refuse the record: see
    consent.rules. The event is stored with sync state "pending" for the İYS push.
    """
    ensure_same_tenant(tenant, customer)
    proof = proof or Proof()
    ensure_same_tenant(tenant, proof.branch)
    now = now or timezone.now()
    recipient = rules.normalize_recipient(consent_type, recipient)
    source = (source or "").strip().upper()
    if source and source not in rules.LOCAL_SOURCES:
        raise ValidationError(
            _("Unknown source %(source)s: choose one of the HS_… sources.") % {"source": source},
            code="invalid_source",
        )
    if consent_date is not None and timezone.is_naive(consent_date):
        consent_date = consent_date.replace(tzinfo=rules.TURKEY)
    state = _lock_state(tenant, recipient, consent_type, recipient_type)
    previous = (
        rules.PreviousState(status=state.status, consent_date=state.consent_date)
        if state is not None
        else None
    )
    rules.check_record(
        new=rules.NewRecord(
            recipient_type=recipient_type,
            status=status,
            source=source,
            consent_date=consent_date,
        ),
        previous=previous,
        operations_today=_operations_today(tenant, recipient, consent_type, recipient_type, now),
        now=now,
    )
    event = ConsentEvent.objects.create(
        tenant=tenant,
        recipient=recipient,
        type=consent_type,
        recipient_type=recipient_type,
        status=status,
        source=source,
        consent_date=consent_date,
        brand_code=tenant.iys_brand_code,
        customer=customer,
        origin=origin,
        recorded_by=proof.recorded_by or actor,
        branch=proof.branch,
        touchpoint=proof.touchpoint,
        document_ref=proof.document_ref[:200],
        ip_address=proof.ip_address or None,
        user_agent=proof.user_agent[:300],
        note=proof.note[:300],
        sync_status=SyncStatus.PENDING,
        created_at=now,
        **_contact_point(tenant, customer, consent_type, recipient),
    )
    _apply_to_state(tenant, state, event)
    return event


@transaction.atomic
def consent_apply_from_iys(
    *,
    tenant: Tenant,
    recipient: str,
    consent_type: str,
    recipient_type: str,
    status: str,
    source: str,
    consent_date: dt.datetime | None,
    transaction_id: str,
    brand_code: str = "",
) -> ConsentEvent | None:
    """Store a record pulled from İYS (a citizen's RET by SMS to 3338, say) at once.

    İYS already validated it, so the local-only rules are skipped; the event needs no
    push (sync state "not_required"). Idempotent per İYS transactionId: a record seen
    before returns None. It becomes the state if its consent date is the latest.
    """
    if (
        transaction_id
        and ConsentEvent.objects.filter(
            tenant=tenant, iys_transaction_id=transaction_id, origin=ConsentOrigin.IYS_PULL
        ).exists()
    ):
        return None
    recipient = rules.normalize_recipient(consent_type, recipient)
    if consent_date is not None and timezone.is_naive(consent_date):
        consent_date = consent_date.replace(tzinfo=rules.TURKEY)
    state = _lock_state(tenant, recipient, consent_type, recipient_type)
    now = timezone.now()
    event = ConsentEvent.objects.create(
        tenant=tenant,
        recipient=recipient,
        type=consent_type,
        recipient_type=recipient_type,
        status=status,
        source=source,
        consent_date=consent_date,
        brand_code=brand_code or tenant.iys_brand_code,
        origin=ConsentOrigin.IYS_PULL,
        sync_status=SyncStatus.NOT_REQUIRED,
        iys_transaction_id=transaction_id,
        synced_at=now,
        created_at=now,
        **_owner_of(tenant, consent_type, recipient),
    )
    _apply_to_state(tenant, state, event)
    return event


def _owner_of(tenant: Tenant, consent_type: str, recipient: str) -> dict[str, Any]:
    """Customer and contact point holding the recipient (history only), if one does."""
    if consent_type in PHONE_TYPES:
        phone = (
            Phone.objects.filter(tenant=tenant, e164=recipient, customer__merged_into=None)
            .order_by("pk")
            .first()
        )
        return {"phone": phone, "customer_id": phone.customer_id} if phone else {}
    email = (
        Email.objects.filter(tenant=tenant, address=recipient, customer__merged_into=None)
        .order_by("pk")
        .first()
    )
    return {"email": email, "customer_id": email.customer_id} if email else {}


@transaction.atomic
def consent_sync_update(
    *,
    tenant: Tenant,
    event: ConsentEvent,
    sync_status: str,
    iys_request_id: str | None = None,
    iys_transaction_id: str | None = None,
    iys_error_code: str = "",
    iys_error_message: str = "",
    count_attempt: bool = False,
) -> ConsentEvent:
    """Record what İYS did with an event (the only change a ledger row may get).

    When İYS rejects an ONAY that was the key's state, the state falls back to the
    latest event İYS did not reject (or disappears). A rejected RET keeps counting:
    the person still refused.
    """
    ensure_same_tenant(tenant, event)
    if sync_status not in SyncStatus.values:
        raise ValueError(f"unknown sync status {sync_status!r}")
    event = ConsentEvent.objects.select_for_update().get(tenant=tenant, pk=event.pk)
    fields = ["sync_status"]
    event.sync_status = sync_status
    if iys_request_id is not None:
        event.iys_request_id = iys_request_id
        fields.append("iys_request_id")
    if iys_transaction_id is not None:
        event.iys_transaction_id = iys_transaction_id
        fields.append("iys_transaction_id")
    event.iys_error_code = iys_error_code[:50]
    event.iys_error_message = iys_error_message[:500]
    fields += ["iys_error_code", "iys_error_message"]
    if count_attempt:
        event.sync_attempts += 1
        fields.append("sync_attempts")
    if sync_status in (SyncStatus.ACCEPTED, SyncStatus.REJECTED):
        event.synced_at = timezone.now()
        fields.append("synced_at")
    event.save(update_fields=fields)
    if sync_status == SyncStatus.REJECTED and event.status == ConsentStatus.ONAY:
        _rederive_state(tenant, event)
    return event


def _rederive_state(tenant: Tenant, event: ConsentEvent) -> None:
    state = _lock_state(tenant, event.recipient, event.type, event.recipient_type)
    if state is None or state.event_id != event.pk:
        return
    latest = (
        ConsentEvent.objects.filter(
            tenant=tenant,
            recipient=event.recipient,
            type=event.type,
            recipient_type=event.recipient_type,
        )
        .exclude(Q(status=ConsentStatus.ONAY) & Q(sync_status=SyncStatus.REJECTED))
        .order_by("-consent_date", "-pk")
        .first()
    )
    if latest is None:
        ConsentState.objects.filter(pk=state.pk).delete()
        return
    ConsentState.objects.filter(pk=state.pk).update(
        status=latest.status,
        source=latest.source,
        consent_date=latest.consent_date,
        event=latest,
        updated_at=timezone.now(),
    )


# --- Opt-outs ---------------------------------------------------------------------------

OPT_OUT_SALT = "consent.opt-out"
OPT_OUT_SOURCE: dict[str, str] = {
    ConsentOrigin.OPT_OUT_LINK: ConsentSource.HS_WEB,
    ConsentOrigin.SMS_KEYWORD: ConsentSource.HS_MESAJ,
    ConsentOrigin.LOCAL: ConsentSource.HS_CAGRI_MERKEZI,
}


@dataclass(frozen=True)
class OptOutResult:
    consent_type: str
    # "recorded": a RET was added; "already": it was refused already.
    outcome: str


@transaction.atomic
def consent_opt_out(
    *,
    tenant: Tenant,
    recipient: str,
    consent_types: Iterable[str],
    origin: str,
    proof: Proof | None = None,
) -> list[OptOutResult]:
    """The person says stop: a RET for each channel, effective at once.

    No İYS rule may delay an opt-out here: the RET is recorded whatever the daily
    limit, and if İYS holds no consent for the recipient (so has nothing to
    withdraw) it is kept locally with sync state "not_required". A recipient
    already refused on a channel is left as it is. Every recipient type that has a
    consent (BIREYSEL, TACIR) is refused.
    """
    proof = proof or Proof()
    now = timezone.now()
    results = []
    pending = False
    for consent_type in dict.fromkeys(consent_types):
        address = rules.normalize_recipient(consent_type, recipient)
        states = {
            row.recipient_type: row
            for row in ConsentState.objects.select_for_update().filter(
                tenant=tenant, recipient=address, type=consent_type
            )
        }
        to_refuse = [rt for rt, row in states.items() if row.status == ConsentStatus.ONAY]
        if not states:
            to_refuse = [RecipientType.BIREYSEL]
        for recipient_type in to_refuse:
            state = states.get(recipient_type)
            event = ConsentEvent.objects.create(
                tenant=tenant,
                recipient=address,
                type=consent_type,
                recipient_type=recipient_type,
                status=ConsentStatus.RET,
                source=OPT_OUT_SOURCE.get(origin, ConsentSource.HS_WEB),
                consent_date=_after_previous(now, state.consent_date if state else None),
                brand_code=tenant.iys_brand_code,
                origin=origin,
                recorded_by=proof.recorded_by,
                branch=proof.branch,
                touchpoint=proof.touchpoint,
                document_ref=proof.document_ref[:200],
                ip_address=proof.ip_address or None,
                user_agent=proof.user_agent[:300],
                note=proof.note[:300],
                sync_status=SyncStatus.PENDING if state else SyncStatus.NOT_REQUIRED,
                created_at=now,
                **_owner_of(tenant, consent_type, address),
            )
            _apply_to_state(tenant, state, event)
            pending = pending or event.sync_status == SyncStatus.PENDING
        results.append(OptOutResult(consent_type, "recorded" if to_refuse else "already"))
    if pending:
        # The RET goes to İYS now, not at the next scheduled push.
        from consent.iys.tasks import iys_push_task

        transaction.on_commit(lambda: iys_push_task.delay(tenant.pk))
    return results


def _after_previous(now: dt.datetime, previous: dt.datetime | None) -> dt.datetime:
    """The opt-out's consent date: now, unless the previous event of the recipient has
    the same second or a later one — İYS compares whole seconds and refuses a change
    dated at or before the status it replaces."""
    if previous is None:
        return now
    previous_second = previous.replace(microsecond=0)
    if now.replace(microsecond=0) <= previous_second:
        return previous_second + dt.timedelta(seconds=1)
    return now


def opt_out_token(*, tenant: Tenant, recipient: str) -> str:
    """A signed token naming the tenant and the recipient (not guessable, not forgeable)."""
    return signing.dumps({"t": tenant.pk, "r": recipient}, salt=OPT_OUT_SALT, compress=True)


@dataclass(frozen=True)
class OptOutTarget:
    tenant: Tenant
    recipient: str


def opt_out_token_read(token: str) -> OptOutTarget | None:
    """The tenant and recipient of a valid token; None for a tampered or unknown one."""
    try:
        data = signing.loads(token, salt=OPT_OUT_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), str):
        return None
    tenant_id = data.get("t")
    if not isinstance(tenant_id, int):
        return None
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    return OptOutTarget(tenant=tenant, recipient=data["r"])


def opt_out_url(tenant: Tenant, recipient: str) -> str:
    """The path of the recipient's opt-out page (campaigns prepend the site's address)."""
    return reverse(
        "consent_opt_out", kwargs={"token": opt_out_token(tenant=tenant, recipient=recipient)}
    )


def opt_out_types_for(recipient: str) -> list[str]:
    """Channels a recipient can opt out of: MESAJ and ARAMA for a phone, EPOSTA for mail."""
    return [ConsentType.EPOSTA] if "@" in recipient else [ConsentType.MESAJ, ConsentType.ARAMA]


# SMS reply keywords, compared after Turkish-aware folding: "İptal", "IPTAL", "iptal ",
# "ıptal", "Stop", "RET" all match.
OPT_OUT_KEYWORDS = frozenset({"ret", "iptal", "stop"})


def sms_keyword_is_opt_out(text: str) -> bool:
    from crm.text import matching_key

    words = matching_key(text or "").split()
    return bool(words) and words[0] in OPT_OUT_KEYWORDS


# --- Merging customers ------------------------------------------------------------------


def consent_on_customer_merge(*, tenant: Tenant, keep: Customer, drop: Customer) -> dict[str, Any]:
    """Consents follow a merge by themselves; report which opt-outs now cover both.

    The ledger is keyed by recipient, and the dropped record's phones and e-mails
    move to the kept one, so nothing in the ledger changes. Because "may I send?"
    refuses every number/address of a customer once any of them refused a channel,
    an opt-out on either side wins for the merged customer — and undoing the merge
    (the contact points move back) restores each side as it was. Called by
    customers.merge after the contact points moved; the summary goes in the merge
    log: {"opt_out_wins": [types where one side's RET now blocks the other side]}.
    """
    ensure_same_tenant(tenant, keep, drop)
    wins = []
    for consent_type in ConsentType.values:
        refused = _refused_customers(tenant, consent_type, [keep.pk])
        if keep.pk in refused:
            wins.append(consent_type)
    return {"opt_out_wins": wins}


def consent_on_customer_unmerge(
    *, tenant: Tenant, keep: Customer, drop: Customer, summary: dict[str, Any]
) -> dict[str, Any]:
    """After an undo: which channels each record is refused on again (for the log)."""
    ensure_same_tenant(tenant, keep, drop)
    return {
        "refused": {
            str(customer.pk): [
                t
                for t in ConsentType.values
                if customer.pk in _refused_customers(tenant, t, [customer.pk])
            ]
            for customer in (keep, drop)
        },
        "merged": summary,
    }


def _refused_customers(tenant: Tenant, consent_type: str, ids: Sequence[int]) -> set[int]:
    points = _points(tenant, consent_type).filter(customer_id__in=ids)
    field = _value_field(consent_type)
    refused = points.filter(
        Exists(
            ConsentState.objects.filter(
                tenant=tenant,
                type=consent_type,
                recipient=OuterRef(field),
                status=ConsentStatus.RET,
            )
        )
    )
    return set(refused.values_list("customer_id", flat=True))


# --- May I send? ------------------------------------------------------------------------


class Reason:
    """Why a recipient may or may not be messaged (codes are stable for the API)."""

    ONAY = "onay"
    TACIR_ONAY = "tacir_onay"
    TACIR_NO_RET = "tacir_no_ret"
    RET = "ret"
    CUSTOMER_RET = "customer_ret"
    NO_CONSENT = "no_consent"
    INVALID = "invalid_recipient"


ALLOWED_REASONS = frozenset({Reason.ONAY, Reason.TACIR_ONAY, Reason.TACIR_NO_RET})

REASON_TEXT = {
    Reason.ONAY: gettext_lazy("consent given (ONAY)"),
    Reason.TACIR_ONAY: gettext_lazy("business recipient with consent (TACIR ONAY)"),
    Reason.TACIR_NO_RET: gettext_lazy("business recipient that has not refused (TACIR)"),
    Reason.RET: gettext_lazy("refused (RET)"),
    Reason.CUSTOMER_RET: gettext_lazy(
        "the customer refused this channel on another number or address"
    ),
    Reason.NO_CONSENT: gettext_lazy("no consent recorded"),
    Reason.INVALID: gettext_lazy("not a valid recipient for this channel"),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    @property
    def reason_text(self) -> str:
        return str(REASON_TEXT[self.reason])


def _value_field(consent_type: str) -> str:
    return "e164" if consent_type in PHONE_TYPES else "address"


def _points(tenant: Tenant, consent_type: str) -> QuerySet[Any]:
    model: type[Phone] | type[Email] = Phone if consent_type in PHONE_TYPES else Email
    return model.objects.filter(tenant=tenant, customer__merged_into__isnull=True)


def may_send(*, tenant: Tenant, channel_type: str, recipient: str) -> Decision:
    """May ``tenant`` send a commercial ``channel_type`` message to ``recipient`` now?

    - any RET for the recipient (BIREYSEL or TACIR, synced or not) → no;
    - a customer holding the recipient refused the channel on another of their
      numbers/addresses → no (an opt-out on any of a person's points wins);
    - BIREYSEL ONAY → yes; TACIR ONAY → yes;
    - a business recipient (a TACIR record, or held by a company customer) without
      a record → yes if the tenant's TACIR policy is "RET only", else no;
    - nothing recorded → no.
    The bulk form, :func:`may_send_bulk`, gives the same answer per recipient.
    """
    try:
        recipient = rules.normalize_recipient(channel_type, recipient)
    except ValidationError:
        return Decision(False, Reason.INVALID)
    states = dict(
        ConsentState.objects.filter(
            tenant=tenant, type=channel_type, recipient=recipient
        ).values_list("recipient_type", "status")
    )
    if ConsentStatus.RET in states.values():
        return Decision(False, Reason.RET)
    field = _value_field(channel_type)
    owners = _points(tenant, channel_type).filter(**{field: recipient}).values("customer_id")
    if _refused_customers(tenant, channel_type, list(owners.values_list("customer_id", flat=True))):
        return Decision(False, Reason.CUSTOMER_RET)
    if states.get(RecipientType.BIREYSEL) == ConsentStatus.ONAY:
        return Decision(True, Reason.ONAY)
    if states.get(RecipientType.TACIR) == ConsentStatus.ONAY:
        return Decision(True, Reason.TACIR_ONAY)
    is_business = (
        RecipientType.TACIR in states
        or Customer.objects.filter(
            tenant=tenant, pk__in=owners, kind=Customer.Kind.COMPANY
        ).exists()
    )
    if is_business and consent_settings_get(tenant=tenant).tacir_policy == TacirPolicy.RET_ONLY:
        return Decision(True, Reason.TACIR_NO_RET)
    return Decision(False, Reason.NO_CONSENT)


# One pass over the tenant's points joined to their customers and both consent
# states, materialised once (``points`` is read three times, so PostgreSQL keeps it
# as a CTE); the refusers, the recipients they block and the business recipients are
# derived from it with hash joins. Scanning the million-row tables once instead of
# four times is what keeps 1M recipients within seconds.
_DECISIONS_SQL = """
WITH points AS MATERIALIZED (
    SELECT p.id, p.customer_id, p.{value} AS recipient, c.kind = 'company' AS is_company,
           sb.status AS individual_status, st.status AS business_status
    FROM {table} p
    JOIN customers_customer c
        ON c.id = p.customer_id AND c.tenant_id = %(tenant)s AND c.merged_into_id IS NULL
    LEFT JOIN consent_consentstate sb
        ON sb.recipient = p.{value} AND sb.tenant_id = %(tenant)s AND sb.type = %(type)s
        AND sb.recipient_type = 'BIREYSEL'
    LEFT JOIN consent_consentstate st
        ON st.recipient = p.{value} AND st.tenant_id = %(tenant)s AND st.type = %(type)s
        AND st.recipient_type = 'TACIR'
    WHERE p.tenant_id = %(tenant)s{scope}
),
refused_customers AS (
    SELECT DISTINCT customer_id FROM points
    WHERE individual_status = 'RET' OR business_status = 'RET'
),
blocked AS (
    SELECT DISTINCT pt.recipient
    FROM points pt JOIN refused_customers rc ON rc.customer_id = pt.customer_id
),
company AS (
    SELECT DISTINCT recipient FROM points WHERE is_company
)
SELECT p.id, p.customer_id, p.recipient,
       CASE WHEN p.individual_status = 'RET' OR p.business_status = 'RET' THEN 'ret'
            WHEN bl.recipient IS NOT NULL THEN 'customer_ret'
            WHEN p.individual_status = 'ONAY' THEN 'onay'
            WHEN p.business_status = 'ONAY' THEN 'tacir_onay'
            WHEN %(tacir_ret_only)s
                 AND (p.business_status IS NOT NULL OR co.recipient IS NOT NULL)
                THEN 'tacir_no_ret'
            ELSE 'no_consent'
       END AS reason
FROM points p
LEFT JOIN blocked bl ON bl.recipient = p.recipient
LEFT JOIN company co ON co.recipient = p.recipient
WHERE TRUE
"""


# With ``customers`` given, only the points of the customers who share a recipient
# with them are read: those are all that their decisions depend on (a refusal or a
# company among the co-holders), so the answers are the same as over the whole
# tenant, and a handful of customers costs milliseconds instead of a full scan.
_SCOPE_SQL = """
        AND p.customer_id IN (
            SELECT h.customer_id FROM {table} h
            JOIN {table} t ON t.tenant_id = %(tenant)s AND t.{value} = h.{value}
            WHERE h.tenant_id = %(tenant)s AND t.customer_id IN (%(targets)s))"""


def may_send_bulk_sql(
    *,
    tenant: Tenant,
    channel_type: str,
    customers: QuerySet[Customer] | Iterable[int] | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """SQL (and its parameters) of the per-recipient decisions, to compose in SQL.

    Columns: ``id`` (the phone/e-mail row), ``customer_id``, ``recipient``, ``reason``
    (a Reason code). Hash joins only — no per-row subqueries — so that PostgreSQL
    decides 1M recipients in seconds (a per-row IN-subplan stops being hashed once
    it outgrows work_mem and then scans the whole list per row). ``customers``
    (ids or a queryset) limits the rows and the work to those customers.
    """
    from django.db import connection

    if channel_type not in ConsentType.values:
        raise ValueError(f"unknown channel type {channel_type!r}")
    phone = channel_type in PHONE_TYPES
    named: dict[str, Any] = {
        "tenant": tenant.pk,
        "type": channel_type,
        "tacir_ret_only": (
            consent_settings_get(tenant=tenant).tacir_policy == TacirPolicy.RET_ONLY
        ),
    }
    table = "customers_phone" if phone else "customers_email"
    value = "e164" if phone else "address"
    scope = ""
    targets_sql, targets_params = "", []
    if customers is not None:
        scope = _SCOPE_SQL.format(table=table, value=value)
        if isinstance(customers, QuerySet):
            targets_sql, inner_params = customers.values("pk").query.sql_with_params()
            targets_params = list(inner_params)
        elif connection.vendor == "postgresql":
            # One array parameter: tens of thousands of ids plan like a handful.
            targets_sql = "SELECT unnest(%s::bigint[])"
            targets_params = [[int(pk) for pk in customers]]
        else:
            ids = [int(pk) for pk in customers] or [0]
            targets_sql = ", ".join(["%s"] * len(ids))
            targets_params = ids
    sql = _DECISIONS_SQL.format(value=value, table=table, scope=scope)
    if customers is not None:
        sql += " AND p.customer_id IN (%(targets)s)"
    # Django's raw SQL takes positional parameters: turn the named ones around.
    params: list[Any] = []

    def positional(match: Any) -> str:
        if match.group(1) == "targets":
            params.extend(targets_params)
            return targets_sql
        params.append(named[match.group(1)])
        return "%s"

    sql = re.sub(r"%\((\w+)\)s", positional, sql)
    return sql, tuple(params)


@dataclass(frozen=True)
class RecipientDecision:
    point_id: int
    customer_id: int
    recipient: str
    reason: str

    @property
    def allowed(self) -> bool:
        return self.reason in ALLOWED_REASONS


def may_send_bulk(
    *,
    tenant: Tenant,
    channel_type: str,
    customers: QuerySet[Customer] | Iterable[int] | None = None,
) -> list[RecipientDecision]:
    """Per (customer, recipient) decisions for many customers, in one SQL statement.

    The customers' phones (MESAJ, ARAMA) or e-mails (EPOSTA), active customers only;
    ``customers`` limits it (ids or a queryset). Each decision is the one
    :func:`may_send` gives for that recipient. To keep millions of rows in the
    database, compose :func:`may_send_bulk_sql` or :func:`customers_allowed` instead.
    """
    from django.db import connection

    sql, params = may_send_bulk_sql(tenant=tenant, channel_type=channel_type, customers=customers)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [RecipientDecision(*row) for row in cursor.fetchall()]


def customers_allowed(*, tenant: Tenant, channel_type: str) -> QuerySet[Customer]:
    """Active customers with at least one recipient that may get ``channel_type`` now.

    A queryset, so campaigns and segments compose it:
    ``segment_qs.filter(pk__in=customers_allowed(...))``. On PostgreSQL it reads the
    reach table (consent.reach), brought up to date first, so the answer is the one
    :func:`may_send_bulk` gives at this moment; on SQLite it decides directly.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        from consent import reach

        return reach.reach_customers(tenant=tenant, channel_type=channel_type)
    return customers_decided(tenant=tenant, channel_type=channel_type)


def customers_decided(*, tenant: Tenant, channel_type: str) -> QuerySet[Customer]:
    """:func:`customers_allowed` decided from scratch, every recipient of the tenant."""
    sql, params = may_send_bulk_sql(tenant=tenant, channel_type=channel_type)
    # Only our own SQL and bound parameters go in: no user text is spliced.
    reasons = sorted(ALLOWED_REASONS)
    decided = RawSQL(  # noqa: S611
        f"SELECT d.customer_id FROM ({sql}) d "  # noqa: S608
        f"WHERE d.reason IN ({', '.join(['%s'] * len(reasons))})",
        (*params, *reasons),
    )
    return Customer.objects.filter(tenant=tenant, merged_into__isnull=True, pk__in=decided)


def mask_recipient(recipient: str) -> str:
    """What the public page shows of a phone or e-mail: enough to recognise it."""
    if "@" in recipient:
        local, _at, domain = recipient.partition("@")
        return f"{local[:2]}***@{domain}"
    return f"{recipient[:5]}*****{recipient[-2:]}"
